"""How much each layer fires: dead, saturated and silent layers, a layer that died, and
too few observations to tell.
"""

from __future__ import annotations

import math

import numpy as np

from ..pathology import Pathology, Severity
from ..stats import LONG_SEQUENCE, LayerStats, LossStats
from ..thresholds import Thresholds
from .base import Rule, say, text


# --------------------------------------------------------------------- per layer
def check_dead(layers: list[LayerStats], loss: LossStats | None,
               th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        sev = _dead_severity(st, th)
        if sev is None or _chance_explains_dead(st, th) is not None:
            continue
        out.append(say(
            sev, "dead_neurons", st, "samples" if st.sample_activity is not None else "rate",
            sev.value, {"dead": st.dead_neuron_count, "n": st.n_neurons,
                        "share": st.dead_neuron_fraction}, th, st.dead_neuron_fraction))
    return out


def _dead_severity(st: LayerStats, th: Thresholds) -> Severity | None:
    if st.role == "input":
        return None
    if st.dead_neuron_fraction > th.dead_critical_fraction:
        return Severity.CRITICAL
    if st.dead_neuron_fraction > th.dead_warning_fraction:
        return Severity.WARNING
    return None


CHANCE_MARGIN = 3.0
"""Standard deviations above the chance expectation before low counts mean dead."""


def _chance_explains_dead(st: LayerStats, th: Thresholds
                          ) -> tuple[int, float, float, str] | None:
    """``(n, p, q, unit)`` when the dead count is what chance predicts for ``n``
    observations (where judged per sample: samples) per neuron, else None. ``p`` is the
    layer's mean rate (per sample: the share of samples a neuron fires in) and ``q`` the
    share of neurons chance alone would leave below ``dead_rate``: the larger of

    - a binomial model: every neuron fires in each observation with probability ``p``;
    - Good-Turing's estimate for unequal neurons: about as many neurons as fired only
      barely (within one sample's worth of spikes above the cut-off) would have fired
      not at all, by chance (a neuron's time steps in one sample are not independent).

    A layer whose mean rate is below ``dead_rate`` is dead as a whole: never explained.
    A hidden layer judged per sample is also tried with its spikes as observations
    (the model it was judged by before samples were counted): chance explains its dead
    count when either model does.
    """
    if st.sample_activity is None:
        return _chance_explains(st, th, by_samples=False)
    seen = _chance_explains(st, th, by_samples=True)
    if seen is None and st.role != "output":
        seen = _chance_explains(st, th, by_samples=False)
    return seen


def _chance_explains(st: LayerStats, th: Thresholds, by_samples: bool
                     ) -> tuple[int, float, float, str] | None:
    """:func:`_chance_explains_dead` under one model: per sample, or per observation."""
    activity = st.sample_activity
    if by_samples and activity is not None:
        n, p, unit = st.count_samples, float(activity.mean()), "samples"
        counts, per_sample = st.active_samples, 1.0
    else:
        n, p, unit = st.n_observations, float(st.firing_rates.mean()), "observations"
        counts = st.per_neuron_spikes
        per_sample = max(1.0, n / st.n_samples) if st.n_samples else 1.0
    if not (th.dead_rate <= p < 1) or n <= 0:
        return None
    limit = th.dead_rate * n
    low = math.ceil(limit) - 1  # the most spikes a dead neuron has
    barely = int(np.count_nonzero((counts > low) & (counts <= low + per_sample)))
    q = max(binomial_below(n, p, limit), barely / st.n_neurons)
    expected = st.n_neurons * q
    if st.dead_neuron_count > expected + CHANCE_MARGIN * math.sqrt(expected * (1 - q)) + 1:
        return None
    return n, p, q, unit


def check_few_observations(layers: list[LayerStats], loss: LossStats | None,
                           th: Thresholds) -> list[Pathology]:
    """Info instead of ``dead_neurons`` when too few observations were seen to tell."""
    out = []
    for st in layers:
        if _dead_severity(st, th) is None:
            continue
        seen = _chance_explains_dead(st, th)
        if seen is None:
            continue
        n, p, q, unit = seen
        need = math.ceil(math.log(1e-3) / math.log1p(-p))
        out.append(say(
            Severity.INFO, "too_few_observations", st, "chance", "record_more",
            {"dead": st.dead_neuron_count, "n": st.n_neurons,
             "share": st.dead_neuron_fraction, "seen": n, "unit": unit, "p": p, "q": q,
             "need": need}, th, st.dead_neuron_fraction))
    return out


def binomial_below(n: int, p: float, limit: float) -> float:
    """P(X < limit) for X ~ Binomial(n, p): exact up to 1,000 terms, else normal."""
    k_max = math.ceil(limit) - 1
    if k_max < 0:
        return 0.0
    if k_max >= n:
        return 1.0
    if k_max > 1000:
        sd = math.sqrt(n * p * (1 - p))
        return 0.5 * math.erfc(-((k_max + 0.5) - n * p) / (sd * math.sqrt(2)))
    log_term = n * math.log1p(-p)  # log P(X = 0)
    step = math.log(p) - math.log1p(-p)
    total = 0.0
    for k in range(k_max + 1):
        total += math.exp(log_term)
        log_term += math.log((n - k) / (k + 1)) + step
    return min(total, 1.0)


def check_saturated(layers: list[LayerStats], loss: LossStats | None,
                    th: Thresholds) -> list[Pathology]:
    """A binary layer's neurons firing at almost every step; a graded layer's emitting
    on average near their ceiling (:attr:`LayerStats.saturation_levels`): one that
    fires at every step far below its ceiling is not saturated, and a graded layer
    without a known ceiling is not judged."""
    out = []
    for st in layers:
        if st.role == "input" or st.saturated_neuron_fraction <= th.saturated_warning_fraction:
            continue
        values = {"saturated": st.saturated_neuron_count, "n": st.n_neurons,
                  "share": st.saturated_neuron_fraction}
        full = st.ceiling_fullness
        if full is None or st.spike_ceiling is None:
            out.append(say(Severity.WARNING, "saturated_neurons", st, "rate", "sparse",
                           values, th, st.saturated_neuron_fraction))
            continue
        ceiling, mean = st.spike_ceiling, float(np.mean(full))
        emitted = float(np.sum(full)) * st.n_observations * ceiling  # summed values
        events = float(np.sum(st.per_neuron_spikes))  # a graded layer counts events
        values.update(ceiling=ceiling, fullness=mean, per_step=mean * ceiling,
                      per_event=emitted / events if events else 0.0)
        out.append(say(Severity.WARNING, "saturated_neurons", st, "ceiling", "ceiling",
                       values, th, st.saturated_neuron_fraction))
    return out


SILENT_BUSIEST_SHARE = 0.5
"""A layer whose busiest neuron fires in at least this share of the samples passes
spikes on in most samples: it is not silent, however low its rate per step (one spike
per sample, time-to-first-spike coding over 1000 steps, reads 0.001 at most). Below
500 steps per sample such a neuron fires above ``silent_max_rate`` (0.001) anyway."""


def is_silent(st: LayerStats, th: Thresholds) -> bool:
    """The layer emits almost no spikes: its highest rate is below ``silent_max_rate``
    and, where per-sample activity is known, its busiest neuron fires in fewer than
    :data:`SILENT_BUSIEST_SHARE` of the samples."""
    if float(st.firing_rates.max()) >= th.silent_max_rate:
        return False
    activity = st.sample_activity
    return activity is None or float(activity.max()) < SILENT_BUSIEST_SHARE


def check_silent(layers: list[LayerStats], loss: LossStats | None,
                 th: Thresholds) -> list[Pathology]:
    out = []
    fires = {st.name: not is_silent(st, th) for st in layers}
    before: LayerStats | None = None  # the layer recorded just before
    for st in layers:
        top = float(st.firing_rates.max())
        feeding, before = before, st
        if not fires[st.name]:
            # a firing layer that feeds it: by the wiring where known, else the one before
            firing = ([f for f in fires if fires[f] and f in st.fed_by]
                      if st.fed_by is not None
                      else [feeding.name] if feeding is not None and fires[feeding.name]
                      else [])
            values = {"top": top, "before": firing[0] if firing else ""}
            membrane = None if st.role == "input" else short_of_threshold(st)
            if st.role == "input":
                fix = "input"
            elif membrane is not None:
                fix, levels = membrane
                values.update(levels)
            elif firing:
                fix = "fed_by_firing" if st.fed_by is not None else "behind_firing"
                if not st.has_voltages:  # whether the membrane rises was not measured
                    fix += "_unmeasured"
            else:
                fix = "unknown"
            out.append(say(Severity.CRITICAL, "silent_network", st,
                           "top" if membrane is None else "top_membrane", fix, values, th,
                           top))
    return out


def short_of_threshold(st: LayerStats) -> tuple[str, dict[str, float]] | None:
    """Why a layer's membrane never reached its threshold, from the highest recorded
    voltage (``peak``) and the layer's firing levels: ``"no_drive"`` when it never rose
    above the resting potential (the current into it is zero or negative: a lower
    threshold cannot help), ``"below_threshold"`` with ``gain``, how many times the
    drive must grow to reach the threshold. None when the levels or voltages are
    unknown, when the voltages reach the threshold (the spikes are lost elsewhere), or
    when the layer fired at all: its membrane then did reach the threshold, and a
    potential recorded after a reset (SpikingJelly's ``.v``, Norse's state) does not
    show it. With no spike there was no reset, so every recorded voltage is one the
    membrane took: ``peak`` is the highest recorded, at most the highest reached
    (lower where not every time step's voltage is recorded), and ``gain`` at least
    what the drive needs. ``"no_drive"`` also needs voltages measured along time (a
    spread over time known for some neuron): one step per sequence (SpikingJelly's
    last-step ``.v``) cannot show that the membrane never rose.
    """
    threshold, rest, peak = st.threshold, st.resting_potential, st.voltage_max
    if (threshold is None or rest is None or not st.has_voltages
            or not math.isfinite(peak) or not rest < threshold or peak >= threshold
            or float(st.firing_rates.max()) > 0):
        return None
    levels = {"peak": peak, "threshold": threshold, "rest": rest}
    if peak <= rest + NO_DRIVE_TOLERANCE * (threshold - rest):
        spread = st.voltage_time_std
        along_time = spread is not None and bool(np.isfinite(spread).any())
        return ("no_drive", levels) if along_time else None
    return "below_threshold", {**levels, "gain": (threshold - rest) / (peak - rest)}


NO_DRIVE_TOLERANCE = 1e-6
"""A membrane whose peak is within this share of the threshold's height above rest
never rose: rounding, not input."""


def check_layer_died(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    """A layer that was alive in an earlier epoch (at most ``dead_critical_fraction``
    dead, not silent) and has been dead or silent in every epoch since (an average over
    all epochs would hide it)."""
    out = []
    for st in layers:
        if st.role == "input" or len(st.per_epoch) < 2:
            continue
        gone = [h.dead_fraction > th.dead_critical_fraction
                or h.max_rate < th.silent_max_rate for h in st.per_epoch]
        if not gone[-1]:
            continue
        onset = len(gone) - 1
        while onset > 0 and gone[onset - 1]:
            onset -= 1
        if onset == 0:
            continue  # dead from the start: dead_neurons / silent_network say so
        was, died, last = st.per_epoch[onset - 1], st.per_epoch[onset], st.per_epoch[-1]
        values = {"was": was.epoch, "was_dead": was.dead_fraction, "died": died.epoch,
                  "died_dead": died.dead_fraction, "last": last.epoch,
                  "last_dead": last.dead_fraction}
        values["state"] = text("layer_died", "silent" if last.max_rate < th.silent_max_rate
                               else "dead", values)
        out.append(say(Severity.CRITICAL, "layer_died", st, "died", "resume", values, th,
                        died.dead_fraction, died.epoch))
    return out


DEAD_NEURONS = Rule(
    "dead_neurons", "critical if > {dead_critical_fraction:.0%} of neurons, warning if > "
    "{dead_warning_fraction:.0%}", "firing rate < {dead_rate:g} per step (output "
    f"layers, and hidden layers over sequences of more than {LONG_SEQUENCE} steps: fires "
    "in < {dead_rate:.0%} of samples)",
    "Lower threshold, add noise", check_dead,
    messages={
        "rate": "{dead}/{n} neurons ({share:.0%}) fire at a rate below {dead_rate:g} "
                "spikes per step",
        "samples": "{dead}/{n} neurons ({share:.0%}) fire in fewer than {dead_rate:.0%} "
                   "of the samples"},
    fixes={
        "critical": "Lower the firing threshold (by about 20% of its height above the "
                    "reset potential at a time) or raise the input gain / weight scale; "
                    "check that input reaches this layer",
        "warning": "Lower the threshold a little or add noise to the input"})

SATURATED_NEURONS = Rule(
    "saturated_neurons", "warning if > {saturated_warning_fraction:.0%} of neurons",
    "firing rate > {saturated_rate:g} (graded layers: mean output per step > "
    "{saturated_rate:.0%} of their ceiling)", "Raise threshold, reduce input",
    check_saturated,
    messages={"rate": "{saturated}/{n} neurons ({share:.0%}) fire at a rate above "
                      "{saturated_rate:g} (almost every step)",
              "ceiling": "{saturated}/{n} neurons ({share:.0%}) emit on average more "
                         "than {saturated_rate:.0%} of their ceiling ({ceiling:g} per "
                         "step); the layer emits {per_step:.3g} of {ceiling:g} per step on "
                         "average ({fullness:.0%} of the ceiling), {per_event:.3g} per "
                         "non-zero output"},
    fixes={"sparse": "Raise the threshold or reduce the input gain to restore sparse "
                     "spiking",
           "ceiling": "Raise the threshold or reduce the input gain to bring the output "
                      "down from the ceiling of {ceiling:g}, or allow a higher ceiling "
                      "(more spikes per step)"})

_UNMEASURED = (
    "this layer's membrane potential was not recorded (Norse: record_states=True; "
    "SpikingJelly: store_v_seq=True), so whether they drive it up is unknown: record "
    "it. If the membrane rises but stays short of the threshold, lower the threshold "
    "or raise the weight scale into it; if it never rises, the current into it is zero "
    "or negative and neither will help: check the sign of the weights into it and any "
    "normalisation or ReLU before it")

SILENT_NETWORK = Rule(
    "silent_network", "critical", "a layer's max rate < {silent_max_rate:g} (and, with "
    "a time axis, its busiest neuron fires in < 50% of samples)",
    "Check input encoding, lower all thresholds", check_silent,
    messages={"top": "Layer emits almost no spikes: its highest firing rate is "
                     "{top:.2g} (< {silent_max_rate:g})",
              "top_membrane": "Layer emits almost no spikes: its highest firing rate is "
                              "{top:.2g} (< {silent_max_rate:g}); its recorded membrane "
                              "potential peaked at {peak:.3g}, below its threshold "
                              "{threshold:.3g}"},
    fixes={
        "input": "Check the input encoding: the input is (almost) all zeros",
        "below_threshold": "The membrane rises but stays short of the threshold: lower "
                           "the threshold toward {peak:.3g} (the highest recorded; now "
                           "{threshold:.3g}, rest {rest:.3g}) or scale up the input or "
                           "the weights into this layer about {gain:.3g}x (what lifts "
                           "that highest recorded potential to the threshold)",
        "no_drive": "A lower threshold will not help: the membrane never rose above its "
                    "resting potential {rest:.3g}, so the current into this layer is "
                    "zero or negative. Check the layer feeding it (the sign and scale of "
                    "its weights, a normalisation or ReLU that zeroes it) and that the "
                    "input is not all zeros",
        "behind_firing": "The layer before it ('{before}') fires, so spikes arrive: "
                         "lower this layer's firing threshold or raise the weight scale "
                         "into it",
        "fed_by_firing": "'{before}', which feeds it, fires, so spikes arrive: lower "
                         "this layer's firing threshold or raise the weight scale into "
                         "it",
        "behind_firing_unmeasured": "The layer before it ('{before}') fires, so spikes "
                                    "arrive; " + _UNMEASURED,
        "fed_by_firing_unmeasured": "'{before}', which feeds it, fires, so spikes arrive; "
                                    + _UNMEASURED,
        "unknown": "Check the input encoding, lower all thresholds, and verify that the "
                   "input data is not all zeros"},
    constants={"no_drive_tolerance": NO_DRIVE_TOLERANCE,
               "busiest_share": SILENT_BUSIEST_SHARE})

LAYER_DIED = Rule(
    "layer_died", "critical", "alive in an earlier epoch, dead (> "
    "{dead_critical_fraction:.0%}) or silent in every epoch since",
    "See what changed that epoch; resume from before it with a lower LR",
    check_layer_died,
    messages={
        "died": "Alive in epoch {was} ({was_dead:.0%} dead), dead since epoch {died} "
                "({died_dead:.0%} dead); {state} in epoch {last}",
        "silent": "silent",
        "dead": "{last_dead:.0%} dead"},
    fixes={"resume": "Look at what changed in epoch {died}: a learning-rate step, or a "
                     "gradient spike in this or an earlier layer; resume from a "
                     "checkpoint of epoch {was} with a lower learning rate or gradient "
                     "clipping"})

TOO_FEW_OBSERVATIONS = Rule(
    "too_few_observations", "info", "as many neurons look dead as chance predicts "
    "for the observations seen", "Record more steps before judging",
    check_few_observations,
    messages={"chance": "{dead}/{n} neurons ({share:.0%}) look dead after only {seen} "
                        "{unit} each, but at this layer's mean rate ({p:.2g}) chance "
                        "alone leaves about {q:.0%} of neurons that low: too few {unit} "
                        "to call them dead"},
    fixes={"record_more": "Record more steps before judging: about {need} {unit} per "
                          "neuron tell a dead neuron from a quiet one at this rate"})
