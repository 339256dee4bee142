"""What counts as a number in an argument: Python's and NumPy's alike."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import InvalidTypeError


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


def check_writable_path(path: Any, what: str) -> None:
    """A file name that can be written: a non-empty path in an existing folder
    (``what``: the call, for the message)."""
    if not is_path(path):
        raise InvalidTypeError(f"{what}: path must be a file name (str or os.PathLike), "
                               f"got {path!r}")
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what}: {os.fspath(path)!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what}: cannot write {os.fspath(path)!r}: the folder "
                                f"{folder!r} does not exist")
