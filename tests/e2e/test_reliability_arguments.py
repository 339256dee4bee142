"""Attack on the public API: bad arguments on every entry point get a clear error
that names the argument and leave everything recorded (and declared) unchanged;
NumPy numbers work wherever Python numbers do; saving and merging racing
``reset()`` from other threads always give whole, loadable profiles."""

from __future__ import annotations

import dataclasses
import math
import threading

import numpy as np
import pytest
import snntorch as snn
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from spikewidget import SpikeProfiler, SpikeWidgetError, Thresholds
from spikewidget.state.limits import MAX_EPOCH
from tests.conftest import bernoulli, fingerprint


def recorded() -> SpikeProfiler:
    rng = np.random.default_rng(3)
    p = SpikeProfiler(raster_window=4)
    p.declare_layer("sew", graded=True)
    for _ in range(2):
        p.record_step("h", bernoulli(rng, (3, 2, 6), 0.3), voltages=rng.normal(size=(3, 2, 6)))
        p.record_step("sew", rng.integers(0, 3, (2, 6)).astype(np.float32))
        p.record_gradients("h", rng.standard_normal((3, 2, 6)))
        p.record_loss(1.2, n_classes=3)
        p.phase("eval").record_step("h", bernoulli(rng, (3, 2, 6), 0.2))
        p.next_epoch()
    return p


def state(p: SpikeProfiler) -> tuple:
    """What a user could read back, declarations, thresholds and phases included."""
    return (fingerprint(p), {k: dict(v) for k, v in p.snapshot().declared.items()}, p.thresholds,
            p.epoch, p.raster_window, {n: fingerprint(ph) for n, ph in p.phase_recorders().items()})


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.lif = snn.Leaky(beta=0.9, init_hidden=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.fc(x))


# ----------------------------------------------------------- bad values by kind
junk = st.one_of(st.text(max_size=3), st.binary(max_size=3), st.just(complex(1, 2)),
                 st.lists(st.text(max_size=1), min_size=1, max_size=2),
                 st.just({"a": 1}), st.just(np.array([1, 2])), st.just(object()))
floats = st.floats(allow_nan=True, allow_infinity=True)
not_whole = st.one_of(junk, st.booleans(), floats, st.just(np.float32(2.0)))
bad_epoch = st.one_of(not_whole, st.integers(max_value=-1), st.integers(min_value=MAX_EPOCH + 1))
bad_count = st.one_of(not_whole, st.integers(max_value=0))  # where >= 1 is expected
bad_name = st.one_of(st.integers(), st.binary(max_size=3), st.just(""), st.just("loss"),
                     st.lists(st.text(max_size=2), max_size=2), st.just(np.array(["h"])))
unknown = st.text(min_size=1, max_size=4).filter(lambda s: s not in ("h", "sew"))
bad_phase = st.one_of(unknown.filter(lambda s: s not in ("train", "eval")), st.integers(),
                      st.just(np.array(["eval"])), st.just(b"eval"))
bad_thresholds = st.one_of(
    st.dictionaries(unknown.filter(lambda s: s not in {f["name"] for f in
                                                       Thresholds.slider_specs()}),
                    st.floats(0, 1), min_size=1, max_size=2),
    st.fixed_dictionaries({"dead_rate": st.one_of(junk, st.booleans(), st.just(math.nan),
                                                  st.floats(max_value=-1e-9),
                                                  st.floats(min_value=0.96, max_value=1e9))}),
    st.dictionaries(st.integers(), st.floats(0, 1), min_size=1, max_size=1),
    st.one_of(st.text(max_size=2), st.integers(), st.lists(st.floats(), max_size=2)))
spikes = np.zeros((2, 6), np.float32)

