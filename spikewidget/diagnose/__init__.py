"""Judging: thresholds, per-layer statistics as reports present them, roles, the rules
and the report.
"""
