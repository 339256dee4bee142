"""Per-step reductions of host arrays into an :class:`EpochStats` (the hot path).

``record_step`` reduces each layer once per training step, so the
common case (finite, binary spikes) costs a row sum, a max and one dot product
for the spikes, a row sum, a subtraction and a dot product for the voltages, and
one dot product for the gradients. Anything unusual (NaN, Inf, float32 overflow,
non-binary values) drops to an exact slower path: pathological data is measured,
never rejected.

:func:`compute_step` reduces a step without touching any accumulator (so the
profiler runs it outside its lock); :func:`apply_step` then adds the result in a
few scalar operations that cannot fail part-way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.columns import column_sums
from ..state.epoch_stats import NO_STEP, EpochStats
from ..state.temporal import OpenSequences, first_samples, intervals, spread

_EXACT_FLOAT32_LIMIT = 2 ** 24  # a float32 dot of more 0/1 values may round
_BLOCK = 65_536  # elements per block of the voltage deviations: stays in cache
_INT64_SAFE = 2 ** 63  # |a sum of int64 values| below this cannot wrap
_QUIET = 1e18  # values below this in magnitude: no square or sum of a step overflows
_QUIET_SQUARES = 1e36  # a sum of squares below this bounds every value below _QUIET
_FUSE_MIN = 1 << 21  # float arrays with at least this many values: passes fused by blocks
_FUSE_BLOCK = 1 << 19  # values per block of the fused passes (2 MB of float32)
_UNIT_BITS = {2: (np.uint16, 0x3C00), 4: (np.uint32, 0x3F800000),
              8: (np.uint64, 0x3FF0000000000000)}
"""Per float size: the unsigned type of its bit patterns and the pattern of 1.0. As
unsigned integers the patterns of +0.0 .. 1.0 order as the values do, and every
other value (negative, -0.0, above 1, NaN) has a larger pattern."""


@dataclass(slots=True)
class StepResult:
    """The reductions of one step, ready to be added to an :class:`EpochStats`."""

    n_obs: int
    spike_sum: np.ndarray
    spike_max: float
    spike_min: float
    nonbinary: int
    nf_spikes: int
    fractional: int  # values that are not whole numbers
    counts: tuple[float, float, np.ndarray, int] | None  # max, min, active per neuron, samples
    voltages: tuple[int, float, float, int, float, float] | None
    """count, mean, M2, non-finite count, min, max"""
    gradient: tuple[float, int, int] | None  # norm, non-finite count, values
    events: np.ndarray | None = None
    """Steps with values other than 0 and 1: per neuron, its finite non-zero values."""
    isi: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    """Records with a time axis: intervals, their sum and sum of squares per neuron."""
    spread: tuple[np.ndarray, np.ndarray] | None = None
    """Records with a time axis: voltages' squared deviations, degrees of freedom."""
    frame: tuple[np.ndarray, bool, np.ndarray | None] | None = None
    """Records without one: the step's spikes, whether they are 0/1, and voltages
    ``(rows,)``, which continue the open sequences (added by :func:`apply_step`)."""
    samples: int = 0
    """Samples in the step: rows over the time axis."""


def compute_step(x2: np.ndarray, v2: np.ndarray | None, g2: np.ndarray | None, *,
                 time_steps: int | None, want_counts: bool) -> StepResult:
    """Reduce one step; pure (touches no accumulator), so it can run unlocked.

    Args:
        x2: spikes as ``(observations, n_neurons)``.
        v2, g2: voltages and gradients of the same shape as ``x2``, or None; with
            ``time_steps``, ``v2`` may have one row per sample (the membrane after the
            last step): it adds to the moments and extrema, not to the spread in time.
        time_steps: length of the leading time axis when the spikes had one
            (``observations = time_steps * samples``), else None.
        want_counts: also measure per-sample spike counts summed over time.
    """
    # sums of squares first (BLAS: no floating-point warnings): they bound every value,
    # so a step whose squares are all modest skips NumPy's error-state switch
    fused = _fused_passes(x2)
    qx = fused[0] if fused is not None else _squares(x2)
    qv, qg = _squares(v2), _squares(g2)
    if qx < _QUIET_SQUARES and qv < _QUIET_SQUARES and qg < _QUIET_SQUARES:
        return _compute(x2, v2, g2, time_steps, want_counts, qx, qv, qg, fused)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is detected, not warned
        return _compute(x2, v2, g2, time_steps, want_counts, qx, qv, qg, fused)