ENTRY_POINTS = {
    # name: (call(profiler, bad value), strategy of bad values, words the message holds)
    "record_step(layer=)": (lambda p, b: p.record_step(b, spikes), bad_name, ["layer"]),
    "record_step(epoch=)": (lambda p, b: p.record_step("h", spikes, epoch=b), bad_epoch,
                            ["epoch"]),
    "record_step(neuron_axes=)": (lambda p, b: p.record_step("new", spikes, neuron_axes=b),
                                  st.one_of(bad_count, st.integers(min_value=3)),
                                  ["'new'", "neuron_axes"]),
    "record_step(spikes=)": (lambda p, b: p.record_step("h", b),
                             st.one_of(junk, st.none(), floats, st.just(np.zeros((2, 7)))),
                             ["'h'", "spikes"]),
    "record_gradients(layer=)": (lambda p, b: p.record_gradients(b, spikes),
                                 st.one_of(bad_name, unknown), ["layer"]),
    "record_gradients(epoch=)": (lambda p, b: p.record_gradients("h", spikes, epoch=b),
                                 st.one_of(bad_epoch, st.integers(3, 100)), ["epoch"]),
    "record_gradients(gradients=)": (lambda p, b: p.record_gradients("h", b),
                                     st.one_of(junk, st.none(), st.just(np.zeros((2, 5)))),
                                     ["'h'", "gradients"]),
    "record_loss(loss=)": (lambda p, b: p.record_loss(b),
                           st.one_of(junk, st.none(), st.booleans(),
                                     st.just(torch.zeros(2)), st.just(np.zeros(3))),
                           ["loss"]),
    "record_loss(n_classes=)": (lambda p, b: p.record_loss(1.0, n_classes=b),
                                st.one_of(not_whole, st.integers(max_value=1)), ["n_classes"]),
    "record_loss(epoch=)": (lambda p, b: p.record_loss(1.0, epoch=b), bad_epoch, ["epoch"]),
    "declare_layer(name=)": (lambda p, b: p.declare_layer(b, role="hidden"), bad_name,
                             ["layer"]),
    "declare_layer(role=)": (lambda p, b: p.declare_layer("h", role=b),
                             st.one_of(junk, st.integers(), st.just("middle")), ["role"]),
    "declare_layer(graded=)": (lambda p, b: p.declare_layer("h", graded=b),
                               st.one_of(junk, st.integers(), floats), ["graded"]),
    "declare_layer(neuron_axes=)": (lambda p, b: p.declare_layer("h", neuron_axes=b),
                                    st.one_of(bad_count, st.integers(2, 9)), ["neuron_axes"]),
    "declare_layer(fan_out=)": (lambda p, b: p.declare_layer("h", fan_out=b),
                                st.one_of(junk, st.booleans(), st.floats(max_value=0),
                                          st.just(math.nan), st.just(math.inf)), ["fan_out"]),
    "report(thresholds=)": (lambda p, b: p.report(b), bad_thresholds, ["hreshold"]),
    "report(epoch=)": (lambda p, b: p.report(epoch=b),
                       st.one_of(junk.filter(lambda x: not isinstance(x, str)
                                             or x not in ("all", "latest")),
                                 st.booleans(), floats.filter(lambda x: not x.is_integer()),
                                 st.integers(min_value=3), st.integers(max_value=-4),
                                 st.lists(st.integers(10, 99), min_size=1, max_size=2)),
                       ["epoch"]),
    "report(layers=)": (lambda p, b: p.report(layers=b),
                        st.one_of(st.integers(), st.binary(max_size=2), unknown,
                                  st.lists(st.integers(), min_size=1, max_size=2)), ["layer"]),
    "report(phase=)": (lambda p, b: p.report(phase=b),
                       bad_phase, ["phase"]),
    "raster(layer=)": (lambda p, b: p.raster(b), st.one_of(bad_name, unknown), ["layer"]),
    "raster(epoch=)": (lambda p, b: p.raster("h", epoch=b), bad_epoch, ["epoch"]),
    "epoch_rasters(layer=)": (lambda p, b: p.epoch_rasters(b), st.one_of(bad_name, unknown),
                              ["layer"]),
    "neuron_axes(name=)": (lambda p, b: p.neuron_axes(b), bad_name, ["layer"]),
    "phase(name=)": (lambda p, b: p.phase(b),
                     bad_phase, ["phase"]),
    "record_reduced(layer=)": (lambda p, b: p.record_reduced(b, (1, 2, 6), 1, None, None),
                               bad_name, ["layer"]),
    "record_reduced(neuron_axes=)": (lambda p, b: p.record_reduced("h", (1, 2, 6), b, None,
                                                                   None),
                                     st.one_of(bad_count, st.integers(4, 9)),
                                     ["'h'", "neuron_axes"]),
    "record_input_nonfinite(layer=)": (lambda p, b: p.record_input_nonfinite(b, 1),
                                       st.one_of(bad_name, unknown), ["layer"]),
    "record_input_nonfinite(count=)": (lambda p, b: p.record_input_nonfinite("h", b),
                                       st.one_of(not_whole, st.integers(max_value=-1)),
                                       ["'h'", "count"]),
    "record_input_reach(layer=)": (lambda p, b: p.record_input_reach(b, 1, 2),
                                   st.one_of(bad_name, unknown), ["layer"]),
    "record_input_reach(blocked=)": (lambda p, b: p.record_input_reach("h", b, 2),
                                     st.one_of(not_whole, st.integers(max_value=-1),
                                               st.integers(3, 99)), ["'h'", "blocked"]),
    "record_input_reach(checked=)": (lambda p, b: p.record_input_reach("h", 0, b),
                                     st.one_of(not_whole, st.integers(max_value=-1)),
                                     ["'h'", "checked"]),
    "note_model_output(watched=)": (lambda p, b: p.note_model_output(b, None),
                                    st.one_of(st.integers(), st.text(max_size=3),
                                              st.just([1]), st.just(None)), ["watched"]),
    "note_model_output(output=)": (lambda p, b: p.note_model_output(["h"], b),
                                   st.one_of(st.integers(), unknown), ["output"]),
    "fresh(raster_window=)": (lambda p, b: p.fresh(raster_window=b),
                              st.one_of(not_whole, st.integers(max_value=-1)),
                              ["raster_window"]),
    "restore(snap=)": (lambda p, b: p.restore(b),
                       st.one_of(junk, st.integers(), st.just({"layers": {}})), ["restore"]),
    "merge(other=)": (lambda p, b: p.merge(p if b is None else b),
                      st.one_of(st.none(), junk, st.integers()), ["merge"]),
    "thresholds =": (lambda p, b: setattr(p, "thresholds", b), bad_thresholds, ["hreshold"]),
    "SpikeProfiler(raster_window=)": (lambda p, b: SpikeProfiler(raster_window=b),
                                      st.one_of(not_whole, st.integers(max_value=-1),
                                                st.integers(min_value=2**20 + 1)),
                                      ["raster_window"]),
    "SpikeProfiler(backend=)": (lambda p, b: SpikeProfiler(backend=b),
                                st.one_of(junk, st.integers()), ["backend"]),
    "SpikeProfiler(thresholds=)": (lambda p, b: SpikeProfiler(thresholds=b), bad_thresholds,
                                   ["hreshold"]),
    "Thresholds(dead_rate=)": (lambda p, b: Thresholds(dead_rate=b),
                               st.one_of(junk, st.booleans(), st.just(math.nan),
                                         st.floats(max_value=-1e-9)), ["dead_rate"]),
    "from_bytes(max_bytes=)": (lambda p, b: SpikeProfiler.from_bytes(p.to_bytes(), max_bytes=b),
                               st.one_of(not_whole, st.integers(max_value=-1)), ["max_bytes"]),
    "save(path=)": (lambda p, b: p.save(b), st.one_of(st.integers(), st.just(""), floats),
                    ["path"]),
    "to_html(epoch=)": (lambda p, b: p.to_html("unused.html", epoch=b),
                        st.one_of(junk, floats, st.integers(min_value=2**31)), ["epoch"]),
    "to_html(layer=)": (lambda p, b: p.to_html("unused.html", layer=b),
                        st.one_of(st.integers(), st.lists(st.text(), max_size=1)), ["layer"]),
    "widget(interval=)": (lambda p, b: p.widget(interval=b),
                          st.one_of(junk, st.booleans(), st.floats(max_value=-1e-9),
                                    st.just(math.nan), st.just(math.inf)), ["interval"]),
    "watch(every=)": (lambda p, b: p.watch(Net(), every=b), bad_count, ["every"]),
    "watch(time_steps=)": (lambda p, b: p.watch(Net(), time_steps=b), bad_count,
                           ["time_steps"]),
    "watch(layers=)": (lambda p, b: p.watch(Net(), layers=b),
                       st.one_of(st.integers(), floats, st.just(["nope"])), ["layer"]),
    "threshold_sweep(layer=)": (lambda p, b: p.threshold_sweep(Net(), torch.rand(3, 2, 4),
                                                               layer=b, time_steps=3),
                                st.one_of(st.integers(), st.binary(max_size=2), st.just([3]),
                                          st.just("nope"), st.just({"lif": 1})), ["layer"]),
    "threshold_sweep(thresholds=)": (
        lambda p, b: p.threshold_sweep(Net(), torch.rand(3, 2, 4), layer="lif",
                                       thresholds=b, time_steps=3),
        st.one_of(st.text(max_size=2), st.integers(), st.just({"a": 1.0}), st.just([]),
                  st.just(["1"]), st.just([math.nan]), st.just([-1.0]), st.just([True])),
        ["thresholds"]),
    "threshold_sweep(n=)": (lambda p, b: p.threshold_sweep(Net(), torch.rand(3, 2, 4),
                                                           layer="lif", n=b, time_steps=3),
                            st.one_of(bad_count, st.integers(min_value=10_001)), ["n must"]),
    "threshold_sweep(chunk=)": (
        lambda p, b: p.threshold_sweep(Net(), torch.rand(3, 2, 4), layer="lif",
                                       thresholds=[1.0, 2.0], batched=True, chunk=b,
                                       time_steps=3),
        bad_count, ["chunk"]),
}


