"""Statistics along time, per neuron, on the host: inter-spike intervals and how much
each neuron's membrane voltage moves over time.

Definitions (the device path, :mod:`.reduce_torch`, computes the same numbers):

- **Time.** A record with a time axis, ``(time, batch, *neurons)``, holds one sequence
  per sample: time runs along its first axis, in time steps, and sequences end with
  the record. A record without one, ``(batch, *neurons)`` or ``(*neurons)``, is one
  time step of sequences that continue from record to record, one per sample index
  (row), until the number of rows changes or a new epoch starts (then new ones begin).
  Open sequences are not saved: a loaded profile starts new ones; ``merge`` keeps the
  receiving profiler's open and ends the other's. (``watch`` records a layer called
  once per forward this way, unless ``time_steps`` groups the calls.)
- **Samples.** Both are measured on the first :data:`SAMPLES` samples of each record
  (all of them when it has fewer): per-neuron statistics over a few sequences cost a
  few array operations on ``SAMPLES x neurons`` values per time step, whatever the
  batch size.
- **Spike.** A finite non-zero value (a graded spike is one spike event).
- **Inter-spike interval (ISI).** The time steps between two consecutive spikes of
  the same neuron in the same sequence. Per neuron the count, sum and sum of squares
  of its intervals are kept (whole numbers, exact in float64).
- **Spread over time.** Per neuron, the pooled within-sequence variance of its finite
  voltages: squared deviations from each sequence's own mean, summed over sequences,
  over the sum of (length - 1). A voltage frozen in time reads 0 however much
  neurons or samples differ from one another.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..core.bounds import at_least, at_most
from ..core.columns import column_sums

SAMPLES = 16
"""Intervals and the spread over time are measured on this many samples per record."""
_UNSEEN = float(2 ** 24)  # "no spike yet": far above any time step, exact in float32
_FLOAT32_TIME = 4096  # up to here squared intervals (<= 2**24) are exact in float32


# --------------------------------------------------------------- intervals
class IntervalFold:
    """The last spike of one sequence per row; :meth:`step` takes the frame at time
    step ``k`` as ``(rows,)`` values that are 0 or 1 (spikes as 0/1, or a spike mask)
    and gives the interval that ends there per row: three array operations, no
    branch on values."""

    def __init__(self, rows: int, steps: int) -> None:
        self.dtype = np.float32 if steps <= _FLOAT32_TIME else np.float64
        self.last = np.full(rows, _UNSEEN if self.dtype == np.float32 else 2.0 ** 52,
                            self.dtype)
        self._d = np.empty(rows, self.dtype)

    def step(self, frame: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
        """Per row the time since the last spike where ``frame`` spikes, else 0; a
        first spike gives a (hugely) negative value: clip at 0. Writes ``out`` (default
        a buffer that the next call reuses)."""
        d = self._d if out is None else out
        np.subtract(k, self.last, out=d)  # time since the last spike
        np.multiply(d, frame, out=d)  # ... at spikes only
        np.add(self.last, d, out=self.last)  # a spike moves `last` to k exactly
        return d


def sequence_intervals(frames: Iterable[np.ndarray], t: int, counts: np.ndarray,
                       n: int) -> tuple[np.ndarray, ...]:
    """(intervals, sum, sum of squares) per neuron, float64, of ``t`` frames
    ``(rows,)`` of 0/1 values (rows = samples x ``n``; ``counts``: spikes per row).
    Three operations per frame, then three on all of them; in float32 up to 4096
    time steps (every partial sum is then a whole number below 2**24: exact)."""
    rows = counts.size
    fold = IntervalFold(rows, t)
    d = np.empty((t, rows), fold.dtype)
    for k, frame in enumerate(frames):
        fold.step(frame, k, out=d[k])
    at_least(d, 0, out=d)
    k = at_least(counts.reshape(-1, n) - 1, 0).sum(axis=0, dtype=np.float64)
    total = d.sum(axis=0).reshape(-1, n).sum(axis=0, dtype=np.float64)
    squares = np.einsum("tr,tr->r", d, d).reshape(-1, n).sum(axis=0, dtype=np.float64)
    return k, total, squares


def first_samples(a: np.ndarray, n: int) -> np.ndarray:
    """The first :data:`SAMPLES` samples of each row of ``(time, samples x n)``
    (``a[:, :SAMPLES * n]``, a view), or of a single time step ``(samples x n,)``."""
    return a[..., :SAMPLES * n]


def spike_frames(x3: np.ndarray, binary: bool) -> np.ndarray:
    """``(time, rows)`` values the interval fold can take: ``x3`` itself when its
    values are 0 and 1, else its finite non-zero mask."""
    if binary:
        return x3
    return (x3 != 0) & np.isfinite(x3)


def intervals(x3: np.ndarray, binary: bool, n: int) -> tuple[np.ndarray, ...]:
    """(intervals, sum, sum of squares) per neuron of the sequences of one record,
    ``x3`` as ``(time, rows)``."""
    frames = spike_frames(x3, binary)
    if frames.dtype == np.bool_:
        counts = np.count_nonzero(frames, axis=0)
    elif frames.dtype == np.float32 and len(frames) < _UNSEEN:  # 0/1: float32 sums exact
        counts = frames.sum(axis=0)
    else:
        counts = frames.sum(axis=0, dtype=np.float64)
    return sequence_intervals(frames, len(frames), counts, n)


# ------------------------------------------------------------ spread over time
def spread(v3: np.ndarray, n: int, finite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(sum of squared deviations from each sequence's mean, degrees of freedom) per
    neuron, float64, of voltages ``(time, rows)`` (rows = samples x ``n``; ``finite``:
    they are known to be all finite).

    A voltage frozen in time gives exactly 0: float32 voltages are summed exactly in
    float64 (their mean is then the value itself), float64 ones are taken relative
    to their first time step. Deviations are squared in the voltages' own type."""
    t = v3.shape[0]
    if v3.dtype.kind != "f":
        v3 = v3.astype(np.float64)
    if not finite and not np.isfinite(v3.sum(dtype=np.float64)):
        return _spread_finite(v3, n)
    if v3.dtype == np.float32:
        mean = (v3.sum(axis=0, dtype=np.float64) / t).astype(np.float32)
        d = v3 - mean
    else:
        d = v3 - v3[0]
        d -= d.mean(axis=0)
    m2 = np.einsum("tr,tr->r", d, d).astype(np.float64)
    return m2.reshape(-1, n).sum(axis=0), np.full(n, (t - 1) * (v3.shape[1] // n), np.float64)


def _spread_finite(v3: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`spread` of the finite values only (NaN/Inf present), in float64."""
    finite = np.isfinite(v3)
    v = np.where(finite, v3, 0.0).astype(np.float64)
    k = finite.sum(axis=0, dtype=np.float64)
    first = v[np.argmax(finite, axis=0), np.arange(v.shape[1])]  # first finite value
    d = np.where(finite, v - first, 0.0)
    d = np.where(finite, d - d.sum(axis=0) / np.maximum(k, 1), 0.0)
    m2 = np.einsum("tr,tr->r", d, d)
    return m2.reshape(-1, n).sum(axis=0), np.maximum(k - 1, 0).reshape(-1, n).sum(axis=0)


# ------------------------------------------------------------ open sequences
_EXACT32 = float(2 ** 24)  # float32 holds every whole number up to here


class OpenSequences:
    """The sequences that records without a time axis continue, one per row.

    Per row: the time step of its last spike (an :class:`IntervalFold`), and the
    count and mean of its finite voltages so far (Welford, in the voltages' own
    float type); ``clock`` is the time step of the next record. Sums per neuron are
    taken in float32 only where every partial sum is a whole number below 2**24
    (exact), else in float64.
    """

    __slots__ = ("clock", "fold", "v_count", "v_mean", "v_ok")

    def __init__(self, rows: int) -> None:
        self.clock = 0
        self.fold = IntervalFold(rows, 1)  # float32 until the clock nears 2**24
        self.v_count: np.ndarray | None = None  # per row, once a voltage was not finite
        self.v_mean: np.ndarray | None = None
        self.v_ok = 0  # voltages seen while all were finite

    @property
    def rows(self) -> int:
        return len(self.fold.last)

    def add(self, spikes: np.ndarray, binary: bool, voltages: np.ndarray | None,
            n: int, silent: bool = False, finite: bool = False
            ) -> tuple[tuple[np.ndarray, ...] | None, tuple[np.ndarray, np.ndarray | float] | None]:
        """One time step ``(rows,)`` (``silent``: it has no spike; ``finite``: its
        voltages are all finite); returns the new (intervals, sum, squares) per neuron
        (None: nothing can have ended) and (squared-deviation increment, degrees-of-
        freedom increment) per neuron (None: no voltages). Returned arrays may be
        buffers that the next call overwrites: add them in at once."""
        welford = None if voltages is None else self._welford(voltages, n, finite)
        if silent:  # nothing ends, nothing moves
            self.clock += 1
            return None, welford
        fold = self.fold
        if self.clock >= _EXACT32 - 1 and fold.last.dtype == np.float32:
            fold.last = np.where(fold.last == _UNSEEN, 2.0 ** 52, fold.last)
            fold._d = np.empty(len(fold.last))
            fold.dtype = np.float64
        d = fold.step(spikes if binary else spike_frames(spikes, False), self.clock)
        at_least(d, 0, out=d)  # a first spike has no interval
        rows = len(d) // n
        # float32 sums of squares stay exact (whole numbers below 2**24) while
        # rows * top**2 does, top the longest interval; every interval is at most the
        # clock, so the max is only looked at once the clock is large
        if d.dtype != np.float32 or (rows * float(self.clock) ** 2 >= _EXACT32
                                     and rows * float(d.max()) ** 2 >= _EXACT32):
            d = d.astype(np.float64)
        self.clock += 1
        if rows == 1:  # one sample: its rows are the neurons (no sums across rows)
            return (at_most(d, 1), d, d * d), welford
        d = d.reshape(rows, n)
        sums = column_sums
        return (sums(at_most(d, 1)), sums(d), sums(d * d)), welford

    def _welford(self, v: np.ndarray, n: int, finite: bool = False
                 ) -> tuple[np.ndarray, np.ndarray | float]:
        if v.dtype.kind != "f":
            v = v.astype(np.float64)
        if self.v_mean is None or self.v_mean.dtype != v.dtype:
            self.v_mean = np.zeros(len(v), dtype=v.dtype)
        if self.v_count is None and (finite or np.isfinite(v.sum(dtype=np.float64))):
            k = self.v_ok = self.v_ok + 1
            delta = v - self.v_mean
            step = delta * v.dtype.type(1 / k)
            self.v_mean += step
            np.subtract(v, self.v_mean, out=step)
            np.multiply(delta, step, out=delta)  # Welford's M2 increment
            dof = float(len(v) // n) if k >= 2 else 0.0  # the same for every neuron
            rows = len(v) // n
            m2 = delta if rows == 1 else column_sums(delta.reshape(rows, n))
            return m2, dof
        if self.v_count is None:
            self.v_count = np.full(len(v), float(self.v_ok))
        ok = np.isfinite(v)
        count = self.v_count + ok
        delta = np.where(ok, v - self.v_mean, 0.0)
        self.v_mean += (delta / np.maximum(count, 1)).astype(v.dtype)
        inc = delta * np.where(ok, v - self.v_mean, 0.0)
        self.v_count = count
        dof = (ok & (count >= 2)).reshape(-1, n).sum(axis=0, dtype=np.float64)
        return inc.reshape(-1, n).sum(axis=0), dof
