"""The merges of :class:`~spikewidget.state.epoch_stats.EpochStats` that are more than a
sum, a minimum or a maximum, each written once.

The pairwise moment updates (:func:`chan`, :func:`co_moments`) take plain numbers or
torch tensors alike: the host merges statistics with them, the device accumulator
(:mod:`spikewidget.record.reduce_torch`) folds each step in with them. The group merges
(:func:`merge_voltage_moments`, :func:`merge_trend`, :func:`merge_peak_step`,
:func:`merge_head`) are what the field table (:mod:`spikewidget.state.fields`) names
for the fields they merge together; they read ``other`` and update ``out`` in place,
and run before any field is merged field by field (they compare counts and maxima
as they were).
"""

from __future__ import annotations

from typing import Any

NO_STEP = -1
"""Marker for "never happened" in the first-non-finite step fields."""

GRADIENT_HEAD = 16
"""How many of the first gradient-norm records are kept (the explosion rule's baseline)."""


def first_step(a: int, b: int) -> int:
    """The earlier of two step indices, where NO_STEP means "never"."""
    if a == NO_STEP:
        return b
    if b == NO_STEP:
        return a
    return min(a, b)


def chan(n_a: Any, mean_a: Any, m2_a: Any, n_b: Any, mean_b: Any, m2_b: Any
         ) -> tuple[Any, Any, Any]:
    """(count, mean, sum of squared deviations) of two parts together (Chan et al.'s
    pairwise update: a tiny spread at a large offset survives). Both counts > 0: the
    caller keeps the other part when one is empty."""
    total = n_a + n_b
    delta = mean_b - mean_a
    return total, mean_a + delta * n_b / total, m2_a + (m2_b + delta * delta * (n_a * n_b / total))


def co_moments(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    """Two parts of (count, mean x, mean y, M2 x, M2 y, co-deviation) together: the
    bivariate :func:`chan`; both counts > 0."""
    n_a, mx_a, my_a, m2x_a, m2y_a, cxy_a = a
    n_b, mx_b, my_b, m2x_b, m2y_b, cxy_b = b
    total = n_a + n_b
    dx, dy = mx_b - mx_a, my_b - my_a
    w = n_a * n_b / total
    return (total, mx_a + dx * n_b / total, my_a + dy * n_b / total,
            m2x_a + (m2x_b + dx * dx * w), m2y_a + (m2y_b + dy * dy * w),
            cxy_a + (cxy_b + dx * dy * w))


# ---------------------------------------------------------------- group merges (host)
def merge_voltage_moments(out: Any, other: Any) -> None:
    """``v_n``, ``v_mean``, ``v_m2``: the voltages' count, mean and squared deviations."""
    out.add_voltage_moments(other.v_n, other.v_mean, other.v_m2)


TREND = ("t_n", "t_mean_x", "t_mean_y", "t_m2x", "t_m2y", "t_cxy")
"""The moments of the ln(gradient norm)-against-step trend, in :func:`co_moments` order."""


def merge_trend(out: Any, other: Any) -> None:
    """The trend's moments (:data:`TREND`) and its first and last step."""
    out.add_trend(*(getattr(other, k) for k in TREND), other.t_first, other.t_last)


def merge_peak_step(out: Any, other: Any) -> None:
    """``g_max_step``: the step of the larger gradient maximum (the earlier on a tie);
    reads ``g_n`` and ``g_max`` before they merge."""
    if other.g_n and (out.g_n == 0 or other.g_max > out.g_max or (
            other.g_max == out.g_max and other.g_max_step < out.g_max_step)):
        out.g_max_step = other.g_max_step


def merge_head(out: Any, other: Any) -> None:
    """``g_head``/``g_head_steps``: the :data:`GRADIENT_HEAD` earliest records of both,
    ordered by step."""
    head = sorted(zip(out.g_head_steps + other.g_head_steps, out.g_head + other.g_head,
                      strict=True))[:GRADIENT_HEAD]
    out.g_head_steps, out.g_head = [s for s, _ in head], [g for _, g in head]
