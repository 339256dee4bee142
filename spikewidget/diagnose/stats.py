"""Per-layer and loss statistics as a report presents them.

:func:`layer_stats` turns merged :class:`EpochStats` into a :class:`LayerStats`
under a given :class:`Thresholds` (only the dead/saturated counts depend on it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..state.epoch_stats import NO_STEP, EpochStats
from ..state.layer import ANALOG, Graded
from ..state.loss import EpochLoss
from .thresholds import Thresholds


@dataclass(frozen=True)
class NonFinite:
    """Where NaN/Inf first appeared in a layer: ``source`` is spikes, voltages,
    gradients, input gradients or loss; ``step`` is the layer's step index (0-based).

    ``input gradients``: d(loss)/d(the layer's input) went non-finite before
    d(loss)/d(its spikes) did, so the NaN/Inf was made in the layer's own backward
    (an overflowing surrogate gradient), not passed down from later layers.
    """

    source: str
    step: int
    epoch: int
    count: int


@dataclass(frozen=True)
class EpochHealth:
    """One layer in one epoch: the share of its neurons judged dead (by samples where
    known: :func:`judge_by_samples`), its highest firing rate, its observations per
    neuron and the extrema of its recorded finite voltages (NaN: none recorded, or the
    epoch was dropped)."""

    epoch: int
    dead_fraction: float
    max_rate: float
    n_observations: int
    voltage_min: float = math.nan
    voltage_max: float = math.nan


@dataclass(frozen=True)
class VersusTraining:
    """One layer in one epoch, in another phase (validation) and in training: mean rates
    in spikes per observation per neuron; ``cells``: the other phase's observations
    times neurons."""

    epoch: int
    rate: float
    train_rate: float
    cells: int


@dataclass
class LayerStats:
    """What one layer did over the selected epochs.

    Rates are spikes per observation (one time step of one sample), per neuron; a
    graded layer's spikes are its spike events (``per_neuron_spikes`` counts them:
    :func:`spike_counts`).
    Every field but ``name`` has a default (an empty layer), so that code written
    for the tutorial's ``LayerStats(name=..., n_neurons=..., n_steps=...)`` runs.

    Along time (definitions in :mod:`spikewidget.state.temporal`): an inter-spike interval
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
    graded: Graded = False
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
    """Per neuron, in how many samples it fired at all (None: unknown, or an input;
    see :func:`samples_known`)."""
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
    fractional_count: int = 0
    """How many recorded values were not whole numbers (analog input, not counts)."""
    nonzero_count: float = math.nan
    """How many recorded values were finite and non-zero (spike events; NaN: unknown)."""
    n_samples: int = 0
    """Samples seen (``n_observations`` over the time axis)."""
    per_epoch: tuple[EpochHealth, ...] = ()
    """The layer's health in each selected epoch, oldest first (see :class:`EpochHealth`)."""
    gradient_norm_baseline: float = math.nan
    """Median norm of the first (up to ``GRADIENT_HEAD``) gradient records."""
    gradient_baseline_records: int = 0
    """How many records ``gradient_norm_baseline`` is the median of."""
    gradient_peak_step: int = NO_STEP
    """The step of ``gradient_norm_max``."""
    gradient_growth: float = math.nan
    """Steady growth of the norm over ``gradient_growth_steps``: the factor of a
    least-squares fit of ln(norm) against the step; NaN unless the fit has at least
    ``GROWTH_MIN_RECORDS`` records and explains ``GROWTH_MIN_FIT`` of the variance."""
    gradient_growth_per_step: float = math.nan
    gradient_growth_steps: tuple[int, int] = (NO_STEP, NO_STEP)
    """First and last step of the records the growth was fitted to."""
    gradient_rms_mean: float = math.nan
    """Mean over records of the per-value RMS, norm / sqrt(values in the record): the
    gradient's scale per neuron, time step and sample, comparable across layer sizes."""
    gradient_norm_geomean: float = math.nan
    """Geometric mean of the norms > 0: the layer's typical norm, which one spike or
    a short quiet start barely moves."""
    gradient_blocked_fraction: float | None = None
    """Of the neurons whose spikes got a gradient in a record, the share that did not
    fire and whose input got none (exactly 0 in every hooked frame: the spike function
    passed none), over every record ``watch(gradients=True)`` compared (None: none)."""
    gradient_checked: int | None = None
    """How many neurons those records checked, summed over the records (None: none)."""
    voltage_min: float = math.nan
    voltage_max: float = math.nan
    voltage_time_std: np.ndarray | None = None
    isi_counts: np.ndarray | None = None
    mean_isi: float = math.nan
    cv_isi: float = math.nan
    fan_out: float | None = None
    estimated_syn_ops: float | None = 0.0
    threshold: float | None = None
    """The firing threshold, in the voltages' units (``watch`` reads it; None: unknown)."""
    resting_potential: float | None = None
    """The potential a membrane starts from and leaks toward (None: unknown)."""
    fed_by: tuple[str, ...] | None = None
    """The layers whose spikes make its input (``()``: the data; None: unknown)."""
    spike_ceiling: float | None = None
    """A graded layer's ceiling: the largest value one neuron can emit in one step
    (SpikingJelly ILIF: ``max_spike_count``; ``declare_layer(name, spike_ceiling=D)``);
    None: unknown, or a binary layer (whose ceiling is one spike)."""
    versus_training: VersusTraining | None = None
    """In the report of a phase other than training (validation, ``report(phase="eval")``):
    the layer against its training passes in the latest selected epoch both recorded
    (None: not such a report, or no such epoch)."""
    ceiling_fullness: np.ndarray | None = None
    """Per neuron ``(n_neurons,)``, how full a graded layer with a known ceiling is:
    its mean spike value per observation over ``spike_ceiling`` (1: the ceiling at
    every step; a binary layer's analogue is its firing rate). None otherwise."""

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
        """Per neuron, the share of samples in which it fired at all (None: unknown)."""
        if self.active_samples is None:
            return None
        return self.active_samples / self.count_samples

    @property
    def saturation_levels(self) -> np.ndarray | None:
        """Per neuron, what ``saturated_rate`` is compared with (see
        :func:`saturation_levels`)."""
        return saturation_levels(self.graded, self.firing_rates, self.ceiling_fullness)

    @property
    def first_nonfinite(self) -> NonFinite | None:
        return min(self.nonfinite, key=lambda f: (f.epoch, f.step)) if self.nonfinite else None


