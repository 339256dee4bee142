"""The scale a threshold sweep works on: distances, midpoints and even spacing.

``"log"``: thresholds above 0 (snnTorch, SpikingJelly, most Norse cells), where what
matters is by what factor a threshold changes. ``"linear"``: thresholds that are
membrane potentials and may sit at or below 0 (Norse ``CobaLIFCell``'s ``p.v_thresh``,
-10 mV by default), where what matters is by how much.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

Scale = Literal["log", "linear"]
SCALES: tuple[Scale, ...] = ("log", "linear")


def distance(a: float, b: float, scale: Scale) -> float:
    """How far apart thresholds ``a`` and ``b`` are: ``|ln(a / b)|`` on a log scale,
    ``|a - b|`` (in the threshold's own units) on a linear one."""
    if scale == "log":
        return abs(math.log(a / b))
    return abs(a - b)


def midpoint(a: float, b: float, scale: Scale) -> float:
    """The threshold halfway between ``a`` and ``b``: geometric mean on a log scale,
    arithmetic mean on a linear one."""
    if scale == "log":
        return math.sqrt(a * b)
    return (a + b) / 2


def spaced(lo: float, hi: float, n: int, scale: Scale) -> list[float]:
    """``n`` thresholds from ``lo`` to ``hi``, evenly spaced on ``scale``."""
    values = np.geomspace(lo, hi, n) if scale == "log" else np.linspace(lo, hi, n)
    return [float(t) for t in values]


def nearest(values: list[float], value: float, scale: Scale) -> int:
    """The index of the threshold in ``values`` nearest ``value`` on ``scale``."""
    return min(range(len(values)), key=lambda i: distance(values[i], value, scale))
