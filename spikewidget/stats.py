"""Per-layer and loss statistics as a report presents them.

:func:`layer_stats` turns merged :class:`EpochStats` into a :class:`LayerStats`
under a given :class:`Thresholds` (only the dead/saturated counts depend on it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .epoch_stats import NO_STEP, EpochStats
from .loss import EpochLoss
from .thresholds import Thresholds

ROLES = ("input", "hidden", "output")


@dataclass(frozen=True)
class NonFinite:
    """Where NaN/Inf first appeared in a layer: ``source`` is spikes, voltages,
    gradients or loss; ``step`` is the layer's step index (0-based)."""

    source: str
    step: int
    epoch: int
    count: int


@dataclass
class LayerStats:
    """What one layer did over the selected epochs.

    Rates are spikes per observation (one time step of one sample), per neuron.
    Every field but ``name`` has a default (an empty layer), so that code written
    for the tutorial's ``LayerStats(name=..., n_neurons=..., n_steps=...)`` runs.

    Along time (definitions in :mod:`spikewidget.temporal`): an inter-spike interval
    is the number of time steps between consecutive spikes of one neuron in one
    sequence. ``isi_counts`` holds each neuron's number of intervals; ``mean_isi`` is
    the mean over the neurons with at least one interval of each one's mean interval,
    ``cv_isi`` the mean over the neurons with at least two of each one's coefficient
    of variation (std / mean of its intervals); NaN when no neuron qualifies.
    ``voltage_time_std`` is per neuron the std of its voltage over time within a
    sequence (pooled over sequences; NaN where no sequence had two finite voltages):
    0 for a voltage frozen in time. ``voltage_min``/``voltage_max``: extrema of the
    recorded finite voltages (on the CPU, ``watch`` measures every
    ``sequence.VOLTAGE_STRIDE``-th time step). ``estimated_syn_ops``: spikes times
    ``fan_out`` (how many synapses each neuron drives: ``declare_layer(name,
    fan_out=k)``, or what ``watch`` reads from the module that follows the layer);
    None when the fan-out is unknown.
    """

    name: str
    role: str = "hidden"
    graded: bool = False
    n_neurons: int = 0
    neuron_shape: tuple[int, ...] = ()
    n_steps: int = 0
    n_observations: int = 0
    epochs: tuple[int, ...] = ()
    per_neuron_spikes: np.ndarray = None  # type: ignore[assignment]
    firing_rates: np.ndarray = None  # type: ignore[assignment]
    total_spikes: float = 0.0
    dead_neuron_count: int = 0
    dead_neuron_fraction: float = 0.0
    saturated_neuron_count: int = 0
    saturated_neuron_fraction: float = 0.0
    max_value: float = 0.0
    """Largest spike value seen in any one step (1 for binary spikes)."""
    min_value: float = 0.0
    nonbinary_count: int = 0
    """How many recorded spike values were neither 0 nor 1."""
    is_binary: bool = True
    spike_count_range: tuple[float, float] | None = None
    """(min, max) spikes per sample summed over time, when spikes had a time axis."""
    active_samples: np.ndarray | None = None
    """Per neuron, in how many samples it fired at all (output layers only)."""
    count_samples: int = 0
    """How many samples ``active_samples`` counts over."""
    has_voltages: bool = False
    voltage_mean: float = math.nan
    voltage_std: float = math.nan
    gradient_steps: int = 0
    gradient_norm_mean: float = math.nan
    gradient_norm_max: float = math.nan
    gradient_norm_min: float = math.nan
    nonfinite: list[NonFinite] = field(default_factory=list)
    voltage_min: float = math.nan
    voltage_max: float = math.nan
    voltage_time_std: np.ndarray | None = None
    isi_counts: np.ndarray | None = None
    mean_isi: float = math.nan
    cv_isi: float = math.nan
    fan_out: float | None = None
    estimated_syn_ops: float | None = 0.0

    def __post_init__(self) -> None:
        if not self.neuron_shape:
            self.neuron_shape = (self.n_neurons,)
        for name in ("per_neuron_spikes", "firing_rates"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.n_neurons))

    @property
    def binary_fraction(self) -> float:
        """Share of recorded spike values that were exactly 0 or 1."""
        total = self.n_observations * self.n_neurons
        return 1.0 - self.nonbinary_count / total if total else 1.0

    @property
    def sample_activity(self) -> np.ndarray | None:
        """Per neuron, the share of samples in which it fired at all (output layers)."""
        if self.active_samples is None:
            return None
        return self.active_samples / self.count_samples

    @property
    def first_nonfinite(self) -> NonFinite | None:
        return min(self.nonfinite, key=lambda f: (f.epoch, f.step)) if self.nonfinite else None