BASE_BYTES = recorded().to_bytes()


def attack(entry: str, data: st.DataObject) -> None:
    """One bad value for ``entry``: a SpikeWidgetError naming the argument, and the
    recorded profile unchanged."""
    call, bad_values, words = ENTRY_POINTS[entry]
    bad = data.draw(bad_values, label="bad")
    p = SpikeProfiler.from_bytes(BASE_BYTES)
    before = state(p)
    with pytest.raises(SpikeWidgetError) as info:
        call(p, bad)
    message = str(info.value)
    assert all(w in message for w in words), (entry, bad, message)
    assert state(p) == before


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry=st.sampled_from(sorted(ENTRY_POINTS)), data=st.data())
def test_bad_arguments_on_every_entry_point_are_refused_and_change_nothing(entry, data):
    attack(entry, data)


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry=st.sampled_from(sorted(ENTRY_POINTS)), data=st.data())
def test_fuzz_bad_arguments(entry, data):
    attack(entry, data)


def test_every_entry_point_is_attacked():
    """The table covers each public recording, reading and view method."""
    public = {n for n in dir(SpikeProfiler) if not n.startswith("_")
              and callable(getattr(SpikeProfiler, n))}
    attacked = {e.split("(")[0].split(" ")[0] for e in ENTRY_POINTS}
    without_arguments = {"next_epoch", "reset", "consistent", "to_bytes", "gather", "load",
                         "snapshot", "phase_recorders"}
    assert public - attacked - without_arguments == set()


