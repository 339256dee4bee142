"""The surrogate gradients: exploding, and vanishing from the output back to the input.
"""

from __future__ import annotations

import math

from ...state.epoch_stats import GRADIENT_HEAD
from ..pathology import Pathology, Severity
from ..routes import blocked_routes
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds
from .activity import is_silent
from .base import Rule, say, text


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
        out.append(say(Severity.CRITICAL, "gradient_explosion", st, message, "clip",
                        values, th, value))
    return out


def starves_gradients(st: LayerStats, th: Thresholds) -> str | None:
    """Why few gradients pass through ``st`` ("'x' is silent ...", "'x' has 80% dead
    neurons"), or None: a neuron that seldom fires sits far from its threshold, where
    the surrogate gradient is near zero."""
    top = float(st.firing_rates.max())
    values = {"name": st.name, "top": top, "share": st.dead_neuron_fraction}
    if is_silent(st, th):
        return text("gradient_vanishing", "why_silent", values)
    if st.dead_neuron_fraction > th.dead_critical_fraction:
        return text("gradient_vanishing", "why_dead", values)
    return None


GRADIENT_FLAT_SPREAD = 10.0
"""On either side of a fall in one step the layers' gradients (RMS per value) stay
within this factor of each other: flat there, not shrinking layer after layer."""


def one_step_fall(with_grads: list[LayerStats]) -> int | None:
    """The index ``k`` such that the gradient falls from ``with_grads[k + 1]`` to
    ``with_grads[k]`` (its largest fall between neighbours) while the layers on each
    side of that step stay within ``GRADIENT_FLAT_SPREAD``, or None (fewer than three
    layers, an RMS not measured, or a gradient that shrinks with depth)."""
    rms = [s.gradient_rms_mean for s in with_grads]
    if len(rms) < 3 or not all(r > 0 for r in rms):  # NaN, 0: no profile to judge
        return None
    k = max(range(len(rms) - 1), key=lambda i: rms[i + 1] / rms[i])
    below, above = rms[:k + 1], rms[k + 1:]
    if max(below) / min(below) < GRADIENT_FLAT_SPREAD \
            and max(above) / min(above) < GRADIENT_FLAT_SPREAD:
        return k
    return None


def starving_on_the_way(layers: list[LayerStats], first: LayerStats, last: LayerStats,
                        th: Thresholds) -> list[tuple[str, str]]:
    """``(name, why)`` of the layers that starve the gradient on its way back from
    ``last`` to ``first`` (:func:`starves_gradients`): by the wiring where known, those
    on the routes from ``first`` when every route passes one (a route around them, a
    residual stream or a branch that fires, carries the gradient: none); else every
    one from ``first`` to ``last`` in model order."""
    lo = next(i for i, s in enumerate(layers) if s is first)
    hi = next(i for i, s in enumerate(layers) if s is last)
    span = [s for s in layers[lo:hi + 1] if s.role != "input"]
    why = {s.name: w for s in span if (w := starves_gradients(s, th)) is not None}
    on_routes = blocked_routes(first.name, {s.name: i for i, s in enumerate(span)},
                               {s.name: s.fed_by for s in span}, why)
    return [(s.name, why[s.name]) for s in span
            if s.name in why and (on_routes is None or s.name in on_routes)]


