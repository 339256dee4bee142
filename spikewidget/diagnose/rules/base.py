"""What a rule is: one row of the rule table (its words as templates and the
check that applies it), and how a check says a finding in those words.

Declaring a :class:`Rule` registers it by category, so :func:`text` and
:func:`say` find its templates; :mod:`spikewidget.diagnose.rules` lists every rule
in the table's order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..pathology import Pathology, Severity
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds

Check = Callable[[list[LayerStats], "LossStats | None", Thresholds], list[Pathology]]

_DECLARED: dict[str, Rule] = {}


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

    def __post_init__(self) -> None:
        if self.category in _DECLARED:
            raise ValueError(f"rule {self.category!r} is declared twice")
        _DECLARED[self.category] = self


def text(category: str, key: str, values: Mapping[str, Any], *,
         fix: bool = False) -> str:
    """Rule ``category``'s message (or fix) template ``key``, filled from ``values``."""
    rule = _DECLARED[category]
    return (rule.fixes if fix else rule.messages)[key].format_map(values)


def say(sev: Severity, rule: str, st: LayerStats | str, message: str, fix: str,
         values: Mapping[str, Any], th: Thresholds, value: float,
         epoch: int | None = None, step: int | None = None) -> Pathology:
    """A finding whose words are rule ``rule``'s templates ``message`` and ``fix``
    filled with the thresholds and ``values``."""
    layer = st if isinstance(st, str) else st.name
    filled = {**th.to_dict(), **values}
    return Pathology(sev, rule, layer, text(rule, message, filled),
                     text(rule, fix, filled, fix=True), float(value), epoch, step)
