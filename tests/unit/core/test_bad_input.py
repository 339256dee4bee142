"""Bad input gets a clear error naming layer, argument and expectation, and loses nothing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spikewidget import (
    InvalidInputError,
    InvalidTypeError,
    SpikeProfiler,
    SpikeWidgetError,
    Thresholds,
    UnknownLayerError,
)
from tests.conftest import bernoulli, fingerprint


@pytest.fixture
def recorded(rng) -> SpikeProfiler:
    p = SpikeProfiler(raster_window=16)
    for _ in range(3):
        p.record_step("hidden", bernoulli(rng, (8, 40), 0.3),
                      voltages=rng.normal(size=(8, 40)), gradients=rng.normal(size=(8, 40)))
        p.record_step("output", bernoulli(rng, (8, 5), 0.3))
        p.record_loss(2.5, n_classes=5)
    return p


def expect_rejected(p: SpikeProfiler, exc: type[Exception], words: list[str], fn) -> None:
    before = fingerprint(p)
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    for w in words:
        assert w in message, f"{w!r} not in {message!r}"
    assert isinstance(info.value, SpikeWidgetError)
    assert fingerprint(p) == before


def test_neuron_count_change_names_layer_and_both_shapes(recorded):
    expect_rejected(recorded, InvalidInputError, ["'hidden'", "(8, 41)", "40 neurons"],
                    lambda: recorded.record_step("hidden", np.zeros((8, 41))))


def test_voltage_and_gradient_shapes_must_match_the_spikes(recorded):
    expect_rejected(recorded, InvalidInputError, ["'hidden'", "voltages", "(8, 39)", "(8, 40)"],
                    lambda: recorded.record_step("hidden", np.zeros((8, 40)),
                                                 voltages=np.zeros((8, 39))))
    expect_rejected(recorded, InvalidInputError, ["'hidden'", "gradients", "same shape"],
                    lambda: recorded.record_step("hidden", np.zeros((8, 40)),
                                                 gradients=np.zeros((40,))))


@pytest.mark.parametrize("bad,words", [
    (np.zeros((0, 40)), ["'hidden'", "spikes", "empty"]),
    (np.array(1.0), ["'hidden'", "spikes", "0-d"]),
    (np.array(["a", "b"]), ["'hidden'", "spikes", "real numbers", "<U1"]),
    (np.zeros(40, dtype=complex), ["'hidden'", "spikes", "complex"]),
    (np.zeros(40, dtype=object), ["'hidden'", "spikes", "object"]),
    ([0, 1, 0], ["'hidden'", "spikes", "numpy.ndarray or torch.Tensor", "list"]),
    ("spikes", ["'hidden'", "spikes", "str"]),
    (None, ["'hidden'", "spikes", "NoneType"]),
    (3.0, ["'hidden'", "spikes", "float"]),
])
def test_things_that_are_not_usable_arrays_are_rejected(recorded, bad, words):
    exc = InvalidInputError if isinstance(bad, np.ndarray) and bad.dtype.kind in "fiub" \
        else InvalidTypeError
    expect_rejected(recorded, exc, words, lambda: recorded.record_step("hidden", bad))


def test_bad_voltages_are_rejected_before_anything_is_recorded(recorded):
    expect_rejected(recorded, InvalidTypeError, ["'hidden'", "voltages", "str"],
                    lambda: recorded.record_step("hidden", np.zeros((8, 40)), voltages="v"))


def test_bad_names_epochs_and_axes(recorded):
    expect_rejected(recorded, InvalidTypeError, ["layer", "non-empty string"],
                    lambda: recorded.record_step("", np.zeros(4)))
    expect_rejected(recorded, InvalidTypeError, ["layer", "3"],
                    lambda: recorded.record_step(3, np.zeros(4)))
    expect_rejected(recorded, InvalidInputError, ["epoch", "-1"],
                    lambda: recorded.record_step("hidden", np.zeros((8, 40)), epoch=-1))
    expect_rejected(recorded, InvalidInputError, ["'new'", "neuron_axes=3", "2 axes"],
                    lambda: recorded.record_step("new", np.zeros((8, 40)), neuron_axes=3))
    expect_rejected(recorded, InvalidInputError, ["'new'", "neuron_axes", "0"],
                    lambda: recorded.record_step("new", np.zeros((8, 40)), neuron_axes=0))


def test_unknown_layers_and_epochs_in_a_report(recorded):
    expect_rejected(recorded, UnknownLayerError, ["'hiddn'", "hidden", "output"],
                    lambda: recorded.report(layers="hiddn"))
    expect_rejected(recorded, UnknownLayerError, ["'nope'"], lambda: recorded.raster("nope"))
    expect_rejected(recorded, InvalidInputError, ["epoch=7", "[0]"],
                    lambda: recorded.report(epoch=7))
    expect_rejected(recorded, InvalidTypeError, ["epoch"],
                    lambda: recorded.report(epoch="first"))
    with pytest.raises(KeyError):  # UnknownLayerError is also a KeyError
        recorded.report(layers=["hidden", "x"])


def test_bad_thresholds_and_losses(recorded):
    expect_rejected(recorded, InvalidInputError, ["dead_rte", "dead_rate"],
                    lambda: recorded.report(thresholds={"dead_rte": 0.1}))
    expect_rejected(recorded, InvalidInputError, ["dead_warning_fraction", "1.5"],
                    lambda: recorded.report(thresholds={"dead_warning_fraction": 1.5}))
    expect_rejected(recorded, InvalidInputError, ["dead_rate", "saturated_rate"],
                    lambda: recorded.report(thresholds={"dead_rate": 0.99}))
    expect_rejected(recorded, InvalidInputError, ["loss", "shape (2,)"],
                    lambda: recorded.record_loss(np.array([1.0, 2.0])))
    expect_rejected(recorded, InvalidTypeError, ["loss", "str"],
                    lambda: recorded.record_loss("1.0"))
    expect_rejected(recorded, InvalidInputError, ["n_classes", "1"],
                    lambda: recorded.record_loss(1.0, n_classes=1))
    with pytest.raises(InvalidInputError):
        Thresholds(dead_rate=float("nan"))


def test_declare_layer_validates_and_cannot_change_recorded_axes(recorded):
    expect_rejected(recorded, InvalidInputError, ["'hidden'", "role", "'middle'"],
                    lambda: recorded.declare_layer("hidden", role="middle"))
    expect_rejected(recorded, InvalidInputError, ["'hidden'", "neuron_axes=1", "2"],
                    lambda: recorded.declare_layer("hidden", neuron_axes=2))


bad_arrays = st.one_of(
    hnp.arrays(st.sampled_from([np.complex64, np.complex128]),
               hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    hnp.arrays(st.sampled_from(["U3", "S2", "M8[s]", "m8[s]"]),
               hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                            max_side=4).filter(lambda s: 0 in s)),
    st.lists(st.floats(), max_size=5), st.text(max_size=5), st.none(),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=bad_arrays, where=st.sampled_from(["spikes", "voltages", "gradients"]))
def test_any_unusable_input_raises_a_spikewidget_error_and_changes_nothing(bad, where):
    assume(bad is not None or where == "spikes")  # None means "not given" for the others
    p = SpikeProfiler()
    good = np.zeros((2, 3))
    p.record_step("h", good, voltages=good, gradients=good)
    before = fingerprint(p)
    args = {"spikes": good, "voltages": good, "gradients": good, where: bad}
    with pytest.raises(SpikeWidgetError) as info:
        p.record_step("h", **args)
    assert "'h'" in str(info.value) and where in str(info.value)
    assert fingerprint(p) == before


pathological_values = hnp.arrays(
    np.float64, st.tuples(st.integers(1, 4), st.just(3)),
    elements=st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, -3.0, 0.0, 1.0, 7.5]))


@settings(max_examples=150, deadline=None)
@given(x=pathological_values, v=pathological_values, g=pathological_values)
def test_pathological_values_are_recorded_never_rejected(x, v, g):
    rows = min(len(x), len(v), len(g))
    x, v, g = x[:rows], v[:rows], g[:rows]
    p = SpikeProfiler()
    p.record_step("h", x, voltages=v, gradients=g)
    p.record_loss(float(v[0, 0]), n_classes=3)
    rep = p.report()  # never raises
    st_ = rep.layer_stats["h"]
    assert st_.n_steps == 1 and st_.n_observations == rows
    has_bad = [not np.all(np.isfinite(a)) for a in (x, v, g)]
    reported = {f.source for f in st_.nonfinite}
    assert reported == {s for s, b in zip(("spikes", "voltages", "gradients"), has_bad,
                                          strict=True) if b}
    if any(has_bad) or not np.isfinite(v[0, 0]):
        assert rep.has_critical
    assert "non_finite_values" in {f.category for f in rep.pathologies} or not (
        any(has_bad) or not np.isfinite(v[0, 0]))
