"""The diagnosis rules: a table of data plus one small pure function per rule,
one module per family (activity, voltages, gradients, surrogate, values, loss,
depth, phases).

Each check takes the statistics of the reported layers, the loss statistics and a
:class:`Thresholds`, and returns its findings. Nothing here touches raw tensors.
:data:`RULES` is the one source of the rule table and of every word a finding says:
each row carries its messages and fixes as ``str.format`` templates (thresholds and
measured values by name). The README's table is generated from it, and the widget
formats the same templates (sent in the payload) with ``js/src/diagnose/pyformat.js``; its
evaluators in ``js/src/diagnose/rules.js`` only compute the values, for the rules marked
``browser="rejudged"``. Add a rule in its family's module and list it here.
"""

from __future__ import annotations

from ..causes import link_causes
from ..pathology import Pathology
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds
from .activity import (
    DEAD_NEURONS,
    LAYER_DIED,
    SATURATED_NEURONS,
    SILENT_NETWORK,
    TOO_FEW_OBSERVATIONS,
    binomial_below,
)
from .base import Rule, text
from .depth import RATE_FADES_WITH_DEPTH
from .gradients import GRADIENT_EXPLOSION, GRADIENT_VANISHING
from .loss import LOSS_AT_CHANCE
from .phases import EVAL_MODE_SHIFT
from .surrogate import GRADIENT_BLOCKED
from .values import (
    COUNT_VALUED_INPUT,
    NON_BINARY_SPIKES,
    NON_FINITE_VALUES,
    OUTPUT_OVERFLOW,
    is_count_valued,
    looks_like_pixels,
)
from .voltages import VOLTAGE_COLLAPSE, VOLTAGE_RUNAWAY

RULES: tuple[Rule, ...] = (
    DEAD_NEURONS,
    SATURATED_NEURONS,
    SILENT_NETWORK,
    VOLTAGE_COLLAPSE,
    VOLTAGE_RUNAWAY,
    GRADIENT_EXPLOSION,
    GRADIENT_VANISHING,
    GRADIENT_BLOCKED,
    NON_BINARY_SPIKES,
    COUNT_VALUED_INPUT,
    NON_FINITE_VALUES,
    OUTPUT_OVERFLOW,
    LOSS_AT_CHANCE,
    LAYER_DIED,
    RATE_FADES_WITH_DEPTH,
    EVAL_MODE_SHIFT,
    TOO_FEW_OBSERVATIONS,
)
"""Every rule, in the table's order (findings of equal severity follow it)."""

BY_CATEGORY: dict[str, Rule] = {r.category: r for r in RULES}

CATEGORIES: tuple[str, ...] = tuple(r.category for r in RULES)


def diagnose(layers: list[LayerStats], loss: LossStats | None,
             th: Thresholds) -> list[Pathology]:
    """Run every rule; each root cause leads what follows from it
    (:mod:`~spikewidget.diagnose.causes`), groups sorted by severity, then layer order,
    then rule order."""
    order = {s.name: i for i, s in enumerate(layers)}
    fed_by = {s.name: s.fed_by for s in layers if s.fed_by is not None}
    found = [p for rule in RULES for p in rule.check(layers, loss, th)]
    return link_causes(found, order, CATEGORIES, fed_by)


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


__all__ = [
    "CATEGORIES",
    "RULES",
    "Rule",
    "binomial_below",
    "diagnose",
    "is_count_valued",
    "looks_like_pixels",
    "rule_table",
    "rule_table_markdown",
    "text",
]
