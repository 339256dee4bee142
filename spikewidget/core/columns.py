"""Sums along the first axis of a 2-d array, fast however few columns it has."""

from __future__ import annotations

import numpy as np

_GROUPED_ROW = 1024  # values per row when summing the rows of a narrow array


def column_sums(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=0)`` for ``(rows, n)``, fast when ``n`` is small too (NumPy sums
    axis 0 one short row at a time: rows are grouped into rows of ~1024 values)."""
    rows, n = a.shape
    k = max(1, _GROUPED_ROW // max(n, 1))
    whole = rows // k * k
    if k == 1 or whole == 0 or not a.flags.c_contiguous:
        return a.sum(axis=0)
    s = a[:whole].reshape(-1, k * n).sum(axis=0).reshape(k, n).sum(axis=0)
    return s + a[whole:].sum(axis=0) if whole < rows else s
