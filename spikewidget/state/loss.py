"""Loss tracking: per-epoch aggregates plus a bounded window of recent values.

Device tensors stay on their device (stacked into one tensor every
``_STACK_EVERY`` records, a device-side op) and are copied to the host in one
batch when a report asks: recording a loss never synchronises with the device.
Memory stays bounded between reports: every ``_FOLD_EVERY`` stacks are folded, on
the device, into per-epoch aggregates (:class:`_DeviceEpochLoss`) and the last
:data:`RECENT` values, so a long run without a report holds a few tensors per
epoch, not one entry per record.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.arrays import torch_module
from ..core.errors import InvalidInputError, InvalidTypeError
from .epoch_stats import NO_STEP, first_step

RECENT = 1024
_STACK_EVERY = 256  # pending device scalars are stacked (on the device) this often
_FOLD_EVERY = 8  # stacks kept before they are folded into per-epoch device aggregates


@dataclass(slots=True)
class EpochLoss:
    """Aggregates of the finite losses of one epoch, and the non-finite count."""

    n: int = 0
    total: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    last: float = math.nan
    nonfinite: int = 0
    first_nonfinite: int = NO_STEP

    def add(self, index: int, value: float) -> None:
        self.last = value
        if not math.isfinite(value):
            self.nonfinite += 1
            self.first_nonfinite = first_step(self.first_nonfinite, index)
            return
        self.n += 1
        self.total += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def merge(self, other: EpochLoss) -> None:
        """Add another epoch's aggregates (of the same epoch, another process)."""
        self.n += other.n
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if math.isnan(self.last):
            self.last = other.last
        self.nonfinite += other.nonfinite
        self.first_nonfinite = first_step(self.first_nonfinite, other.first_nonfinite)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan


@dataclass
class LossTracker:
    """Every recorded loss value folded into per-epoch aggregates."""

    epochs: dict[int, EpochLoss] = field(default_factory=dict)
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT))  # (index, epoch, value)
    n_classes: int | None = None
    count: int = 0
    _pending: list = field(default_factory=list)  # (index, epoch, 0-d device tensor)
    _stacked: list = field(default_factory=list)  # (indices, epochs, 1-d device tensor)
    _folded: dict = field(default_factory=dict)  # epoch -> _DeviceEpochLoss
    _tail: tuple | None = None  # (indices, epochs, 1-d device tensor): the folded recent

    def record(self, loss: Any, epoch: int, n_classes: int | None,
               keep_tensor: bool = False) -> None:
        """Add one loss value (a number or a one-element tensor on any device);
        ``keep_tensor`` keeps CPU tensors as tensors too (the device code path)."""
        if n_classes is not None and (
                isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer))
                or n_classes < 2):
            raise InvalidInputError(
                    f"record_loss: n_classes must be a whole number >= 2, got {n_classes!r}")
        value = _scalar(loss, keep_tensor)
        if n_classes is not None:
            self.n_classes = int(n_classes)
        index = self.count
        self.count += 1
        if isinstance(value, float):
            self._add(index, epoch, value)
        else:
            self._pending.append((index, epoch, value))
            if len(self._pending) >= _STACK_EVERY:
                self._stack()

    def _add(self, index: int, epoch: int, value: float) -> None:
        self.epochs.setdefault(epoch, EpochLoss()).add(index, value)
        self.recent.append((index, epoch, value))

    def merge(self, other: LossTracker) -> None:
        """Fold another tracker (already flushed) into this one."""
        for epoch, stats in other.epochs.items():
            mine = self.epochs.setdefault(epoch, EpochLoss())
            mine.merge(stats)
        self.recent.extend(other.recent)
        self.count += other.count
        if self.n_classes is None:
            self.n_classes = other.n_classes

    def _stack(self) -> None:
        """Fold pending 0-d device tensors into one 1-d device tensor (no sync)."""
        torch = torch_module()
        pending, self._pending = self._pending, []
        self._stacked.append(([i for i, _, _ in pending], [e for _, e, _ in pending],
                              torch.stack([t for _, _, t in pending])))
        if len(self._stacked) >= _FOLD_EVERY:
            self._fold()

    def _fold(self) -> None:
        """Fold the stacks into per-epoch device aggregates and keep the last
        :data:`RECENT` values for ``recent`` (device ops only: no sync)."""
        torch = torch_module()
        stacked, self._stacked = self._stacked, []
        values = torch.cat([t.reshape(-1) for _, _, t in stacked])
        indices = [i for ids, _, _ in stacked for i in ids]
        epochs = [e for _, es, _ in stacked for e in es]
        start = 0
        for end in [k for k in range(1, len(epochs)) if epochs[k] != epochs[k - 1]] + [
                len(epochs)]:  # runs of one epoch: slices, no index tensor
            acc = self._folded.get(epochs[start])
            if acc is None:
                acc = self._folded[epochs[start]] = _DeviceEpochLoss()
            acc.fold(values[start:end], indices[start:end])
            start = end
        if self._tail is not None:
            old_i, old_e, old_v = self._tail
            values, indices, epochs = torch.cat([old_v, values]), old_i + indices, old_e + epochs
        keep = min(RECENT, len(indices))
        self._tail = (indices[-keep:], epochs[-keep:], values[-keep:].clone())

    @property
    def pending_epochs(self) -> set[int]:
        """Epochs of values still on a device."""
        return ({e for _, e, _ in self._pending} | {e for _, es, _ in self._stacked for e in es}
                | set(self._folded))

    def flush(self) -> None:
        """Copy every value still on a device to the host (one transfer)."""
        if self._pending:
            self._stack()
        if not self._stacked and not self._folded:
            return
        torch = torch_module()
        stacked, self._stacked = self._stacked, []
        folded, self._folded = self._folded, {}
        tail, self._tail = self._tail, None
        parts = [t.reshape(-1).double() for _, _, t in stacked]
        parts += [acc.packed() for acc in folded.values()]
        if tail is not None:
            parts.append(tail[2].double())
        values = torch.cat(parts).cpu().tolist()  # the one transfer
        indices = [i for ids, _, _ in stacked for i in ids]
        epochs = [e for _, es, _ in stacked for e in es]
        pos = len(indices)
        recent = list(self.recent)
        for epoch in folded:
            mine = self.epochs.setdefault(epoch, EpochLoss())
            part = _DeviceEpochLoss.unpack(values[pos:pos + _DeviceEpochLoss.WIDTH])
            mine.merge(part)
            mine.last = part.last  # device values come after the host ones (as unfolded)
            pos += _DeviceEpochLoss.WIDTH
        if tail is not None:
            recent += list(zip(tail[0], tail[1], map(float, values[pos:]), strict=True))
        for index, epoch, value in zip(indices, epochs, values, strict=False):
            self.epochs.setdefault(epoch, EpochLoss()).add(index, float(value))
            recent.append((index, epoch, float(value)))
        recent.sort(key=lambda r: r[0])  # host and device records, in recording order
        self.recent = deque(recent[-RECENT:], maxlen=RECENT)


