"""The training loss: stuck at the chance level ln C.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    return [say(Severity.WARNING, "loss_at_chance", "loss", "chance", "outputs_first",
                 {"mean": mean, "classes": loss.n_classes, "chance": chance,
                  "records": len(window)}, th, mean, since)]


LOSS_AT_CHANCE = Rule(
    "loss_at_chance", "warning", "last {loss_chance_window} losses within "
    "{loss_chance_tolerance:.0%} of ln C", "Fix silent/saturated outputs first",
    check_loss_at_chance,
    messages={"chance": "The loss has sat at {mean:.3f}, within "
                        "{loss_chance_tolerance:.0%} of ln {classes} = {chance:.3f} "
                        "(chance), for the last {records} records: the outputs carry no "
                        "class information"},
    fixes={"outputs_first": "Check that the output layer is neither silent nor "
                            "saturated and that the loss reads its spike counts; fix "
                            "dead or non-binary layers first"})
