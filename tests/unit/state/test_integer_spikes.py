"""Integer spike counts of any size are summed without wrapping, on both backends.

int64 sums wrap: three rows of 2**62 summed to -4.6e18 and four to 0 ("0 total spikes,
silent network"), while the torch backend said 1.4e19. Both now sum huge 64-bit
integers in float64 (exact up to 2**53, rounded beyond, never wrapped) and agree.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spikewidget import SpikeProfiler

_BIG = [0, 1, 2, 2 ** 53 + 1, 2 ** 62, 2 ** 63 - 1, -(2 ** 62), -(2 ** 63)]
_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6)
int64_counts = hnp.arrays(np.int64, _shapes, elements=st.one_of(
    st.sampled_from(_BIG), st.integers(-(2 ** 63), 2 ** 63 - 1), st.integers(0, 3)))
uint64_counts = hnp.arrays(np.uint64, _shapes, elements=st.one_of(
    st.sampled_from([0, 1, 2 ** 63, 2 ** 64 - 1]), st.integers(0, 2 ** 64 - 1)))


def _layer(x: np.ndarray, backend: str):
    p = SpikeProfiler(backend=backend)
    p.record_step("counts", torch.from_numpy(x) if backend == "torch" else x)
    rep = p.report()
    return rep, rep.layer_stats["counts"]


def _exact_per_neuron(x: np.ndarray) -> list[int]:
    rows = x.reshape(-1, x.shape[-1]).tolist()  # Python ints: no wrapping
    return [sum(col) for col in zip(*rows, strict=True)]


@pytest.mark.parametrize("rows", [3, 4, 1000])
def test_rows_of_two_to_the_62_sum_to_their_true_total_on_both_backends(rows):
    x = np.full((rows, 5), 2 ** 62, dtype=np.int64)
    for backend in ("numpy", "torch"):
        rep, st_ = _layer(x, backend)
        assert st_.total_spikes == pytest.approx(rows * 5 * 2.0 ** 62, rel=1e-15), backend
        assert st_.per_neuron_spikes == pytest.approx(np.full(5, rows * 2.0 ** 62))
        assert not rep.by_category("silent_network"), backend
        assert st_.nonbinary_count == x.size and not st_.is_binary


@settings(max_examples=120, deadline=None)
@given(st.one_of(int64_counts, uint64_counts))
def test_huge_integer_counts_give_the_true_sums_and_both_backends_agree(x):
    exact = _exact_per_neuron(x)
    scale = x.reshape(-1, x.shape[-1]).astype(np.float64)
    tol = np.abs(scale).sum(axis=0) * 1e-14  # float64 rounding of huge values only
    sums = {}
    for backend in ("numpy", "torch"):
        if backend == "torch" and x.dtype == np.uint64:
            continue  # torch has no general uint64 tensors
        _, st_ = _layer(x, backend)
        got = st_.per_neuron_spikes
        for k, want in enumerate(exact):
            assert abs(got[k] - want) <= tol[k], (backend, k, got[k], want)
        assert st_.max_value == float(x.max()) and st_.min_value == float(x.min())
        assert st_.nonbinary_count == int(np.count_nonzero((x != 0) & (x != 1)))
        if x.min() >= 0 and x.max() > 0:  # never "0 total spikes" for positive counts
            assert st_.total_spikes > 0
        sums[backend] = got
    if len(sums) == 2:
        np.testing.assert_allclose(sums["numpy"], sums["torch"], rtol=1e-14,
                                   atol=float(tol.max()))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.int64, st.tuples(st.integers(2, 5), st.integers(1, 4), st.integers(1, 3)),
                  elements=st.one_of(st.sampled_from(_BIG), st.integers(0, 5))))
def test_per_sample_counts_over_time_do_not_wrap_either(x):
    """(time, batch, neurons): each sample's count summed over time is a sum too."""
    p = SpikeProfiler()
    p.record_step("out", x)
    st_ = p.report().layer_stats["out"]
    per_sample = [sum(int(v) for v in x[:, b, k]) for b in range(x.shape[1])
                  for k in range(x.shape[2])]
    tol = float(np.abs(x.astype(np.float64)).sum(axis=0).max()) * 1e-14  # rounding only
    lo, hi = st_.spike_count_range
    assert abs(lo - min(per_sample)) <= tol and abs(hi - max(per_sample)) <= tol


def test_small_integer_counts_stay_exact():
    """Below 2**53 per sum, integers are summed exactly (no float rounding)."""
    x = np.full((2, 3), 2 ** 52 + 1, dtype=np.int64)
    for backend in ("numpy", "torch"):
        _, st_ = _layer(x, backend)
        assert st_.per_neuron_spikes[0] == 2 * (2 ** 52 + 1)
        assert math.isfinite(st_.total_spikes)