def spike_counts(stats: Any, graded: Graded) -> Any:
    """Per neuron, how often it fired ``(n_neurons,)``: its spike sum, or for a graded
    layer its spike events (finite non-zero values: snnTorch's spikes of
    ``graded_spikes_factor``, SpikingJelly's integer ILIF spikes, an analog output
    away from 0), so spikes of 0.005 do not read as dead nor spikes of 3 as
    saturated. ``stats``: an :class:`EpochStats` or a device accumulator."""
    events = stats.spike_events if graded else None
    return stats.spike_sum if events is None else events


def ceiling_fullness(spike_sum: np.ndarray, n_obs: int, ceiling: float | None,
                     graded: Graded) -> np.ndarray | None:
    """Per neuron, a graded layer's summed spike values ``spike_sum`` as a share of
    what ``n_obs`` observations at ``ceiling`` would emit; None for a binary or analog
    layer, or without a ceiling. Derived from the recorded sums: no extra recording."""
    if not graded or graded == ANALOG or ceiling is None:
        return None
    return np.asarray(spike_sum, dtype=np.float64) / (max(n_obs, 1) * ceiling)


def saturation_levels(graded: Graded, rates: np.ndarray,
                      fullness: np.ndarray | None) -> np.ndarray | None:
    """Per neuron, the level a neuron is saturated above (``> saturated_rate``): a
    binary layer's firing rate (a spike is its ceiling); a graded layer's
    :func:`ceiling_fullness`, since a graded neuron that fires at every step far below
    its ceiling still has room; None where saturation is not judged: an analog
    layer, or a graded one whose ceiling is unknown (how often it emits a value says
    nothing about how close to its most it emits)."""
    if graded == ANALOG:
        return None
    return fullness if graded else rates


