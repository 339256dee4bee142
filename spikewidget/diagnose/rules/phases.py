"""The validation passes against training: a layer that fires far less (or more) in eval
mode than in training, with the same weights, while what feeds it fires alike.

Judged only in the report of the ``"eval"`` phase, where each layer carries its
training rate in the latest epoch both recorded (:attr:`LayerStats.versus_training`;
an average over every epoch would hide a collapse of the last ones). What changes a
layer's input between the two modes is a module that behaves differently in eval mode
before it: a batch norm normalising with its running statistics instead of the batch's,
a dropout switched off. Its threshold is not the cause (the layer fires in training),
so the dead or silent neurons the eval report shows there and after it follow from it.
"""

from __future__ import annotations

from ..pathology import Pathology, Severity
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds
from .base import Rule, say, text

EVAL_SHIFT_RATIO = 4.0
"""A layer whose mean rate in eval mode is this many times below (or above) its rate in
training has changed with the mode; its feeders must differ by less."""
EVAL_SHIFT_MIN_SPIKES = 100.0
"""Spikes the training rate predicts for the eval passes (or the eval passes fired),
at least: fewer cannot tell a shift from chance."""


def shift(st: LayerStats) -> float | None:
    """How many times the layer's eval rate is below (< 1: above) its training rate in
    the latest epoch both recorded, when enough spikes were expected to tell; else
    None."""
    vs = st.versus_training
    if vs is None:
        return None
    now, then = vs.rate, vs.train_rate
    if max(now, then) * vs.cells < EVAL_SHIFT_MIN_SPIKES:
        return None
    if now == 0.0:
        return float("inf")
    return then / now


def _shifted(ratio: float | None) -> bool:
    return ratio is not None and (ratio >= EVAL_SHIFT_RATIO or ratio <= 1 / EVAL_SHIFT_RATIO)


def _times(ratio: float | None) -> float:
    """How many times apart a ratio is, whichever way (>= 1)."""
    assert ratio is not None
    return ratio if ratio >= 1 else 1 / ratio


def check_eval_shift(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    """The first layers (along the wiring where known, else in model order) whose rate
    in eval mode, in the latest epoch both phases recorded, is :data:`EVAL_SHIFT_RATIO`
    times off their training rate while no recorded layer feeding them is; layers
    after them follow."""
    out = []
    ratios = {st.name: shift(st) for st in layers}
    before: LayerStats | None = None
    for st in layers:
        feeding, before = before, st
        ratio, vs = ratios[st.name], st.versus_training
        if st.role == "input" or ratio is None or vs is None or not _shifted(ratio):
            continue
        feeders = ([f for f in st.fed_by if f in ratios] if st.fed_by is not None
                   else [feeding.name] if feeding is not None else [])
        if any(_shifted(ratios[f]) for f in feeders):
            continue  # the change reached it from before
        values = {"eval_rate": vs.rate, "train_rate": vs.train_rate, "epoch": vs.epoch,
                  "ratio": ratio, "times": _times(ratio)}
        known = [f for f in feeders if ratios[f] is not None]
        values["feeders"] = "" if not known else text("eval_mode_shift", "feeder", {
            "feeder": known[0], "feeder_times": _times(ratios[known[0]])})
        falls = ratio >= 1
        out.append(say(Severity.CRITICAL if falls else Severity.WARNING, "eval_mode_shift",
                       st, "falls" if falls else "rises", "eval_mode", values, th, ratio))
    return out


EVAL_MODE_SHIFT = Rule(
    "eval_mode_shift", "critical when the rate falls, warning when it rises",
    f"in the eval phase's report: a layer fires >= {EVAL_SHIFT_RATIO:g}x less (or more) "
    "than in training in the latest epoch both recorded, while the layers feeding it "
    "do not",
    "Recompute batch-norm running statistics; not the threshold", check_eval_shift,
    messages={
        "falls": "Fires {times:.3g}x less in eval mode (the validation passes of epoch "
                 "{epoch}: {eval_rate:.3g} spikes per step) than in training "
                 "({train_rate:.3g}), with the same weights{feeders}",
        "rises": "Fires {times:.3g}x more in eval mode (the validation passes of epoch "
                 "{epoch}: {eval_rate:.3g} spikes per step) than in training "
                 "({train_rate:.3g}), with the same weights{feeders}",
        "feeder": ", while '{feeder}', which feeds it, changes {feeder_times:.2g}x"},
    fixes={"eval_mode": "Not the threshold (this layer fires in training): a module "
                        "before it acts differently in eval mode. A batch norm then "
                        "normalises with its running statistics, which lag the batch "
                        "statistics early in training or under a small momentum: "
                        "compare its running_var with the batch variance, and before "
                        "validating recompute them (bn.reset_running_stats() with "
                        "momentum=None, then a few training batches forward in train "
                        "mode under torch.no_grad(), resetting the neuron state after "
                        "each); a dropout is switched off there too"},
    browser="fixed",
    constants={"ratio": EVAL_SHIFT_RATIO, "min_spikes": EVAL_SHIFT_MIN_SPIKES})