def layer_stats(name: str, role: str, graded: bool, neuron_shape: tuple[int, ...],
                merged: EpochStats, epochs: tuple[int, ...],
                per_epoch: list[tuple[int, EpochStats]], th: Thresholds,
                fan_out: float | None = None) -> LayerStats:
    """Assemble the statistics of one layer; ``per_epoch`` locates non-finite values;
    ``fan_out``: synapses per neuron, if known."""
    rates = merged.spike_sum / max(merged.n_obs, 1)
    dead = int(np.count_nonzero(rates < th.dead_rate))
    sat = int(np.count_nonzero(rates > th.saturated_rate))
    n = merged.n_neurons
    has_v = merged.v_n > 0
    g_n = merged.g_n
    count_range = ((merged.count_min, merged.count_max) if merged.count_steps else None)
    return LayerStats(
        name=name, role=role, graded=graded, n_neurons=n, neuron_shape=neuron_shape,
        n_steps=merged.n_steps, n_observations=merged.n_obs, epochs=epochs,
        per_neuron_spikes=merged.spike_sum, firing_rates=rates,
        total_spikes=float(merged.spike_sum.sum()),
        dead_neuron_count=dead, dead_neuron_fraction=dead / n,
        saturated_neuron_count=sat, saturated_neuron_fraction=sat / n,
        max_value=merged.spike_max, min_value=merged.spike_min,
        nonbinary_count=merged.nonbinary, is_binary=merged.nonbinary == 0,
        spike_count_range=count_range,
        active_samples=merged.active_samples if merged.count_samples else None,
        count_samples=merged.count_samples,
        has_voltages=has_v,
        voltage_mean=merged.v_mean if has_v else math.nan,
        voltage_std=math.sqrt(max(merged.v_m2, 0.0) / merged.v_n) if has_v else math.nan,
        gradient_steps=g_n,
        gradient_norm_mean=merged.g_sum / g_n if g_n else math.nan,
        gradient_norm_max=merged.g_max if g_n else math.nan,
        gradient_norm_min=merged.g_min if g_n else math.nan,
        nonfinite=_nonfinite(per_epoch),
        # extrema unknown: no voltages, or a version-1 profile's
        voltage_min=merged.v_min if merged.v_min <= merged.v_max else math.nan,
        voltage_max=merged.v_max if merged.v_min <= merged.v_max else math.nan,
        voltage_time_std=_time_std(merged),
        isi_counts=merged.isi_n, **_isi(merged),
        fan_out=fan_out,
        estimated_syn_ops=None if fan_out is None else float(merged.spike_sum.sum()) * fan_out,
    )


def _time_std(merged: EpochStats) -> np.ndarray | None:
    """Per neuron, the pooled within-sequence std of its voltage (NaN: unknown; None:
    no voltages were recorded)."""
    if merged.v_n == 0:
        return None
    dof = merged.vt_dof
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(np.maximum(merged.vt_m2, 0.0) / np.where(dof > 0, dof, math.nan))


def _isi(merged: EpochStats) -> dict[str, float]:
    """The layer's mean ISI and CV: means over neurons of each neuron's own (a
    neuron's CV, std / mean of its k intervals of sum s and sum of squares q, is
    sqrt(k q - s^2) / s: whole numbers, exact)."""
    k, s, q = merged.isi_n, merged.isi_sum, merged.isi_sq
    ones = int(np.count_nonzero(k))
    if not ones:
        return {"mean_isi": math.nan, "cv_isi": math.nan}
    zero = np.zeros_like(s)
    mean_isi = float(np.divide(s, k, out=zero.copy(), where=k > 0).sum()) / ones
    two = k >= 2
    twos = int(np.count_nonzero(two))
    spread = np.sqrt(np.maximum(k * q - s * s, 0.0))
    cv_isi = float(np.divide(spread, s, out=zero, where=two).sum()) / twos if twos \
        else math.nan
    return {"mean_isi": mean_isi, "cv_isi": cv_isi}


def _nonfinite(per_epoch: list[tuple[int, EpochStats]]) -> list[NonFinite]:
    found: list[NonFinite] = []
    for source in ("spikes", "voltages", "gradients"):
        total = sum(getattr(s, f"nf_{source}") for _, s in per_epoch)
        firsts = [(e, getattr(s, f"first_nf_{source}")) for e, s in per_epoch
                  if getattr(s, f"first_nf_{source}") != NO_STEP]
        if total and firsts:
            epoch, step = min(firsts, key=lambda es: es[1])
            found.append(NonFinite(source, step, epoch, total))
    return found


@dataclass
class LossStats:
    """The recorded loss over the selected epochs.

    ``recent`` holds the last values recorded (up to 1,024, oldest first) whatever
    the selection; ``epoch_means`` maps each selected epoch to its mean loss.
    """

    count: int
    mean: float
    min: float
    max: float
    last: float
    n_classes: int | None
    recent: np.ndarray
    epoch_means: dict[int, float]
    nonfinite: NonFinite | None

    @property
    def chance_level(self) -> float | None:
        """ln C: the cross-entropy of a uniform guess over C classes."""
        return math.log(self.n_classes) if self.n_classes else None


def loss_stats(per_epoch: list[tuple[int, EpochLoss]], recent: np.ndarray,
               n_classes: int | None) -> LossStats | None:
    if not per_epoch:
        return None
    n = sum(e.n for _, e in per_epoch)
    total = sum(e.total for _, e in per_epoch)
    nf = sum(e.nonfinite for _, e in per_epoch)
    first = [(ep, e.first_nonfinite) for ep, e in per_epoch if e.first_nonfinite != NO_STEP]
    nonfinite = None
    if first:
        ep, step = min(first, key=lambda es: es[1])
        nonfinite = NonFinite("loss", step, ep, nf)
    return LossStats(
        count=n + nf, mean=total / n if n else math.nan,
        min=min(e.min for _, e in per_epoch) if n else math.nan,
        max=max(e.max for _, e in per_epoch) if n else math.nan,
        last=per_epoch[-1][1].last, n_classes=n_classes, recent=recent,
        epoch_means={ep: e.mean for ep, e in per_epoch}, nonfinite=nonfinite)


def judge_output_by_samples(st: LayerStats, th: Thresholds) -> None:
    """An output layer is read per sample (spike counts into the loss): one of its
    neurons is dead when it fires in fewer than ``dead_rate`` of the samples, not
    when its per-step rate is low (a class neuron fires for its own class only)."""
    activity = st.sample_activity
    if activity is None:
        return
    dead = int(np.count_nonzero(activity < th.dead_rate))
    st.dead_neuron_count = dead
    st.dead_neuron_fraction = dead / st.n_neurons
