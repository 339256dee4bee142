"""One watched layer's frames, from its forward calls until they are recorded.

A per-step layer returns one ``(batch, *neurons)`` frame per call, and
:mod:`torch_hooks` records a sequence of them as one ``(time, batch, *neurons)``
step. Waiting costs the training step, so frames wait in one of two ways:

- **kept**: the frame tensors themselves (a reference, not a copy) are stacked once
  when the sequence is recorded, then reduced exactly by ``record_step``. On a GPU
  that is one stack and a few kernels per sequence instead of work per call.
- **folded** (CPU, float32, frames of at least :data:`FOLD_MIN_VALUES` values):
  each frame is added into per-sample spike counts and OR-ed, as 32-bit patterns,
  into a screen while it is still in cache - two in-place ops per call. When the
  screen holds only the patterns of 0.0 and 1.0 and every count is whole, the
  counts give every spike statistic exactly (sums, rates, per-sample counts, max,
  min, binary). Otherwise the kept frames are stacked and measured exactly, as
  ``record_step`` would. (The screen lets through 0 and powers of two up to 1; whole
  counts rule those out unless they add up to whole numbers in every neuron and
  sample, or are below float32 resolution beside a 1.) Voltage statistics come
  from every :data:`VOLTAGE_STRIDE`-th frame and the last one.

Frames are values as of the call that returned them. The first sequence of a layer
is copied, and the originals' version counters tell whether the layer changes the
tensors it returned in place; if it does, its frames are always copied, else they
are kept by reference. A layer that starts doing so later gets a warning naming it
(that sequence has the changed values) and is copied from then on.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .reduce_numpy import StepResult, compute_step, voltage_moments

if TYPE_CHECKING:
    from .profiler import SpikeProfiler

FOLD_MIN_VALUES = 16_384
"""Frames with fewer values are kept: per-call ops would cost more than one stack."""
VOLTAGE_STRIDE = 16
"""Folded layers measure the voltages of every this many-th frame, and of the last."""
_ONE_BITS = 0x3F800000  # float32 1.0


class Sequence:
    """The frames of one layer's current sequence (see the module docstring)."""

    def __init__(self, name: str, *, may_fold: bool = True) -> None:
        self.name = name
        self.may_fold = may_fold  # False: always keep (a profiler that records only steps)
        self.spikes: list[Any] = []
        self.raster: list[Any] = []  # folded: the first sample of each frame
        self.voltages: list[Any] = []  # every frame's (kept) or sampled (folded)
        self.last_voltage: Any = None
        self.versions: list[int] = []  # version counters when taken: spikes, voltages,
        self.voltage_versions: list[int] = []  # and the last voltage frame
        self.last_version = 0
        self.last_sampled = True
        self.fold: _Fold | None = None  # set while the current sequence is folded
        self.copying: bool | None = None  # copy frames? None: copy, and find out
        self._originals: list[tuple[Any, int]] = []  # (tensor, version) while finding out
        self._folds: _Fold | None = None  # accumulators kept for the next sequences
        self._stack_out: list[Any] = [None, None]

    def __len__(self) -> int:
        return len(self.spikes)

    def add(self, spikes: Any, voltages: Any, batched: bool) -> None:
        """Take one frame: detached spikes ``(batch, *neurons)`` (``(*neurons)`` when
        not ``batched``) and voltages (or None; detached here, only when kept)."""
        k = len(self.spikes)
        if self.copying is not False:
            spikes, voltages = self._copy(spikes, voltages)
        fold = self.fold
        if k == 0:
            fold = self.fold = self._fold_for(spikes)
            if fold is not None:
                fold.start(spikes)
        elif fold is not None:
            fold.acc.add_(spikes)
            fold.bits.bitwise_or_(spikes.view(torch.int32))
        if fold is not None:  # the raster's sample (taking it later costs more)
            self.raster.append(spikes[0] if batched else spikes)
        self.spikes.append(spikes)
        self.versions.append(spikes._version)
        if voltages is not None:
            self.last_sampled = fold is None or k % VOLTAGE_STRIDE == 0
            if self.last_sampled:
                self.voltages.append(voltages.detach())
                self.voltage_versions.append(voltages._version)
            self.last_voltage, self.last_version = voltages, voltages._version

    def _copy(self, spikes: Any, voltages: Any) -> tuple[Any, Any]:
        if self.copying is None:  # finding out: remember the originals' versions
            self._originals.append((spikes, spikes._version))
            if voltages is not None:
                self._originals.append((voltages, voltages._version))
        return spikes.clone(), None if voltages is None else voltages.detach().clone()

    def clear(self) -> None:
        self.spikes, self.voltages, self.versions, self.voltage_versions = [], [], [], []
        self.raster = []
        self.last_voltage, self.fold, self._originals = None, None, []

    def record(self, profiler: SpikeProfiler, neuron_axes: int) -> None:
        """Record the frames taken so far as one step, then forget them."""
        try:
            certified = self.fold is not None and self.fold.certified()
            self._check_versions(certified)
            if self.fold is not None:
                self._record_folded(profiler, neuron_axes, self.fold, certified)
            else:
                self._record_kept(profiler, neuron_axes)
        finally:
            self.clear()

    # ------------------------------------------------------------ internals
    def _fold_for(self, x: Any) -> _Fold | None:
        if not self.may_fold or x.dtype != torch.float32 or x.device.type != "cpu" \
                or x.numel() < FOLD_MIN_VALUES:
            return None
        if self._folds is None or self._folds.acc.shape != x.shape:
            self._folds = _Fold(x)
        return self._folds

    def _check_versions(self, certified: bool) -> None:
        """Decide whether to copy frames (first sequence), or warn if a kept frame
        changed since it was taken (and copy from now on)."""
        if self.copying is None:
            self.copying = any(t._version != v for t, v in self._originals)
            self._originals = []
            return
        spikes = self.spikes[:1] if certified else self.spikes  # else read when taken
        now = [t._version for t in spikes + self.voltages]
        changed = now != self.versions[:len(spikes)] + self.voltage_versions or (
            self.last_voltage is not None and self.last_voltage._version != self.last_version)
        if not changed or self.copying:
            return
        self.copying = True
        warnings.warn(
            f"spikewidget.watch: layer {self.name!r} changed the tensors it returned in "
            f"place before its sequence was recorded; this sequence is recorded with the "
            f"changed values, and its frames are copied from now on (slower).",
            RuntimeWarning, stacklevel=5)

    def _stack(self, i: int, frames: list[Any]) -> Any:
        """``(time, *frame)``, into a buffer reused while the shape stays."""
        if len(frames) == 1:
            return frames[0]
        first = frames[0]
        shape = (len(frames), *first.shape)
        out = self._stack_out[i]
        if out is None or out.shape != shape or out.dtype != first.dtype \
                or out.device != first.device:
            out = self._stack_out[i] = torch.empty(shape, dtype=first.dtype,
                                                   device=first.device)
        return torch.stack(frames, out=out)

    def _record_kept(self, profiler: SpikeProfiler, neuron_axes: int) -> None:
        spikes = self._stack(0, self.spikes)
        voltages = None
        if self.voltages and len(self.voltages) == len(self.spikes):
            voltages = self._stack(1, self.voltages)
        profiler.record_step(self.name, spikes, voltages, neuron_axes=neuron_axes)

    def _record_folded(self, profiler: SpikeProfiler, neuron_axes: int, fold: _Fold,
                       certified: bool) -> None:
        frame = self.spikes[0]
        t = len(self.spikes)
        samples = frame.shape[:frame.ndim - neuron_axes]  # () or (batch,)
        m = int(np.prod(samples))
        n = frame.numel() // m
        shape = (t, *frame.shape) if t > 1 else tuple(frame.shape)
        counts = fold.acc.numpy().reshape(m, n)
        if not certified:
            exact = self._stack(0, self.spikes).numpy().reshape(t * m, n)
        vm = None
        if self.voltages:
            sampled = list(self.voltages)
            if not self.last_sampled:
                sampled.append(self.last_voltage.detach())
            with np.errstate(over="ignore", invalid="ignore"):
                vm = voltage_moments(self._stack(1, sampled).numpy().reshape(-1, n))
        time_steps = t if (t > 1 and samples) else None

        def compute(want_counts: bool) -> StepResult:
            if not certified:
                r = compute_step(exact, None, None, time_steps=time_steps,
                                 want_counts=want_counts)
                return dataclasses.replace(r, voltages=vm)
            return _certified_result(counts, t, want_counts and time_steps is not None, vm)

        rows = self.raster[-profiler.raster_window:] if profiler.raster_window else []
        raster = (torch.stack(rows).numpy().reshape(len(rows), n) if rows
                  else np.zeros((0, n), dtype=np.float32))
        profiler._record_reduced(self.name, shape, neuron_axes, compute, raster)


class _Fold:
    """Per-sample spike counts over time, and the OR of every value's bit pattern."""

    def __init__(self, like: Any) -> None:
        self.acc = torch.empty_like(like)
        self.bits = torch.empty(like.shape, dtype=torch.int32)

    def start(self, x: Any) -> None:
        self.acc.copy_(x)
        self.bits.copy_(x.view(torch.int32))

    def certified(self) -> bool:
        """Every value was 0.0 or 1.0 (see the module docstring)."""
        screen = int(np.bitwise_or.reduce(self.bits.numpy().ravel()))
        if screen not in (0, _ONE_BITS):
            return False
        acc = self.acc
        return bool(torch.equal(acc, acc.trunc()))


def _certified_result(counts: np.ndarray, t: int, with_counts: bool,
                      voltages: tuple[int, float, float, int] | None) -> StepResult:
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
                      nonbinary=0, nf_spikes=0, counts=per_sample, voltages=voltages,
                      gradient=None)
