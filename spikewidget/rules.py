"""The diagnosis rules: a table of data plus one small pure function per rule.

Each function takes the statistics of the reported layers, the loss statistics
and a :class:`Thresholds`, and returns its findings. Nothing here touches raw
tensors. :data:`RULES` is the one source of the rule table: the README's table,
``describe_rules()`` and the widget's JavaScript are generated from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .causes import link_causes
from .epoch_stats import GRADIENT_HEAD
from .fmt import share
from .pathology import Pathology, Severity
from .stats import LayerStats, LossStats
from .thresholds import Thresholds

Check = Callable[[list[LayerStats], "LossStats | None", Thresholds], list[Pathology]]

FLOAT32_EXP_LIMIT = math.log(float.fromhex("0x1.fffffep127"))  # exp(x) overflows float32 above


@dataclass(frozen=True)
class Rule:
    """One row of the rule table; ``severity`` and ``trigger`` name thresholds as
    ``{field}`` placeholders filled from a :class:`Thresholds`."""

    category: str
    severity: str
    trigger: str
    fix: str
    check: Check


def output_layers(layers: list[LayerStats]) -> list[LayerStats]:
    """The layers read as the model's output (the report resolves roles:
    :func:`spikewidget.profiler.output_names`)."""
    return [s for s in layers if s.role == "output"]


def _finding(sev: Severity, rule: str, st: LayerStats | str, message: str, fix: str,
             value: float, epoch: int | None = None, step: int | None = None) -> Pathology:
    layer = st if isinstance(st, str) else st.name
    return Pathology(sev, rule, layer, message, fix, float(value), epoch, step)


# --------------------------------------------------------------------- per layer
FIX_DEAD_CRITICAL = ("Lower the firing threshold (about 20% at a time) or raise the input "
                     "gain / weight scale; check that input reaches this layer")
FIX_DEAD_WARNING = "Lower the threshold a little or add noise to the input"


def check_dead(layers: list[LayerStats], loss: LossStats | None,
               th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        sev = _dead_severity(st, th)
        if sev is None or _chance_explains_dead(st, th) is not None:
            continue
        fix = FIX_DEAD_CRITICAL if sev is Severity.CRITICAL else FIX_DEAD_WARNING
        what = (f"fire in fewer than {th.dead_rate:.0%} of the samples"
                if st.sample_activity is not None else
                f"fire at a rate below {th.dead_rate:g} spikes per step")
        out.append(_finding(
            sev, "dead_neurons", st, f"{st.dead_neuron_count}/{st.n_neurons} neurons "
            f"({st.dead_neuron_fraction:.0%}) {what}", fix, st.dead_neuron_fraction))
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
        out.append(_finding(
            Severity.INFO, "too_few_observations", st,
            f"{st.dead_neuron_count}/{st.n_neurons} neurons ({st.dead_neuron_fraction:.0%}) "
            f"look dead after only {n} {unit} each, but at this layer's mean rate "
            f"({p:.2g}) chance alone leaves about {q:.0%} of neurons that low: too few "
            f"{unit} to call them dead",
            f"Record more steps before judging: about {need} {unit} per neuron tell a dead "
            f"neuron from a quiet one at this rate", st.dead_neuron_fraction))
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
    return [_finding(
        Severity.WARNING, "saturated_neurons", st,
        f"{st.saturated_neuron_count}/{st.n_neurons} neurons "
        f"({st.saturated_neuron_fraction:.0%}) fire at a rate above "
        f"{th.saturated_rate:g} (almost every step)",
        "Raise the threshold or reduce the input gain to restore sparse spiking",
        st.saturated_neuron_fraction)
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
                fix = "Check the input encoding: the input is (almost) all zeros"
            elif feeding is not None and float(feeding.firing_rates.max()) >= \
                    th.silent_max_rate:
                fix = (f"The layer before it ('{feeding.name}') fires, so spikes arrive: "
                       "lower this layer's firing threshold or raise the weight scale "
                       "into it")
            else:
                fix = ("Check the input encoding, lower all thresholds, and verify that "
                       "the input data is not all zeros")
            out.append(_finding(
                Severity.CRITICAL, "silent_network", st,
                f"Layer emits almost no spikes: its highest firing rate is {top:.2g} "
                f"(< {th.silent_max_rate:g})", fix, top))
    return out


FIX_VOLTAGE_COLLAPSE = ("Increase the input current (weight scale), check connectivity, and "
                        "check that the state is not reset every step")


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
        out.append(_finding(
            Severity.WARNING, "voltage_collapse", st,
            f"{frozen}/{len(known)} neurons ({share:.0%}) have a membrane voltage frozen in "
            f"time: its std over time is below {th.voltage_collapse_std:.0e} (over "
            f"{st.n_steps} steps, layer mean {st.voltage_mean:.4g})",
            FIX_VOLTAGE_COLLAPSE, share))
    return out


FIX_EXPLOSION = ("Clip gradients (torch.nn.utils.clip_grad_norm_), lower the learning rate, "
                 "or flatten the surrogate-gradient slope")


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
        if growth > limit:
            first, last = st.gradient_growth_steps
            message = (f"Surrogate-gradient norm grows steadily, "
                       f"{st.gradient_growth_per_step:.3g}x per step from step {first} to "
                       f"{last}: {growth:.3g}x in all by a log-linear fit (threshold "
                       f"{limit:g}x); it peaks at {peak:.3g} at step {st.gradient_peak_step}")
            value = growth
        elif jump > limit and over > limit:
            message = (f"Surrogate-gradient norm peaks at {peak:.3g} at step "
                       f"{st.gradient_peak_step}, {jump:.0f}x the median {base:.3g} of its "
                       f"first {st.gradient_baseline_records} records and {over:.0f}x its "
                       f"geometric mean {typical:.3g} (threshold {limit:g}x)")
            value = jump
        else:
            continue
        out.append(_finding(Severity.CRITICAL, "gradient_explosion", st, message,
                            FIX_EXPLOSION, value))
    return out


def check_non_binary(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        if st.role == "input" or st.graded or st.is_binary:
            continue
        neg = f", down to {st.min_value:g}" if st.min_value < 0 else ""
        out.append(_finding(
            Severity.CRITICAL, "non_binary_spikes", st,
            f"Spikes are not binary: values up to {st.max_value:g} in one step{neg} "
            f"({share(1 - st.binary_fraction)} of values are neither 0 nor 1)",
            "Raise the firing threshold so that at most one spike fits in a step, check "
            "the reset (subtract or zero) and that the layer outputs spikes rather than "
            "membrane potentials; if graded spikes are intended, declare the layer "
            "graded=True", st.max_value))
    return out


def is_count_valued(st: LayerStats) -> bool:
    """Non-negative whole numbers, some above 1: event counts per bin (tonic's
    ``ToFrame``). Real-valued input (pixels, voxel grids, time surfaces) is direct
    encoding, and signed values are not counts either."""
    return (not st.is_binary and st.fractional_count == 0 and st.min_value >= 0
            and st.max_value > 1)


def check_count_input(layers: list[LayerStats], loss: LossStats | None,
                      th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        if st.role != "input" or st.graded or not is_count_valued(st):
            continue
        out.append(_finding(
            Severity.WARNING, "count_valued_input", st,
            f"Input carries counts, not spikes: whole numbers up to {st.max_value:g} per "
            f"bin ({share(1 - st.binary_fraction)} of values are above 1), as tonic's "
            "ToFrame produces",
            "Binarise the frames before the network: x = (x > 0).float()", st.max_value))
    return out


def check_non_finite(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    fix = ("Find what overflowed first: usually spike counts feeding the loss or exploding "
           "gradients. Fix the cause (binarise the input, raise thresholds, lower the "
           "learning rate) rather than masking it")
    out = []
    for st in layers:
        first = st.first_nonfinite
        if first is None:
            continue
        sources = ", ".join(f"{f.count} in {f.source}" for f in st.nonfinite)
        out.append(_finding(
            Severity.CRITICAL, "non_finite_values", st,
            f"NaN/Inf values ({sources}); first in {first.source} at step {first.step} "
            f"(epoch {first.epoch})", fix, first.count, first.epoch, first.step))
    if loss is not None and loss.nonfinite is not None:
        f = loss.nonfinite
        out.append(_finding(
            Severity.CRITICAL, "non_finite_values", "loss",
            f"The loss became NaN/Inf {f.count} times; first at record {f.step} "
            f"(epoch {f.epoch})", fix, f.count, f.epoch, f.step))
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
        effect = (f"exp() of counts above {FLOAT32_EXP_LIMIT:.1f} overflows float32, and "
                  "even a log-softmax (torch's cross_entropy) is saturated by them, so "
                  "its gradients vanish" if top > FLOAT32_EXP_LIMIT
                  else "a softmax over these counts saturates and its gradients vanish")
        out.append(_finding(
            sev, "output_overflow", st,
            f"Output spike counts per sample reach {top:g} (range [{lo:g}, {hi:g}]). "
            f"Used as logits, {effect}{_loss_seen(loss)}",
            "Fix the cause, not the symptom: binarise the input and raise the thresholds "
            "that feed this layer so counts stay within about [0, 50] (log1p, clipping or "
            "weight decay only hide it)", top))
    return out


def _loss_seen(loss: LossStats | None) -> str:
    """What the recorded loss showed, beside what the counts would do."""
    if loss is None or loss.count == 0:
        return ""
    if loss.nonfinite is not None:
        return "; the recorded loss did become NaN/Inf"
    return f"; the recorded loss stayed finite (up to {loss.max:.3g})"


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
    return [_finding(
        Severity.WARNING, "loss_at_chance", "loss",
        f"The loss has sat at {mean:.3f}, within {th.loss_chance_tolerance:.0%} of "
        f"ln {loss.n_classes} = {chance:.3f} (chance), for the last {len(window)} records: "
        "the outputs carry no class information",
        "Check that the output layer is neither silent nor saturated and that the loss "
        "reads its spike counts; fix dead or non-binary layers first", mean, since)]


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
        state = ("silent" if last.max_rate < th.silent_max_rate
                 else f"{last.dead_fraction:.0%} dead")
        out.append(_finding(
            Severity.CRITICAL, "layer_died", st,
            f"Alive in epoch {was.epoch} ({was.dead_fraction:.0%} dead), dead since "
            f"epoch {died.epoch} ({died.dead_fraction:.0%} dead); {state} in epoch "
            f"{last.epoch}",
            f"Look at what changed in epoch {died.epoch}: a learning-rate step, or a "
            f"gradient spike in this or an earlier layer; resume from a checkpoint of "
            f"epoch {was.epoch} with a lower learning rate or gradient clipping",
            died.dead_fraction, died.epoch))
    return out


def starves_gradients(st: LayerStats, th: Thresholds) -> str | None:
    """Why few gradients pass through ``st`` ("'x' is silent ...", "'x' has 80% dead
    neurons"), or None: a neuron that seldom fires sits far from its threshold, where
    the surrogate gradient is near zero."""
    top = float(st.firing_rates.max())
    if top < th.silent_max_rate:
        return f"'{st.name}' is silent (highest firing rate {top:.2g})"
    if st.dead_neuron_fraction > th.dead_critical_fraction:
        return f"'{st.name}' has {st.dead_neuron_fraction:.0%} dead neurons"
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
    message = (f"Gradients reaching '{first.name}' are {ratio:.0f}x smaller per value "
               f"(RMS {a:.3g} vs {b:.3g}) and {norm_ratio:.0f}x smaller in norm than at "
               f"'{last.name}'")
    if not dead:
        return [_finding(
            Severity.CRITICAL, "gradient_vanishing", first,
            f"{message}: the input-side layers barely learn",
            "Add skip connections, use an adaptive or wider surrogate gradient, normalise "
            "layers, or make the network shallower", ratio)]
    names = " and ".join(f"'{name}'" for name, _ in dead)
    plural = len(dead) > 1
    return [_finding(
        Severity.CRITICAL, "gradient_vanishing", first,
        f"{message}, because {' and '.join(why for _, why in dead)}: a layer that "
        f"seldom fires passes almost no surrogate gradient",
        f"Make {names} fire first (see {'their' if plural else 'its'} dead_neurons or "
        f"silent_network finding{'s' if plural else ''}); the gradients recover with the "
        f"spikes, so skip connections would not help", ratio)]


RULES: tuple[Rule, ...] = (
    Rule("dead_neurons", "critical if > {dead_critical_fraction:.0%} of neurons, warning if > "
         "{dead_warning_fraction:.0%}", "firing rate < {dead_rate:g} (output layers: fires "
         "in < {dead_rate:.0%} of samples)",
         "Lower threshold, add noise", check_dead),
    Rule("saturated_neurons", "warning if > {saturated_warning_fraction:.0%} of neurons",
         "firing rate > {saturated_rate:g}", "Raise threshold, reduce input",
         check_saturated),
    Rule("silent_network", "critical", "a layer's max rate < {silent_max_rate:g}",
         "Check input encoding, lower all thresholds", check_silent),
    Rule("voltage_collapse", "warning", ">= {voltage_collapse_fraction:.0%} of neurons have a "
         "voltage std over time < {voltage_collapse_std:g}",
         "Increase input current", check_voltage_collapse),
    Rule("gradient_explosion", "critical",
         "gradient norm > {gradient_explosion_ratio:g}x both the median of the layer's "
         f"first {GRADIENT_HEAD} records and its geometric mean, or steady growth > "
         "{gradient_explosion_ratio:g}x over the run (log-linear fit)",
         "Clip gradients, reduce LR", check_gradient_explosion),
    Rule("gradient_vanishing", "critical", "output-side / input-side gradient, per value "
         "(RMS) and in norm, both > {gradient_vanishing_ratio:g}x",
         "Skip connections, adaptive surrogate slope; if a dead or silent layer lies "
         "between, wake it instead", check_gradient_vanishing),
    Rule("non_binary_spikes", "critical", "a spike layer emits values other than 0/1",
         "Raise threshold, check the reset; declare graded=True if intended",
         check_non_binary),
    Rule("count_valued_input", "warning", "the input holds whole-number counts above 1 "
         "(never real-valued or signed input)",
         "x = (x > 0).float()", check_count_input),
    Rule("non_finite_values", "critical", "NaN/Inf in spikes, voltages, gradients or loss",
         "Fix the overflow's cause (input, thresholds, learning rate)", check_non_finite),
    Rule("output_overflow", "critical if > {output_count_critical:g}, warning if > "
         "{output_count_warning:g}", "output spike count per sample, summed over time",
         "Binarise input, raise thresholds (not log1p/clipping)", check_output_overflow),
    Rule("loss_at_chance", "warning", "last {loss_chance_window} losses within "
         "{loss_chance_tolerance:.0%} of ln C", "Fix silent/saturated outputs first",
         check_loss_at_chance),
    Rule("layer_died", "critical", "alive in an earlier epoch, dead (> "
         "{dead_critical_fraction:.0%}) or silent in every epoch since",
         "See what changed that epoch; resume from before it with a lower LR",
         check_layer_died),
    Rule("too_few_observations", "info", "as many neurons look dead as chance predicts "
         "for the observations seen", "Record more steps before judging",
         check_few_observations),
)

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
