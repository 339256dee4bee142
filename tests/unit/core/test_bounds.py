"""at_least / at_most: the same values and dtype as np.maximum / np.minimum against a
constant (they only take NumPy's faster array loop), NaN and -0.0 included."""

from __future__ import annotations

import numpy as np
import pytest

from spikewidget.core.bounds import at_least, at_most

VALUES = np.array([np.nan, -np.inf, -3.5, -0.0, 0.0, 0.25, 1.0, 7.0, np.inf])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape", [(9,), (3, 9), (2, 3, 9)])
@pytest.mark.parametrize("value", [0, 1, -2.5])
def test_floats_match_numpy_bit_for_bit(dtype, shape, value):
    a = np.broadcast_to(VALUES.astype(dtype), shape).copy()
    for ours, numpy in ((at_least, np.maximum), (at_most, np.minimum)):
        got, want = ours(a, value), numpy(a, value)
        assert got.dtype == want.dtype == dtype and got.shape == shape
        assert got.tobytes() == want.tobytes()  # NaN stays NaN, -0.0 stays -0.0


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integers_match_numpy(dtype):
    a = np.array([[0, 1, 5], [9, 2, 0]], dtype=dtype)
    assert at_least(a, 1).dtype == np.maximum(a, 1).dtype
    np.testing.assert_array_equal(at_least(a, 1), np.maximum(a, 1))
    np.testing.assert_array_equal(at_most(a, 1), np.minimum(a, 1))


def test_in_place_writes_the_output_and_keeps_nothing():
    a = np.array([[-1.0, 2.0], [3.0, -4.0]], dtype=np.float32)
    assert at_least(a, 0, out=a) is a
    np.testing.assert_array_equal(a, [[0, 2], [3, 0]])
    np.testing.assert_array_equal(at_most(np.array([-5.0, 6.0], np.float32), 1), [-5, 1])
