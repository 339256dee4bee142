"""What counts as a number in an argument: Python's and NumPy's alike."""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def is_one_of(value: Any, options: tuple[str, ...]) -> bool:
    """``value`` is one of the string ``options`` (an array or a list never is, and
    never raises while asking)."""
    return isinstance(value, str) and value in options


def is_path(value: Any) -> bool:
    """A non-empty ``str`` or ``os.PathLike`` naming a file."""
    return isinstance(value, (str, os.PathLike)) and os.fspath(value) not in ("", b"")


def is_whole(value: Any) -> bool:
    """An ``int`` or a NumPy integer (``np.int64(2)``), never a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
