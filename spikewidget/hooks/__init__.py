"""Watching a torch model: forward and backward hooks that record every spiking layer
by themselves.
"""
