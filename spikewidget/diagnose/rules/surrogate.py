"""The spike function's own gradient: zero where a neuron does not fire.

A spike is a step in the membrane potential, whose true derivative is 0 almost
everywhere; training needs a surrogate that is non-zero on both sides of the
threshold. A Heaviside "surrogate" (snnTorch's ``surrogate.heaviside()``, its default
before ATan), a hand-written ``(mem > thr).float()`` behind a straight-through gate, or
a surrogate of narrow support far from where the membranes sit passes no gradient to a
neuron that does not fire: that neuron can never learn to. ``watch(gradients=True)``
compares, per record, where the gradient at a layer's spikes and at its input was
non-zero (:class:`LayerStats.gradient_blocked_fraction`).
"""

from __future__ import annotations

import math

from ..pathology import Pathology, Severity
from ..stats import LayerStats, LossStats
from ..thresholds import Thresholds
from .base import Rule, say

BLOCKED_SHARE = 0.5
"""Above this share of the neurons whose spikes got a gradient, a record found them
silent with none passed to their input: most of the layer is silent and cannot learn
to fire. (A neuron that fires far above the threshold gets no gradient from a surrogate
of narrow support either, as with SpikingJelly's ``Rect`` by design; it is not counted:
it fires.)"""

BLOCKED_NEAR = 0.5
"""A layer that never fired must have its highest recorded membrane potential at least
this share of the way from rest to the threshold: a layer whose membranes all stay far
below it gets no gradient from any surrogate that decays (a threshold of 100 against
potentials of 6: SpikingJelly's sigmoid underflows to exactly 0 there). That silence
is the cause, and its own finding says what to change (the threshold, the drive)."""


def approach(st: LayerStats) -> float | None:
    """How far the highest recorded membrane potential got from rest toward the
    threshold (1: at it); None where the levels or the voltages are unknown, or where
    the layer fired at all (its membrane then reached the threshold, and a potential
    recorded after a reset, as SpikingJelly and Norse give it, does not show that)."""
    thr, rest, top = st.threshold, st.resting_potential, st.voltage_max
    if thr is None or rest is None or not thr > rest or math.isnan(top) \
            or float(st.firing_rates.max(initial=0.0)) > 0:
        return None
    return (top - rest) / (thr - rest)


def check_gradient_blocked(layers: list[LayerStats], loss: LossStats | None,
                           th: Thresholds) -> list[Pathology]:
    out = []
    for st in layers:
        share = st.gradient_blocked_fraction
        if st.role == "input" or share is None or not share > BLOCKED_SHARE:
            continue
        near = approach(st)
        if near is not None and near < BLOCKED_NEAR:
            continue  # far below the threshold: the silence is the cause
        out.append(say(Severity.CRITICAL, "gradient_blocked", st, "blocked", "surrogate",
                        {"share": share, "checked": st.gradient_checked}, th, share))
    return out


GRADIENT_BLOCKED = Rule(
    "gradient_blocked", "critical",
    f"> {BLOCKED_SHARE:.0%} of the neurons whose spikes get a gradient are silent and "
    "pass none (exactly 0) to their input; a layer that never fires also needs its "
    f"membrane at least {BLOCKED_NEAR:.0%} of the way from rest to the threshold",
    "Use a surrogate gradient that is non-zero on both sides of the threshold (atan), "
    "not a Heaviside step",
    check_gradient_blocked, browser="fixed",
    messages={"blocked": "{share:.0%} of the neurons whose spikes got a gradient did not "
                         "fire and passed none of it back to their input (exactly 0; "
                         "{checked} neuron-records checked): the spike function's "
                         "gradient is 0 where their membranes sit, so a neuron that does "
                         "not fire gets no signal to start firing"},
    constants={"blocked_share": BLOCKED_SHARE, "blocked_near": BLOCKED_NEAR},
    fixes={"surrogate": "Give the spike function a surrogate gradient that is non-zero on "
                        "both sides of the threshold: snnTorch spike_grad=surrogate.atan() "
                        "(its default) or fast_sigmoid(), SpikingJelly surrogate.ATan() or "
                        "Sigmoid(), Norse's default SuperSpike; not a Heaviside step "
                        "(snnTorch surrogate.heaviside()) or a spike computed without a "
                        "backward. A surrogate of narrow support (triangular, rectangular) "
                        "needs a wider window"})
