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
    """Layers declared as outputs; if none is, the last non-input layer."""
    declared = [s for s in layers if s.role == "output"]
    if declared:
        return declared
    hidden = [s for s in layers if s.role != "input"]
    return hidden[-1:]


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
        if st.role == "input":
            continue
        frac = st.dead_neuron_fraction
        if frac > th.dead_critical_fraction:
            sev, fix = Severity.CRITICAL, FIX_DEAD_CRITICAL
        elif frac > th.dead_warning_fraction:
            sev, fix = Severity.WARNING, FIX_DEAD_WARNING
        else:
            continue
        what = (f"fire in fewer than {th.dead_rate:.0%} of the samples"
                if st.sample_activity is not None else
                f"fire at a rate below {th.dead_rate:g} spikes per step")
        out.append(_finding(
            sev, "dead_neurons", st,
            f"{st.dead_neuron_count}/{st.n_neurons} neurons ({frac:.0%}) {what}", fix, frac))
    return out


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
    for st in layers:
        top = float(st.firing_rates.max())
        if top < th.silent_max_rate:
            fix = ("Check the input encoding: the input is (almost) all zeros"
                   if st.role == "input" else
                   "Check the input encoding, lower all thresholds, and verify that the "
                   "input data is not all zeros")
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


def check_gradient_explosion(layers: list[LayerStats], loss: LossStats | None,
                             th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        if st.gradient_steps < 2 or not st.gradient_norm_mean > 0:
            continue
        ratio = st.gradient_norm_max / st.gradient_norm_mean
        if ratio > th.gradient_explosion_ratio:
            out.append(_finding(
                Severity.CRITICAL, "gradient_explosion", st,
                f"Surrogate-gradient norm peaks at {st.gradient_norm_max:.3g}, {ratio:.0f}x "
                f"its mean {st.gradient_norm_mean:.3g} (threshold "
                f"{th.gradient_explosion_ratio:g}x)",
                "Clip gradients (torch.nn.utils.clip_grad_norm_), lower the learning rate, "
                "or flatten the surrogate-gradient slope", ratio))
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
            f"({1 - st.binary_fraction:.1%} of values are neither 0 nor 1)",
            "Raise the firing threshold so that at most one spike fits in a step, check "
            "the reset (subtract or zero) and that the layer outputs spikes rather than "
            "membrane potentials; if graded spikes are intended, declare the layer "
            "graded=True", st.max_value))
    return out


def check_count_input(layers: list[LayerStats], loss: LossStats | None,
                      th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        if st.role != "input" or st.graded or st.is_binary:
            continue
        share = 1 - st.binary_fraction
        out.append(_finding(
            Severity.WARNING, "count_valued_input", st,
            f"Input carries counts, not spikes: values up to {st.max_value:g} per bin "
            f"({share:.1%} of values are neither 0 nor 1), as tonic's ToFrame produces",
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
        effect = (f"exp({top:g}) overflows float32 (above {FLOAT32_EXP_LIMIT:.1f}), so a "
                  "softmax over these counts gives Inf/NaN" if top > FLOAT32_EXP_LIMIT
                  else "a softmax over these counts saturates and its gradients vanish")
        out.append(_finding(
            sev, "output_overflow", st,
            f"Output spike counts per sample reach {top:g} (range [{lo:g}, {hi:g}]); used as "
            f"logits, {effect}",
            "Fix the cause, not the symptom: binarise the input and raise the thresholds "
            "that feed this layer so counts stay within about [0, 50] (log1p, clipping or "
            "weight decay only hide it)", top))
    return out


def check_loss_at_chance(layers: list[LayerStats], loss: LossStats | None,
                         th: Thresholds) -> list[Pathology]:
    if loss is None or loss.chance_level is None:
        return []
    window = loss.recent[-th.loss_chance_window:]
    if len(window) < th.loss_chance_window:
        return []
    chance = loss.chance_level
    if not all(abs(v - chance) <= th.loss_chance_tolerance * chance for v in window):
        return []
    mean = float(sum(window) / len(window))
    return [_finding(
        Severity.WARNING, "loss_at_chance", "loss",
        f"The loss has sat at {mean:.3f}, within {th.loss_chance_tolerance:.0%} of "
        f"ln {loss.n_classes} = {chance:.3f} (chance), for the last {len(window)} records: "
        "the outputs carry no class information",
        "Check that the output layer is neither silent nor saturated and that the loss "
        "reads its spike counts; fix dead or non-binary layers first", mean)]


def check_gradient_vanishing(layers: list[LayerStats], loss: LossStats | None,
                             th: Thresholds) -> list[Pathology]:
    with_grads = [s for s in layers if s.role != "input" and s.gradient_steps > 0]
    if len(with_grads) < 2:
        return []
    first, last = with_grads[0], with_grads[-1]
    a, b = first.gradient_norm_mean, last.gradient_norm_mean
    if not b > 0:
        return []
    ratio = b / a if a > 0 else math.inf
    if ratio <= th.gradient_vanishing_ratio:
        return []
    return [_finding(
        Severity.CRITICAL, "gradient_vanishing", first,
        f"Gradients reaching '{first.name}' (mean norm {a:.3g}) are {ratio:.0f}x smaller "
        f"than at '{last.name}' ({b:.3g}): the input-side layers barely learn",
        "Add skip connections, use an adaptive or wider surrogate gradient, normalise "
        "layers, or make the network shallower", ratio)]


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
         "max/mean gradient norm > {gradient_explosion_ratio:g}x",
         "Clip gradients, reduce LR", check_gradient_explosion),
    Rule("gradient_vanishing", "critical", "output-side / input-side mean gradient norm > "
         "{gradient_vanishing_ratio:g}x",
         "Skip connections, adaptive surrogate slope", check_gradient_vanishing),
    Rule("non_binary_spikes", "critical", "a spike layer emits values other than 0/1",
         "Raise threshold, check the reset; declare graded=True if intended",
         check_non_binary),
    Rule("count_valued_input", "warning", "the input layer carries counts, not 0/1",
         "x = (x > 0).float()", check_count_input),
    Rule("non_finite_values", "critical", "NaN/Inf in spikes, voltages, gradients or loss",
         "Fix the overflow's cause (input, thresholds, learning rate)", check_non_finite),
    Rule("output_overflow", "critical if > {output_count_critical:g}, warning if > "
         "{output_count_warning:g}", "output spike count per sample, summed over time",
         "Binarise input, raise thresholds (not log1p/clipping)", check_output_overflow),
    Rule("loss_at_chance", "warning", "last {loss_chance_window} losses within "
         "{loss_chance_tolerance:.0%} of ln C", "Fix silent/saturated outputs first",
         check_loss_at_chance),
)

CATEGORIES: tuple[str, ...] = tuple(r.category for r in RULES)


def diagnose(layers: list[LayerStats], loss: LossStats | None,
             th: Thresholds) -> list[Pathology]:
    """Run every rule; findings sorted by severity, then layer order, then rule order."""
    order = {s.name: i for i, s in enumerate(layers)}
    found = [p for rule in RULES for p in rule.check(layers, loss, th)]
    return sorted(found, key=lambda p: (p.severity.rank, order.get(p.layer, len(order)),
                                        CATEGORIES.index(p.category)))


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