def layer_stats(name: str, role: str, graded: Graded, neuron_shape: tuple[int, ...],
                merged: EpochStats, epochs: tuple[int, ...],
                per_epoch: list[tuple[int, EpochStats]], th: Thresholds,
                fan_out: float | None = None, threshold: float | None = None,
                resting_potential: float | None = None,
                fed_by: tuple[str, ...] | None = None,
                spike_ceiling: float | None = None) -> LayerStats:
    """Assemble the statistics of one layer; ``per_epoch`` locates non-finite values;
    ``fan_out``: synapses per neuron, ``threshold`` and ``resting_potential`` the
    layer's firing levels, ``fed_by`` the layers feeding it, ``spike_ceiling`` a graded
    layer's ceiling, if known."""
    counts = spike_counts(merged, graded)
    rates = counts / max(merged.n_obs, 1)
    dead = int(np.count_nonzero(rates < th.dead_rate))
    fullness = ceiling_fullness(merged.spike_sum, merged.n_obs, spike_ceiling, graded)
    levels = saturation_levels(graded, rates, fullness)
    sat = 0 if levels is None else int(np.count_nonzero(levels > th.saturated_rate))
    n = merged.n_neurons
    has_v = merged.v_n > 0
    g_n = merged.g_n
    count_range = ((merged.count_min, merged.count_max) if merged.count_steps else None)
    return LayerStats(
        name=name, role=role, graded=graded, n_neurons=n, neuron_shape=neuron_shape,
        n_steps=merged.n_steps, n_observations=merged.n_obs, epochs=epochs,
        per_neuron_spikes=counts, firing_rates=rates,
        total_spikes=float(counts.sum()),
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
        fractional_count=merged.fractional,
        nonzero_count=float(np.sum(merged.spike_sum if merged.spike_events is None
                                   else merged.spike_events)),
        n_samples=merged.n_samples,
        **_gradient_summary(merged),
        gradient_blocked_fraction=(merged.g_in_blocked / merged.g_in_checked
                                   if merged.g_in_checked else None),
        gradient_checked=merged.g_in_checked or None,
        # extrema unknown: no voltages, or a version-1 profile's
        voltage_min=merged.v_min if merged.v_min <= merged.v_max else math.nan,
        voltage_max=merged.v_max if merged.v_min <= merged.v_max else math.nan,
        voltage_time_std=_time_std(merged),
        isi_counts=merged.isi_n, **_isi(merged),
        fan_out=fan_out,
        estimated_syn_ops=None if fan_out is None else float(counts.sum()) * fan_out,
        threshold=threshold, resting_potential=resting_potential, fed_by=fed_by,
        spike_ceiling=None if fullness is None else spike_ceiling,
        ceiling_fullness=fullness,
    )


GROWTH_MIN_RECORDS = 4
"""Fewest records a growth trend is fitted to."""
GROWTH_MIN_FIT = 0.8
"""Least share of the variance of ln(norm) the fitted trend must explain (R^2): steady
growth, not a single spike, nor a quiet start followed by a steady level (a step in
ln(norm) fits a line with R^2 <= 0.75)."""


