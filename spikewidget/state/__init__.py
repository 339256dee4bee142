"""What is accumulated: per-layer, per-epoch statistics declared once, losses, raster
frames, snapshots.
"""
