"""One watched layer's frames, from its forward calls until they are recorded.

A per-step layer returns one ``(batch, *neurons)`` frame per call, and
:mod:`.hooks.watch` records a sequence of them as one ``(time, batch, *neurons)``
step. Waiting costs the training step, so frames wait in one of two ways:

- **kept**: the frame tensors themselves (the layer's own, alive for backward anyway:
  no copy, no new object) are stacked once when the sequence is recorded. On a GPU
  they are reduced by ``record_step`` with a few kernels per sequence, nothing per call.
- **folded** (CPU, float32, frames of at least :data:`FOLD_MIN_VALUES` values): when
  the sequence is recorded, its frames are added one by one into per-sample spike
  counts and OR-ed, as 32-bit patterns, into a screen - two NumPy ufuncs per frame, no
  stacked copy. (Folding each frame in its hook, while it is in cache, cost more in
  training: between calls PyTorch's own work evicts the accumulators and our code.)
  When the screen holds only the patterns of 0.0 and 1.0 and every count is whole,
  the counts give every spike statistic exactly (sums, rates, per-sample counts, max,
  min, binary). Otherwise the frames are stacked and measured exactly, as
  ``record_step`` would. (The screen lets through 0 and powers of two up to 1; whole
  counts rule those out unless they add up to whole numbers in every neuron and
  sample, or are below float32 resolution beside a 1.)

On the CPU (float32 or float64 frames) spikes are measured exactly either way (inter-
spike intervals too, frame by frame, on the first ``temporal.SAMPLES`` samples), and
voltage statistics (moments, extrema, the spread over time) come from every
:data:`VOLTAGE_STRIDE`-th frame and the last one (``voltage_stride=1``: every frame):
the spread over time is then that of the sampled time steps. Elsewhere every frame's
voltages are measured.

Frames are values as of the call that returned them. The first sequence of a layer
is copied, and the originals' version counters tell whether the layer changes the
tensors it returned in place; if it does, its frames are always copied, else they
are kept by reference. A layer that starts doing so later gets a warning naming it
(that sequence may have the changed values) and is copied from then on.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..record.reduce_numpy import StepResult, compute_step, voltage_moments
from ..state.temporal import first_samples, intervals, sequence_intervals, spread

if TYPE_CHECKING:
    from ..record.protocol import FullRecording

FOLD_MIN_VALUES = 16_384
"""Frames with fewer values are kept: per-call ops would cost more than one stack."""
VOLTAGE_STRIDE = 16
"""On the CPU, the voltages of every this many-th frame, and of the last, are measured."""
_ONE_BITS = 0x3F800000  # float32 1.0


class Sequence:
    """The frames of one layer's current sequence (see the module docstring)."""

    def __init__(self, name: str, *, may_fold: bool = True,
                 voltage_stride: int = VOLTAGE_STRIDE) -> None:
        self.name = name
        # may_fold=False: whole steps go to record_step only (the sweep's stand-in
        # profiler, backend="torch"); on the host every voltage_stride-th frame's
        # voltages are measured
        self.may_fold = may_fold
        self.voltage_stride = voltage_stride
        self.spikes: list[Any] = []
        self.voltages: list[Any] = []  # every frame's, or on the host the sampled ones
        self.last_voltage: Any = None
        self.versions: list[int] = []  # version counters when taken: spikes, voltages,
        self.voltage_versions: list[int] = []  # and the last voltage frame
        self.last_version = 0
        self.last_sampled = True
        self.host = False  # the current sequence is reduced here, on the host (CPU)
        self.fold: _Fold | None = None  # set while the current sequence is folded
        self.copying: bool | None = None  # copy frames? None: copy, and find out
        self._originals: list[tuple[Any, int]] = []  # (tensor, version) while finding out
        self._folds: _Fold | None = None  # accumulators kept for the next sequences
        self._stack_out: list[Any] = [None, None]

    def __len__(self) -> int:
        return len(self.spikes)

    def add(self, spikes: Any, voltages: Any, batched: bool) -> None:
        """Take one frame: spikes ``(batch, *neurons)`` (``(*neurons)`` when not
        ``batched``) and voltages (or None), as the layer returned them. Kept frames
        are the layer's own tensors (alive for backward anyway): no new objects."""
        if self.copying is not False:
            spikes, voltages = self._copy(spikes, voltages)
        if not self.spikes:
            self.host = self.may_fold and _on_host(spikes) and (
                voltages is None or _on_host(voltages))
            self.fold = self._fold_for(spikes, batched) if self.host else None
        self.append(spikes, voltages)

    def append(self, spikes: Any, voltages: Any) -> None:
        """Take a frame like the first of the sequence, with nothing to copy (the
        hooks' short path: a reference and a version counter per tensor)."""
        k = len(self.spikes)
        try:
            sv = spikes._version
            vv = 0 if voltages is None else voltages._version
        except RuntimeError:  # an inference tensor (torch.inference_mode) has none
            sv, vv = version(spikes), version(voltages)
        self.spikes.append(spikes)
        self.versions.append(sv)
        if voltages is not None:
            self.last_sampled = not self.host or k % self.voltage_stride == 0
            if self.last_sampled:
                self.voltages.append(voltages)
                self.voltage_versions.append(vv)
            self.last_voltage, self.last_version = voltages, vv

    def _copy(self, spikes: Any, voltages: Any) -> tuple[Any, Any]:
        if self.copying is None:  # finding out: remember the originals' versions
            self._originals.append((spikes, version(spikes)))
            if voltages is not None:
                self._originals.append((voltages, version(voltages)))
        return (spikes.detach().clone(),
                None if voltages is None else voltages.detach().clone())

    def clear(self) -> None:
        self.spikes, self.voltages, self.versions, self.voltage_versions = [], [], [], []
        self.last_voltage, self.fold, self.host, self._originals = None, None, False, []

    def record(self, profiler: FullRecording, neuron_axes: int) -> None:
        """Record the frames taken so far as one step, then forget them."""
        try:
            self._check_versions()
            fold = self.fold
            if fold is not None:
                fold.run(self.spikes, min(profiler.raster_window, len(self.spikes)))
            certified = fold is not None and fold.certified()
            if self.host:
                self._record_host(profiler, neuron_axes, fold, certified)
            else:
                self._record_kept(profiler, neuron_axes)
        finally:
            if self.fold is not None:
                self.fold.views = []  # the frames' NumPy views: not kept past the record
            self.clear()

    # ------------------------------------------------------------ internals
    def _fold_for(self, x: Any, batched: bool) -> _Fold | None:
        if x.dtype != torch.float32 or x.numel() < FOLD_MIN_VALUES:
            return None
        folds = self._folds
        if folds is None or folds.acc.shape != x.shape or folds.batched != batched:
            folds = self._folds = _Fold(x, batched)
        return folds

    def _check_versions(self) -> None:
        """Decide whether to copy frames (first sequence), or warn if a kept frame
        changed since it was taken (and copy from now on)."""
        if self.copying is None:
            self.copying = any(version(t) != v for t, v in self._originals)
            self._originals = []
            return
        now = [version(t) for t in self.spikes + self.voltages]
        changed = now != self.versions + self.voltage_versions or (
            self.last_voltage is not None and version(self.last_voltage) != self.last_version)
        if not changed or self.copying:
            return
        self.copying = True
        warnings.warn(
            f"spikewidget.watch: layer {self.name!r} changed the tensors it returned in "
            f"place before its sequence was recorded; this sequence may be recorded with "
            f"the changed values, and its frames are copied from now on (slower).",
            RuntimeWarning, stacklevel=5)

    def _stack(self, i: int, frames: list[Any]) -> Any:
        """``(time, *frame)``, into a buffer reused while the shape stays."""
        if len(frames) == 1:
            return frames[0].detach()
        first = frames[0]
        shape = (len(frames), *first.shape)
        out = self._stack_out[i]
        if out is None or out.shape != shape or out.dtype != first.dtype \
                or out.device != first.device:
            out = self._stack_out[i] = torch.empty(shape, dtype=first.dtype,
                                                   device=first.device)
        with torch.no_grad():  # frames may be the layer's own tensors
            return torch.stack(frames, out=out)

    def _record_kept(self, profiler: FullRecording, neuron_axes: int) -> None:
        """Every frame and voltage, as one ``record_step`` (a GPU's kernels)."""
        spikes = self._stack(0, self.spikes)
        voltages = None
        if self.voltages and len(self.voltages) == len(self.spikes):
            voltages = self._stack(1, self.voltages)
        profiler.record_step(self.name, spikes, voltages, neuron_axes=neuron_axes)

    def _record_host(self, profiler: FullRecording, neuron_axes: int, fold: _Fold | None,
                     certified: bool) -> None:
        """Spikes exactly (from the fold's counts when ``certified``, else from the
        stacked frames), voltages of the sampled frames."""
        frame = self.spikes[0]
        t = len(self.spikes)
        samples = frame.shape[:frame.ndim - neuron_axes]  # () or (batch,)
        m = int(np.prod(samples))
        n = frame.numel() // m
        shape = (t, *frame.shape) if t > 1 else tuple(frame.shape)
        if not certified:
            exact = self._stack(0, self.spikes).numpy().reshape(t * m, n)
        time_steps = t if (t > 1 and samples) else None
        vm = vt = v_rows = None  # v_rows: a single frame's voltages, which continue
        if self.voltages:  # the open sequences (see temporal)
            sampled = list(self.voltages)
            if not self.last_sampled:
                sampled.append(self.last_voltage)
            v = self._stack(1, sampled).numpy()
            with np.errstate(over="ignore", invalid="ignore"):
                vm = voltage_moments(v.reshape(-1, n))
                if t > 1:  # the spread over the sampled time steps
                    vt = spread(first_samples(v.reshape(len(sampled), -1), n), n,
                                finite=not vm[3])
            v_rows = first_samples(v.reshape(-1), n) if t == 1 else None

        def compute(want_counts: bool) -> StepResult:
            # frames are time steps (batched or not): intervals and spread along them
            if not certified:
                r = compute_step(exact, None, None, time_steps=time_steps,
                                 want_counts=want_counts)
                if t == 1:
                    return dataclasses.replace(r, voltages=vm, frame=(*r.frame[:2], v_rows))
                isi = r.isi if r.isi is not None else intervals(
                    first_samples(exact.reshape(t, -1), n), r.nonbinary == 0, n)
                return dataclasses.replace(r, voltages=vm, spread=vt, isi=isi, frame=None)
            counts = fold.acc.reshape(m, n)
            r = _certified_result(counts, t, want_counts and time_steps is not None, vm)
            if t == 1:
                return dataclasses.replace(
                    r, frame=(first_samples(counts.reshape(-1), n), True, v_rows))
            return dataclasses.replace(r, isi=_intervals(fold.views, counts), spread=vt)

        window = min(profiler.raster_window, t)
        raster = (fold.rows[:window].reshape(window, n) if fold is not None
                  else exact.reshape(t, m, n)[t - window:, 0])
        profiler.record_reduced(self.name, shape, neuron_axes, compute, raster)