def _gradient_summary(m: EpochStats) -> dict[str, object]:
    """The explosion and vanishing rules' gradient fields of :class:`LayerStats`."""
    out: dict[str, object] = {
        "gradient_norm_baseline": float(np.median(m.g_head)) if m.g_head else math.nan,
        "gradient_baseline_records": len(m.g_head),
        "gradient_peak_step": m.g_max_step if m.g_n else NO_STEP,
        "gradient_rms_mean": m.g_rms_sum / m.g_n if m.g_n else math.nan,
        "gradient_norm_geomean": math.exp(m.t_mean_y) if m.t_n else math.nan,
    }
    span = m.t_last - m.t_first
    if m.t_n >= GROWTH_MIN_RECORDS and m.t_m2x > 0 and m.t_m2y > 0 and span > 0:
        slope = m.t_cxy / m.t_m2x  # ln(norm) per step
        fit = m.t_cxy * m.t_cxy / (m.t_m2x * m.t_m2y)
        if fit >= GROWTH_MIN_FIT:
            out["gradient_growth"] = math.exp(min(slope * span, 700.0))
            out["gradient_growth_per_step"] = math.exp(slope)
            out["gradient_growth_steps"] = (m.t_first, m.t_last)
    return out


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
    # intervals are >= 1 step, so s > 0 wherever k >= 2 (a crafted file may differ)
    cv_isi = float(np.divide(spread, s, out=zero, where=two & (s > 0)).sum()) / twos if twos \
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
    born = _born_in_backward(per_epoch)
    if born is not None:
        found.append(born)
    return found


def _born_in_backward(per_epoch: list[tuple[int, EpochStats]]) -> NonFinite | None:
    """NaN/Inf in the gradient at the layer's input from a step before any at its
    spikes (see :class:`NonFinite`), else None."""
    total = sum(s.nf_input_gradients for _, s in per_epoch)
    firsts = [(e, s.first_nf_input_gradients) for e, s in per_epoch
              if s.first_nf_input_gradients != NO_STEP]
    if not total or not firsts:
        return None
    epoch, step = min(firsts, key=lambda es: es[1])
    out_steps = [s.first_nf_gradients for _, s in per_epoch if s.first_nf_gradients != NO_STEP]
    if out_steps and min(out_steps) <= step:
        return None  # passed down from the layers after it
    return NonFinite("input gradients", step, epoch, total)