def test_io_errors_name_the_file_and_change_nothing(tmp_path):
    p = recorded()
    before = state(p)
    for call in (lambda: p.save(tmp_path / "missing" / "run.npz"),
                 lambda: p.save(tmp_path),
                 lambda: p.to_html(tmp_path / "missing" / "run.html")):
        with pytest.raises(OSError, match=r"missing|folder"):
            call()
    assert state(p) == before
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


# ---------------------------------------------------------------- NumPy numbers
def as_numpy(draw: st.DrawFn, value: float | int) -> object:
    if isinstance(value, int):
        kind = draw(st.sampled_from([int, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                     np.uint32, np.uint64]))
    else:
        kind = draw(st.sampled_from([float, np.float32, np.float64]))
    return kind(value)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_numpy_numbers_everywhere_record_exactly_what_python_numbers_do(data):
    def run(num) -> SpikeProfiler:
        rng = np.random.default_rng(0)
        p = SpikeProfiler(thresholds={"dead_rate": num(0.03125), "loss_chance_window": num(8)},
                          dead_threshold=num(0.03125), raster_window=num(5))
        p.declare_layer("conv", neuron_axes=num(2), fan_out=num(4.0))
        for e in range(2):
            p.record_step("conv", bernoulli(rng, (2, 3, 4, 4), 0.3), epoch=num(e))
            p.record_step("h", bernoulli(rng, (3, 5), 0.3), neuron_axes=num(1))
            p.record_gradients("h", rng.standard_normal((3, 5)), epoch=num(e))
            p.record_loss(num(1.5), n_classes=num(4), epoch=num(e))
        return p

    plain = run(lambda v: v)
    mixed = run(lambda v: as_numpy(data.draw, v))
    assert state(mixed) == state(plain)
    n = as_numpy(data.draw, 1)
    assert mixed.report(epoch=n).summary() == plain.report(epoch=1).summary()
    last = data.draw(st.sampled_from([np.int8(-1), np.int32(-1), np.int64(-1), -1]))
    assert mixed.report(epoch=last).epochs == (1,)
    budget = data.draw(st.sampled_from([int, np.int64, np.uint64, np.int32]))(2**30)
    back = SpikeProfiler.from_bytes(mixed.to_bytes(), max_bytes=budget)
    assert state(back) == state(plain)


