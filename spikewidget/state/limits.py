"""The bounds of what a profile records, shared by recording, loading and the widget."""

from __future__ import annotations

from typing import Any

from ..core.arguments import is_whole
from ..core.errors import InvalidInputError

PHASES = ("train", "eval")
"""Kinds of pass kept apart: training, and validation (the model in eval mode)."""

RESERVED_NAMES = frozenset({"loss"})
"""Names findings use for things that are not layers."""

MAX_RASTER_WINDOW = 65536
"""The most frames ``raster_window`` may keep per layer (9 MiB at 1024 neurons)."""

MAX_RASTER_NEURONS = 65536
"""The most neurons ``raster_neurons`` may keep per layer for pictures."""

MAX_EPOCH = 2**31 - 1
"""The largest epoch number (epochs travel to the browser as int32)."""


def check_epoch(epoch: Any) -> int:
    """``epoch`` as an int, or a clear error: a whole number from 0 to MAX_EPOCH."""
    if not is_whole(epoch) or not 0 <= epoch <= MAX_EPOCH:
        raise InvalidInputError(
            f"epoch must be a whole number from 0 to {MAX_EPOCH}, got {epoch!r}")
    return int(epoch)