def check_gradient_vanishing(layers: list[LayerStats], loss: LossStats | None,
                             th: Thresholds) -> list[Pathology]:
    """The gradient at the first layer far below that at the last, both per value (RMS:
    a narrow layer beside a wide one is not vanishing) and in norm (a wide layer whose
    many values each get a small share, as in front of a pooling or a strided conv, is
    not either); a dead or silent layer on its way from the last to the first is
    named as the cause (its own fix applies, not skip connections), unless a route
    around it carries the gradient (:func:`starving_on_the_way`). A gap that lies in
    one step, flat on either side among the layers some gradient reaches (as
    zero-initialised residual branches give at the start of training), is a warning
    that names that step: depth is not the cause."""
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
    dead = starving_on_the_way(layers, first, last, th)
    values = {"first": first.name, "last": last.name, "ratio": ratio, "a": a, "b": b,
              "norm_ratio": norm_ratio}
    values["gap"] = text("gradient_vanishing", "gap", values)
    if not dead:
        reached = [s for s in with_grads if s.gradient_rms_mean != 0]  # 0: none arrives
        k = one_step_fall(reached)
        if k is None:
            return [say(Severity.CRITICAL, "gradient_vanishing", first, "deep",
                        "architecture", values, th, ratio)]
        below, above = reached[k], reached[k + 1]
        values |= {"below": below.name, "above": above.name, "flat": GRADIENT_FLAT_SPREAD,
                   "jump": above.gradient_rms_mean / below.gradient_rms_mean}
        return [say(Severity.WARNING, "gradient_vanishing", first, "one_step", "one_step",
                    values, th, ratio)]
    plural = len(dead) > 1
    values |= {"names": " and ".join(f"'{name}'" for name, _ in dead),
               "whys": " and ".join(why for _, why in dead),
               "their": "their" if plural else "its", "s": "s" if plural else ""}
    return [say(Severity.CRITICAL, "gradient_vanishing", first, "starved", "wake_first",
                 values, th, ratio)]


GRADIENT_EXPLOSION = Rule(
    "gradient_explosion", "critical",
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
                   "rate, or flatten the surrogate-gradient slope"})

GRADIENT_VANISHING = Rule(
    "gradient_vanishing", "critical", "output-side / input-side gradient, per value "
    "(RMS) and in norm, both > {gradient_vanishing_ratio:g}x",
    "Skip connections, adaptive surrogate slope; if dead or silent layers block "
    "every route between, wake them instead; a gap in one step (warning) is no depth effect: a "
    "zero-init residual branch grows out of it, else scale up that step",
    check_gradient_vanishing,
    messages={
        "gap": "Gradients reaching '{first}' are {ratio:.0f}x smaller per value (RMS "
               "{a:.3g} vs {b:.3g}) and {norm_ratio:.0f}x smaller in norm than at "
               "'{last}'",
        "deep": "{gap}: the input-side layers barely learn",
        "one_step": "{gap}, nearly all of it in one step, {jump:.0f}x from '{above}' to "
                    "'{below}'; the layers on either side of it stay within {flat:g}x "
                    "of each other, so the gradient does not shrink with depth",
        "starved": "{gap}, because {whys}: a layer that seldom fires passes almost no "
                   "surrogate gradient",
        "why_silent": "'{name}' is silent (highest firing rate {top:.2g})",
        "why_dead": "'{name}' has {share:.0%} dead neurons"},
    constants={"flat_spread": GRADIENT_FLAT_SPREAD},
    fixes={
        "architecture": "Add skip connections, normalise layers, or make the network "
                        "shallower; check the surrogate gradient too: a slope so flat "
                        "that its peak is well below 1, or so steep that few membranes "
                        "come near the threshold, shrinks the gradient at every layer",
        "one_step": "The gradient drops at one place, not layer after layer, so skip "
                    "connections or a shallower network would not help. A residual "
                    "branch whose last normalisation starts at zero (zero-init "
                    "BatchNorm, as in MS-ResNet or SEW ResNet's zero_init_residual) "
                    "does this on purpose at the start of training and grows out of "
                    "it: train on and check again. Otherwise scale up the weights or "
                    "normalisation between '{below}' and '{above}', or check the "
                    "surrogate gradient of '{above}' (too flat, or too steep for where "
                    "its membranes sit)",
        "wake_first": "Make {names} fire first (see {their} dead_neurons or "
                      "silent_network finding{s}); the gradients recover with the "
                      "spikes, so skip connections would not help"})