class _Fold:
    """Per-sample spike counts over time, the OR of every value's bit pattern, and
    the first sample of the last frames (the raster's rows). NumPy arrays: its ufuncs
    cost about a microsecond less per call than torch's."""

    def __init__(self, like: Any, batched: bool) -> None:
        shape = tuple(like.shape)
        self.batched = batched
        self.acc = np.empty(shape, dtype=np.float32)
        self.bits = np.empty(shape, dtype=np.int32)
        self.rows = np.empty((0, *(shape[1:] if batched else shape)), dtype=np.float32)
        self.views: list[np.ndarray] = []  # the frames of the current run, as NumPy views

    def run(self, frames: list[Any], window: int) -> None:
        """Fold ``frames`` (float32 CPU tensors of this shape) in, starting over, and
        copy the first sample of the last ``window`` of them into ``rows``."""
        if len(self.rows) < window:
            self.rows = np.empty((window, *self.rows.shape[1:]), dtype=np.float32)
        acc, bits, rows = self.acc, self.bits, self.rows
        first = len(frames) - window
        views = self.views = []
        for k, frame in enumerate(frames):
            x = frame.detach().numpy()
            views.append(x)
            if k:
                np.add(acc, x, out=acc)
                np.bitwise_or(bits, x.view(np.int32), out=bits)
            else:
                np.copyto(acc, x)
                np.copyto(bits, x.view(np.int32))
            if k >= first:
                rows[k - first] = x[0] if self.batched else x

    def certified(self) -> bool:
        """Every value was 0.0 or 1.0 (see the module docstring)."""
        screen = int(np.bitwise_or.reduce(self.bits.ravel()))
        if screen not in (0, _ONE_BITS):
            return False
        return bool(np.array_equal(self.acc, np.trunc(self.acc)))


