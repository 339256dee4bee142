"""Streaming statistics of one layer over one epoch, and how two of them merge.

Memory is fixed per layer and epoch: one float64 per neuron plus a few scalars,
whatever the number of steps. Merging is exact for sums and extrema and uses
Chan et al.'s pairwise update for the voltage variance, so a tiny spread at a
large offset survives any number of merges.
"""

from __future__ import annotations

import dataclasses
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


@dataclass(slots=True)
class EpochStats:
    """Sufficient statistics of one layer in one epoch (host memory, NumPy).

    ``spike_sum`` has shape ``(n_neurons,)``: spikes summed over every observation
    (time step x sample) of every step. ``n_obs`` counts those observations.
    Where per-sample counts are measured (output layers, spikes with a time axis),
    ``active_samples`` counts per neuron the samples in which it fired at all, out
    of ``count_samples``.

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
    spike_sum: np.ndarray = dataclasses.field(default=None)  # type: ignore[assignment]
    spike_max: float = -np.inf
    spike_min: float = np.inf
    nonbinary: int = 0
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

    def add_gradient_norm(self, norm: float) -> None:
        self.g_n += 1
        self.g_sum += norm
        if norm > self.g_max:
            self.g_max = norm
        if norm < self.g_min:
            self.g_min = norm

    # ------------------------------------------------------------------ merging
    def copy(self) -> EpochStats:
        """A copy of the statistics (without the open sequences)."""
        new = dataclasses.replace(self, open=None)
        for name in VECTORS:
            setattr(new, name, getattr(self, name).copy())
        return new

    def merge(self, other: EpochStats) -> EpochStats:
        """A new EpochStats equal to having recorded both (order-independent)."""
        out = self.copy()
        out.merge_into(other)
        return out

    def merge_into(self, other: EpochStats) -> None:
        """Add ``other`` to these statistics in place (this one's open sequences stay
        open; ``other``'s end)."""
        out = self
        out.n_steps += other.n_steps
        out.n_obs += other.n_obs
        for name in VECTORS:
            mine = getattr(out, name)
            np.add(mine, getattr(other, name), out=mine)
        out.v_min = min(out.v_min, other.v_min)
        out.v_max = max(out.v_max, other.v_max)
        out.spike_max = max(out.spike_max, other.spike_max)
        out.spike_min = min(out.spike_min, other.spike_min)
        out.nonbinary += other.nonbinary
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

    # -------------------------------------------------------------- persistence
    def scalars(self) -> dict[str, float | int]:
        """Every field but the per-neuron vectors, as plain Python numbers."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in VECTORS and f.name != "open"}

    @classmethod
    def from_parts(cls, scalars: dict[str, float | int],
                   vectors: dict[str, np.ndarray]) -> EpochStats:
        names = {f.name for f in dataclasses.fields(cls)} - set(VECTORS) - {"open"}
        missing = names - set(scalars)
        if missing:
            raise KeyError(f"missing fields {sorted(missing)}")
        return cls(**{k: np.asarray(vectors[k], dtype=np.float64) for k in VECTORS
                      if vectors.get(k) is not None},
                   **{k: scalars[k] for k in names})


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
