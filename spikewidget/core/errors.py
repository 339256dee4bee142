"""Exceptions raised by spikewidget.

Every error raised for bad input says which layer, which argument and what was
expected; none of them is raised for a pathological *value* (NaN, huge counts),
which is recorded and reported instead.
"""

from __future__ import annotations


class SpikeWidgetError(Exception):
    """Base class of every spikewidget error."""


class InvalidInputError(SpikeWidgetError, ValueError):
    """An argument has the wrong shape, size or value range for its layer."""


class InvalidTypeError(SpikeWidgetError, TypeError):
    """An argument is not an array, or not of a real numeric dtype."""


class UnknownLayerError(SpikeWidgetError, KeyError):
    """A report or query named a layer that was never recorded."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ProfileFormatError(SpikeWidgetError, ValueError):
    """A saved profile is truncated, corrupted, foreign or of an unknown version."""


class GatherError(SpikeWidgetError, RuntimeError):
    """A distributed :func:`~spikewidget.io.distributed.gather` failed on some rank; every
    rank raises it with the same message."""
