"""Streaming statistics of one layer over one epoch, and how two of them merge.

Memory is fixed per layer and epoch: seven float64 per neuron (:data:`VECTORS`,
56 bytes; an eighth, ``spike_events``, once a value other than 0 and 1 is seen) plus
a few scalars, whatever the number of steps; ``max_epochs`` bounds
the number of epochs (older ones keep a :class:`~spikewidget.diagnose.stats.EpochSummary`).
Merging is exact for sums and extrema and uses Chan et al.'s pairwise update for the
voltage variance, so a tiny spread at a large offset survives any number of merges.
The fields, their initial values and merges are declared once, in
:mod:`spikewidget.state.fields`; this class is built from that table.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fields import FIELDS, VECTORS, copy_fields, loaded_values, merge_fields, saved_parts
from .merges import GRADIENT_HEAD, NO_STEP, chan, co_moments, first_step

__all__ = ["GRADIENT_HEAD", "NO_STEP", "VECTORS", "EpochStats", "first_step", "merge_all"]


def _declared_fields(cls: type) -> type:
    """``cls`` as a slotted dataclass with one field per row of :data:`FIELDS` (at its
    initial value: per-neuron zeros, empty lists) and ``open``."""
    annotations: dict[str, str] = {}
    for f in FIELDS:
        annotations[f.name] = f.annotation
        if f.name == "n_neurons":
            continue  # the one argument without a default
        if f.kind == "vector":  # zeros of n_neurons, made by __post_init__
            setattr(cls, f.name, dataclasses.field(default=None))
        elif f.kind == "list":
            setattr(cls, f.name, dataclasses.field(default_factory=list))
        else:
            setattr(cls, f.name, f.initial)
    annotations["open"] = "OpenSequences | None"  # spikewidget.state.temporal
    cls.open = None  # type: ignore[attr-defined]
    cls.__annotations__ = annotations
    return dataclass(slots=True)(cls)


@_declared_fields
class EpochStats:
    """Sufficient statistics of one layer in one epoch (host memory, NumPy).

    The fields are the rows of :data:`spikewidget.state.fields.FIELDS` (each with its
    meaning, initial value and merge). ``spike_sum`` has shape ``(n_neurons,)``: spikes
    summed over every observation (time step x sample) of every step; ``n_obs``
    counts those observations. ``spike_events`` counts per neuron its finite non-zero
    values (a graded spike is one event); it is None, meaning equal to ``spike_sum``,
    until the layer's first value other than 0 and 1. Where per-sample counts are
    measured (output layers, spikes with a time axis), ``active_samples`` counts per
    neuron the samples in which it fired at all, out of ``count_samples``.

    Gradients: one norm per record (``g_*``, over its finite records), the per-value
    RMS ``norm / sqrt(values)`` summed in ``g_rms_sum``, the step of the largest norm,
    the first :data:`GRADIENT_HEAD` norms and their steps (``g_head``, ordered by step),
    and a least-squares trend of ln(norm) against the step over the records with a
    norm > 0 (``t_*``: count, means, sums of squared deviations and co-deviation, first
    and last step). ``nf_input_gradients`` counts NaN/Inf in the gradient at the
    layer's input (d loss / d input current, from ``watch``; for a layer called once
    per time step, the (sample, neuron) places that had one in some step).
    Along time (see :mod:`.temporal` for the definitions): ``isi_n``, ``isi_sum`` and
    ``isi_sq`` are per neuron the count, sum and sum of squares of its inter-spike
    intervals (time steps); ``vt_m2`` and ``vt_dof`` its voltages' squared deviations
    from each sequence's mean and their degrees of freedom. ``v_min``/``v_max`` are
    the extrema of the finite voltages. ``open`` holds the sequences that records
    without a time axis continue (neither merged nor saved).
    """

    def __post_init__(self) -> None:
        for name in VECTORS:
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.n_neurons, dtype=np.float64))

    # ----------------------------------------------------------------- updates
    def add_voltage_moments(self, n: int, mean: float, m2: float) -> None:
        """Merge ``n`` voltages with the given mean and sum of squared deviations."""
        if n == 0:
            return
        if self.v_n == 0:
            self.v_n, self.v_mean, self.v_m2 = n, mean, m2
            return
        self.v_n, self.v_mean, self.v_m2 = chan(self.v_n, self.v_mean, self.v_m2, n, mean, m2)

    def add_gradient_norm(self, norm: float, values: int = 1, step: int = NO_STEP) -> None:
        """One finite gradient record: its L2 ``norm`` over ``values`` numbers, at
        the layer's ``step``."""
        if len(self.g_head) < GRADIENT_HEAD:
            self.g_head = [*self.g_head, norm]
            self.g_head_steps = [*self.g_head_steps, step]
        self.g_n += 1
        self.g_sum += norm
        self.g_rms_sum += norm / math.sqrt(max(values, 1))
        if norm > self.g_max:
            self.g_max, self.g_max_step = norm, step
        if norm < self.g_min:
            self.g_min = norm
        if 0 < norm < math.inf:  # one (step, ln norm) point of the trend
            if self.t_first == NO_STEP or NO_STEP != step < self.t_first:
                self.t_first = step  # first_step(self.t_first, step), inline
            if step > self.t_last:
                self.t_last = step
            (self.t_n, self.t_mean_x, self.t_mean_y, self.t_m2x, self.t_m2y,
             self.t_cxy) = co_moments((self.t_n, self.t_mean_x, self.t_mean_y, self.t_m2x,
                                       self.t_m2y, self.t_cxy),
                                      (1, float(step), math.log(norm), 0.0, 0.0, 0.0))

    def add_trend(self, n: int, mean_x: float, mean_y: float, m2x: float, m2y: float,
                  cxy: float, first: int, last: int) -> None:
        """Merge ``n`` (step, ln norm) points given by their moments (Chan et al.)."""
        if n == 0:
            return
        self.t_first = first_step(self.t_first, first)
        self.t_last = max(self.t_last, last)
        if self.t_n == 0:
            self.t_n, self.t_mean_x, self.t_mean_y = n, mean_x, mean_y
            self.t_m2x, self.t_m2y, self.t_cxy = m2x, m2y, cxy
            return
        (self.t_n, self.t_mean_x, self.t_mean_y, self.t_m2x, self.t_m2y,
         self.t_cxy) = co_moments((self.t_n, self.t_mean_x, self.t_mean_y, self.t_m2x,
                                   self.t_m2y, self.t_cxy), (n, mean_x, mean_y, m2x, m2y, cxy))

    # ------------------------------------------------------------------ merging
    def copy(self) -> EpochStats:
        """A copy of the statistics (without the open sequences)."""
        return type(self)(**copy_fields(self))

    def merge(self, other: EpochStats) -> EpochStats:
        """A new EpochStats equal to having recorded both (order-independent)."""
        out = self.copy()
        out.merge_into(other)
        return out

    def merge_into(self, other: EpochStats) -> None:
        """Add ``other`` to these statistics in place, each field as the table
        (:mod:`spikewidget.state.fields`) says (this one's open sequences stay open;
        ``other``'s end)."""
        merge_fields(self, other)

    # -------------------------------------------------------------- persistence
    def scalars(self) -> dict[str, float | int | list]:
        """Every saved field but the per-neuron vectors, as plain Python numbers (the
        gradient head ``g_head``/``g_head_steps`` as short lists)."""
        return saved_parts(self)[0]

    @classmethod
    def from_parts(cls, scalars: dict[str, Any], vectors: dict[str, np.ndarray],
                   version: int = 1) -> EpochStats:
        """The statistics a file of format ``version`` saved as ``scalars`` and
        ``vectors``; a field that version may lack takes its legacy value
        (:func:`spikewidget.state.fields.loaded_values`; by default every field added
        after version 1 may be absent)."""
        return cls(**loaded_values(scalars, vectors, version))


def merge_all(parts: list[EpochStats]) -> EpochStats:
    """Merge several epochs' statistics of one layer (at least one)."""
    out = parts[0].copy()
    for p in parts[1:]:
        out.merge_into(p)
    return out
