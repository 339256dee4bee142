"""The membrane potentials: a layer whose voltages collapsed onto one value.
"""

from __future__ import annotations

import numpy as np

from ..pathology import Pathology, Severity
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds
from .base import Rule, say


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
        out.append(say(
            Severity.WARNING, "voltage_collapse", st, "frozen", "current",
            {"frozen": frozen, "known": len(known), "share": share, "steps": st.n_steps,
             "mean": st.voltage_mean}, th, share))
    return out


VOLTAGE_COLLAPSE = Rule(
    "voltage_collapse", "warning", ">= {voltage_collapse_fraction:.0%} of neurons have a "
    "voltage std over time < {voltage_collapse_std:g}",
    "Increase input current", check_voltage_collapse,
    messages={"frozen": "{frozen}/{known} neurons ({share:.0%}) have a membrane voltage "
                        "frozen in time: its std over time is below "
                        "{voltage_collapse_std:.0e} (over {steps} steps, layer mean "
                        "{mean:.4g})"},
    fixes={"current": "Increase the input current (weight scale), check connectivity, "
                      "and check that the state is not reset every step"})