def _squares(a: np.ndarray | None) -> float:
    """Sum of squares of a float array (inf when it overflowed, NaN with NaN/Inf);
    0.0 for None and for bool and integer arrays, whose reductions raise no
    floating-point warnings (their float64 conversions cannot overflow)."""
    if a is None or a.dtype.kind != "f":
        return 0.0
    return float(np.vdot(a, a))


def _max_in_unit(a: np.ndarray) -> tuple[float, bool]:
    """(max of ``a``, whether every value lies in [0, 1]): for floats one pass over
    the bit patterns (see :data:`_UNIT_BITS`; no slower than ``a.max()``), and a
    second, ``a.max()``, only when some value lies outside."""
    dtype = a.dtype
    if dtype.kind == "f":
        bits = _UNIT_BITS.get(dtype.itemsize)
        if bits is not None:
            top = a.view(bits[0]).max()
            if top <= bits[1]:
                return float(top.view(dtype)), True
    return float(a.max()), False


def _fused_passes(x2: np.ndarray) -> tuple[float, np.ndarray, float, bool] | None:
    """(sum of squares, per-neuron sums, max, every value in [0, 1]) of a large
    C-contiguous float array ``(rows, n)``, in blocks of rows that stay in cache from
    the first pass over a block to the third (one read from memory instead of three:
    a quarter to a third less time on a ``[12800, 700]`` step), else None. Sums of
    0/1 values are exact either way; a NaN anywhere makes the sums NaN, as the
    whole-array passes do."""
    rows, n = x2.shape
    bits = _UNIT_BITS.get(x2.dtype.itemsize)
    if x2.size < _FUSE_MIN or x2.dtype.kind != "f" or bits is None \
            or not x2.flags.c_contiguous:
        return None
    step = max(1, _FUSE_BLOCK // max(n, 1))
    squares = 0.0
    sums = None
    tops = []
    patterns = x2.view(bits[0])
    for i in range(0, rows, step):
        b = x2[i:i + step]
        squares += float(np.vdot(b, b))
        if sums is None:
            sums = b.sum(axis=0)
        else:
            np.add(sums, b.sum(axis=0), out=sums)
        tops.append(patterns[i:i + step].max())
    top = max(tops)
    if top <= bits[1]:
        return squares, sums, float(top.view(x2.dtype)), True
    return squares, sums, float(x2.max()), False


def _compute(x2: np.ndarray, v2: np.ndarray | None, g2: np.ndarray | None,
             time_steps: int | None, want_counts: bool, qx: float, qv: float,
             qg: float, fused: tuple[float, np.ndarray, float, bool] | None = None
             ) -> StepResult:
    """:func:`compute_step` given the sums of squares (see :func:`_squares`) and, for
    large spike arrays, the fused passes (:func:`_fused_passes`)."""
    s, mx, mn, nonbinary, fractional, nf_x, x2 = _spikes(x2, qx, fused)
    events = np.count_nonzero(x2, axis=0) if nonbinary else None  # x2 is finite here
    counts = None
    if want_counts and time_steps is not None:
        c = x2.reshape(time_steps, -1, x2.shape[1]).sum(axis=0)
        counts = (float(c.max()), float(c.min()), np.count_nonzero(c, axis=0), len(c))
    vm = voltage_moments(v2, qv) if v2 is not None else None
    gn = _gradient_norm(g2, qg) if g2 is not None else None
    isi = vt = frame = None
    n = x2.shape[1]
    if time_steps is not None:  # along time, on the first samples (temporal)
        isi = intervals(first_samples(x2.reshape(time_steps, -1), n), nonbinary == 0, n)
        if v2 is not None and len(v2) == len(x2):
            vt = spread(first_samples(v2.reshape(time_steps, -1), n), n, finite=not vm[3])
    else:
        frame = (first_samples(x2.reshape(-1), n), nonbinary == 0,
                 None if v2 is None else first_samples(v2.reshape(-1), n))
    samples = x2.shape[0] // time_steps if time_steps else x2.shape[0]
    return StepResult(x2.shape[0], s, mx, mn, nonbinary, nf_x, fractional, counts, vm, gn,
                      events, isi, vt, frame, samples)


def apply_step(acc: EpochStats, r: StepResult, *, step: int) -> None:
    """Add a computed step to ``acc`` (cannot fail part-way); ``step`` is the layer's
    step index, for "first non-finite at step ..."."""
    v = r.voltages
    if r.spike_min > -_QUIET and r.spike_max < _QUIET and (
            v is None or (not v[3] and v[4] > -_QUIET and v[5] < _QUIET)):
        _apply(acc, r, step)  # no value can overflow: skip NumPy's error-state switch
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            _apply(acc, r, step)


def _apply(acc: EpochStats, r: StepResult, step: int) -> None:
    if r.events is not None or acc.spike_events is not None:
        events = acc.spike_events
        if events is None:  # the first step with other values: the earlier ones were 0/1
            events = acc.spike_events = acc.spike_sum.copy()
        np.add(events, r.spike_sum if r.events is None else r.events, out=events)
    np.add(acc.spike_sum, r.spike_sum, out=acc.spike_sum)
    acc.n_steps += 1
    acc.n_obs += r.n_obs
    acc.n_samples += r.samples
    acc.spike_max = max(acc.spike_max, r.spike_max)
    acc.spike_min = min(acc.spike_min, r.spike_min)
    acc.nonbinary += r.nonbinary
    acc.fractional += r.fractional
    if r.nf_spikes:
        acc.nf_spikes += r.nf_spikes
        if acc.first_nf_spikes == NO_STEP:
            acc.first_nf_spikes = step
    if r.counts is not None:
        acc.count_steps += 1
        acc.count_max = max(acc.count_max, r.counts[0])
        acc.count_min = min(acc.count_min, r.counts[1])
        acc.active_samples += r.counts[2]
        acc.count_samples += r.counts[3]
    if r.frame is not None:
        _continue_sequences(acc, r)
    if r.isi is not None:
        _add_isi(acc, r.isi)
    if r.spread is not None:
        _add_spread(acc, r.spread)
    if r.voltages is not None:
        n, mean, m2, nf_v, v_min, v_max = r.voltages
        acc.add_voltage_moments(n, mean, m2)
        acc.v_min = min(acc.v_min, v_min)
        acc.v_max = max(acc.v_max, v_max)
        if nf_v:
            acc.nf_voltages += nf_v
            if acc.first_nf_voltages == NO_STEP:
                acc.first_nf_voltages = step
    if r.gradient is not None:
        _commit_gradient(acc, r.gradient, step)


def _add_isi(acc: EpochStats, isi: tuple[np.ndarray, ...]) -> None:
    np.add(acc.isi_n, isi[0], out=acc.isi_n)
    np.add(acc.isi_sum, isi[1], out=acc.isi_sum)
    np.add(acc.isi_sq, isi[2], out=acc.isi_sq)


def _add_spread(acc: EpochStats, vt: tuple[np.ndarray, np.ndarray | float]) -> None:
    np.add(acc.vt_m2, vt[0], out=acc.vt_m2)
    if not isinstance(vt[1], float) or vt[1]:
        np.add(acc.vt_dof, vt[1], out=acc.vt_dof)


def _continue_sequences(acc: EpochStats, r: StepResult) -> None:
    """One time step of the open sequences (new ones when the rows changed)."""
    spikes, binary, voltages = r.frame
    open_ = acc.open
    if open_ is None or open_.rows != len(spikes):
        open_ = acc.open = OpenSequences(len(spikes))
    silent = r.spike_max == 0 and r.spike_min == 0 and not r.nf_spikes
    finite = r.voltages is not None and not r.voltages[3]
    isi, vt = open_.add(spikes, binary, voltages, acc.n_neurons, silent, finite)
    if isi is not None:
        _add_isi(acc, isi)
    if vt is not None:
        _add_spread(acc, vt)


def _spikes(x2: np.ndarray, squares: float = math.nan,
            fused: tuple[float, np.ndarray, float, bool] | None = None
            ) -> tuple[np.ndarray, float, float, int, int, int, np.ndarray]:
    """(per-neuron sum, max, min, non-binary count, count of values that are not whole
    numbers, non-finite count, cleaned x2); ``squares``: ``vdot(x2, x2)`` if known;
    ``fused``: :func:`_fused_passes` of ``x2`` if known."""
    kind = x2.dtype.kind
    if kind == "b":
        s = column_sums(x2)
        tot = int(s.sum())
        return s, float(tot > 0), float(tot == x2.size), 0, 0, 0, x2
    if x2.dtype.itemsize == 8 and kind in "iu":
        x2 = exact_or_float64(x2)
    if fused is not None:
        s, mx, unit = fused[1], fused[2], fused[3]
    else:
        s = column_sums(x2) if x2.shape[0] > 1 else x2[0]
        mx, unit = _max_in_unit(x2)
    tot = float(s.sum(dtype=np.float64))
    nonfinite = 0
    if not (math.isfinite(tot) and math.isfinite(mx)):
        x2, nonfinite = _finite_float64(x2)
        s = column_sums(x2)
        tot = float(s.sum())
        mx, unit = _max_in_unit(x2)
        squares = math.nan
    if kind == "f" and unit and x2.size <= _EXACT_FLOAT32_LIMIT:
        if squares != squares:  # NaN: not known (or taken before NaN/Inf were cleaned)
            squares = float(np.vdot(x2, x2))
        # on [0, 1], x*x <= x with equality only at 0 and 1 (a negative value could
        # make up for values between 0 and 1: -0.5, 0.5, 0.5, 0.5)
        maybe_nonbinary = squares != tot
    else:
        maybe_nonbinary = kind == "f" or mx > 1 or float(x2.min()) < 0
    fractional = 0
    if maybe_nonbinary:
        nonbinary = x2.size - int(np.count_nonzero(x2 == 0)) - int(np.count_nonzero(x2 == 1))
        mn = float(x2.min())
        if nonbinary and kind == "f":
            fractional = int(np.count_nonzero(x2 != np.floor(x2)))
    else:
        nonbinary = 0
        mn = 1.0 if tot == x2.size else 0.0
    return s, mx, mn, nonbinary, fractional, nonfinite, x2


def exact_or_float64(a: np.ndarray) -> np.ndarray:
    """64-bit integers ``(rows, n)`` as they are when no sum along a column (nor of a
    column's sums) can leave int64, else in float64: sums of up to 2**63 values below
    2**64 stay far below float64's range (exact up to 2**53, then rounded), so huge
    counts are never summed into a wrapped, negative or zero total. Smaller integer
    types sum in int64 (NumPy's default) and cannot overflow."""
    bound = max(abs(int(a.max())), abs(int(a.min()))) * a.shape[0]
    return a if bound < _INT64_SAFE else a.astype(np.float64)


def _finite_float64(a: np.ndarray) -> tuple[np.ndarray, int]:
    """``a`` in float64 with NaN/Inf replaced by 0, and how many there were."""
    finite = np.isfinite(a)
    bad = a.size - int(np.count_nonzero(finite))
    a64 = a.astype(np.float64)
    if bad:
        a64[~finite] = 0.0
    return a64, bad


def voltage_moments(v2: np.ndarray, squares: float = math.nan
                    ) -> tuple[int, float, float, int, float, float]:
    """(count, mean, sum of squared deviations, non-finite count, min, max) of the
    finite voltages; ``squares``: ``vdot(v2, v2)`` if known."""
    if v2.dtype.kind != "f":
        v2 = v2.astype(np.float64)
        squares = math.nan
    n = v2.size
    total = float(column_sums(v2).sum(dtype=np.float64))
    nonfinite = 0
    if not math.isfinite(total):
        finite = np.isfinite(v2)
        nonfinite = n - int(np.count_nonzero(finite))
        v2 = v2[finite].astype(np.float64) if nonfinite else v2.astype(np.float64)
        n = v2.size
        if n == 0:
            return 0, 0.0, 0.0, nonfinite, math.inf, -math.inf
        total = float(v2.sum())
        squares = math.nan
    mean = total / n
    m2 = _m2_from_squares(v2, n, mean, squares)
    if m2 is None:  # the mean dominates: deviations from it, in a second pass
        m2 = _squared_deviations(v2, mean)
    if not math.isfinite(m2):  # float32 squares overflowed: redo in float64
        m2 = _squared_deviations(v2.astype(np.float64), mean)
    return n, mean, m2, nonfinite, float(v2.min()), float(v2.max())


def _m2_from_squares(v: np.ndarray, n: int, mean: float, q: float = math.nan
                     ) -> float | None:
    """Sum of squared deviations as sum(v**2) - n mean**2, in one pass, when that
    loses at most one bit to cancellation (n mean**2 <= half of sum(v**2): the
    result keeps the relative precision of the sum of squares, as the deviations'
    own sum of squares does); else None. ``q``: ``vdot(v, v)`` if known."""
    if q != q:
        q = float(np.vdot(v, v))
    shift = n * mean * mean
    if not math.isfinite(q) or shift > 0.5 * q:
        return None
    return q - shift


def _squared_deviations(v: np.ndarray, mean: float) -> float:
    """Sum of (v - mean)**2, in cache-sized blocks of rows (no full-size temporary)."""
    m = v.dtype.type(mean)
    if v.ndim == 1 or v.size <= _BLOCK:
        d = v - m
        return float(np.vdot(d, d))
    rows = max(1, _BLOCK // v.shape[1])
    total = 0.0
    for i in range(0, v.shape[0], rows):
        d = v[i:i + rows] - m
        total += float(np.vdot(d, d))
    return total


def _gradient_norm(g2: np.ndarray, sq: float = math.nan) -> tuple[float, int, int]:
    """(L2 norm, non-finite count, number of values); the norm is meaningless when
    the count is > 0. ``sq``: ``vdot(g2, g2)`` if known."""
    if g2.dtype.kind != "f":
        g2 = g2.astype(np.float64)
        sq = math.nan
    if sq != sq:
        sq = float(np.vdot(g2, g2))
    if math.isfinite(sq):
        return math.sqrt(sq), 0, g2.size
    nonfinite = g2.size - int(np.count_nonzero(np.isfinite(g2)))
    if nonfinite:
        return math.nan, nonfinite, g2.size
    g64 = g2.astype(np.float64)
    return math.sqrt(float(np.vdot(g64, g64))), 0, g2.size


def add_gradients(acc: EpochStats, g2: np.ndarray, *, step: int) -> None:
    """Fold one gradient tensor (``(observations, n_neurons)``) into ``acc``."""
    with np.errstate(over="ignore", invalid="ignore"):
        norm_nf = _gradient_norm(g2)
    _commit_gradient(acc, norm_nf, step)


def _commit_gradient(acc: EpochStats, norm_nf: tuple[float, int, int], step: int) -> None:
    norm, nonfinite, values = norm_nf
    if nonfinite:
        acc.nf_gradients += nonfinite
        if acc.first_nf_gradients == NO_STEP:
            acc.first_nf_gradients = step
    else:
        acc.add_gradient_norm(norm, values, step)


def add_input_reach(acc: EpochStats, blocked: int, checked: int) -> None:
    """Count, for one record, the neurons whose spikes got a gradient (``checked``)
    and those of them whose input got none (``blocked``; see :mod:`.hooks.watch`)."""
    acc.g_in_blocked += blocked
    acc.g_in_checked += checked


def add_input_nonfinite(acc: EpochStats, count: int, *, step: int) -> None:
    """Count NaN/Inf found in the gradient at a layer's input (see :mod:`.hooks.watch`)."""
    if count:
        acc.nf_input_gradients += count
        if acc.first_nf_input_gradients == NO_STEP:
            acc.first_nf_input_gradients = step
