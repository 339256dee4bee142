"""Summaries of interleaved timing rounds, shared by the benchmarks.

Each round times every variant once, back to back, so that the load of a shared
machine hits all alike; a figure is the median over rounds of each round's ratio (or
difference), with its standard error (bootstrap, seeded) and the middle half of rounds.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
from dataclasses import dataclass


def median_error(values: list[float], resamples: int = 2000) -> float:
    """Standard error of the median of ``values``, by bootstrap (seeded)."""
    if len(values) < 2:
        return float("nan")
    rng = random.Random(0)
    meds = [statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples)]
    return statistics.stdev(meds)


@dataclass(frozen=True)
class Figure:
    """A median with its standard error and interquartile range."""

    median: float
    error: float
    q1: float
    q3: float

    @classmethod
    def of(cls, values: list[float]) -> Figure:
        if len(values) < 2:
            v = values[0] if values else float("nan")
            return cls(v, float("nan"), v, v)
        q1, _, q3 = statistics.quantiles(values, n=4)
        return cls(statistics.median(values), median_error(values), q1, q3)


def ratios(times: list[float], base: list[float]) -> list[float]:
    """Per-round ratios of ``times`` to ``base`` (same rounds)."""
    return [t / b for t, b in zip(times, base, strict=True)]


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def machine() -> str:
    """The CPU's model name and core count, e.g. ``AMD EPYC, 2 cores``."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next((line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"
