"""A loaded profile continues exactly as the original would, and NumPy numbers are
accepted wherever Python numbers are (issue 15, a first slice)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from spikewidget import SpikeProfiler, Thresholds
from tests.conftest import fingerprint

OPS = st.lists(st.sampled_from(["step", "gradient", "epoch", "loss", "eval", "declare",
                                "other"]), min_size=1, max_size=14)


def apply(p: SpikeProfiler, ops: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    for op in ops:
        if op == "step":
            p.record_step("hidden", (rng.random((5, 3, 12)) < 0.3).astype(np.float32),
                          voltages=rng.standard_normal((5, 3, 12)))
        elif op == "gradient" and "hidden" in p.layers:
            p.record_gradients("hidden", rng.standard_normal((5, 3, 12)))
        elif op == "epoch":
            p.next_epoch()
        elif op == "loss":
            p.record_loss(float(rng.uniform(0.5, 3.0)), n_classes=5)
        elif op == "eval":  # a validation pass: its own phase, saved inside the file
            p.phase("eval").record_step("hidden", (rng.random((5, 3, 12)) < 0.2)
                                        .astype(np.float32))
            p.phase("eval").record_loss(float(rng.uniform(0.5, 3.0)))
        elif op == "declare":
            p.declare_layer("hidden", role="output", fan_out=7)
        elif op == "other":  # a second layer, recorded after the first
            p.record_step("readout", rng.integers(0, 4, (5, 3, 4)).astype(np.float32))


def summary_of(p: SpikeProfiler) -> tuple:
    rep = p.report() if p.epochs else None
    if rep is None:
        return ()
    st_ = rep.layer_stats.get("hidden")
    per_epoch = {e: p.report(epoch=e).layer_stats.get("hidden") for e in p.epochs}
    evals = p.report(phase="eval").summary() if "eval" in p.phases else None
    return (rep.summary(), evals,
            [(f.category, f.layer, f.epoch, f.step) for f in rep.pathologies],
            None if st_ is None else (st_.gradient_steps, st_.gradient_norm_mean),
            {e: None if s is None else (s.n_steps, s.gradient_steps) for e, s in
             per_epoch.items()})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=OPS, after=OPS, seed=st.integers(0, 2**16))
def test_a_loaded_profile_continues_exactly_as_the_original(before, after, seed):
    """Record, save, load, record more (gradients into the layer's latest epoch
    included): the same statistics and findings as one profiler that never stopped."""
    original = SpikeProfiler()
    apply(original, before, seed)
    loaded = SpikeProfiler.from_bytes(original.to_bytes())
    apply(original, after, seed + 1)
    apply(loaded, after, seed + 1)
    assert summary_of(loaded) == summary_of(original)
    assert fingerprint(loaded) == fingerprint(original)


def test_gradients_after_a_reload_go_to_the_layer_s_latest_epoch(rng):
    p = SpikeProfiler()
    for _ in range(3):
        p.next_epoch()
    p.record_step("hidden", (rng.random((4, 10)) < 0.3).astype(np.float32))  # epoch 3
    p.next_epoch()  # epoch 4 begins, nothing recorded in it yet
    q = SpikeProfiler.from_bytes(p.to_bytes())
    q.record_gradients("hidden", rng.standard_normal((4, 10)))  # no error; into epoch 3
    assert q.report(epoch=3).layer_stats["hidden"].gradient_steps == 1


def test_numpy_numbers_are_accepted_and_saved_as_plain_numbers(tmp_path):
    th = Thresholds(dead_rate=np.float32(0.02), loss_chance_window=np.int64(10))
    assert th.dead_rate == pytest.approx(0.02) and th.loss_chance_window == 10
    assert type(th.loss_chance_window) is int
    p = SpikeProfiler(thresholds={"saturated_rate": np.float64(0.9)},
                      raster_window=np.int64(8))
    p.declare_layer("conv", neuron_axes=np.int64(3))
    p.record_step("conv", np.zeros((2, 2, 3, 4, 4), np.float32), epoch=np.int64(1))
    p.record_step("hidden", np.ones((2, 5), np.float32), neuron_axes=np.int32(1))
    p.save(tmp_path / "run.npz")  # once failed: int64 is not JSON serializable
    q = SpikeProfiler.load(tmp_path / "run.npz")
    assert q.neuron_axes("conv") == 3 and q.raster_window == 8
    assert q.report().layer_stats["conv"].neuron_shape == (3, 4, 4)


def test_watch_takes_numpy_integers_for_time_steps_and_every():
    model = nn.Sequential(nn.Linear(6, 4))
    p = SpikeProfiler()
    with p.watch(model, layers=["0"], time_steps=np.int64(3), every=np.int64(1)) as h:
        for _ in range(3):
            model(torch.rand(2, 6))
    assert h.time_steps == 3 and type(h.time_steps) is int
    assert p.report().layer_stats["0"].n_steps == 1
    with pytest.raises(Exception, match="time_steps must be a whole number"):
        p.watch(model, time_steps=np.float64(3.0))


# ------------------------------------------------------------- bad arguments
@pytest.fixture
def recorded(rng):
    p = SpikeProfiler()
    p.record_step("hidden", (rng.random((4, 10)) < 0.3).astype(np.float32))
    p.next_epoch()
    p.record_step("hidden", (rng.random((4, 10)) < 0.3).astype(np.float32))
    return p


def test_epochs_given_as_arrays_or_tensors_select_or_fail_clearly(recorded):
    assert recorded.report(epoch=np.int64(1)).epochs == (1,)
    assert recorded.report(epoch=np.array(1)).epochs == (1,)
    assert recorded.report(epoch=torch.tensor(0)).epochs == (0,)
    assert recorded.report(epoch=np.array([0, 1])).epochs == (0, 1)
    with pytest.raises(Exception, match="epoch"):
        recorded.report(epoch=np.array(0.5))


def test_epoch_out_of_range_is_refused_before_anything_is_counted(recorded, rng):
    before = recorded.report().layer_stats["hidden"].n_steps
    with pytest.raises(Exception, match=r"epoch must be a whole number from 0 to 2147483647"):
        recorded.record_step("hidden", np.zeros((4, 10), np.float32), epoch=2**63)
    assert recorded.report().layer_stats["hidden"].n_steps == before
    assert recorded.epochs == [0, 1]


@pytest.mark.parametrize("layers,match", [(3, "layers must be a layer name"),
                                          (b"hidden", "layers must be a layer name"),
                                          ([b"hidden"], "each must be a layer name")])
def test_layers_that_are_not_names_get_a_clear_error(recorded, layers, match):
    with pytest.raises(Exception, match=match):
        recorded.report(layers=layers)


def test_threshold_names_that_are_not_strings_get_a_clear_error(recorded):
    with pytest.raises(Exception, match="threshold names must be strings"):
        recorded.report(thresholds={1: 0.1})


def test_a_layer_cannot_take_the_loss_s_name(recorded):
    with pytest.raises(Exception, match="reserved for the recorded loss"):
        recorded.record_step("loss", np.zeros((4, 10), np.float32))
    assert recorded.layers == ["hidden"]


def test_a_loss_too_large_for_a_float_is_a_finding(recorded):
    recorded.record_loss(10**400)
    [f] = [x for x in recorded.report().pathologies if x.category == "non_finite_values"]
    assert f.layer == "loss"


def test_control_characters_in_layer_names_are_shown_escaped(rng):
    p = SpikeProfiler()
    evil = "h\x1b[2J\n  [critical] fake_finding @ x: all is lost"
    p.record_step(evil, np.zeros((4, 10), np.float32))  # silent: a real finding names it
    text = p.report().summary()
    assert "\x1b" not in text
    assert "\n  [critical] fake_finding" not in text
    assert "h\\x1b[2J\\n  [critical] fake_finding" in text
    lines = text.splitlines()
    assert any(x.startswith("  [critical] silent_network @ h\\x1b") for x in lines)
    assert not any(x.lstrip().startswith("[critical] fake_finding") for x in lines)


def test_merging_declarations_does_not_depend_on_the_order(rng):
    def made(graded: bool) -> SpikeProfiler:
        p = SpikeProfiler()
        if graded:
            p.declare_layer("sew", graded=True)  # SEW-ResNet ADD: values of 2 intended
        p.record_step("sew", rng.integers(0, 3, size=(6, 4, 10)).astype(np.float32))
        return p

    for first, second in ((True, False), (False, True)):
        a, b = made(first), made(second)
        a.merge(b)
        assert "non_binary_spikes" not in {f.category for f in a.report().pathologies}
        assert a.report().layer_stats["sew"].graded


def test_merging_conflicting_declarations_is_refused_and_changes_nothing(rng):
    a, b = SpikeProfiler(), SpikeProfiler()
    a.declare_layer("lif", role="output")
    b.declare_layer("lif", role="hidden")
    for p in (a, b):
        p.record_step("lif", (rng.random((4, 2, 5)) < 0.3).astype(np.float32))
    with pytest.raises(Exception, match="declared role='output' here but role='hidden'"):
        a.merge(b)
    assert a.report().layer_stats["lif"].n_steps == 1


def test_reports_racing_resets_are_consistent_snapshots():
    """One thread records and resets, another builds reports and widget payloads:
    every report is whole (no KeyError from a layer that vanished mid-report)."""
    import threading

    from spikewidget.present.payload import PayloadBuilder

    p = SpikeProfiler()
    rng = np.random.default_rng(0)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        while not stop.is_set():
            for e in range(3):
                p.record_step("hidden", (rng.random((4, 3, 20)) < 0.2).astype(np.float32),
                              epoch=e)
            p.reset()

    def reader() -> None:
        builder = PayloadBuilder(p)
        try:
            for _ in range(300):
                rep = p.report()
                assert all(s.n_steps > 0 for s in rep.layer_stats.values())
                builder.update()
        except BaseException as exc:  # the test fails on any of them
            errors.append(exc)

    w = threading.Thread(target=writer)
    r = threading.Thread(target=reader)
    w.start()
    r.start()
    r.join(timeout=120)
    stop.set()
    w.join(timeout=30)
    assert errors == []


def test_merging_levels_and_wiring_does_not_depend_on_the_order(rng):
    """Firing levels both declare alike stay; levels that differ (another run's
    threshold) become unknown rather than one run's; the feeds are those either knew."""
    def made(threshold: float, feeds: list[str]) -> SpikeProfiler:
        p = SpikeProfiler()
        p.declare_layer("lif", threshold=threshold, resting_potential=0.0, fed_by=feeds)
        p.record_step("lif", np.zeros((4, 2, 5), np.float32),
                      voltages=rng.random((4, 2, 5)).astype(np.float32) * 0.5)
        return p

    for first, second in ((1.0, 1.0), (1.0, 2.0), (2.0, 1.0)):
        a, b = made(first, ["x"]), made(second, ["y"])
        a.merge(b)
        st = a.report().layer_stats["lif"]
        assert st.fed_by == ("x", "y")
        assert st.threshold == (first if first == second else None)
        assert st.resting_potential == (0.0 if first == second else None)
        [silent] = a.report().by_category("silent_network")
        assert ("threshold" in silent.message) is (first == second), silent.message
