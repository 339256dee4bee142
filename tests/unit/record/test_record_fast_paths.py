"""The shortcuts of record_step's hot path (issue 18) give the numbers the long way does.

- voltage moments from the sum of squares in one pass, unless the mean dominates;
- steps whose sums of squares are modest skip NumPy's error-state switch: huge values
  must still take the guarded path, warn nothing and be measured;
- records without a time axis continue their sequences; past the clock at which
  float32 squares of intervals stop being exact, intervals are summed in float64.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spikewidget import SpikeProfiler


@settings(max_examples=80, deadline=None)
@given(offset=st.sampled_from([0.0, -0.3, 1.0, -65.0, 1e4]),
       spread=st.sampled_from([1e-3, 0.05, 1.0, 30.0]),
       dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2 ** 16))
def test_voltage_std_matches_a_two_pass_computation_at_any_offset(offset, spread, dtype, seed):
    # float32 cannot resolve a spread far below its resolution at the offset (the
    # float32 per-neuron sums then round the mean: as before this shortcut)
    assume(dtype == np.float64 or spread >= abs(offset) * 1e-5)
    rng = np.random.default_rng(seed)
    chunks = [(offset + spread * rng.standard_normal((32, 40))).astype(dtype)
              for _ in range(3)]
    p = SpikeProfiler()
    for v in chunks:
        p.record_step("h", np.zeros((32, 40), np.float32), voltages=v)
    allv = np.concatenate([c.astype(np.float64).ravel() for c in chunks])
    st_ = p.report().layer_stats["h"]
    rel = 1e-4 if dtype == np.float32 else 1e-9
    assert st_.voltage_std == pytest.approx(allv.std(), rel=rel)
    assert st_.voltage_mean == pytest.approx(allv.mean(), rel=1e-6, abs=1e-6 * spread)


@pytest.mark.parametrize("value", [1e19, 3e38, -2e20])
def test_huge_values_take_the_guarded_path_and_warn_nothing(value):
    x = np.zeros((16, 8), np.float32)
    x[0, 0] = value
    v = np.full((16, 8), value, np.float32)
    p = SpikeProfiler()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy overflow warning would fail here
        for _ in range(3):
            p.record_step("h", x, voltages=v, gradients=v)
        st_ = p.report().layer_stats["h"]
    assert st_.max_value == pytest.approx(max(value, 0.0), rel=1e-6)
    assert st_.per_neuron_spikes[0] == pytest.approx(3 * value, rel=1e-6)
    assert st_.voltage_mean == pytest.approx(value, rel=1e-6)
    assert st_.voltage_std == pytest.approx(0.0, abs=abs(value) * 1e-6)


def _direct_isi(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per neuron: count, sum and sum of squares of intervals of (time, rows, n) 0/1."""
    _, rows, n = frames.shape
    k, s, q = np.zeros(n), np.zeros(n), np.zeros(n)
    for r in range(rows):
        for j in range(n):
            times = np.flatnonzero(frames[:, r, j])
            d = np.diff(times).astype(np.float64)
            k[j] += len(d)
            s[j] += d.sum()
            q[j] += (d * d).sum()
    return k, s, q


@pytest.mark.parametrize("rows", [1, 4])
def test_open_sequences_past_the_float32_clock_stay_exact(rows):
    """Records of one time step each: 2,500 of them with 4 rows (rows * clock**2 passes
    2**24 at clock 2,048) or 4,200 with 1 row (clock 4,096), sparse enough for
    intervals of hundreds of steps."""
    steps = 4200 if rows == 1 else 2500
    rng = np.random.default_rng(1)
    frames = (rng.random((steps, rows, 3)) < 0.01).astype(np.float32)
    frames[0] = frames[-1] = 1.0  # an interval as long as the record
    p = SpikeProfiler()
    for f in frames:
        p.record_step("h", f)
    got = p.report().layer_stats["h"]
    k, s, q = _direct_isi(frames)
    np.testing.assert_array_equal(got.isi_counts, k)
    assert got.mean_isi == pytest.approx(float(np.mean(s / k)), rel=1e-12)
    cv = np.sqrt(np.maximum(k * q - s * s, 0.0)) / s
    assert got.cv_isi == pytest.approx(float(cv[k >= 2].mean()), rel=1e-12)


@pytest.mark.parametrize("stray", [None, 0.5, -1.0, 1.0000001, np.nan, np.inf, 2e38])
def test_large_steps_reduced_by_blocks_count_every_value(stray):
    # a step of 100 x 48 x 600 values (above the size at which the sum of squares,
    # per-neuron sums and max run block by block, in cache): one odd value anywhere
    # in it must show, exactly as in a small step
    rng = np.random.default_rng(3)
    x = (rng.random((100, 48, 600)) < 0.05).astype(np.float32)
    if stray is not None:
        x[73, 40, 599] = stray  # far from the first block
    p = SpikeProfiler()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p.record_step("h", x)
    st_ = p.report().layer_stats["h"]
    finite = np.where(np.isfinite(x), x, 0).astype(np.float64)
    if stray is None or not np.isfinite(stray):  # NaN/Inf: counted apart, not values
        assert st_.is_binary and st_.nonbinary_count == 0
        assert [(n.source, n.count) for n in st_.nonfinite] == (
            [] if stray is None else [("spikes", 1)])
    else:
        assert not st_.is_binary and st_.nonbinary_count == 1 and not st_.nonfinite
        assert st_.max_value == pytest.approx(max(float(stray), 1.0), rel=1e-7)
        assert st_.min_value == pytest.approx(min(float(stray), 0.0), rel=1e-7)
    assert np.allclose(st_.per_neuron_spikes, finite.sum(axis=(0, 1)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("values", [[-0.5, 0.5, 0.5, 0.5], [-0.0, 1.0, 0.0, 1.0],
                                    [1.0, 0.0, 1.0, 1.0]])
def test_binary_only_when_every_value_is_zero_or_one(values, dtype):
    # sum(x*x) == sum(x) proves 0/1 values only on [0, 1]: -0.5 makes up for three 0.5s
    x = np.array(values, dtype).reshape(4, 1)
    p = SpikeProfiler()
    p.record_step("h", x)
    st_ = p.report().layer_stats["h"]
    nonbinary = sum(v not in (0.0, 1.0) for v in values)
    assert st_.nonbinary_count == nonbinary and st_.is_binary == (nonbinary == 0)
    assert st_.min_value == min(values) and st_.max_value == max(values)
