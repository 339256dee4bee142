"""Streaming statistics of one layer over one epoch, and how two of them merge.

Memory is fixed per layer and epoch: seven float64 per neuron (:data:`VECTORS`,
56 bytes) plus a few scalars, whatever the number of steps; ``max_epochs`` bounds
the number of epochs (older ones keep a :class:`~spikewidget.diagnose.stats.EpochSummary`).
Merging is exact for sums and extrema and uses Chan et al.'s pairwise update for the
voltage variance, so a tiny spread at a large offset survives any number of merges.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .temporal import OpenSequences

NO_STEP = -1
"""Marker for "never happened" in the first-non-finite step fields."""

VECTORS = ("spike_sum", "active_samples", "isi_n", "isi_sum", "isi_sq", "vt_m2", "vt_dof")
"""The per-neuron fields (everything else is a scalar, but ``open``)."""
NEW_IN_V2 = ("isi_n", "isi_sum", "isi_sq", "vt_m2", "vt_dof", "v_min", "v_max")
"""Fields a version-1 profile lacks: they load as "never measured"."""

GRADIENT_HEAD = 16
"""How many of the first gradient-norm records are kept (the explosion rule's baseline)."""

LATER_FIELDS: dict[str, float | int | list] = {
    "g_rms_sum": math.nan, "g_max_step": NO_STEP, "g_head": [], "g_head_steps": [],
    "t_n": 0, "t_mean_x": 0.0, "t_mean_y": 0.0, "t_m2x": 0.0, "t_m2y": 0.0, "t_cxy": 0.0,
    "t_first": NO_STEP, "t_last": NO_STEP, "nf_input_gradients": 0,
    "first_nf_input_gradients": NO_STEP, "fractional": 0, "v_min": math.inf,
    "v_max": -math.inf, "n_samples": 0,
}
"""Fields added after format version 1, with the value a file without them loads as
("not measured": NaN where a default of 0 would read as a measurement; ``fractional``
is taken as ``nonbinary``: every non-binary value may have been a fraction, so old
analog input is never read as counts)."""


@dataclass(slots=True)
class EpochStats:
    """Sufficient statistics of one layer in one epoch (host memory, NumPy).

    ``spike_sum`` has shape ``(n_neurons,)``: spikes summed over every observation
    (time step x sample) of every step. ``n_obs`` counts those observations.
    Where per-sample counts are measured (output layers, spikes with a time axis),
    ``active_samples`` counts per neuron the samples in which it fired at all, out
    of ``count_samples``.

    Gradients: one norm per record (``g_*``, over its finite records), the per-value
    RMS ``norm / sqrt(values)`` summed in ``g_rms_sum``, the step of the largest norm,
    the first :data:`GRADIENT_HEAD` norms and their steps (``g_head``, ordered by step),
    and a least-squares trend of ln(norm) against the step over the records with a
    norm > 0 (``t_*``: count, means, sums of squared deviations and co-deviation, first
    and last step). ``nf_input_gradients`` counts NaN/Inf in the gradient at the
    layer's input (d loss / d input current, from ``watch``; for a layer called once
    per time step, the (sample, neuron) places that had one in some step).
    Along time (see :mod:`temporal` for the definitions): ``isi_n``, ``isi_sum`` and
    ``isi_sq`` are per neuron the count, sum and sum of squares of its inter-spike
    intervals (time steps); ``vt_m2`` and ``vt_dof`` its voltages' squared deviations
    from each sequence's mean and their degrees of freedom. ``v_min``/``v_max`` are
    the extrema of the finite voltages. ``open`` holds the sequences that records
    without a time axis continue (neither merged nor saved).
    """

    n_neurons: int
    n_steps: int = 0
    n_obs: int = 0
    n_samples: int = 0
    """Samples seen (each record's rows over its time axis): a neuron's time steps in
    one sample are not independent observations, its samples are."""
    spike_sum: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    spike_max: float = -np.inf
    spike_min: float = np.inf
    nonbinary: int = 0
    fractional: int = 0
    """How many recorded spike values were not whole numbers (analog, not counts)."""
    count_steps: int = 0
    count_samples: int = 0
    active_samples: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    count_max: float = -np.inf
    count_min: float = np.inf
    v_n: int = 0
    v_mean: float = 0.0
    v_m2: float = 0.0
    g_n: int = 0
    g_sum: float = 0.0
    g_max: float = -np.inf
    g_min: float = np.inf
    nf_spikes: int = 0
    nf_voltages: int = 0
    nf_gradients: int = 0
    first_nf_spikes: int = NO_STEP
    first_nf_voltages: int = NO_STEP
    first_nf_gradients: int = NO_STEP
    g_rms_sum: float = 0.0
    g_max_step: int = NO_STEP
    g_head: list[float] = dataclasses.field(default_factory=list)
    g_head_steps: list[int] = dataclasses.field(default_factory=list)
    t_n: int = 0
    t_mean_x: float = 0.0
    t_mean_y: float = 0.0
    t_m2x: float = 0.0
    t_m2y: float = 0.0
    t_cxy: float = 0.0
    t_first: int = NO_STEP
    t_last: int = NO_STEP
    nf_input_gradients: int = 0
    first_nf_input_gradients: int = NO_STEP
    v_min: float = np.inf
    v_max: float = -np.inf
    isi_n: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    isi_sum: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    isi_sq: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    vt_m2: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    vt_dof: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    open: OpenSequences | None = None

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
        total = self.v_n + n
        delta = mean - self.v_mean
        self.v_mean += delta * n / total
        self.v_m2 += m2 + delta * delta * (self.v_n * n / total)
        self.v_n = total

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
        if 0 < norm < math.inf:
            self.add_trend(1, float(step), math.log(norm), 0.0, 0.0, 0.0, step, step)

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
        total = self.t_n + n
        dx, dy = mean_x - self.t_mean_x, mean_y - self.t_mean_y
        w = self.t_n * n / total
        self.t_mean_x += dx * n / total
        self.t_mean_y += dy * n / total
        self.t_m2x += m2x + dx * dx * w
        self.t_m2y += m2y + dy * dy * w
        self.t_cxy += cxy + dx * dy * w
        self.t_n = total

    # ------------------------------------------------------------------ merging
    def copy(self) -> EpochStats:
        """A copy of the statistics (without the open sequences)."""
        new = dataclasses.replace(self, open=None)
        for name in VECTORS:
            setattr(new, name, getattr(self, name).copy())
        new.g_head, new.g_head_steps = list(self.g_head), list(self.g_head_steps)
        return new

    def merge(self, other: EpochStats) -> EpochStats:
        """A new EpochStats equal to having recorded both (order-independent)."""
        out = self.copy()
        out.merge_into(other)
        return out

    def merge_into(self, other: EpochStats) -> None:
        """Add ``other`` to these statistics in place (this one's open sequences stay
        open; ``other``'s end)."""
        self._merge_gradient_extras(other)  # first: it compares the maxima before merging
        out = self
        out.n_steps += other.n_steps
        out.n_obs += other.n_obs
        out.n_samples += other.n_samples
        for name in VECTORS:
            mine = getattr(out, name)
            np.add(mine, getattr(other, name), out=mine)
        out.v_min = min(out.v_min, other.v_min)
        out.v_max = max(out.v_max, other.v_max)
        out.spike_max = max(out.spike_max, other.spike_max)
        out.spike_min = min(out.spike_min, other.spike_min)
        out.nonbinary += other.nonbinary
        out.fractional += other.fractional
        out.count_steps += other.count_steps
        out.count_samples += other.count_samples
        out.count_max = max(out.count_max, other.count_max)
        out.count_min = min(out.count_min, other.count_min)
        out.add_voltage_moments(other.v_n, other.v_mean, other.v_m2)
        out.g_n += other.g_n
        out.g_sum += other.g_sum
        out.g_max = max(out.g_max, other.g_max)
        out.g_min = min(out.g_min, other.g_min)
        for src in ("spikes", "voltages", "gradients"):
            setattr(out, f"nf_{src}", getattr(out, f"nf_{src}") + getattr(other, f"nf_{src}"))
            a, b = getattr(out, f"first_nf_{src}"), getattr(other, f"first_nf_{src}")
            setattr(out, f"first_nf_{src}", first_step(a, b))

    def _merge_gradient_extras(self, other: EpochStats) -> None:
        """The gradient fields added after version 1 (see the class docstring)."""
        out = self
        if other.g_n and (out.g_n == 0 or other.g_max > out.g_max or (
                other.g_max == out.g_max and other.g_max_step < out.g_max_step)):
            out.g_max_step = other.g_max_step  # the step of the larger (earlier) maximum
        out.g_rms_sum += other.g_rms_sum
        head = sorted(zip(out.g_head_steps + other.g_head_steps, out.g_head + other.g_head,
                          strict=True))[:GRADIENT_HEAD]  # the earliest records
        out.g_head_steps, out.g_head = [s for s, _ in head], [g for _, g in head]
        out.add_trend(other.t_n, other.t_mean_x, other.t_mean_y, other.t_m2x, other.t_m2y,
                      other.t_cxy, other.t_first, other.t_last)
        out.nf_input_gradients += other.nf_input_gradients
        out.first_nf_input_gradients = first_step(out.first_nf_input_gradients,
                                                  other.first_nf_input_gradients)

    # -------------------------------------------------------------- persistence
    def scalars(self) -> dict[str, float | int | list]:
        """Every field but the per-neuron vectors, as plain Python numbers (the
        gradient head ``g_head``/``g_head_steps`` as short lists)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in VECTORS and f.name != "open"}

    @classmethod
    def from_parts(cls, scalars: dict[str, float | int],
                   vectors: dict[str, np.ndarray]) -> EpochStats:
        names = {f.name for f in dataclasses.fields(cls)} - set(VECTORS) - {"open"}
        missing = names - set(scalars) - set(LATER_FIELDS)
        if missing:
            raise KeyError(f"missing fields {sorted(missing)}")
        values = {k: scalars.get(k, LATER_FIELDS.get(k)) for k in names}
        if "fractional" not in scalars:
            values["fractional"] = values["nonbinary"]
        if "n_samples" not in scalars:  # unknown: each observation counts as a sample
            values["n_samples"] = values["n_obs"]
        values["g_head"] = [float(g) for g in values["g_head"]]
        values["g_head_steps"] = [int(s) for s in values["g_head_steps"]]
        return cls(**{k: np.asarray(vectors[k], dtype=np.float64) for k in VECTORS
                      if vectors.get(k) is not None},
                   **values)


def first_step(a: int, b: int) -> int:
    """The earlier of two step indices, where NO_STEP means "never"."""
    if a == NO_STEP:
        return b
    if b == NO_STEP:
        return a
    return min(a, b)


def merge_all(parts: list[EpochStats]) -> EpochStats:
    """Merge several epochs' statistics of one layer (at least one)."""
    out = parts[0].copy()
    for p in parts[1:]:
        out.merge_into(p)
    return out
