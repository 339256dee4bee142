"""The membrane potentials: a layer whose voltages collapsed onto one value, and one
whose voltages run further from 0 in every epoch.
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np

from ..pathology import Pathology, Severity
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds
from .base import Rule, say, text


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


RUNAWAY_MIN_EPOCHS = 3
"""Epochs a runaway spans at least: two increases in a row, not one loud epoch."""

RUNAWAY_STEP = 0.5
"""An increase: the largest |V| of an epoch exceeds the previous epoch's by at least this
share of the first epoch's (a membrane carried from batch to batch without bound grows
by about as much in every epoch; a healthy one settles)."""

RUNAWAY_MARGIN = 10.0
"""How far past the other side of 0 a runaway ends: its last |V| is at least this many
times the largest value ever seen on the other side (the side a reset bounds: a firing
neuron's membrane cannot climb far past its threshold, while one that only sinks has no
floor). A layer that wakes up over a few epochs, its voltages widening on both sides,
is no runaway."""


def check_voltage_runaway(layers: list[LayerStats], loss: LossStats | None,
                          th: Thresholds) -> list[Pathology]:
    """Membrane potentials that reach further from 0 in every epoch: per epoch (of its
    recorded finite voltages; epochs without any are left out) the largest |V| on the
    side of 0 where it ends largest grows, from the first epoch to the last, by at least
    ``RUNAWAY_STEP`` times the first epoch's at every epoch, over at least
    ``RUNAWAY_MIN_EPOCHS`` epochs, and ends ``RUNAWAY_MARGIN`` times beyond anything on
    the other side. That is a state that integrates without bound: carried over from
    batch to batch (SpikingJelly's ``functional.reset_net`` forgotten) in a neuron
    without a leak, or a leak-free neuron whose input is one-sided."""
    out = []
    for st in layers:
        if st.role == "input":
            continue
        known = [h for h in st.per_epoch
                 if math.isfinite(h.voltage_min) and math.isfinite(h.voltage_max)]
        if len(known) < RUNAWAY_MIN_EPOCHS:
            continue
        down = -known[-1].voltage_min >= known[-1].voltage_max
        reach = [(h.epoch, -h.voltage_min if down else h.voltage_max) for h in known]
        other = max(max(h.voltage_max if down else -h.voltage_min, 0.0) for h in known)
        first, last = reach[0][1], reach[-1][1]
        if first <= 0 or last < RUNAWAY_MARGIN * other or any(
                b - a < RUNAWAY_STEP * first for (_, a), (_, b) in pairwise(reach)):
            continue
        sign = -1.0 if down else 1.0
        chain = ", ".join(text("voltage_runaway", "link", {"epoch": e, "reach": sign * r})
                          for e, r in reach)
        out.append(say(
            Severity.CRITICAL, "voltage_runaway", st, "growing", "reset",
            {"chain": chain, "ratio": last / first, "epochs": len(reach)}, th,
            last / first, reach[0][0]))
    return out


VOLTAGE_RUNAWAY = Rule(
    "voltage_runaway", "critical", "the voltage reaches further from 0 in every epoch, "
    f"over >= {RUNAWAY_MIN_EPOCHS} epochs, each time by >= {RUNAWAY_STEP:.0%} of the first "
    f"epoch's reach, to >= {RUNAWAY_MARGIN:g}x its largest value on the other side of 0",
    "Reset the neuron state before every batch; else add a leak", check_voltage_runaway,
    browser="fixed",
    messages={
        "growing": "The membrane potential reaches further from 0 in every epoch "
                   "({chain}: {ratio:.2g}x over {epochs} epochs), far past anything on "
                   "the other side of 0: it integrates without "
                   "bound, as a state that is not reset between batches does",
        "link": "{reach:.3g} in epoch {epoch}"},
    fixes={"reset": "Reset the neuron state before every batch (SpikingJelly: "
                    "functional.reset_net(net) after optimizer.step(); snnTorch: "
                    "utils.reset(net), or init_leaky() inside forward; Norse: a state of "
                    "None for each batch); if it is reset, the neuron has no leak (an IF "
                    "neuron, or snnTorch's beta >= 1, which it clamps to 1) and its input "
                    "is one-sided: give it a leak or normalise the input current"})