@dataclass
class LossStats:
    """The recorded loss over the selected epochs.

    ``recent`` holds the last values recorded (up to 1,024, oldest first) in the
    selected epochs; ``epoch_means`` maps each selected epoch to its mean loss.
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
    recent_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """The epoch of each value of ``recent``."""
    epoch_extent: dict[int, tuple[int, float, int]] = field(default_factory=dict)
    """Per selected epoch: (records, largest finite value, non-finite records)."""

    @property
    def chance_level(self) -> float | None:
        """ln C: the cross-entropy of a uniform guess over C classes."""
        return math.log(self.n_classes) if self.n_classes else None


def loss_stats(per_epoch: list[tuple[int, EpochLoss]], recent: np.ndarray,
               n_classes: int | None, recent_epochs: np.ndarray | None = None
               ) -> LossStats | None:
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
        epoch_means={ep: e.mean for ep, e in per_epoch}, nonfinite=nonfinite,
        epoch_extent={ep: (e.n + e.nonfinite, e.max, e.nonfinite) for ep, e in per_epoch},
        recent_epochs=(np.zeros(len(recent), np.int64) if recent_epochs is None
                       else recent_epochs))


def epoch_health(epoch: int, stats: EpochStats, role: str,
                 th: Thresholds, graded: Graded = False) -> EpochHealth:
    """How one layer of ``role`` fared in one epoch (judged per sample where
    :func:`samples_known`; ``graded``: its spikes counted as events,
    :func:`spike_counts`)."""
    rates = spike_counts(stats, graded) / max(stats.n_obs, 1)
    n = max(stats.n_neurons, 1)
    steps = stats.n_obs / stats.n_samples if stats.n_samples else 0.0
    if samples_known(role, stats.count_samples, stats.n_samples, steps):
        dead = np.count_nonzero(stats.active_samples / stats.count_samples < th.dead_rate)
    else:
        dead = np.count_nonzero(rates < th.dead_rate)
    top = float(rates.max()) if rates.size else 0.0
    known = stats.v_min <= stats.v_max  # else no finite voltage (or a version-1 file)
    return EpochHealth(epoch, int(dead) / n, top, stats.n_obs,
                       float(stats.v_min) if known else math.nan,
                       float(stats.v_max) if known else math.nan)


SUMMARY_QUANTILES = 256
"""Per-neuron rates an epoch summary keeps: evenly spaced ranks of the sorted rates."""


@dataclass(frozen=True)
class EpochSummary:
    """What an epoch whose per-neuron statistics were dropped (``max_epochs``) keeps
    for the rules that look back over epochs (``layer_died``, trends): the sorted
    per-neuron rates at :data:`SUMMARY_QUANTILES` evenly spaced ranks (all of them
    for smaller layers; per sample in ``sample_q`` where measured), the highest
    rate and the observations. 2 KiB to 4 KiB per layer and epoch, whatever its size.

    ``n_samples`` and ``count_samples`` (the epoch's samples, and those its per-sample
    activity counts) decide, as for a kept epoch (:func:`samples_known`), whether its
    hidden neurons are judged per sample or by rate; None: unknown (a file saved before
    they were kept), judged per sample wherever ``sample_q`` was kept, as then.
    ``voltage_min``/``voltage_max``: its finite voltages' extrema (``inf``/``-inf``:
    none recorded, or unknown)."""

    epoch: int
    rate_q: np.ndarray
    sample_q: np.ndarray | None
    max_rate: float
    n_obs: int
    n_samples: int | None = None
    count_samples: int | None = None
    voltage_min: float = math.inf
    voltage_max: float = -math.inf

    @classmethod
    def of(cls, epoch: int, stats: EpochStats, graded: Graded = False) -> EpochSummary:
        rates = spike_counts(stats, graded) / max(stats.n_obs, 1)
        samples = (stats.active_samples / stats.count_samples if stats.count_samples
                   else None)
        return cls(epoch, _quantiles(rates), None if samples is None else _quantiles(samples),
                   float(rates.max()) if rates.size else 0.0, int(stats.n_obs),
                   int(stats.n_samples), int(stats.count_samples),
                   float(stats.v_min), float(stats.v_max))

    def by_samples(self, role: str) -> bool:
        """Whether its neurons are judged per sample, as :func:`epoch_health` judges a
        kept epoch of ``role``."""
        if self.sample_q is None or role == "input":
            return False
        if self.n_samples is None or self.count_samples is None:
            return True  # an older file's summary: per sample, as it was then read
        steps = self.n_obs / self.n_samples if self.n_samples else 0.0
        return samples_known(role, self.count_samples, self.n_samples, steps)

    def health(self, role: str, th: Thresholds) -> EpochHealth:
        """:func:`epoch_health` from the summary (the dead share to 1/256 for layers
        of more than 256 neurons, exact for smaller ones), per sample where a kept
        epoch would be (:meth:`by_samples`)."""
        q = self.sample_q if self.by_samples(role) else self.rate_q
        dead = np.searchsorted(q, th.dead_rate, side="left") / max(len(q), 1)
        known = self.voltage_min <= self.voltage_max
        return EpochHealth(self.epoch, float(dead), self.max_rate, self.n_obs,
                           self.voltage_min if known else math.nan,
                           self.voltage_max if known else math.nan)


class DeviceSummary:
    """An :class:`EpochSummary` computed on the device (sorting and picking the ranks
    there: dropping an epoch never syncs); copied to the host on first use, which a
    report or a save makes."""

    def __init__(self, epoch: int, acc: Any, graded: Graded = False) -> None:
        import torch

        self.epoch, self.n_obs = epoch, int(acc.n_obs)
        self.n_samples, self.count_samples = int(acc.n_samples), int(acc.count_samples)
        rates = spike_counts(acc, graded).double() / max(acc.n_obs, 1)
        samples = (acc.active_samples.double() / acc.count_samples if acc.count_samples
                   else None)
        self._parts = (_device_quantiles(torch, rates),
                       None if samples is None else _device_quantiles(torch, samples),
                       rates.max() if rates.numel() else torch.zeros((), dtype=torch.float64),
                       torch.stack([acc.scalar("v_min"), acc.scalar("v_max")]))
        self._host: EpochSummary | None = None

    def host(self) -> EpochSummary:
        if self._host is None:
            rate_q, sample_q, top, extrema = self._parts
            v_min, v_max = extrema.cpu().tolist()
            self._host = EpochSummary(
                self.epoch, rate_q.cpu().numpy(),
                None if sample_q is None else sample_q.cpu().numpy(), float(top), self.n_obs,
                self.n_samples, self.count_samples, v_min, v_max)
            self._parts = ()
        return self._host

    rate_q = property(lambda self: self.host().rate_q)
    sample_q = property(lambda self: self.host().sample_q)
    max_rate = property(lambda self: self.host().max_rate)
    voltage_min = property(lambda self: self.host().voltage_min)
    voltage_max = property(lambda self: self.host().voltage_max)

    def health(self, role: str, th: Thresholds) -> EpochHealth:
        return self.host().health(role, th)


def _device_quantiles(torch: Any, values: Any) -> Any:
    ordered = torch.sort(values).values
    n = ordered.numel()
    if n <= SUMMARY_QUANTILES:
        return ordered
    ranks = (torch.arange(SUMMARY_QUANTILES, device=values.device) * 2 + 1) * n // (
        2 * SUMMARY_QUANTILES)
    return ordered[ranks]


def _quantiles(values: np.ndarray) -> np.ndarray:
    ordered = np.sort(values)
    if len(ordered) <= SUMMARY_QUANTILES:
        return ordered
    ranks = (np.arange(SUMMARY_QUANTILES) + 0.5) * len(ordered) / SUMMARY_QUANTILES
    return ordered[ranks.astype(np.int64)]


LONG_SEQUENCE = 100
"""Time steps per sample beyond which one spike per sample is a rate below the default
``dead_rate`` (0.01): there a hidden neuron is judged by the samples it fires in (3
spikes in each sample of 500 steps is a live neuron), below it by its rate per step, as
the rule table has it (a neuron firing once in a few samples of 25 steps is all but
dead). Fixed, not the slider's ``dead_rate``, so that the browser judges alike."""


