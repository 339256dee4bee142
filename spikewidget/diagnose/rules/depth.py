"""How the firing rate changes with depth: a rate that fades layer after layer.
"""

from __future__ import annotations

import math

from ..pathology import Pathology, Severity
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds
from .base import Rule, say, text


def mean_rate(st: LayerStats) -> float:
    """A layer's mean spikes per neuron per observation (exact for whole counts)."""
    return float(st.per_neuron_spikes.sum()) / (max(st.n_observations, 1) * st.n_neurons)


DEPTH_FADE_MIN_LAYERS = 3
"""Layers a fade spans at least: two falls in a row, not one quiet layer."""


DEPTH_FADE_STEP = 1.25
"""A fall: a layer fires at least this many times less than the one before (20% fewer
spikes), so that two layers alike, differing by noise, are no fade."""


def recovers_after(rates: list[float], end: int, stop: int) -> bool:
    """Whether a spiking layer after a falling run (``stop``, its last index) fires at
    least as much as the run's last layer above the dead rate (``end - 1``): the
    activity came back, so the run was a dip, not a fade toward the output. Layer order
    is the order of first call, so a parallel branch called later counts too: a firing
    branch that feeds the output refutes the fade as well."""
    return any(r >= rates[end - 1] for r in rates[stop + 1:])


def feeds(before: LayerStats, after: LayerStats) -> bool:
    """Whether ``after`` is one layer deeper than ``before``: fed by it where the
    wiring is known (parallel branches, such as attention's q, k and v, are not deeper
    than one another), else next to it in model order."""
    return after.fed_by is None or before.name in after.fed_by


def check_depth_fade(layers: list[LayerStats], loss: LossStats | None,
                     th: Thresholds) -> list[Pathology]:
    """Spikes that fade with depth: over at least three consecutive spiking layers, each
    fed by the one before where the wiring is known (:func:`feeds`), the
    mean firing rate falls at every layer (by ``DEPTH_FADE_STEP`` or more), until a layer
    fires below ``dead_rate`` on average, by more than ``depth_fade_ratio`` in all
    (SpikingJelly #285: zero from the fifth layer on), and no later layer fires again as
    much as the last one above ``dead_rate`` (a quiet layer between firing ones is that
    layer's own finding, with its own fix). The finding sits at the first layer below
    ``dead_rate`` and names the whole falling run; the dead and silent layers from there
    on follow from it (their own fixes would only move the fade deeper)."""
    spiking = [s for s in layers
               if s.role != "input" and not s.graded and s.is_binary and s.n_neurons > 0]
    rates = [mean_rate(s) for s in spiking]
    out = []
    start = 0
    while start < len(spiking):
        stop = start
        while stop + 1 < len(spiking) and rates[stop + 1] * DEPTH_FADE_STEP < rates[stop] \
                and feeds(spiking[stop], spiking[stop + 1]):
            stop += 1
        end = next((k for k in range(start, stop + 1) if rates[k] < th.dead_rate), None)
        if end is not None and end - start + 1 >= DEPTH_FADE_MIN_LAYERS \
                and not recovers_after(rates, end, stop):
            ratio = rates[start] / rates[stop] if rates[stop] > 0 else math.inf
            if ratio > th.depth_fade_ratio:
                chain = " → ".join(text("rate_fades_with_depth", "link",
                                        {"name": s.name, "rate": r})
                                   for s, r in zip(spiking[start:stop + 1],
                                                   rates[start:stop + 1], strict=True))
                out.append(say(
                    Severity.CRITICAL, "rate_fades_with_depth", spiking[end],
                    "to_zero" if rates[stop] == 0 else "fading", "normalise",
                    {"ratio": ratio, "layers": stop - start + 1, "chain": chain}, th, ratio))
        start = stop + 1
    return out


RATE_FADES_WITH_DEPTH = Rule(
    "rate_fades_with_depth", "critical", "the mean firing rate falls (by 20% or more) "
    f"at each of >= {DEPTH_FADE_MIN_LAYERS} consecutive layers (each fed by the one "
    "before, where the wiring is known), by > "
    "{depth_fade_ratio:g}x in all, to "
    "below {dead_rate:g}, and no later layer recovers to the rate before the drop "
    "below it", "Normalise layers (BN), residual connections",
    check_depth_fade,
    messages={
        "fading": "Mean firing rate falls layer after layer, {ratio:.0f}x over "
                  "{layers} layers ({chain} spikes per step): the deeper layers get "
                  "too little input to fire",
        "to_zero": "Mean firing rate falls layer after layer to zero over {layers} "
                   "layers ({chain} spikes per step): the deeper layers get too little "
                   "input to fire",
        "link": "'{name}' {rate:.2g}"},
    constants={"min_layers": DEPTH_FADE_MIN_LAYERS, "step": DEPTH_FADE_STEP},
    fixes={"normalise": "Spikes fade with depth: normalise after each convolution or "
                        "linear layer (batch norm, or threshold-dependent batch norm), "
                        "scale up the weight initialisation, or add residual (SEW) "
                        "connections; lowering one layer's threshold only moves the "
                        "fade one layer deeper"})
