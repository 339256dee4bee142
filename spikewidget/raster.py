"""A bounded window of recent spike frames of one layer, for raster pictures.

Only the first sample of each batch is kept (a raster shows one sample's time
course), as booleans (spiked or not), in a ring buffer of ``capacity`` frames:
memory is ``capacity * n_neurons`` bytes whatever the number of steps. Device
tensors stay on their device until :meth:`snapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .arrays import to_host


@dataclass(frozen=True)
class RasterSnapshot:
    """Frames in time order: ``spikes`` is ``(frames, n_neurons)`` bool; ``steps``
    and ``epochs`` say, per frame, which recorded step and epoch it came from."""

    spikes: np.ndarray
    steps: np.ndarray
    epochs: np.ndarray


class RasterWindow:
    """Ring buffer of the last ``capacity`` frames of one layer."""

    def __init__(self, n_neurons: int, capacity: int) -> None:
        self.n_neurons = n_neurons
        self.capacity = capacity
        self._buf: Any = None  # allocated on first push, on the frames' device
        self._steps = np.zeros(capacity, dtype=np.int64)
        self._epochs = np.zeros(capacity, dtype=np.int64)
        self._pos = 0
        self._filled = 0

    def push(self, frames: Any, step: int, epoch: int) -> None:
        """Append ``frames`` (``(t, n_neurons)``, any dtype; non-zero means a spike)."""
        cap = self.capacity
        if cap == 0:
            return
        if self._buf is None:
            self._buf = _zeros_like_device(frames, (cap, self.n_neurons))
        spikes = frames[-cap:] != 0
        t = spikes.shape[0]
        first = min(t, cap - self._pos)
        self._buf[self._pos:self._pos + first] = spikes[:first]
        self._steps[self._pos:self._pos + first] = step
        self._epochs[self._pos:self._pos + first] = epoch
        rest = t - first
        if rest:
            self._buf[:rest] = spikes[first:]
            self._steps[:rest] = step
            self._epochs[:rest] = epoch
        self._pos = (self._pos + t) % cap
        self._filled = min(self._filled + t, cap)

    def snapshot(self) -> RasterSnapshot:
        """The window's frames, oldest first (copies, in host memory)."""
        if self._buf is None or self._filled == 0:
            empty = np.zeros(0, dtype=np.int64)
            return RasterSnapshot(np.zeros((0, self.n_neurons), dtype=bool), empty, empty)
        order = np.arange(self._pos - self._filled, self._pos) % self.capacity
        buf = to_host(self._buf)
        return RasterSnapshot(buf[order].copy(), self._steps[order].copy(),
                              self._epochs[order].copy())

    def restore(self, snap: RasterSnapshot) -> None:
        """Refill from a snapshot (used when loading a saved profile)."""
        k = min(len(snap.steps), self.capacity)
        self._buf = np.zeros((self.capacity, self.n_neurons), dtype=bool)
        if k:
            self._buf[:k] = snap.spikes[-k:]
            self._steps[:k] = snap.steps[-k:]
            self._epochs[:k] = snap.epochs[-k:]
        self._pos = k % self.capacity if self.capacity else 0
        self._filled = k


def _zeros_like_device(frames: Any, shape: tuple[int, int]) -> Any:
    if isinstance(frames, np.ndarray):
        return np.zeros(shape, dtype=bool)
    import torch  # a tensor exists, so torch is importable

    return torch.zeros(shape, dtype=torch.bool, device=frames.device)
