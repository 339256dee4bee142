"""Elementwise ``max(a, c)`` and ``min(a, c)`` against a constant, fast.

NumPy 2's ``maximum`` and ``minimum`` take a loop 3-5x slower when one operand is a
scalar than when both are arrays (float32, 16,000 values: 13 us against 3-4 us with
the row made for the call; ``(100, 11200)``: 0.83 ms against 0.17 ms). So the
constant comes as a fresh row of the array's last-axis length (zeros cost the
allocator nothing), which broadcasts down the rows at the array loop's speed;
nothing is kept between calls. The values and dtype are those of
``np.maximum(a, c)``.
"""

from __future__ import annotations

import numpy as np


def _row(value: float, like: np.ndarray) -> np.ndarray:
    n = like.shape[-1]
    return np.zeros(n, like.dtype) if value == 0 else np.full(n, value, like.dtype)


def at_least(a: np.ndarray, value: float, out: np.ndarray | None = None) -> np.ndarray:
    """``np.maximum(a, value, out=out)`` for an array ``a`` of at least one axis."""
    return np.maximum(a, _row(value, a), out=out)


def at_most(a: np.ndarray, value: float, out: np.ndarray | None = None) -> np.ndarray:
    """``np.minimum(a, value, out=out)`` for an array ``a`` of at least one axis."""
    return np.minimum(a, _row(value, a), out=out)
