"""What layers emit: non-binary spikes, count-valued input, NaN/Inf, output counts that
overflow the loss.
"""

from __future__ import annotations

import math

from ...core.fmt import share
from ..pathology import Pathology, Severity
from ..roles import output_layers
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds
from .base import Rule, say, text
from .loss import _loss_seen

FLOAT32_EXP_LIMIT = math.log(float.fromhex("0x1.fffffep127"))  # exp(x) overflows float32 above


def check_non_binary(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        if st.role == "input" or st.graded or st.is_binary:
            continue
        values = {"max": st.max_value, "min": st.min_value,
                  "other": share(1 - st.binary_fraction)}
        out.append(say(
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


PIXEL_FULL_SCALE = 255.0
"""The largest value of an 8-bit image: input that tops out exactly here is pixels."""

PIXEL_ONES_SHARE = 0.05
"""Most non-zero values of 8-bit pixels are grey levels above 1 (a value of exactly 1 is
one grey level in 255), while event counts per bin are mostly 1: whole-number input
whose non-zero values are below this share of 1s, topping out at 255, is an image."""


def looks_like_pixels(st: LayerStats) -> bool:
    """Count-valued input that is an 8-bit image not scaled to [0, 1] (torchvision's
    ``PILToTensor``, a uint8 array cast to float): it tops out at exactly 255 and hardly
    any of its non-zero values is 1. Binarising it would keep only the pixel mask."""
    if not is_count_valued(st) or st.max_value != PIXEL_FULL_SCALE:
        return False
    nonzero = st.nonzero_count
    if not (nonzero > 0):  # NaN: unknown (an older profile)
        return False
    ones = nonzero - st.nonbinary_count  # whole numbers >= 0: the rest are 1s
    return ones / nonzero < PIXEL_ONES_SHARE


def check_count_input(layers: list[LayerStats], loss: LossStats | None,
                      th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        if st.role != "input" or st.graded or not is_count_valued(st):
            continue
        pixels = looks_like_pixels(st)
        out.append(say(Severity.WARNING, "count_valued_input", st,
                       "pixels" if pixels else "counts", "scale" if pixels else "binarise",
                       {"max": st.max_value, "above": share(1 - st.binary_fraction)}, th,
                       st.max_value))
    return out


BORN_IN_BACKWARD = "input gradients"
"""The source of a NaN/Inf that a layer's own backward made (see ``NonFinite``)."""


def check_non_finite(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    """NaN/Inf per layer and in the loss. A NaN/Inf made in a layer's own backward (its
    surrogate gradient overflowed) is told to fix the surrogate; a layer whose first
    NaN/Inf came no earlier than one made in another layer's backward is pointed there
    (the NaN flowed down the gradients, then into the weights)."""
    out = []
    born = [(st.first_nonfinite, st.name) for st in layers
            if st.first_nonfinite is not None
            and st.first_nonfinite.source == BORN_IN_BACKWARD]
    for st in layers:
        first = st.first_nonfinite
        if first is None:
            continue
        sources = ", ".join(f"{f.count} in {f.source}" for f in st.nonfinite)
        values = {"sources": sources, "source": first.source, "step": first.step,
                  "epoch": first.epoch}
        before = [((f.epoch, f.step), name) for f, name in born
                  if name != st.name and (f.epoch, f.step) <= (first.epoch, first.step)]
        origin = min(before) if before else None
        if first.source == BORN_IN_BACKWARD:
            fix = "surrogate"
        elif origin is not None:
            fix = "from_backward"
            values |= {"origin": origin[1], "origin_step": origin[0][1],
                       "origin_epoch": origin[0][0]}
        else:
            fix = "cause"
        out.append(say(Severity.CRITICAL, "non_finite_values", st, "layer", fix, values,
                       th, first.count, first.epoch, first.step))
    if loss is not None and loss.nonfinite is not None:
        f = loss.nonfinite
        out.append(say(
            Severity.CRITICAL, "non_finite_values", "loss", "loss", "cause",
            {"count": f.count, "step": f.step, "epoch": f.epoch}, th, f.count, f.epoch,
            f.step))
    return out


COUNTS_UNREAD_LOSS = 2.0
"""A cross-entropy over counts that overflow is tens or more for every sample it gets
wrong; a recorded loss (with its classes) that never exceeded this many times ln C does
not read the counts as logits (a per-step or rate loss, an MSE on rates)."""


def _loss_reads_no_counts(loss: LossStats | None) -> bool:
    """The recorded loss stayed finite and below ``COUNTS_UNREAD_LOSS`` x ln C."""
    return (loss is not None and loss.count > 0 and loss.nonfinite is None
            and loss.chance_level is not None and math.isfinite(loss.max)
            and loss.max <= COUNTS_UNREAD_LOSS * loss.chance_level)


def check_output_overflow(layers: list[LayerStats], loss: LossStats | None,
                          th: Thresholds) -> list[Pathology]:
    """Output spike counts per sample beyond what a softmax over them survives, unless
    the recorded loss shows it does not read them (:func:`_loss_reads_no_counts`)."""
    out = []
    if _loss_reads_no_counts(loss):
        return out
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
        # binary spikes count up to one per step: such counts overflow for a long sequence
        values["steps"] = st.n_observations / st.n_samples if st.n_samples else 0.0
        fix = "rates" if st.is_binary and not st.graded else "cause"
        out.append(say(sev, "output_overflow", st, "counts", fix, values, th, top))
    return out


NON_BINARY_SPIKES = Rule(
    "non_binary_spikes", "critical", "a spike layer emits values other than 0/1",
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
                        "spikes are intended, declare the layer graded=True"})

COUNT_VALUED_INPUT = Rule(
    "count_valued_input", "warning", "the input holds whole-number counts above 1 "
    "(never real-valued or signed input)",
    "x = (x > 0).float(); 8-bit pixels (0 to 255): x / 255", check_count_input,
    browser="fixed",
    messages={"counts": "Input carries counts, not spikes: whole numbers up to {max:g} "
                        "per bin ({above} of values are above 1), as tonic's ToFrame "
                        "produces",
              "pixels": "Input holds 8-bit pixel values, not scaled to [0, 1]: whole "
                        "numbers up to {max:g} ({above} of values are above 1, hardly any "
                        "is exactly 1), as an image read without ToTensor gives them"},
    fixes={"binarise": "Binarise the frames before the network: x = (x > 0).float()",
           "scale": "Scale the pixels to [0, 1] before encoding or feeding them: x = x / "
                    "255 (torchvision's ToTensor does this); do not binarise them, that "
                    "would keep only the mask of non-zero pixels"})

NON_FINITE_VALUES = Rule(
    "non_finite_values", "critical", "NaN/Inf in spikes, voltages, gradients or loss",
    "Fix the overflow's cause (input, thresholds, learning rate, a surrogate that "
    "overflows)", check_non_finite,
    browser="fixed",
    messages={
        "layer": "NaN/Inf values ({sources}); first in {source} at step {step} (epoch "
                 "{epoch})",
        "loss": "The loss became NaN/Inf {count} times; first at record {step} (epoch "
                "{epoch})"},
    fixes={"cause": "Find what overflowed first: usually spike counts feeding the loss "
                    "or exploding gradients. Fix the cause (binarise the input, raise "
                    "thresholds, lower the learning rate) rather than masking it",
           "surrogate": "The NaN/Inf was made in this layer's own backward pass, before "
                        "any reached its spikes: its surrogate gradient overflowed for "
                        "some membrane values (one computing exp() of the scaled "
                        "membrane, as snnTorch's sigmoid does, overflows float32 once "
                        "slope x distance from threshold exceeds about 88). Use a "
                        "surrogate without exp(), such as atan or fast_sigmoid, or a "
                        "smaller slope; lowering the learning rate or clipping gradients "
                        "will not stop it",
           "from_backward": "Follows from the NaN/Inf made in the backward pass of "
                            "'{origin}' (step {origin_step}, epoch {origin_epoch}), which "
                            "flowed into the gradients and weights from there: fix "
                            "'{origin}' first"})

OUTPUT_OVERFLOW = Rule(
    "output_overflow", "critical if > {output_count_critical:g}, warning if > "
    "{output_count_warning:g}", "output spike count per sample, summed over time (none "
    f"while the recorded loss stays below {COUNTS_UNREAD_LOSS:g} ln C: it reads no counts)",
    "Binarise input, raise thresholds; binary spikes over a long sequence: feed the loss "
    "rates (not log1p/clipping)", check_output_overflow,
    messages={
        "counts": "Output spike counts per sample reach {top:g} (range [{lo:g}, "
                  "{hi:g}]). Used as logits, {effect}{seen}",
        "float32": "exp() of counts above {limit:.1f} overflows float32, and even a "
                   "log-softmax (torch's cross_entropy) is saturated by them, so its "
                   "gradients vanish",
        "softmax": "a softmax over these counts saturates and its gradients vanish",
        "loss_nan": "; the recorded loss did become NaN/Inf",
        "loss_finite": "; the recorded loss stayed finite (up to {loss_max:.3g})"},
    constants={"float32_exp_limit": FLOAT32_EXP_LIMIT, "counts_unread_loss": COUNTS_UNREAD_LOSS},
    fixes={"cause": "Fix the cause, not the symptom: binarise the input and raise the "
                    "thresholds that feed this layer so counts stay within about [0, 50] "
                    "(log1p, clipping or weight decay only hide it)",
           "rates": "The spikes are binary, so the counts are this large because the "
                    "sequence is long ({steps:g} steps per sample) and the neurons fire "
                    "at most of them: feed the loss spike rates (counts / {steps:g}) or a "
                    "per-step loss (snnTorch's ce_rate_loss instead of ce_count_loss), or "
                    "use fewer time steps; log1p or clipping the counts only hide it"})