def samples_known(role: str, count_samples: int, n_samples: int,
                  steps_per_sample: float) -> bool:
    """Whether a layer's neurons are judged per sample (:func:`judge_by_samples`):
    never an input; an output layer whenever per-sample activity was measured; a
    hidden layer when it was measured on every sample it saw, over sequences longer
    than :data:`LONG_SEQUENCE` (records without a time axis, or an old file's hidden
    layer counted on its first record only, leave it to the per-step rate)."""
    if role == "input" or count_samples <= 0:
        return False
    return role == "output" or (count_samples >= n_samples
                                and steps_per_sample > LONG_SEQUENCE)


def judge_by_samples(st: LayerStats, th: Thresholds) -> None:
    """A neuron is dead when it fires in fewer than ``dead_rate`` of the samples: it
    does not respond to the data. Its per-step rate would call dead an output neuron
    that fires for its own class only, and a hidden neuron that fires a few spikes in
    every sample of a long sequence (3 spikes in 500 steps: rate 0.006; hidden layers
    are judged so beyond :data:`LONG_SEQUENCE` steps per sample). Where per-sample
    activity is unknown (:func:`samples_known`) ``st.active_samples`` is cleared and
    the per-step rate judges (a neuron firing in ``dead_rate`` of the samples fires at a
    rate of at least ``dead_rate / T``; one below ``dead_rate`` per step is below it in
    samples only when its spikes bunch)."""
    steps = st.n_observations / st.n_samples if st.n_samples else 0.0
    if not samples_known(st.role, st.count_samples, st.n_samples, steps):
        st.active_samples = None
    activity = st.sample_activity
    if activity is None:
        return
    dead = int(np.count_nonzero(activity < th.dead_rate))
    st.dead_neuron_count = dead
    st.dead_neuron_fraction = dead / st.n_neurons


judge_output_by_samples = judge_by_samples
"""The former name (output layers were the only ones judged per sample)."""