def _intervals(frames: list[np.ndarray], counts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Inter-spike intervals per neuron of binary frames (NumPy views, see
    :mod:`.temporal`), one frame at a time (no stacked copy); ``counts``: spikes per
    sample and neuron."""
    n = counts.shape[1]
    return sequence_intervals(
        (first_samples(f.reshape(-1), n) for f in frames), len(frames),
        first_samples(counts.reshape(-1), n), n)


def version(t: Any) -> int:
    """``t``'s version counter (how many in-place changes it had); -1 for an inference
    tensor (made under ``torch.inference_mode``), which keeps none: a layer that
    changed its outputs in place in inference mode would go unnoticed."""
    if t is None:
        return 0
    try:
        return t._version
    except RuntimeError:
        return -1


def _on_host(x: Any) -> bool:
    """A CPU tensor NumPy reads as it is."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)


def _certified_result(counts: np.ndarray, t: int, with_counts: bool,
                      voltages: tuple[int, float, float, int, float, float] | None
                      ) -> StepResult:
    """The :class:`StepResult` of ``t`` binary frames from their per-sample counts
    ``(samples, n_neurons)``."""
    spike_sum = counts.sum(axis=0)
    total = float(spike_sum.sum(dtype=np.float64))
    values = t * counts.size
    per_sample = None
    if with_counts:
        per_sample = (float(counts.max()), float(counts.min()),
                      np.count_nonzero(counts, axis=0), counts.shape[0])
    return StepResult(n_obs=t * counts.shape[0], spike_sum=spike_sum,
                      spike_max=1.0 if total > 0 else 0.0,
                      spike_min=0.0 if total < values else 1.0,
                      nonbinary=0, nf_spikes=0, fractional=0, counts=per_sample,
                      voltages=voltages, gradient=None, samples=counts.shape[0])