# ------------------------------------------------------------ races with reset
def race(write, read, seconds: float = 1.5, min_reads: int = 4) -> list[BaseException]:
    """Run ``write`` in a loop on a thread while ``read`` runs here for ``seconds``, and
    at least ``min_reads`` times (a loaded machine slows the reads, not the check)."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                write()
        except BaseException as exc:  # the test fails on any of them
            errors.append(exc)

    t = threading.Thread(target=writer)
    t.start()
    try:
        deadline = threading.Event()
        timer = threading.Timer(seconds, deadline.set)
        timer.start()
        reads = 0
        while not deadline.is_set() or reads < min_reads:
            read()
            reads += 1
    except BaseException as exc:
        errors.append(exc)
    finally:
        stop.set()
        t.join(timeout=30)
    return errors


def test_saving_and_merging_racing_reset_give_whole_profiles(tmp_path):
    p = SpikeProfiler(raster_window=8)
    rng = np.random.default_rng(1)
    loaded: list[int] = []

    def write() -> None:
        for e in range(3):
            p.record_step("a", bernoulli(rng, (4, 2, 10), 0.2), epoch=e)
            p.record_step("b", bernoulli(rng, (4, 2, 5), 0.2), epoch=e)
            p.record_loss(1.0, n_classes=3)
        p.reset()

    def read() -> None:
        copy = SpikeProfiler.from_bytes(p.to_bytes())  # never a torn profile
        steps = {s.name: s.n_steps for s in copy.report().layer_stats.values()}
        assert set(steps) <= {"a", "b"}
        if steps:  # "b" follows "a" within an epoch: never more steps than "a"
            assert steps.get("b", 0) <= steps["a"]
        p.save(tmp_path / "run.npz")
        SpikeProfiler.load(tmp_path / "run.npz").report()
        other = SpikeProfiler()
        other.merge(p)
        other.report()
        loaded.append(len(steps))

    assert race(write, read) == []
    assert len(loaded) > 3 and max(loaded) > 0


# --------------------------------------------------------------- unusual arrays
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(backend=st.sampled_from(["numpy", "torch"]), flip=st.sampled_from([0, 1, 2]),
       seed=st.integers(0, 2**16))
def test_reversed_views_and_matrices_record_as_their_values(backend, flip, seed):
    """A reversed (negative-stride) view, a Fortran-ordered copy and an np.matrix record
    exactly what a plain C-ordered array of the same values records."""
    rng = np.random.default_rng(seed)
    x = bernoulli(rng, (4, 6), 0.4)
    v = rng.normal(size=(4, 6))
    views = {"reversed": (np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1],
                          np.ascontiguousarray(v[:, ::-1])[:, ::-1]),
             "fortran": (np.asfortranarray(x), np.asfortranarray(v)),
             "matrix": (np.matrix(x), np.matrix(v))}
    name = sorted(views)[flip]
    assert name != "reversed" or views[name][0].strides[0] < 0
    odd, plain = SpikeProfiler(backend=backend), SpikeProfiler(backend=backend)
    odd.record_step("h", *views[name], gradients=views[name][1])
    plain.record_step("h", x, v, gradients=v)
    odd.record_gradients("h", views[name][1])
    plain.record_gradients("h", v)
    a, b = odd.report().layer_stats["h"], plain.report().layer_stats["h"]
    for field in dataclasses.fields(a):  # the sums may run in another order on torch
        x_, y_ = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x_, np.ndarray):
            np.testing.assert_allclose(x_, y_, rtol=1e-12, equal_nan=True)
        elif isinstance(x_, float):
            assert x_ == pytest.approx(y_, rel=1e-12, nan_ok=True), field.name
        else:
            assert x_ == y_, field.name
    np.testing.assert_array_equal(odd.raster("h").spikes, plain.raster("h").spikes)


def test_a_masked_array_is_refused_naming_the_fix():
    p = recorded()
    before = state(p)
    masked = np.ma.masked_array(np.ones((2, 6)), mask=np.eye(2, 6, dtype=bool))
    with pytest.raises(SpikeWidgetError, match=r"'h'.*spikes.*masked.*filled"):
        p.record_step("h", masked)
    assert state(p) == before
