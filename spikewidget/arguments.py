"""What counts as a number in an argument: Python's and NumPy's alike."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_whole(value: Any) -> bool:
    """An ``int`` or a NumPy integer (``np.int64(2)``), never a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
