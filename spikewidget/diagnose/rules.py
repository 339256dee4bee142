"""The diagnosis rules: a table of data plus one small pure function per rule.

Each function takes the statistics of the reported layers, the loss statistics
and a :class:`Thresholds`, and returns its findings. Nothing here touches raw
tensors. :data:`RULES` is the one source of the rule table and of every word a
finding says: each row carries its messages and fixes as ``str.format`` templates
(thresholds and measured values by name). The README's table and ``describe_rules()``
are generated from it, and the widget formats the same templates (sent in the payload)
with ``js/src/pyformat.js``; its evaluators in ``js/src/rules.js`` only compute the
values, for the rules marked ``browser="rejudged"``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.fmt import share
from ..state.epoch_stats import GRADIENT_HEAD
from .causes import link_causes
from .pathology import Pathology, Severity
from .roles import output_layers
from .stats import LayerStats, LossStats
from .thresholds import Thresholds

Check = Callable[[list[LayerStats], "LossStats | None", Thresholds], list[Pathology]]

FLOAT32_EXP_LIMIT = math.log(float.fromhex("0x1.fffffep127"))  # exp(x) overflows float32 above


@dataclass(frozen=True)
class Rule:
    """One row of the rule table; ``severity`` and ``trigger`` name thresholds as
    ``{field}`` placeholders filled from a :class:`Thresholds`.

    ``messages`` and ``fixes``: the finding's words, ``str.format`` templates by key
    (a rule may say different things in different cases, and build a message from
    smaller pieces); placeholders name thresholds or values the check measured.
    ``browser``: ``"rejudged"`` when a threshold slider changes the verdict (the widget
    evaluates it, with the same templates), ``"fixed"`` when no threshold does (the
    widget shows Python's findings as sent). ``constants``: fixed numbers the check uses
    that are not thresholds (the browser's evaluator reads them from the payload).
    """

    category: str
    severity: str
    trigger: str
    fix: str
    check: Check
    messages: Mapping[str, str]
    fixes: Mapping[str, str]
    browser: str = "rejudged"
    constants: Mapping[str, float] = dataclasses.field(default_factory=dict)


def text(category: str, key: str, values: Mapping[str, Any], *,
         fix: bool = False) -> str:
    """Rule ``category``'s message (or fix) template ``key``, filled from ``values``."""
    rule = BY_CATEGORY[category]
    return (rule.fixes if fix else rule.messages)[key].format_map(values)


def _say(sev: Severity, rule: str, st: LayerStats | str, message: str, fix: str,
         values: Mapping[str, Any], th: Thresholds, value: float,
         epoch: int | None = None, step: int | None = None) -> Pathology:
    """A finding whose words are rule ``rule``'s templates ``message`` and ``fix``
    filled with the thresholds and ``values``."""
    layer = st if isinstance(st, str) else st.name
    filled = {**th.to_dict(), **values}
    return Pathology(sev, rule, layer, text(rule, message, filled),
                     text(rule, fix, filled, fix=True), float(value), epoch, step)


# --------------------------------------------------------------------- per layer
def check_dead(layers: list[LayerStats], loss: LossStats | None,
               th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        sev = _dead_severity(st, th)
        if sev is None or _chance_explains_dead(st, th) is not None:
            continue
        out.append(_say(
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
    observations (output layers: samples) per neuron, else None. ``p`` is the layer's
    mean rate (output layers: the share of samples a neuron fires in) and ``q`` the
    share of neurons chance alone would leave below ``dead_rate``: the larger of

    - a binomial model: every neuron fires in each observation with probability ``p``;
    - Good-Turing's estimate for unequal neurons: about as many neurons as fired only
      barely (within one sample's worth of spikes above the cut-off) would have fired
      not at all, by chance (a neuron's time steps in one sample are not independent).

    A layer whose mean rate is below ``dead_rate`` is dead as a whole: never explained.
    """
    activity = st.sample_activity
    if activity is not None:
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
        out.append(_say(
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
    return [_say(
        Severity.WARNING, "saturated_neurons", st, "rate", "sparse",
        {"saturated": st.saturated_neuron_count, "n": st.n_neurons,
         "share": st.saturated_neuron_fraction}, th, st.saturated_neuron_fraction)
        for st in layers
        if st.role != "input" and st.saturated_neuron_fraction > th.saturated_warning_fraction]


def check_silent(layers: list[LayerStats], loss: LossStats | None,
                 th: Thresholds) -> list[Pathology]:
    out = []
    before: LayerStats | None = None  # the layer recorded just before
    for st in layers:
        top = float(st.firing_rates.max())
        feeding, before = before, st
        if top < th.silent_max_rate:
            if st.role == "input":
                fix = "input"
            elif feeding is not None and float(feeding.firing_rates.max()) >= \
                    th.silent_max_rate:
                fix = "behind_firing"
            else:
                fix = "unknown"
            out.append(_say(Severity.CRITICAL, "silent_network", st, "top", fix,
                            {"top": top, "before": feeding.name if feeding else ""}, th, top))
    return out


def check_voltage_collapse(layers: list[LayerStats], loss: LossStats | None,
                           th: Thresholds) -> list[Pathology]:
    """Neurons whose voltage is frozen in time: per neuron, the std of its voltage
    over time (within each sequence, ``LayerStats.voltage_time_std``) is below
    ``voltage_collapse_std``. Neurons may differ from one another; a large spread
    between them does not hide that none of them integrates."""
    out = []
    for st in layers:
        spread = st.voltage_time_std
        if not st.has_voltages or st.n_steps < th.voltage_collapse_min_steps \
                or spread is None:
            continue
        known = spread[~np.isnan(spread)]
        frozen = int(np.count_nonzero(known < th.voltage_collapse_std))
        if not frozen or frozen / len(known) < th.voltage_collapse_fraction:
            continue
        share = frozen / len(known)
        out.append(_say(
            Severity.WARNING, "voltage_collapse", st, "frozen", "current",
            {"frozen": frozen, "known": len(known), "share": share, "steps": st.n_steps,
             "mean": st.voltage_mean}, th, share))
    return out


def check_gradient_explosion(layers: list[LayerStats], loss: LossStats | None,
                             th: Thresholds) -> list[Pathology]:
    """Steady exponential growth by more than the ratio over the run, or a peak norm
    that many times both the median of the layer's first records and its geometric
    mean over the run (a norm that was small only at the start is not an explosion)."""
    out = []
    limit = th.gradient_explosion_ratio
    for st in layers:
        if st.gradient_steps < 2:
            continue
        base, peak, growth = st.gradient_norm_baseline, st.gradient_norm_max, st.gradient_growth
        typical = st.gradient_norm_geomean
        jump = peak / base if base > 0 else math.nan
        over = peak / typical if typical > 0 else math.nan
        values = {"peak": peak, "peak_step": st.gradient_peak_step}
        if growth > limit:
            first, last = st.gradient_growth_steps
            message, value = "growth", growth
            values |= {"per_step": st.gradient_growth_per_step, "first": first, "last": last,
                       "growth": growth}
        elif jump > limit and over > limit:
            message, value = "peak", jump
            values |= {"jump": jump, "base": base, "records": st.gradient_baseline_records,
                       "over": over, "typical": typical}
        else:
            continue
        out.append(_say(Severity.CRITICAL, "gradient_explosion", st, message, "clip",
                        values, th, value))
    return out


def check_non_binary(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        if st.role == "input" or st.graded or st.is_binary:
            continue
        values = {"max": st.max_value, "min": st.min_value,
                  "other": share(1 - st.binary_fraction)}
        out.append(_say(
            Severity.CRITICAL, "non_binary_spikes", st,
            "signed" if st.min_value < 0 else "positive", "threshold", values, th,
            st.max_value))
    return out


def is_count_valued(st: LayerStats) -> bool:
    """Non-negative whole numbers, some above 1: event counts per bin (tonic's
    ``ToFrame``). Real-valued input (pixels, voxel grids, time surfaces) is direct
    encoding, and signed values are not counts either."""
    return (not st.is_binary and st.fractional_count == 0 and st.min_value >= 0
            and st.max_value > 1)


def check_count_input(layers: list[LayerStats], loss: LossStats | None,
                      th: Thresholds) -> list[Pathology]:
    return [_say(Severity.WARNING, "count_valued_input", st, "counts", "binarise",
                 {"max": st.max_value, "above": share(1 - st.binary_fraction)}, th,
                 st.max_value)
            for st in layers
            if st.role == "input" and not st.graded and is_count_valued(st)]


def check_non_finite(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        first = st.first_nonfinite
        if first is None:
            continue
        sources = ", ".join(f"{f.count} in {f.source}" for f in st.nonfinite)
        out.append(_say(
            Severity.CRITICAL, "non_finite_values", st, "layer", "cause",
            {"sources": sources, "source": first.source, "step": first.step,
             "epoch": first.epoch}, th, first.count, first.epoch, first.step))
    if loss is not None and loss.nonfinite is not None:
        f = loss.nonfinite
        out.append(_say(
            Severity.CRITICAL, "non_finite_values", "loss", "loss", "cause",
            {"count": f.count, "step": f.step, "epoch": f.epoch}, th, f.count, f.epoch,
            f.step))
    return out


def check_output_overflow(layers: list[LayerStats], loss: LossStats | None,
                          th: Thresholds) -> list[Pathology]:
    out = []
    for st in output_layers(layers):
        if st.spike_count_range is None:
            continue
        lo, hi = st.spike_count_range
        top = max(abs(lo), abs(hi))
        if top > th.output_count_critical:
            sev = Severity.CRITICAL
        elif top > th.output_count_warning:
            sev = Severity.WARNING
        else:
            continue
        values = {"top": top, "lo": lo, "hi": hi, "limit": FLOAT32_EXP_LIMIT}
        if loss is not None and loss.count:
            values["loss_max"] = loss.max
        values["effect"] = text("output_overflow",
                                "float32" if top > FLOAT32_EXP_LIMIT else "softmax", values)
        values["seen"] = _loss_seen(loss, values)
        out.append(_say(sev, "output_overflow", st, "counts", "cause", values, th, top))
    return out


def _loss_seen(loss: LossStats | None, values: Mapping[str, Any]) -> str:
    """What the recorded loss showed, beside what the counts would do."""
    if loss is None or loss.count == 0:
        return ""
    return text("output_overflow", "loss_nan" if loss.nonfinite is not None
                else "loss_finite", values)


def check_loss_at_chance(layers: list[LayerStats], loss: LossStats | None,
                         th: Thresholds) -> list[Pathology]:
    if loss is None or loss.chance_level is None:
        return []
    values = loss.recent
    window = values[-th.loss_chance_window:]
    if len(window) < th.loss_chance_window:
        return []
    chance = loss.chance_level
    near = [abs(v - chance) <= th.loss_chance_tolerance * chance for v in values]
    if not all(near[-len(window):]):
        return []
    start = len(near)  # the at-chance run that ends the record began here
    while start > 0 and near[start - 1]:
        start -= 1
    since = int(loss.recent_epochs[start]) if len(loss.recent_epochs) == len(values) \
        else None
    mean = float(sum(window) / len(window))
    return [_say(Severity.WARNING, "loss_at_chance", "loss", "chance", "outputs_first",
                 {"mean": mean, "classes": loss.n_classes, "chance": chance,
                  "records": len(window)}, th, mean, since)]


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
        out.append(_say(Severity.CRITICAL, "layer_died", st, "died", "resume", values, th,
                        died.dead_fraction, died.epoch))
    return out


def starves_gradients(st: LayerStats, th: Thresholds) -> str | None:
    """Why few gradients pass through ``st`` ("'x' is silent ...", "'x' has 80% dead
    neurons"), or None: a neuron that seldom fires sits far from its threshold, where
    the surrogate gradient is near zero."""
    top = float(st.firing_rates.max())
    values = {"name": st.name, "top": top, "share": st.dead_neuron_fraction}
    if top < th.silent_max_rate:
        return text("gradient_vanishing", "why_silent", values)
    if st.dead_neuron_fraction > th.dead_critical_fraction:
        return text("gradient_vanishing", "why_dead", values)
    return None


def check_gradient_vanishing(layers: list[LayerStats], loss: LossStats | None,
                             th: Thresholds) -> list[Pathology]:
    """The gradient at the first layer far below that at the last, both per value (RMS:
    a narrow layer beside a wide one is not vanishing) and in norm (a wide layer whose
    many values each get a small share, as in front of a pooling or a strided conv, is
    not either); a dead or silent layer from the first to the last is named as the
    cause (its own fix applies, not skip connections)."""
    with_grads = [s for s in layers if s.role != "input" and s.gradient_steps > 0]
    if len(with_grads) < 2:
        return []
    first, last = with_grads[0], with_grads[-1]
    a, b = first.gradient_rms_mean, last.gradient_rms_mean
    if not (b > 0 and a >= 0):  # NaN: not measured (a profile saved before RMS was)
        return []
    ratio = b / a if a > 0 else math.inf
    na, nb = first.gradient_norm_mean, last.gradient_norm_mean
    norm_ratio = nb / na if na > 0 else math.inf
    if min(ratio, norm_ratio) <= th.gradient_vanishing_ratio:
        return []
    lo = next(i for i, s in enumerate(layers) if s is first)
    hi = next(i for i, s in enumerate(layers) if s is last)
    dead = []  # (name, why) of the layers the gradient passes on its way to `first`
    for s in layers[lo:hi + 1]:
        why = None if s.role == "input" else starves_gradients(s, th)
        if why is not None:
            dead.append((s.name, why))
    values = {"first": first.name, "last": last.name, "ratio": ratio, "a": a, "b": b,
              "norm_ratio": norm_ratio}
    values["gap"] = text("gradient_vanishing", "gap", values)
    if not dead:
        return [_say(Severity.CRITICAL, "gradient_vanishing", first, "deep", "architecture",
                     values, th, ratio)]
    plural = len(dead) > 1
    values |= {"names": " and ".join(f"'{name}'" for name, _ in dead),
               "whys": " and ".join(why for _, why in dead),
               "their": "their" if plural else "its", "s": "s" if plural else ""}
    return [_say(Severity.CRITICAL, "gradient_vanishing", first, "starved", "wake_first",
                 values, th, ratio)]


def mean_rate(st: LayerStats) -> float:
    """A layer's mean spikes per neuron per observation (exact for whole counts)."""
    return float(st.per_neuron_spikes.sum()) / (max(st.n_observations, 1) * st.n_neurons)


DEPTH_FADE_MIN_LAYERS = 3
"""Layers a fade spans at least: two falls in a row, not one quiet layer."""

DEPTH_FADE_STEP = 1.25
"""A fall: a layer fires at least this many times less than the one before (20% fewer
spikes), so that two layers alike, differing by noise, are no fade."""


def check_depth_fade(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    """Spikes that fade with depth: over at least three consecutive spiking layers the
    mean firing rate falls at every layer (by ``DEPTH_FADE_STEP`` or more), until a layer
    fires below ``dead_rate`` on average, by more than ``depth_fade_ratio`` in all
    (SpikingJelly #285: zero from the fifth layer on). The finding sits at the first
    layer below ``dead_rate`` and names the whole falling run; the dead and silent layers
    from there on follow from it (their own fixes would only move the fade deeper)."""
    spiking = [s for s in layers
               if s.role != "input" and not s.graded and s.is_binary and s.n_neurons > 0]
    rates = [mean_rate(s) for s in spiking]
    out = []
    start = 0
    while start < len(spiking):
        stop = start
        while stop + 1 < len(spiking) and rates[stop + 1] * DEPTH_FADE_STEP < rates[stop]:
            stop += 1
        end = next((k for k in range(start, stop + 1) if rates[k] < th.dead_rate), None)
        if end is not None and end - start + 1 >= DEPTH_FADE_MIN_LAYERS:
            ratio = rates[start] / rates[stop] if rates[stop] > 0 else math.inf
            if ratio > th.depth_fade_ratio:
                chain = " → ".join(text("rate_fades_with_depth", "link",
                                        {"name": s.name, "rate": r})
                                   for s, r in zip(spiking[start:stop + 1],
                                                   rates[start:stop + 1], strict=True))
                out.append(_say(
                    Severity.CRITICAL, "rate_fades_with_depth", spiking[end],
                    "to_zero" if rates[stop] == 0 else "fading", "normalise",
                    {"ratio": ratio, "layers": stop - start + 1, "chain": chain}, th, ratio))
        start = stop + 1
    return out


RULES: tuple[Rule, ...] = (
    Rule("dead_neurons", "critical if > {dead_critical_fraction:.0%} of neurons, warning if > "
         "{dead_warning_fraction:.0%}", "firing rate < {dead_rate:g} (output layers: fires "
         "in < {dead_rate:.0%} of samples)",
         "Lower threshold, add noise", check_dead,
         messages={
             "rate": "{dead}/{n} neurons ({share:.0%}) fire at a rate below {dead_rate:g} "
                     "spikes per step",
             "samples": "{dead}/{n} neurons ({share:.0%}) fire in fewer than {dead_rate:.0%} "
                        "of the samples"},
         fixes={
             "critical": "Lower the firing threshold (about 20% at a time) or raise the input "
                         "gain / weight scale; check that input reaches this layer",
             "warning": "Lower the threshold a little or add noise to the input"}),
    Rule("saturated_neurons", "warning if > {saturated_warning_fraction:.0%} of neurons",
         "firing rate > {saturated_rate:g}", "Raise threshold, reduce input",
         check_saturated,
         messages={"rate": "{saturated}/{n} neurons ({share:.0%}) fire at a rate above "
                           "{saturated_rate:g} (almost every step)"},
         fixes={"sparse": "Raise the threshold or reduce the input gain to restore sparse "
                          "spiking"}),
    Rule("silent_network", "critical", "a layer's max rate < {silent_max_rate:g}",
         "Check input encoding, lower all thresholds", check_silent,
         messages={"top": "Layer emits almost no spikes: its highest firing rate is "
                          "{top:.2g} (< {silent_max_rate:g})"},
         fixes={
             "input": "Check the input encoding: the input is (almost) all zeros",
             "behind_firing": "The layer before it ('{before}') fires, so spikes arrive: "
                              "lower this layer's firing threshold or raise the weight scale "
                              "into it",
             "unknown": "Check the input encoding, lower all thresholds, and verify that the "
                        "input data is not all zeros"}),
    Rule("voltage_collapse", "warning", ">= {voltage_collapse_fraction:.0%} of neurons have a "
         "voltage std over time < {voltage_collapse_std:g}",
         "Increase input current", check_voltage_collapse,
         messages={"frozen": "{frozen}/{known} neurons ({share:.0%}) have a membrane voltage "
                             "frozen in time: its std over time is below "
                             "{voltage_collapse_std:.0e} (over {steps} steps, layer mean "
                             "{mean:.4g})"},
         fixes={"current": "Increase the input current (weight scale), check connectivity, "
                           "and check that the state is not reset every step"}),
    Rule("gradient_explosion", "critical",
         "gradient norm > {gradient_explosion_ratio:g}x both the median of the layer's "
         f"first {GRADIENT_HEAD} records and its geometric mean, or steady growth > "
         "{gradient_explosion_ratio:g}x over the run (log-linear fit)",
         "Clip gradients, reduce LR", check_gradient_explosion,
         messages={
             "growth": "Surrogate-gradient norm grows steadily, {per_step:.3g}x per step "
                       "from step {first} to {last}: {growth:.3g}x in all by a log-linear "
                       "fit (threshold {gradient_explosion_ratio:g}x); it peaks at "
                       "{peak:.3g} at step {peak_step}",
             "peak": "Surrogate-gradient norm peaks at {peak:.3g} at step {peak_step}, "
                     "{jump:.0f}x the median {base:.3g} of its first {records} records and "
                     "{over:.0f}x its geometric mean {typical:.3g} (threshold "
                     "{gradient_explosion_ratio:g}x)"},
         fixes={"clip": "Clip gradients (torch.nn.utils.clip_grad_norm_), lower the learning "
                        "rate, or flatten the surrogate-gradient slope"}),
    Rule("gradient_vanishing", "critical", "output-side / input-side gradient, per value "
         "(RMS) and in norm, both > {gradient_vanishing_ratio:g}x",
         "Skip connections, adaptive surrogate slope; if a dead or silent layer lies "
         "between, wake it instead", check_gradient_vanishing,
         messages={
             "gap": "Gradients reaching '{first}' are {ratio:.0f}x smaller per value (RMS "
                    "{a:.3g} vs {b:.3g}) and {norm_ratio:.0f}x smaller in norm than at "
                    "'{last}'",
             "deep": "{gap}: the input-side layers barely learn",
             "starved": "{gap}, because {whys}: a layer that seldom fires passes almost no "
                        "surrogate gradient",
             "why_silent": "'{name}' is silent (highest firing rate {top:.2g})",
             "why_dead": "'{name}' has {share:.0%} dead neurons"},
         fixes={
             "architecture": "Add skip connections, use an adaptive or wider surrogate "
                             "gradient, normalise layers, or make the network shallower",
             "wake_first": "Make {names} fire first (see {their} dead_neurons or "
                           "silent_network finding{s}); the gradients recover with the "
                           "spikes, so skip connections would not help"}),
    Rule("non_binary_spikes", "critical", "a spike layer emits values other than 0/1",
         "Raise threshold, check the reset; declare graded=True if intended",
         check_non_binary, browser="fixed",
         messages={
             "positive": "Spikes are not binary: values up to {max:g} in one step ({other} "
                         "of values are neither 0 nor 1)",
             "signed": "Spikes are not binary: values up to {max:g} in one step, down to "
                       "{min:g} ({other} of values are neither 0 nor 1)"},
         fixes={"threshold": "Raise the firing threshold so that at most one spike fits in a "
                             "step, check the reset (subtract or zero) and that the layer "
                             "outputs spikes rather than membrane potentials; if graded "
                             "spikes are intended, declare the layer graded=True"}),
    Rule("count_valued_input", "warning", "the input holds whole-number counts above 1 "
         "(never real-valued or signed input)",
         "x = (x > 0).float()", check_count_input, browser="fixed",
         messages={"counts": "Input carries counts, not spikes: whole numbers up to {max:g} "
                             "per bin ({above} of values are above 1), as tonic's ToFrame "
                             "produces"},
         fixes={"binarise": "Binarise the frames before the network: x = (x > 0).float()"}),
    Rule("non_finite_values", "critical", "NaN/Inf in spikes, voltages, gradients or loss",
         "Fix the overflow's cause (input, thresholds, learning rate)", check_non_finite,
         browser="fixed",
         messages={
             "layer": "NaN/Inf values ({sources}); first in {source} at step {step} (epoch "
                      "{epoch})",
             "loss": "The loss became NaN/Inf {count} times; first at record {step} (epoch "
                     "{epoch})"},
         fixes={"cause": "Find what overflowed first: usually spike counts feeding the loss "
                         "or exploding gradients. Fix the cause (binarise the input, raise "
                         "thresholds, lower the learning rate) rather than masking it"}),
    Rule("output_overflow", "critical if > {output_count_critical:g}, warning if > "
         "{output_count_warning:g}", "output spike count per sample, summed over time",
         "Binarise input, raise thresholds (not log1p/clipping)", check_output_overflow,
         messages={
             "counts": "Output spike counts per sample reach {top:g} (range [{lo:g}, "
                       "{hi:g}]). Used as logits, {effect}{seen}",
             "float32": "exp() of counts above {limit:.1f} overflows float32, and even a "
                        "log-softmax (torch's cross_entropy) is saturated by them, so its "
                        "gradients vanish",
             "softmax": "a softmax over these counts saturates and its gradients vanish",
             "loss_nan": "; the recorded loss did become NaN/Inf",
             "loss_finite": "; the recorded loss stayed finite (up to {loss_max:.3g})"},
         constants={"float32_exp_limit": FLOAT32_EXP_LIMIT},
         fixes={"cause": "Fix the cause, not the symptom: binarise the input and raise the "
                         "thresholds that feed this layer so counts stay within about [0, 50] "
                         "(log1p, clipping or weight decay only hide it)"}),
    Rule("loss_at_chance", "warning", "last {loss_chance_window} losses within "
         "{loss_chance_tolerance:.0%} of ln C", "Fix silent/saturated outputs first",
         check_loss_at_chance,
         messages={"chance": "The loss has sat at {mean:.3f}, within "
                             "{loss_chance_tolerance:.0%} of ln {classes} = {chance:.3f} "
                             "(chance), for the last {records} records: the outputs carry no "
                             "class information"},
         fixes={"outputs_first": "Check that the output layer is neither silent nor "
                                 "saturated and that the loss reads its spike counts; fix "
                                 "dead or non-binary layers first"}),
    Rule("layer_died", "critical", "alive in an earlier epoch, dead (> "
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
                          "clipping"}),
    Rule("rate_fades_with_depth", "critical", "the mean firing rate falls (by 20% or more) "
         f"at each of >= {DEPTH_FADE_MIN_LAYERS} consecutive layers, by > "
         "{depth_fade_ratio:g}x in all, to "
         "below {dead_rate:g}", "Normalise layers (BN), residual connections",
         check_depth_fade,
         messages={
             "fading": "Mean firing rate falls layer after layer, {ratio:.0f}x over "
                       "{layers} layers ({chain} spikes per step): the deeper layers get "
                       "too little input to fire",
             "to_zero": "Mean firing rate falls layer after layer to zero over {layers} "
                        "layers ({chain} spikes per step): the deeper layers get too little "
                        "input to fire",
             "link": "'{name}' {rate:.2g}"},
         constants={"min_layers": DEPTH_FADE_MIN_LAYERS, "step": DEPTH_FADE_STEP},
         fixes={"normalise": "Spikes fade with depth: normalise after each convolution or "
                             "linear layer (batch norm, or threshold-dependent batch norm), "
                             "scale up the weight initialisation, or add residual (SEW) "
                             "connections; lowering one layer's threshold only moves the "
                             "fade one layer deeper"}),
    Rule("too_few_observations", "info", "as many neurons look dead as chance predicts "
         "for the observations seen", "Record more steps before judging",
         check_few_observations,
         messages={"chance": "{dead}/{n} neurons ({share:.0%}) look dead after only {seen} "
                             "{unit} each, but at this layer's mean rate ({p:.2g}) chance "
                             "alone leaves about {q:.0%} of neurons that low: too few {unit} "
                             "to call them dead"},
         fixes={"record_more": "Record more steps before judging: about {need} {unit} per "
                               "neuron tell a dead neuron from a quiet one at this rate"}),
)

BY_CATEGORY: dict[str, Rule] = {r.category: r for r in RULES}

CATEGORIES: tuple[str, ...] = tuple(r.category for r in RULES)


def diagnose(layers: list[LayerStats], loss: LossStats | None,
             th: Thresholds) -> list[Pathology]:
    """Run every rule; each root cause leads what follows from it (:mod:`causes`),
    groups sorted by severity, then layer order, then rule order."""
    order = {s.name: i for i, s in enumerate(layers)}
    found = [p for rule in RULES for p in rule.check(layers, loss, th)]
    return link_causes(found, order, CATEGORIES)


def rule_table(th: Thresholds | None = None) -> list[dict[str, str]]:
    """The rule table with the constants of ``th`` (defaults if None) filled in."""
    values = (th or Thresholds()).to_dict()
    return [{"category": r.category, "severity": r.severity.format(**values),
             "trigger": r.trigger.format(**values), "fix": r.fix} for r in RULES]


def rule_table_markdown(th: Thresholds | None = None) -> str:
    """The rule table as Markdown (the README's copy is generated from this)."""
    rows = ["| Pathology | Severity | Trigger | Fix |", "|---|---|---|---|"]
    rows += [f"| `{r['category']}` | {r['severity']} | {r['trigger']} | {r['fix']} |"
             for r in rule_table(th)]
    return "\n".join(rows)
