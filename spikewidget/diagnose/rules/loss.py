"""The training loss: stuck at the chance level ln C.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..pathology import Pathology, Severity
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds
from .base import Rule, say, text


def _loss_seen(loss: LossStats | None, values: Mapping[str, Any]) -> str:
    """What the recorded loss showed, beside what the counts would do."""
    if loss is None or loss.count == 0:
        return ""
    return text("output_overflow", "loss_nan" if loss.nonfinite is not None
                else "loss_finite", values)


BELOW_CHANCE_ERRORS = 3.0
"""A mean loss this many standard errors below ln C (and by :data:`BELOW_CHANCE_SHARE`)
is below chance beyond its noise: the outputs carry class information."""
BELOW_CHANCE_SHARE = 0.01
"""...and at least this share of ln C below it (a loss frozen at ln C, give or take its
rounding, is at chance however small its spread)."""


def clearly_below(window: Sequence[float], chance: float) -> bool:
    """Whether the losses in ``window`` sit below ``chance`` beyond their noise (a
    rate-coded cross-entropy on sparse outputs stays within a few percent of ln C while
    the accuracy is far above chance: the outputs do carry the classes)."""
    n = len(window)
    mean = sum(window) / n
    spread = math.sqrt(sum((v - mean) ** 2 for v in window) / (n - 1)) if n > 1 else 0.0
    margin = max(BELOW_CHANCE_ERRORS * spread / math.sqrt(n), BELOW_CHANCE_SHARE * chance)
    return mean < chance - margin


def check_loss_at_chance(layers: list[LayerStats], loss: LossStats | None,
                         th: Thresholds) -> list[Pathology]:
    """The last ``loss_chance_window`` losses all within ``loss_chance_tolerance`` of ln
    C, and their mean not clearly below it (:func:`clearly_below`)."""
    if loss is None or loss.chance_level is None:
        return []
    values = loss.recent
    window = values[-th.loss_chance_window:]
    if len(window) < th.loss_chance_window:
        return []
    chance = loss.chance_level
    near = [abs(v - chance) <= th.loss_chance_tolerance * chance for v in values]
    if not all(near[-len(window):]) or clearly_below(window, chance):
        return []
    start = len(near)  # the at-chance run that ends the record began here
    while start > 0 and near[start - 1]:
        start -= 1
    since = int(loss.recent_epochs[start]) if len(loss.recent_epochs) == len(values) \
        else None
    mean = float(sum(window) / len(window))
    return [say(Severity.WARNING, "loss_at_chance", "loss", "chance", "outputs_first",
                 {"mean": mean, "classes": loss.n_classes, "chance": chance,
                  "records": len(window)}, th, mean, since)]


LOSS_AT_CHANCE = Rule(
    "loss_at_chance", "warning", "last {loss_chance_window} losses within "
    "{loss_chance_tolerance:.0%} of ln C, their mean not below it by more than "
    f"{BELOW_CHANCE_ERRORS:g} standard errors and {BELOW_CHANCE_SHARE:.0%}",
    "Fix silent/saturated outputs first",
    check_loss_at_chance,
    messages={"chance": "The loss has sat at {mean:.3f}, within "
                        "{loss_chance_tolerance:.0%} of ln {classes} = {chance:.3f} "
                        "(chance), for the last {records} records: the outputs carry no "
                        "class information"},
    constants={"below_errors": BELOW_CHANCE_ERRORS, "below_share": BELOW_CHANCE_SHARE},
    fixes={"outputs_first": "Check that the output layer is neither silent nor "
                            "saturated and that the loss reads its spike counts; fix "
                            "dead or non-binary layers first"})