class _DeviceEpochLoss:
    """:class:`EpochLoss` of folded device values, as 0-d device tensors."""

    WIDTH = 7  # n, total, min, max, last, nonfinite, first_nonfinite

    def __init__(self) -> None:
        self.parts: Any = None  # 1-d float64 device tensor of WIDTH values

    def fold(self, values: Any, indices: list[int]) -> None:
        """Add a run of values (1-d device tensor) recorded as ``indices``."""
        torch = torch_module()
        v = values.double()
        finite = torch.isfinite(v)
        n = len(indices)
        if indices[-1] - indices[0] == n - 1:  # consecutive records: no host data moves
            idx = torch.arange(n, device=v.device, dtype=torch.float64) + indices[0]
        else:
            idx = torch.as_tensor(indices, dtype=torch.float64).to(v.device)
        inf = torch.full_like(v, math.inf)
        first_nf = torch.where(finite, inf, idx).min()
        new = torch.stack([
            finite.sum().double(), torch.where(finite, v, 0.0).sum(),
            torch.where(finite, v, inf).min(), torch.where(finite, v, -inf).max(),
            v[-1], (~finite).sum().double(), first_nf])
        if self.parts is None:
            self.parts = new
            return
        old = self.parts
        self.parts = torch.stack([
            old[0] + new[0], old[1] + new[1], torch.minimum(old[2], new[2]),
            torch.maximum(old[3], new[3]), new[4], old[5] + new[5],
            torch.minimum(old[6], new[6])])

    def packed(self) -> Any:
        return self.parts

    @staticmethod
    def unpack(values: list[float]) -> EpochLoss:
        n, total, lo, hi, last, nonfinite, first = values
        return EpochLoss(n=int(n), total=total, min=lo, max=hi, last=last,
                         nonfinite=int(nonfinite),
                         first_nonfinite=NO_STEP if math.isinf(first) else int(first))


def _scalar(loss: Any, keep_tensor: bool) -> Any:
    """A float, or a detached 0-d float64 tensor kept on its device."""
    torch = torch_module()
    if torch is not None and isinstance(loss, torch.Tensor):
        if loss.is_meta:  # no value; kept pending it would break every later report
            raise InvalidInputError("record_loss: loss is a meta tensor (device 'meta'): "
                                    "it has no value; record the loss of a real batch")
        if loss.numel() != 1:
            raise InvalidInputError(
                f"record_loss: loss must hold one value, got a tensor of shape "
                f"{tuple(loss.shape)}")
        if loss.is_complex() or not (loss.is_floating_point() or loss.dtype != torch.bool):
            raise InvalidTypeError(f"record_loss: loss must be a real number, got {loss.dtype}")
        loss = loss.detach().reshape(())
        if loss.device.type == "cpu" and not keep_tensor:
            return float(loss)
        return loss.double()
    if isinstance(loss, np.ndarray):
        if loss.size != 1 or loss.dtype.kind not in "iuf":
            raise InvalidInputError(
                f"record_loss: loss must be one real number, got an array of shape "
                f"{loss.shape} and dtype {loss.dtype}")
        return float(loss.reshape(()))
    if isinstance(loss, (bool, complex)) or not isinstance(loss, (int, float, np.number)):
        raise InvalidTypeError(
            f"record_loss: loss must be a number or a one-element tensor, "
            f"got {type(loss).__name__}")
    if isinstance(loss, np.complexfloating):
        raise InvalidTypeError("record_loss: loss must be a real number, got a complex one")
    try:
        return float(loss)
    except OverflowError:  # an int beyond float: recorded as the Inf it is, a finding
        return math.inf if loss > 0 else -math.inf
