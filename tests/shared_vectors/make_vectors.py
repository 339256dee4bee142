"""Build the test vectors that Python and JavaScript share (vectors.json beside this file).

Everything expected here comes from the Python core itself (``SpikeProfiler.report``,
``format``), so the browser's classification and rule port are checked against the
real thing: ``tests/js/vectors.test.mjs`` replays them in node, and
``tests/browser/test_widget_vectors.py`` checks that the committed file is current.

Run ``python tests/shared_vectors/make_vectors.py`` after changing a rule or a message.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np

from spikewidget import DATA, SpikeProfiler, Thresholds
from spikewidget.present.payload import PayloadBuilder, encode_array, finding_dict, to_jsonable

HERE = Path(__file__).parent
VECTORS = HERE / "vectors.json"

FORMAT_SPECS = ("g", ".2g", ".3g", ".4g", ".2e", ".0e", ".0f", ".3f", ".1f", ".0%", ".1%")


def _num(x: float) -> Any:
    return x if math.isfinite(x) else repr(x)  # "nan", "inf", "-inf"


def format_cases() -> list[list[Any]]:
    """[value, spec, Python's format(value, spec)]: ties, tiny, huge, negative, specials."""
    rng = random.Random(7)
    values = [0.0, -0.0, 1.0, 0.5, 0.125, 0.25, 2.5, 0.015, 0.045, 1e-5, 1e-6, 1e-12, 9.995,
              99.95, 0.00012345, 123456789.0, 1234567.0, 1e16, 2.0**-30, 88.72283935546875,
              -3.25, 0.1 + 0.2, 1 / 3, 2 / 3, 5e-324, math.nan, math.inf, -math.inf]
    values += [rng.choice([1, -1]) * 10 ** rng.uniform(-9, 9) for _ in range(60)]
    values += [k / 240 for k in range(0, 241, 7)]
    return [[_num(v), spec, format(v, spec)] for v in values for spec in FORMAT_SPECS]


def classify_cases() -> list[dict[str, Any]]:
    """Per-neuron classes (0 healthy, 1 dead, 2 saturated) at and around the cut-offs."""
    out = []
    for dead, sat in ((0.01, 0.95), (0.0125, 0.5), (1e-5, 0.05), (0.3, 0.3000001)):
        edge = [dead, sat, np.nextafter(dead, 0), np.nextafter(dead, 1), np.nextafter(sat, 0),
                np.nextafter(sat, 2)]
        rates = np.array([*edge, 0.0, 1.0, 2.5, math.nan, *np.linspace(0, 1, 41),
                          *(np.arange(0, 241) / 240)], dtype=np.float64)
        classes = np.where(rates < dead, 1, np.where(rates > sat, 2, 0)).astype(np.uint8)
        out.append({"thresholds": {"dead_rate": dead, "saturated_rate": sat},
                    "rates": to_jsonable(encode_array(rates)),
                    "classes": to_jsonable(encode_array(classes))})
    return out


def scenario() -> SpikeProfiler:
    """Three epochs of a small network that trips every rule somewhere."""
    rng = np.random.default_rng(3)
    p = SpikeProfiler(raster_window=64)
    p.declare_layer("in", role="input")
    p.declare_layer("out<b>&\"x\"", role="output")
    p.declare_layer("graded", graded=True)
    p.declare_layer("analog", graded="analog")
    t, b = 10, 2
    for epoch in range(3):
        if epoch:
            p.next_epoch()
        for step in range(12):
            counts_in = rng.poisson(0.3 + epoch, size=(t, b, 16)).astype(np.float32)
            p.record_step("in", counts_in)
            # conv: rates spread over a log range, one gradient spike (1000x the median
            # of the epoch's first records), and voltages that differ between neurons
            # (pooled std ~0.6) but are frozen in time in 24 of its 32 neurons (std over
            # time ~1e-8; the others move by ~0.1)
            probs = np.logspace(-3.5, 0, 32).reshape(2, 4, 4)
            spikes = (rng.random((t, b, 2, 4, 4)) < probs).astype(np.float32)
            offsets = np.linspace(-1.0, 1.0, 32).reshape(2, 4, 4)
            moving = np.where(np.arange(32) % 4 == 0, 1e-1, 1e-8).reshape(2, 4, 4)
            volt = offsets + moving * rng.standard_normal((t, b, 2, 4, 4))
            grad = rng.standard_normal((t, b, 2, 4, 4)) * (1e-1 if step == 5 else 1e-4)
            p.record_step("conv", spikes, volt, grad, neuron_axes=3)
            # hidden: mostly dead, tiny gradients (vanishing against the output)
            hid = (rng.random((t, b, 50)) < np.r_[np.zeros(40), np.full(10, 0.2)]).astype(
                np.float32)
            p.record_step("hidden", hid, gradients=rng.standard_normal((t, b, 50)) * 1e-5)
            # saturated share grows with the epoch
            sat = (rng.random((t, b, 40)) < np.where(np.arange(40) < 10 * (epoch + 1), 0.99,
                                                      0.3)).astype(np.float32)
            # gradients growing steadily, 2x per step (gradient_explosion by the trend)
            p.record_step("sat", sat, gradients=rng.standard_normal((t, b, 40)) * 2.0**step)
            # silent but in the last epoch, when it no longer explains the vanishing
            silent = (rng.random((t, b, 20)) < (0.2 if epoch == 2 else 0.0)).astype(np.float32)
            p.record_step("silent", silent)
            if step == 0:  # too few observations to call 66% of these neurons dead
                p.record_step("few", (rng.random((1, 8, 30)) < 0.05).astype(np.float32))
            # a membrane that reaches further each epoch (about 3, 6, 9): not reset
            p.record_step("drift", (rng.random((t, b, 8)) < 0.2).astype(np.float32),
                          -3.0 * (epoch + 1) * rng.random((t, b, 8)))
            # healthy in epochs 0-1, dies in epoch 2 (its input stopped)
            p.record_step("dies", (rng.random((t, b, 30)) < (0.3 if epoch < 2 else 0.0)
                                   ).astype(np.float32))
            # behind 'dies' (0.3, then 0 in epoch 2) spikes fall 5x per layer: a fade
            # with depth in epoch 2 only (before, the binary 'out' fires again)
            for k, rate in enumerate((0.08, 0.015, 0.003)):
                p.record_step(f"deep{k + 1}", (rng.random((t, b, 24)) < rate).astype(np.float32))
            # graded spikes of 7 at a rate of 0.3 (by value 2.1 a step: not saturated)
            # and of 0.005 at 0.15 (by value 0.00075: not dead); counted as events
            ev = rng.random((t, b, 12)) < np.r_[np.full(6, 0.3), np.full(6, 0.15)]
            p.record_step("graded", np.where(ev, np.r_[np.full(6, 7.0), np.full(6, 0.005)],
                                             0.0).astype(np.float32))
            # analog output (LIAF-like): non-zero at every step (never saturated), but
            # 4 of its 16 neurons stay at 0 (dead)
            act = np.log1p(np.exp(rng.standard_normal((t, b, 16)))) * (np.arange(16) >= 4)
            p.record_step("analog", act.astype(np.float32))
            # output: large (non-binary in epoch 2) counts, NaN voltage once in epoch 1
            scale = (1.0, 6.0, 12.0)[epoch]
            out = rng.poisson(scale * 0.9, size=(t, b, 10)).astype(np.float32)
            if epoch < 2:
                out = np.minimum(out, 1)
            v = rng.standard_normal((t, b, 10))
            if epoch == 1 and step == 3:
                v[0, 0, 0] = np.nan
            p.record_step("out<b>&\"x\"", out, v, rng.standard_normal((t, b, 10)))
            # far from chance for the first records of epoch 0, then at chance; in
            # epoch 2 one record of 40 (a cross-entropy that reads the overflowing
            # counts), in epoch 1 none (a loss below 2 ln C: its counts are no overflow)
            at_chance = math.log(10) * (1 + 0.01 * rng.standard_normal())
            for k in range(2):
                early = 5.0 if epoch == 0 else 40.0 if epoch == 2 and k else at_chance
                p.record_loss(early if step == 0 or (epoch == 0 and step < 4) else at_chance,
                              n_classes=10)
    return p


def levels_scenario() -> SpikeProfiler:
    """Two epochs of two layers with known firing levels: 'short', whose membrane
    rises to ~0.4 of its threshold of 2 (below_threshold), is silent in epoch 0 and
    fires in epoch 1; 'undriven', never above its resting potential of 0 (no_drive),
    is silent in both (behind a firing 'short' in epoch 1: a root cause there)."""
    rng = np.random.default_rng(4)
    p = SpikeProfiler(raster_window=16)
    p.declare_layer("in", role="input")
    p.declare_layer("short", threshold=2.0, resting_potential=0.0)
    p.declare_layer("undriven", threshold=1.0, resting_potential=0.0)
    t, b, n = 10, 2, 8
    for epoch in range(2):
        if epoch:
            p.next_epoch()
        for _ in range(6):
            p.record_step("in", (rng.random((t, b, n)) < 0.3).astype(np.float32))
            for name, silent_in, volts in (("short", (0,), 0.4 * rng.random((t, b, n))),
                                           ("undriven", (0, 1), -rng.random((t, b, n)))):
                rate = 0.0 if epoch in silent_in else 0.2
                p.record_step(name, (rng.random((t, b, n)) < rate).astype(np.float32),
                              volts)
    return p


def wiring_scenario() -> SpikeProfiler:
    """Two epochs of a branching net with declared wiring (in model order a, b, c, d, e,
    f): 'a' fires and feeds a branch 'b' and a parallel 'c'; 'd' is fed by 'b' alone,
    'e' by 'c' and 'd', 'f' (wiring unknown) comes after 'e' in order. 'b', 'd', 'e' and
    'f' are silent in epoch 0: 'd' follows from 'b' though 'c' fires between them, 'e'
    (fed by a firing 'c') is a root, and 'f' follows by order from 'd' (only the silent
    'e' between them), so from 'b'. In epoch 1 'b' fires: 'd' is a root, 'f' follows
    from it. 'g', silent throughout, is fed by the data (``DATA``) and 'd': a root."""
    rng = np.random.default_rng(5)
    p = SpikeProfiler(raster_window=16)
    p.declare_layer("in", role="input")
    wiring = {"a": [DATA], "b": ["a"], "c": ["a"], "d": ["b"], "e": ["c", "d"],
              "g": [DATA, "d"]}
    for name, feeds in wiring.items():
        p.declare_layer(name, fed_by=feeds)
    t, b, n = 10, 2, 8
    for epoch in range(2):
        if epoch:
            p.next_epoch()
        silent = {"b", "d", "e", "f", "g"} - ({"b"} if epoch else set())
        for _ in range(6):
            p.record_step("in", (rng.random((t, b, n)) < 0.3).astype(np.float32))
            for name in ("a", "b", "c", "d", "e", "f", "g"):
                rate = 0.0 if name in silent else 0.2
                p.record_step(name, (rng.random((t, b, n)) < rate).astype(np.float32))
    return p


def routes_scenario() -> SpikeProfiler:
    """Two epochs of a gradient 1e5x smaller at 'first' than at 'last', with 'first'
    feeding a silent 'branch' and a 'stream' that both feed 'last' (declared wiring).
    In epoch 0 the stream fires, a route around the branch: the gap is the depth's. In
    epoch 1 the stream is silent too: every route is starved, both are named."""
    rng = np.random.default_rng(9)
    p = SpikeProfiler(raster_window=16)
    wiring = {"first": [DATA], "branch": ["first"], "stream": ["first"],
              "last": ["branch", "stream"]}
    for name, feeds in wiring.items():
        p.declare_layer(name, fed_by=feeds)
    shape = (10, 2, 12)
    for epoch in range(2):
        if epoch:
            p.next_epoch()
        for _ in range(5):
            for name, rate, scale in (("first", 0.2, 1e-5), ("branch", 0.0, None),
                                      ("stream", 0.0 if epoch else 0.2, None),
                                      ("last", 0.2, 1.0)):
                grads = None if scale is None else scale * rng.normal(size=shape)
                p.record_step(name, (rng.random(shape) < rate).astype(np.float32),
                              gradients=grads)
    return p


def heads_scenario() -> SpikeProfiler:
    """One epoch, declared wiring: a stream 's' feeds three parallel heads 'q', 'k',
    'v' whose product feeds 'attn'; in model order the rates fall 0.3 -> 0.2 -> 0.1 ->
    0.004 -> 0, but 'k' and 'v' are not deeper than 'q': no fade. Behind them a chain
    'c1' -> 'c2' -> 'c3' -> 'c4' (each fed by the one before) fades 0.3 -> 0.05 -> 0.004
    -> 0: a fade."""
    rng = np.random.default_rng(13)
    p = SpikeProfiler(raster_window=16)
    wiring = {"s": [DATA], "q": ["s"], "k": ["s"], "v": ["s"], "attn": ["k", "q", "v"],
              "c1": [DATA], "c2": ["c1"], "c3": ["c2"], "c4": ["c3"]}
    rates = {"s": 0.3, "q": 0.2, "k": 0.1, "v": 0.004, "attn": 0.0,
             "c1": 0.3, "c2": 0.05, "c3": 0.004, "c4": 0.0}
    for name, feeds in wiring.items():
        p.declare_layer(name, fed_by=feeds)
    for _ in range(8):
        for name, rate in rates.items():
            p.record_step(name, (rng.random((10, 4, 24)) < rate).astype(np.float32))
    return p


def depth_scenario() -> SpikeProfiler:
    """Four epochs of how rates and gradients change with depth. 'g1'-'g4' carry the
    gradients: in epochs 0 and 2 alike and tiny in 'g1'-'g3', 500x more at 'g4' (a gap
    in one step, as zero-init residual branches give), in epochs 1 and 3 10x less at
    every layer (depth). Behind them 'd1'-'d6' fall 0.3 -> 0.1 -> 0.03 -> 0.004 -> 0,
    then 'd6' fires again at 0.3 in epoch 0 (a dip, no fade) and only at 0.02 in epoch 1
    (short of the 0.03 before the drop: a fade toward the output); in epochs 2-3 they
    all fire at 0.2, so the gradient findings stand alone and give their own fixes."""
    rng = np.random.default_rng(5)
    p = SpikeProfiler(raster_window=16)
    p.declare_layer("in", role="input")
    t, b = 8, 4
    one_step, by_depth = (2e-6, 2.6e-6, 3.2e-6, 1e-3), (1e-3, 1e-2, 1e-1, 1.0)
    dip, fade, healthy = (0.3, 0.1, 0.03, 0.004, 0.0, 0.3), (0.3, 0.1, 0.03, 0.004, 0.0, 0.02), \
        (0.2,) * 6
    for epoch, (gradients, rates) in enumerate(((one_step, dip), (by_depth, fade),
                                                (one_step, healthy), (by_depth, healthy))):
        if epoch:
            p.next_epoch()
        for _ in range(10):
            p.record_step("in", (rng.random((t, b, 16)) < 0.3).astype(np.float32))
            for k, scale in enumerate(gradients):
                p.record_step(f"g{k + 1}", (rng.random((t, b, 32)) < 0.2).astype(np.float32),
                              gradients=scale * rng.standard_normal((t, b, 32)))
            for k, rate in enumerate(rates):
                p.record_step(f"d{k + 1}", (rng.random((t, b, 48)) < rate).astype(np.float32))
    return p


def ceiling_scenario() -> SpikeProfiler:
    """Two epochs of integer spikes 0..4 (ILIF-like, ``spike_ceiling=4``): 'full', whose
    neurons emit the ceiling at nearly every step (saturated), and 'busy', which emits
    at every step but from 1 (in epoch 0) to 2 (in epoch 1) spikes on average, its
    neurons spread from 0.1 to 0.6 of the ceiling (not saturated at the default
    thresholds, saturated under a low ``saturated_rate``); 'unknown' is 'busy' without a
    declared ceiling (never judged saturated)."""
    rng = np.random.default_rng(5)
    p = SpikeProfiler(raster_window=16)
    p.declare_layer("in", role="input")
    for name in ("full", "busy"):
        p.declare_layer(name, graded=True, spike_ceiling=4)
    p.declare_layer("unknown", graded=True)
    t, b, n = 10, 2, 12
    for epoch in range(2):
        if epoch:
            p.next_epoch()
        for _ in range(6):
            p.record_step("in", (rng.random((t, b, n)) < 0.3).astype(np.float32))
            full = np.where(rng.random((t, b, n)) < 0.97, 4.0, 3.0)
            p.record_step("full", full.astype(np.float32))
            level = np.linspace(0.1, 0.6, n) * 4 * (1 + epoch) / 2  # mean spikes per step
            busy = np.clip(rng.poisson(level, (t, b, n)), 1, 4).astype(np.float32)
            p.record_step("busy", busy)
            p.record_step("unknown", busy)
    return p


def fired_scenario(one_step: bool) -> SpikeProfiler:
    """One epoch of a layer with known levels (threshold 1, rest 0) behind a firing
    input. ``one_step=False``: 'rare' fires once in 1200 observations (silent by rate)
    and its recorded voltages, taken after the reset as SpikingJelly and Norse give
    them, all lie below its threshold: it did reach the threshold, so no fix may say
    that its membrane stays short. ``one_step=True``: 'unseen' never fires and is
    recorded with its membrane after the last step only (voltages of one time step,
    all below rest): that cannot show that the membrane never rose, so it is not told
    that a lower threshold will not help."""
    rng = np.random.default_rng(5)
    p = SpikeProfiler(raster_window=16)
    p.declare_layer("in", role="input")
    name = "unseen" if one_step else "rare"
    p.declare_layer(name, threshold=1.0, resting_potential=0.0)
    t, b, n = 50, 4, 8
    for step in range(6):
        p.record_step("in", (rng.random((t, b, n)) < 0.3).astype(np.float32))
        spikes = np.zeros((t, b, n), dtype=np.float32)
        if one_step:
            p.record_step(name, spikes, -rng.random((b, n)))
            continue
        if step == 2:
            spikes[7, 1, 3] = 1.0
        p.record_step(name, spikes, 0.6 * rng.random((t, b, n)))
    return p


def blocked_scenario() -> SpikeProfiler:
    """Two epochs of a mostly silent hidden layer whose spike function passes no
    gradient where it does not fire (a Heaviside step: ``gradient_blocked``, a finding
    the browser shows as Python sent it) before a firing output layer whose input gets
    its gradient; the loss sits at ln 4."""
    rng = np.random.default_rng(9)
    p = SpikeProfiler(raster_window=16)
    p.declare_layer("in", role="input")
    t, b = 10, 8
    for epoch in range(2):
        if epoch:
            p.next_epoch()
        for _ in range(4):
            p.record_step("in", (rng.random((t, b, 32)) < 0.2).astype(np.float32))
            hid = np.zeros((t, b, 16), dtype=np.float32)
            hid[:, :, :2] = rng.random((t, b, 2)) < 0.3  # 2 of 16 neurons fire
            p.record_step("hid", hid)
            p.record_gradients("hid", rng.standard_normal((t, b, 16)))
            p.record_input_reach("hid", 14, 16)
            p.record_step("out", (rng.random((t, b, 4)) < 0.3).astype(np.float32))
            p.record_gradients("out", rng.standard_normal((t, b, 4)))
            p.record_input_reach("out", 0, 4)
            p.record_loss(float(np.log(4)) + 0.01 * rng.standard_normal(), n_classes=4)
    return p


def sparse_scenario() -> SpikeProfiler:
    """Two epochs of long sequences (400 steps) with sparse hidden layers, judged per
    sample: 'sparse' fires about 2 spikes per sample in every sample (rate 0.005 per
    step: healthy, it responds to the data); 'half' has 12 of its 24 neurons that never
    fire (dead); 'bunched' fires as often as 'sparse' but 16 of its 24 neurons put all
    their spikes into one sample of every 200 (dead: they fire in 0.5% of the samples);
    'stepwise' fires at the same rate recorded one time step at a time, without a time
    axis (no samples known: judged by its rate, dead). Over 1200 steps, 'ttfs' fires
    once per sample (time-to-first-spike coding) in 90% of the samples: a rate below
    0.001, but not silent; 'faint' fires once in 10% of them: silent."""
    rng = np.random.default_rng(9)
    p = SpikeProfiler(raster_window=16)
    p.declare_layer("in", role="input")
    p.declare_layer("out", role="output")
    t, b, n = 400, 4, 24
    for epoch in range(2):
        if epoch:
            p.next_epoch()
        for step in range(50):
            p.record_step("in", (rng.random((t, b, 32)) < 0.05).astype(np.float32))
            p.record_step("sparse", (rng.random((t, b, n)) < 0.005).astype(np.float32))
            p.record_step("half", (rng.random((t, b, n)) < np.r_[np.zeros(12),
                                                                 np.full(12, 0.005)]
                                   ).astype(np.float32))
            bunched = (rng.random((t, b, n)) < 0.005).astype(np.float32)
            bunched[:, :, :16] = 0.0
            if step % 50 == 7:  # one sample in 200: its spikes, 200 samples' worth
                bunched[:, 0, :16] = (rng.random((t, 16)) < 0.5).astype(np.float32)
            p.record_step("bunched", bunched)
            if step < 4:
                for _ in range(t // 8):
                    p.record_step("stepwise",
                                  (rng.random((b, n)) < 0.005).astype(np.float32))
            for name, share in (("ttfs", 0.9), ("faint", 0.1)):
                once = np.zeros((1200, b, 8), dtype=np.float32)
                fires = rng.random((b, 8)) < share
                rows, cols = np.nonzero(fires)
                once[rng.integers(0, 1200, len(rows)), rows, cols] = 1.0
                p.record_step(name, once)
            p.record_step("out", (rng.random((t, b, 6)) < 0.02).astype(np.float32))
            p.record_loss(1.2 + 0.05 * rng.standard_normal(), n_classes=6)
    return p


def eval_scenario() -> SpikeProfiler:
    """Two epochs of training and validation passes (the eval phase, whose report this
    is): 'h1' fires at 0.1 in training but at 0.012 in eval mode while the input fires
    alike (``eval_mode_shift``, a finding the browser shows as Python sent it), and
    'h2' after it goes dead there, following from it; 'out' fires alike."""
    rng = np.random.default_rng(9)
    p = SpikeProfiler(raster_window=16)
    p.declare_layer("in", role="input")
    p.declare_layer("out", role="output")
    t, b = 8, 8
    for epoch in range(2):
        if epoch:
            p.next_epoch()
        for phase, h1, h2 in ((p, 0.1, 0.1), (p.phase("eval"), 0.012, 0.004)):
            for _ in range(4):
                phase.record_step("in", (rng.random((t, b, 32)) < 0.2).astype(np.float32))
                phase.record_step("h1", (rng.random((t, b, 24)) < h1).astype(np.float32))
                phase.record_step("h2", (rng.random((t, b, 24)) < h2).astype(np.float32))
                phase.record_step("out", (rng.random((t, b, 6)) < 0.1).astype(np.float32))
                phase.record_loss(1.5 + 0.05 * rng.standard_normal(), n_classes=6)
    return p.phase("eval")


def threshold_draws(n: int, seed: int) -> list[Thresholds]:
    """Random constants within the sliders' ranges (order constraints respected)."""
    rng = random.Random(seed)
    specs = Thresholds.slider_specs()
    out = []
    while len(out) < n:
        values = {}
        for s in specs:
            if s["log"]:
                v = math.exp(rng.uniform(math.log(s["min"]), math.log(s["max"])))
            else:
                v = rng.uniform(s["min"], s["max"])
            values[s["name"]] = round(v) if s["integer"] else float(f"{v:.3g}")
        for low, high in (("dead_warning_fraction", "dead_critical_fraction"),
                          ("output_count_warning", "output_count_critical")):
            if values[low] > values[high]:
                values[low], values[high] = values[high], values[low]
        if values["dead_rate"] >= values["saturated_rate"]:
            continue
        out.append(Thresholds.from_dict(values))
    return out


def report_cases(p: SpikeProfiler, draws: int = 14) -> list[dict[str, Any]]:
    """[thresholds, epoch] -> the findings and class counts Python reports."""
    th_list = [Thresholds(), Thresholds(dead_rate=float(3 / 240), saturated_rate=0.95,
                                        dead_warning_fraction=0.0, voltage_collapse_min_steps=12),
               Thresholds(loss_chance_window=10)]
    th_list += threshold_draws(draws, seed=11)
    cases = []
    for e in p.epochs:
        for th in th_list:
            rep = p.report(thresholds=th, epoch=e)
            cases.append({
                "epoch": e, "thresholds": th.to_dict(),
                "findings": [finding_dict(x) for x in rep.pathologies],
                "counts": {name: [st.dead_neuron_count, st.saturated_neuron_count]
                           for name, st in rep.layer_stats.items()},
            })
    return cases


def build_vectors() -> dict[str, Any]:
    p, levels, wiring, depth, ceiling = (scenario(), levels_scenario(), wiring_scenario(),
                                         depth_scenario(), ceiling_scenario())
    fired, one_step = fired_scenario(False), fired_scenario(True)
    routes = routes_scenario()
    heads = heads_scenario()
    blocked = blocked_scenario()
    sparse = sparse_scenario()
    evaluated = eval_scenario()
    return {
        "about": "generated by tests/shared_vectors/make_vectors.py from the Python core",
        "format": format_cases(),
        "classify": classify_cases(),
        "payload": to_jsonable(PayloadBuilder(p).full()),
        "reports": report_cases(p),
        "levels": {"payload": to_jsonable(PayloadBuilder(levels).full()),
                   "reports": report_cases(levels, draws=4)},
        "wiring": {"payload": to_jsonable(PayloadBuilder(wiring).full()),
                   "reports": report_cases(wiring, draws=4)},
        "depth": {"payload": to_jsonable(PayloadBuilder(depth).full()),
                  "reports": report_cases(depth, draws=6)},
        "ceiling": {"payload": to_jsonable(PayloadBuilder(ceiling).full()),
                    "reports": report_cases(ceiling, draws=8)},
        "fired": {"payload": to_jsonable(PayloadBuilder(fired).full()),
                  "reports": report_cases(fired, draws=4)},
        "one_step": {"payload": to_jsonable(PayloadBuilder(one_step).full()),
                     "reports": report_cases(one_step, draws=4)},
        "routes": {"payload": to_jsonable(PayloadBuilder(routes).full()),
                   "reports": report_cases(routes, draws=4)},
        "heads": {"payload": to_jsonable(PayloadBuilder(heads).full()),
                  "reports": report_cases(heads, draws=4)},
        "blocked": {"payload": to_jsonable(PayloadBuilder(blocked).full()),
                    "reports": report_cases(blocked, draws=4)},
        "sparse": {"payload": to_jsonable(PayloadBuilder(sparse).full()),
                   "reports": report_cases(sparse, draws=6)},
        "eval": {"payload": to_jsonable(PayloadBuilder(evaluated).full()),
                 "reports": report_cases(evaluated, draws=4)},
    }


def dumps(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=None, separators=(",", ":"), allow_nan=False) + "\n"


if __name__ == "__main__":
    VECTORS.write_text(dumps(build_vectors()), encoding="utf-8")
    print(f"wrote {VECTORS}")
