"""Exploding and vanishing gradients, judged the way a user needs them judged.

The stories: a 50-step run with one blown-up step (the tutorial's "max/mean > 100x"
can never fire under 100 steps), a norm growing 1.1x per step for 200 steps (max/mean
about 18), a narrow input-side layer beside a wide one whose every value has the same
gradient scale (the L2 norms differ by sqrt of the widths), and a vanishing gradient
whose cause is a dead or silent layer, not the depth.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from spikewidget import DATA, Severity, SpikeProfiler
from spikewidget.diagnose.routes import blocked_routes
from spikewidget.state.epoch_stats import GRADIENT_HEAD, merge_all
from tests.conftest import bernoulli, fingerprint


def findings(p: SpikeProfiler, category: str, **kw):
    return [f for f in p.report(**kw).pathologies if f.category == category]


def record_norms(p: SpikeProfiler, rng, norms, layer: str = "h", shape=(8, 20),
                 rate: float = 0.2) -> None:
    """One step per norm: healthy spikes, a random gradient of exactly that L2 norm."""
    for norm in norms:
        g = rng.normal(size=shape)
        p.record_step(layer, bernoulli(rng, shape, rate), gradients=g * (norm / np.linalg.norm(g)))


def noisy(rng, n: int, sigma: float = 0.3) -> np.ndarray:
    return np.exp(sigma * rng.standard_normal(n))


# ------------------------------------------------------------------ explosion
def test_one_blown_up_step_in_a_50_step_run_is_an_explosion(rng):
    norms = noisy(rng, 50)
    norms[31] = 1e4
    p = SpikeProfiler()
    record_norms(p, rng, norms)
    st = p.report().layer_stats["h"]
    assert st.gradient_norm_max / st.gradient_norm_mean < 50  # the old trigger cannot fire
    [f] = findings(p, "gradient_explosion")
    assert f.severity is Severity.CRITICAL and f.layer == "h"
    base = float(np.median(norms[:GRADIENT_HEAD]))
    typical = float(np.exp(np.log(norms).mean()))
    assert f.metric_value == pytest.approx(1e4 / base)
    assert f.message == (
        f"Surrogate-gradient norm peaks at 1e+04 at step 31, {1e4 / base:.0f}x the median "
        f"{base:.3g} of its first {GRADIENT_HEAD} records and {1e4 / typical:.0f}x its "
        f"geometric mean {typical:.3g} (threshold 100x)")
    assert "Clip gradients" in f.suggestion


def test_a_spike_among_the_first_records_is_judged_against_their_median(rng):
    norms = noisy(rng, 10)
    norms[2] = 1e3  # inside the baseline window: the median does not move with it
    p = SpikeProfiler()
    record_norms(p, rng, norms)
    [f] = findings(p, "gradient_explosion")
    assert "at step 2" in f.message and f.metric_value > 500


def test_steady_growth_of_1_1x_per_step_over_200_steps_is_an_explosion(rng):
    norms = 1e-3 * 1.1 ** np.arange(200) * noisy(rng, 200, sigma=0.1)
    p = SpikeProfiler()
    record_norms(p, rng, norms)
    st = p.report().layer_stats["h"]
    assert st.gradient_norm_max / st.gradient_norm_mean < 25  # max/mean reads ~18
    assert st.gradient_growth_per_step == pytest.approx(1.1, rel=0.01)
    [f] = findings(p, "gradient_explosion")
    assert f.message.startswith("Surrogate-gradient norm grows steadily, 1.1x per step from "
                                "step 0 to 199:")
    assert f.metric_value == pytest.approx(st.gradient_growth)
    assert f.metric_value == pytest.approx(1.1 ** 199, rel=0.5)
    assert f"{st.gradient_growth:.3g}x in all by a log-linear fit (threshold 100x)" in f.message


def test_slow_growth_below_the_threshold_and_healthy_noise_are_not_explosions(rng):
    wake = np.r_[np.geomspace(1e-4, 1.0, 60), np.ones(240)]  # a quiet start, then steady
    step = np.r_[np.full(150, 1e-3), np.ones(150)]  # silent half the run, then learning
    for norms in (noisy(rng, 300, sigma=0.5),  # flat and noisy, 300 steps
                  1.01 ** np.arange(300) * noisy(rng, 300),  # 20x over the run
                  10.0 * 0.98 ** np.arange(300) * noisy(rng, 300),  # decaying 400x
                  wake * noisy(rng, 300), step * noisy(rng, 300), noisy(rng, 3)):
        p = SpikeProfiler()
        record_norms(p, rng, norms)
        assert findings(p, "gradient_explosion") == []


def test_the_explosion_knob_is_the_factor_over_the_baseline(rng):
    norms = noisy(rng, 40, sigma=0.05)
    norms[20] = 30.0
    p = SpikeProfiler()
    record_norms(p, rng, norms)
    assert findings(p, "gradient_explosion") == []
    [f] = findings(p, "gradient_explosion", thresholds={"gradient_explosion_ratio": 20})
    assert "(threshold 20x)" in f.message and 25 < f.metric_value < 35


def test_an_explosion_in_a_later_epoch_is_found_in_that_epoch(rng):
    p = SpikeProfiler()
    record_norms(p, rng, noisy(rng, 30))
    p.next_epoch()
    norms = noisy(rng, 30)
    norms[-1] = 1e5
    record_norms(p, rng, norms)
    assert findings(p, "gradient_explosion", epoch=0) == []
    [f] = findings(p, "gradient_explosion", epoch=1)
    assert "at step 59" in f.message
    [g] = findings(p, "gradient_explosion")  # all epochs: the median of epoch 0's first
    assert g.epoch == 1 and "at step 59" in g.message


# ------------------------------------------------------------------ vanishing
def record_layers(p: SpikeProfiler, rng, layers, steps: int = 5, rate: float = 0.2) -> None:
    """``layers``: (name, neuron shape, gradient scale per value), in model order."""
    for _ in range(steps):
        for name, shape, scale in layers:
            lead = (4, 2)
            p.record_step(name, bernoulli(rng, (*lead, *shape), rate),
                          gradients=scale * rng.normal(size=(*lead, *shape)),
                          neuron_axes=len(shape))


def test_a_narrow_layer_beside_a_wide_one_with_equal_scale_is_not_vanishing(rng):
    p = SpikeProfiler()
    record_layers(p, rng, [("narrow", (4,), 1.0), ("wide", (64, 32, 32), 1.0)])
    a, b = (p.report().layer_stats[n] for n in ("narrow", "wide"))
    assert b.gradient_norm_mean / a.gradient_norm_mean > 100  # what the L2 norms say
    assert b.gradient_rms_mean / a.gradient_rms_mean == pytest.approx(1.0, rel=0.1)
    assert findings(p, "gradient_vanishing") == []


def test_a_wide_stem_with_small_per_value_gradients_is_not_vanishing(rng):
    """A conv stem of 65,536 values in front of narrow layers: each value gets a small
    share of the gradient (1000x less than the readout's), but its norm is within 10x:
    the stem learns, and skip connections would not be the fix."""
    p = SpikeProfiler()
    record_layers(p, rng, [("fc1", (64, 32, 32), 1e-3), ("fc2", (30,), 1e-2),
                           ("fc3", (4,), 1.0)])
    st = p.report().layer_stats
    assert st["fc3"].gradient_rms_mean / st["fc1"].gradient_rms_mean > 100
    assert st["fc3"].gradient_norm_mean / st["fc1"].gradient_norm_mean < 100
    assert findings(p, "gradient_vanishing") == []


def test_a_real_vanishing_gradient_is_caught_per_value_and_in_norm(rng):
    p = SpikeProfiler()
    record_layers(p, rng, [("fc1", (64, 32, 32), 1e-5), ("fc2", (30,), 1e-2),
                           ("fc3", (4,), 1.0)])
    st = p.report().layer_stats
    [f] = findings(p, "gradient_vanishing")
    assert f.layer == "fc1" and f.severity is Severity.CRITICAL
    assert f.metric_value == pytest.approx(1e5, rel=0.1)
    rms1, rms3 = st["fc1"].gradient_rms_mean, st["fc3"].gradient_rms_mean
    n1, n3 = st["fc1"].gradient_norm_mean, st["fc3"].gradient_norm_mean
    assert f.message == (f"Gradients reaching 'fc1' are {rms3 / rms1:.0f}x smaller per value "
                         f"(RMS {rms1:.3g} vs {rms3:.3g}) and {n3 / n1:.0f}x smaller in norm "
                         f"than at 'fc3': the input-side layers barely learn")
    assert f.suggestion.startswith("Add skip connections")


def test_vanishing_through_a_silent_layer_names_it_instead_of_skip_connections(rng):
    p = SpikeProfiler()
    for _ in range(5):
        p.record_step("hidden", bernoulli(rng, (10, 4, 50), 0.2),
                      gradients=1e-6 * rng.normal(size=(10, 4, 50)))
        p.record_step("output", np.zeros((10, 4, 10), np.float32),
                      gradients=rng.normal(size=(10, 4, 10)))
    rep = p.report()
    assert [f.layer for f in rep.by_category("silent_network")] == ["output"]
    [f] = rep.by_category("gradient_vanishing")
    assert f.layer == "hidden"
    assert "because 'output' is silent (highest firing rate 0): a layer that seldom fires " \
           "passes almost no surrogate gradient" in f.message
    assert not f.suggestion.startswith("Add skip")
    # the silent layer is the root cause: the vanishing points at it, no second fix
    assert f.cause == "silent_network @ output"
    assert f.suggestion == "Follows from silent_network at 'output': fix that first"


def test_a_mostly_dead_layer_between_is_named_as_the_cause(rng):
    p = SpikeProfiler()
    rates = np.r_[np.zeros(45), np.full(5, 0.3)]  # 90% of 'mid' never fires
    for _ in range(5):
        p.record_step("first", bernoulli(rng, (10, 4, 30), 0.2),
                      gradients=1e-5 * rng.normal(size=(10, 4, 30)))
        p.record_step("mid", (rng.random((10, 4, 50)) < rates).astype(np.float32))
        p.record_step("last", bernoulli(rng, (10, 4, 30), 0.2),
                      gradients=rng.normal(size=(10, 4, 30)))
    [f] = findings(p, "gradient_vanishing")
    assert f.layer == "first" and "because 'mid' has 90% dead neurons" in f.message
    # the cause follows the dead-neuron constants: at a 95% critical share it is no cause
    [g] = findings(p, "gradient_vanishing", thresholds={"dead_critical_fraction": 0.95})
    assert "because" not in g.message and g.suggestion.startswith("Add skip connections")


def record_branches(p: SpikeProfiler, rng, stream_fires: bool) -> None:
    """'first' feeds a silent 'branch' and a 'stream'; 'last' is fed by both (the
    wiring declared as watch learns it); the gradient at 'first' is 1e5x smaller.
    ``stream_fires``: the stream is a route around the branch, else silent too."""
    wiring = {"first": [DATA], "branch": ["first"], "stream": ["first"],
              "last": ["branch", "stream"]}
    for name, feeds in wiring.items():
        p.declare_layer(name, fed_by=feeds)
    for _ in range(5):
        p.record_step("first", bernoulli(rng, (10, 4, 30), 0.2),
                      gradients=1e-5 * rng.normal(size=(10, 4, 30)))
        p.record_step("branch", np.zeros((10, 4, 30), np.float32))
        p.record_step("stream", bernoulli(rng, (10, 4, 30), 0.2 if stream_fires else 0.0))
        p.record_step("last", bernoulli(rng, (10, 4, 30), 0.2),
                      gradients=rng.normal(size=(10, 4, 30)))


def test_a_silent_branch_beside_a_firing_route_does_not_explain_the_gap(rng):
    """By the wiring, the gradient has a route around the silent branch (the stream
    fires): the gap is the depth's, with its own fix, and the branch's silence gets its
    own finding. Silence the stream too and every route is starved: both are named."""
    p = SpikeProfiler()
    record_branches(p, rng, stream_fires=True)
    [f] = findings(p, "gradient_vanishing")
    assert "because" not in f.message and f.cause is None, f.message
    assert f.suggestion.startswith("Add skip connections")
    assert [s.cause for s in findings(p, "silent_network")] == [None]
    q = SpikeProfiler()
    record_branches(q, rng, stream_fires=False)
    [g] = findings(q, "gradient_vanishing")
    assert "because 'branch' is silent" in g.message and "'stream' is silent" in g.message
    assert g.cause == "silent_network @ branch"


def test_a_layer_no_gradient_reaches_leaves_the_one_step_gap_in_view(rng):
    """A silent block that gets no gradient at all (0) beside a stream that carries
    it: the gap in one step, at the head, is still seen among the layers the gradient
    reaches, and no skip connections are asked of a network with a route around."""
    p = SpikeProfiler()
    wiring = {"first": [DATA], "block": ["first"], "stream": ["first"],
              "head": ["block", "stream"]}
    for name, feeds in wiring.items():
        p.declare_layer(name, fed_by=feeds)
    for _ in range(5):
        for name, scale in (("first", 1e-5), ("block", 0.0), ("stream", 2e-5),
                            ("head", 1.0)):
            rate = 0.0 if name == "block" else 0.2
            p.record_step(name, bernoulli(rng, (10, 4, 30), rate),
                          gradients=scale * rng.normal(size=(10, 4, 30)))
    [f] = findings(p, "gradient_vanishing")
    assert f.severity is Severity.WARNING and "from 'head' to 'stream'" in f.message
    assert "add skip connections" not in f.suggestion.lower()


def test_blocked_routes_follow_the_wiring_and_give_up_where_it_is_unknown():
    order = {name: i for i, name in enumerate(["a", "b", "c", "d", "e"])}
    wiring = {"a": [DATA], "b": ["a"], "c": ["a"], "d": ["b", "c", "e"], "e": ["d"]}
    assert blocked_routes("a", order, wiring, {"b"}) == frozenset()  # c goes round it
    assert blocked_routes("a", order, wiring, {"b", "c"}) == {"b", "c"}
    assert blocked_routes("a", order, wiring, {"a"}) == {"a"}  # the layer itself
    assert blocked_routes("a", order, wiring, {"e"}) == {"e"}  # the output: every route
    assert blocked_routes("d", order, wiring, {"b", "c"}) == frozenset()  # behind it
    assert blocked_routes("a", order, wiring, {"b", "c"}, end="c") == {"b", "c"}
    assert blocked_routes("a", order, {**wiring, "d": None}, {"b"}) is None
    assert blocked_routes("x", order, wiring, {"b"}) is None


# ------------------------------------------------------------------ statistics
def two_epochs(p: SpikeProfiler, rng_seed: int, as_torch: bool = False) -> None:
    rng = np.random.default_rng(rng_seed)
    for epoch in range(2):
        for step in range(24):
            g = rng.normal(size=(6, 3, 12)) * 1.2 ** (24 * epoch + step)
            if step == 7:
                g[0, 0, 0] = np.nan
            x = bernoulli(rng, (6, 3, 12), 0.3)
            if as_torch:
                import torch
                x, g = torch.from_numpy(x), torch.from_numpy(g)
            p.record_step("h", x, gradients=g, epoch=epoch)


@pytest.mark.parametrize("epoch", [0, 1, "all"])
def test_the_device_path_measures_every_gradient_statistic_like_the_host(epoch):
    pytest.importorskip("torch")
    host, device = SpikeProfiler(backend="numpy"), SpikeProfiler(backend="torch")
    two_epochs(host, 5)
    two_epochs(device, 5, as_torch=True)
    a, b = host.report(epoch=epoch).layer_stats["h"], device.report(epoch=epoch).layer_stats["h"]
    assert (a.gradient_steps, a.gradient_baseline_records, a.gradient_peak_step,
            a.gradient_growth_steps) == (b.gradient_steps, b.gradient_baseline_records,
                                         b.gradient_peak_step, b.gradient_growth_steps)
    for name in ("gradient_norm_baseline", "gradient_growth", "gradient_growth_per_step",
                 "gradient_rms_mean", "gradient_norm_max"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-12, nan_ok=True), name
    assert a.gradient_growth_per_step == pytest.approx(1.2, rel=0.02)


def test_merging_profilers_and_epochs_equals_recording_once(rng):
    whole, first, second = SpikeProfiler(), SpikeProfiler(), SpikeProfiler()
    norms = 0.1 * 1.05 ** np.arange(60) * noisy(rng, 60)
    norms[40] = 500.0
    spikes = [bernoulli(rng, (8, 20), 0.2) for _ in norms]
    grads = [rng.normal(size=(8, 20)) for _ in norms]
    for i, (x, g, n) in enumerate(zip(spikes, grads, norms, strict=True)):
        g = g * n / np.linalg.norm(g)
        whole.record_step("h", x, gradients=g, epoch=i // 20)
        # two processes each see every step (like DDP ranks), half of them with gradients
        first.record_step("h", x, gradients=g if i % 2 == 0 else None, epoch=i // 20)
        second.record_step("h", x, gradients=g if i % 2 else None, epoch=i // 20)
    for order in ((first, second), (second, first)):
        merged = SpikeProfiler()
        for part in order:
            merged.merge(part)
        a, b = whole.report().layer_stats["h"], merged.report().layer_stats["h"]
        assert b.gradient_steps == 60 and b.gradient_peak_step == a.gradient_peak_step == 40
        assert b.gradient_norm_baseline == a.gradient_norm_baseline
        assert b.gradient_growth_steps == a.gradient_growth_steps
        for name in ("gradient_growth", "gradient_rms_mean", "gradient_norm_geomean"):
            assert getattr(b, name) == pytest.approx(getattr(a, name), rel=1e-9, nan_ok=True)
        acc = merge_all([merged.snapshot().layers["h"].epochs[e] for e in (0, 1, 2)])
        ref = merge_all([whole.snapshot().layers["h"].epochs[e] for e in (0, 1, 2)])
        assert (acc.t_n, acc.t_first, acc.t_last) == (ref.t_n, ref.t_first, ref.t_last) \
            == (60, 0, 59)
        assert [acc.t_mean_x, acc.t_mean_y, acc.t_m2x, acc.t_m2y, acc.t_cxy] == pytest.approx(
            [ref.t_mean_x, ref.t_mean_y, ref.t_m2x, ref.t_m2y, ref.t_cxy], rel=1e-9)
        assert [f.message for f in merged.report().pathologies] == \
            [f.message for f in whole.report().pathologies]


def test_gradient_statistics_round_trip_and_old_profiles_still_load(rng, tmp_path):
    p = SpikeProfiler()
    record_norms(p, rng, 1.1 ** np.arange(40))
    record_norms(p, rng, np.ones(40), layer="out")
    path = tmp_path / "run.npz"
    p.save(path)
    loaded = SpikeProfiler.load(path)
    assert fingerprint(loaded) == fingerprint(p)
    assert loaded.report().summary() == p.report().summary()
    # a version-2 file, written before these statistics existed (nor the spike
    # events of graded layers, a per-neuron array of version 3)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files if not k.endswith("_spike_events")}
    meta = json.loads(arrays["meta"].tobytes())
    meta["version"] = 2
    later = ("g_rms_sum", "g_max_step", "g_head", "g_head_steps", "t_n", "t_mean_x",
             "t_mean_y", "t_m2x", "t_m2y", "t_cxy", "t_first", "t_last",
             "nf_input_gradients", "first_nf_input_gradients")
    for layer in meta["layers"]:
        for ep in layer["epochs"]:
            for k in later:
                del ep[k]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    old = tmp_path / "old.npz"
    np.savez(old, **arrays)
    st = SpikeProfiler.load(old).report().layer_stats["h"]
    assert st.gradient_steps == 40 and st.gradient_norm_max == pytest.approx(1.1 ** 39)
    assert math.isnan(st.gradient_rms_mean) and math.isnan(st.gradient_norm_baseline)
    rep = SpikeProfiler.load(old).report()
    assert rep.by_category("gradient_vanishing") == []  # not measured is not vanished


def test_gradient_memory_does_not_grow_with_the_number_of_steps(rng):
    p = SpikeProfiler()
    record_norms(p, rng, noisy(rng, 50))
    size = len(json.dumps(p.snapshot().layers["h"].epochs[0].scalars()))
    record_norms(p, rng, noisy(rng, 500))
    acc = p.snapshot().layers["h"].epochs[0]
    assert len(acc.g_head) == GRADIENT_HEAD and acc.g_head_steps == list(range(GRADIENT_HEAD))
    assert len(json.dumps(acc.scalars())) <= size + 64


def test_a_gap_in_one_step_is_a_warning_that_names_the_step_not_skip_connections(rng):
    """Five branch layers at alike, tiny gradients (a zero-init residual branch's), then
    the head at 500x more: the whole gap is one step, the layers either side flat."""
    p = SpikeProfiler()
    layers = [(f"b{i}", (40,), 2e-6 * (1 + 0.3 * i)) for i in range(5)]
    record_layers(p, rng, [*layers, ("head", (40,), 1e-3)])
    [f] = findings(p, "gradient_vanishing")
    assert (f.layer, f.severity) == ("b0", Severity.WARNING)
    assert "nearly all of it in one step" in f.message
    assert "from 'head' to 'b4'" in f.message and "within 10x" in f.message
    assert "would not help" in f.suggestion and "Add skip" not in f.suggestion
    assert "between 'b4' and 'head'" in f.suggestion


@pytest.mark.parametrize("scales", [
    [1e-4, 1e-3, 1e-2, 1e-1, 1.0],      # 10x at every layer: depth
    [1e-5, 1e-4, 3e-4, 1e-2, 1.0],      # its largest step (100x) has a steep side
])
def test_a_gap_that_grows_layer_after_layer_keeps_the_depth_fix(rng, scales):
    p = SpikeProfiler()
    record_layers(p, rng, [(f"fc{i}", (40,), s) for i, s in enumerate(scales)])
    [f] = findings(p, "gradient_vanishing")
    assert f.severity is Severity.CRITICAL and "one step" not in f.message
    assert f.suggestion.startswith("Add skip connections")
