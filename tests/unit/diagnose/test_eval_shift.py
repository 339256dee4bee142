"""eval_mode_shift: the eval phase's report compares each layer with its training
passes of the same epochs (SpikingJelly #559: spikes that die in eval mode). Recorded
by hand: an input, two hidden layers and an output, rates chosen per phase."""

from __future__ import annotations

import numpy as np
import pytest

from spikewidget import SpikeProfiler


def record(prof: SpikeProfiler, rates: dict[str, float], rng: np.random.Generator,
           steps: int = 4) -> None:
    for _ in range(steps):
        for name, rate in rates.items():
            prof.record_step(name, (rng.random((8, 16, 32)) < rate).astype(np.float32))


def profile(train: dict[str, float], evaluate: dict[str, float], epochs: int = 2,
            eval_steps: int = 4) -> SpikeProfiler:
    rng = np.random.default_rng(3)
    prof = SpikeProfiler()
    prof.declare_layer("in", role="input")
    prof.declare_layer("out", role="output")
    for e in range(epochs):
        if e:
            prof.next_epoch()
        record(prof, train, rng)
        record(prof.phase("eval"), evaluate, rng, eval_steps)
    return prof


TRAIN = {"in": 0.2, "h1": 0.1, "h2": 0.1, "out": 0.1}


def shifts(report) -> list[tuple[str, str]]:
    return [(p.layer, p.severity.value) for p in report.pathologies
            if p.category == "eval_mode_shift"]


def test_a_layer_that_fires_far_less_in_eval_mode_is_the_one_root():
    prof = profile(TRAIN, {"in": 0.2, "h1": 0.015, "h2": 0.002, "out": 0.0})
    ev = prof.report(phase="eval")
    assert shifts(ev) == [("h1", "critical")]
    p = next(p for p in ev.pathologies if p.category == "eval_mode_shift")
    assert p.epoch == 0 and p.metric_value == pytest.approx(0.1 / 0.015, rel=0.15)
    assert "'in', which feeds it, changes 1" in p.message
    for q in ev.pathologies:
        if q is not p and q.category in ("dead_neurons", "silent_network"):
            assert q.cause == "eval_mode_shift @ h1", q
    assert prof.report().pathologies == []  # training is clean, and is not compared


def test_a_layer_that_fires_far_more_in_eval_mode_is_a_warning():
    prof = profile(TRAIN, {"in": 0.2, "h1": 0.1, "h2": 0.5, "out": 0.1})
    assert shifts(prof.report(phase="eval")) == [("h2", "warning")]


@pytest.mark.parametrize("evaluate", [
    {"in": 0.2, "h1": 0.06, "h2": 0.05, "out": 0.05},   # 2x: dropout-sized, not a shift
    {"in": 0.04, "h1": 0.02, "h2": 0.02, "out": 0.02},  # the data differ: the input too
    dict(TRAIN),
])
def test_no_shift_when_eval_mode_fires_alike_or_the_input_itself_changed(evaluate):
    assert shifts(profile(TRAIN, evaluate).report(phase="eval")) == []


def test_too_few_eval_spikes_cannot_tell():
    rng = np.random.default_rng(4)
    prof = SpikeProfiler()
    prof.declare_layer("in", role="input")
    record(prof, {"in": 0.2, "h1": 0.002}, rng)
    prof.phase("eval").record_step("in", (rng.random((2, 2, 32)) < 0.2).astype(np.float32))
    prof.phase("eval").record_step("h1", np.zeros((2, 2, 32), dtype=np.float32))
    assert shifts(prof.report(phase="eval")) == []  # 0.002 x 128 cells: < 1 spike expected


def test_the_first_epoch_of_the_shift_and_a_saved_profile_keep_it():
    prof = SpikeProfiler()
    rng = np.random.default_rng(5)
    prof.declare_layer("in", role="input")
    for e, h1 in enumerate((0.1, 0.1, 0.01)):
        if e:
            prof.next_epoch()
        record(prof, {"in": 0.2, "h1": 0.1}, rng)
        record(prof.phase("eval"), {"in": 0.2, "h1": h1}, rng)
    ev = prof.report(phase="eval")
    assert [(p.layer, p.epoch) for p in ev.pathologies
            if p.category == "eval_mode_shift"] == [("h1", 2)]
    assert shifts(prof.report(phase="eval", epoch=range(2))) == []
    loaded = SpikeProfiler.from_bytes(prof.to_bytes())
    assert [p.message for p in loaded.report(phase="eval").pathologies] == [
        p.message for p in ev.pathologies]
    alone = SpikeProfiler.from_bytes(prof.to_bytes()).phase("eval")  # its training kept
    assert [p.layer for p in alone.report().pathologies
            if p.category == "eval_mode_shift"] == ["h1"]
