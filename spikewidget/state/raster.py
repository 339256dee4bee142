"""Recent spike frames of one layer, for raster pictures, in a memory budget that does
not depend on the layer's size.

Only the first sample of each batch is kept (a raster shows one sample's time
course), as bits (spiked or not), and of at most ``max_neurons`` neurons: a layer
with more (a feature map of millions) keeps a fixed, evenly strided sample of its
flat neuron indices (:func:`sample_neurons`: for a ``(C, H, W)`` map, neurons spread
over every channel and position; the same neurons for the whole run). Two stores:

- the window: the last ``capacity`` frames, whatever their epoch;
- per epoch, the last :data:`EPOCH_FRAMES` frames recorded in it, for the newest
  :data:`EPOCH_SNAPSHOTS` epochs, so that an epoch long gone from the window still
  shows what its neurons did.

Memory is at most :func:`raster_bytes` (396 KiB per layer with the defaults),
whatever the number of neurons, steps or epochs. Device tensors stay on their device
(packed there) until :meth:`RasterWindow.snapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.arrays import to_host

RASTER_NEURONS = 1024
"""Default cap on the neurons a layer keeps for pictures (``raster_neurons``)."""
EPOCH_FRAMES = 32
"""Frames kept per epoch: the last ones recorded in it."""
EPOCH_SNAPSHOTS = 64
"""Epochs that keep their frames: the newest ones (older ones are dropped)."""
_FRAME_META = 16  # bytes per kept frame for its step and epoch (two int64)
_PER_SNAPSHOT = 1024  # bytes of Python objects around one epoch's arrays (measured ~600)


def raster_bytes(capacity: int, max_neurons: int = RASTER_NEURONS) -> int:
    """The most bytes one layer's raster store holds (window, epoch snapshots, the
    kept neurons' indices) for a window of ``capacity`` frames and ``max_neurons``
    kept neurons: 36 + 288 + 8 + 64 = 396 KiB with the defaults (256 frames, 1024
    neurons), for a layer of any size."""
    if capacity == 0 or max_neurons == 0:
        return 0
    row = -(-max_neurons // 8) + _FRAME_META
    return ((capacity + EPOCH_SNAPSHOTS * EPOCH_FRAMES) * row + 8 * max_neurons
            + EPOCH_SNAPSHOTS * _PER_SNAPSHOT)


def sample_neurons(n_neurons: int, max_neurons: int) -> np.ndarray:
    """The flat indices of the neurons kept for pictures: all when there are at most
    ``max_neurons``, else ``max_neurons`` evenly strided ones (``i * n // max``,
    ascending, stable: the same for every step and every run)."""
    if n_neurons <= max_neurons:
        return np.arange(n_neurons, dtype=np.int64)
    return np.arange(max_neurons, dtype=np.int64) * n_neurons // max_neurons


@dataclass(frozen=True)
class RasterSnapshot:
    """Frames in time order: ``spikes`` is ``(frames, kept)`` bool; ``steps`` and
    ``epochs`` say, per frame, which recorded step and epoch it came from;
    ``neurons`` holds the flat index in the layer of each kept column (all neurons
    unless the layer has more than the cap; None reads as all)."""

    spikes: np.ndarray
    steps: np.ndarray
    epochs: np.ndarray
    neurons: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        if self.neurons is None:
            width = self.spikes.shape[1] if self.spikes.ndim == 2 else 0
            object.__setattr__(self, "neurons", np.arange(width, dtype=np.int64))


class _Ring:
    """The last ``capacity`` packed frames (rows of bytes), with their step and epoch."""

    __slots__ = ("_buf", "_epochs", "_filled", "_pos", "_steps", "capacity", "last_step")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._buf: Any = None  # (capacity, row bytes) uint8, on the frames' device
        self._steps = np.zeros(capacity, dtype=np.int64)
        self._epochs = np.zeros(capacity, dtype=np.int64)
        self._pos = 0
        self._filled = 0
        self.last_step = -1

    def push(self, rows: Any, step: int, epoch: int) -> None:
        cap = self.capacity
        rows = rows[-cap:]
        if self._buf is None:
            self._buf = _zeros_like(rows, (cap, rows.shape[1]))
        t = rows.shape[0]
        if t == 1:  # one frame (a record without a time axis): three element stores
            pos = self._pos
            self._buf[pos] = rows[0]
            self._steps[pos] = step
            self._epochs[pos] = epoch
            self._pos = (pos + 1) % cap
            self._filled = min(self._filled + 1, cap)
            self.last_step = step
            return
        first = min(t, cap - self._pos)
        self._buf[self._pos:self._pos + first] = rows[:first]
        self._steps[self._pos:self._pos + first] = step
        self._epochs[self._pos:self._pos + first] = epoch
        rest = t - first
        if rest:
            self._buf[:rest] = rows[first:]
            self._steps[:rest] = step
            self._epochs[:rest] = epoch
        self._pos = (self._pos + t) % cap
        self._filled = min(self._filled + t, cap)
        self.last_step = step

    def frames(self, row_bytes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Packed rows, steps and epochs, oldest first (host copies)."""
        if self._buf is None or self._filled == 0:
            empty = np.zeros(0, dtype=np.int64)
            return np.zeros((0, row_bytes), dtype=np.uint8), empty, empty
        order = np.arange(self._pos - self._filled, self._pos) % self.capacity
        buf = np.asarray(to_host(self._buf))
        return buf[order], self._steps[order], self._epochs[order]

    def fill(self, rows: np.ndarray, steps: np.ndarray, epochs: np.ndarray) -> None:
        k = min(len(steps), self.capacity)
        self._buf = np.zeros((self.capacity, rows.shape[1]), dtype=np.uint8)
        self._steps[:] = 0
        self._epochs[:] = 0
        if k:
            self._buf[:k] = rows[-k:]
            self._steps[:k] = steps[-k:]
            self._epochs[:k] = epochs[-k:]
            self.last_step = int(steps[-1])
        self._pos = k % self.capacity
        self._filled = k


class RasterWindow:
    """The raster store of one layer: the window of the last ``capacity`` frames and
    the per-epoch snapshots, of the kept neurons (see the module docstring)."""

    def __init__(self, n_neurons: int, capacity: int,
                 max_neurons: int = RASTER_NEURONS) -> None:
        self.n_neurons = n_neurons
        self.capacity = capacity
        self.neurons = sample_neurons(n_neurons, max_neurons)
        self.row_bytes = -(-len(self.neurons) // 8)
        self._sampled = len(self.neurons) < n_neurons
        self._window = _Ring(capacity)
        self._per_epoch: dict[int, _Ring] = {}
        self._device_cache: dict[Any, tuple[Any, Any]] = {}  # device -> (index, weights)

    def push(self, frames: Any, step: int, epoch: int) -> None:
        """Append ``frames`` (``(t, n_neurons)``, any dtype; non-zero means a spike)."""
        if self.capacity == 0 or len(self.neurons) == 0:
            return
        rows = self._pack(frames[-self.capacity:])
        self._window.push(rows, step, epoch)
        ring = self._per_epoch.get(epoch)
        if ring is None:
            ring = self._per_epoch[epoch] = _Ring(EPOCH_FRAMES)
            while len(self._per_epoch) > EPOCH_SNAPSHOTS:
                del self._per_epoch[min(self._per_epoch)]
        ring.push(rows, step, epoch)

    def _pack(self, frames: Any) -> Any:
        """``(t, n_neurons)`` frames as ``(t, row_bytes)`` uint8 bits of the kept
        neurons (little bit order: neuron ``8 * b + j`` is bit ``j`` of byte ``b``)."""
        if isinstance(frames, np.ndarray):
            spikes = (frames[:, self.neurons] if self._sampled else frames) != 0
            return np.packbits(spikes, axis=1, bitorder="little")
        import torch  # a tensor, so torch is importable

        index, weights = self._on_device(frames.device)
        bits = ((frames.index_select(1, index) if self._sampled else frames) != 0).to(
            torch.uint8)
        pad = self.row_bytes * 8 - bits.shape[1]
        if pad:  # a few kernels on the device, no sync
            bits = torch.nn.functional.pad(bits, (0, pad))
        return (bits.reshape(bits.shape[0], self.row_bytes, 8) * weights).sum(
            -1, dtype=torch.uint8)

    def _on_device(self, device: Any) -> tuple[Any, Any]:
        hit = self._device_cache.get(device)
        if hit is None:
            import torch

            hit = (torch.as_tensor(self.neurons).to(device),
                   torch.tensor([1 << j for j in range(8)], dtype=torch.uint8).to(device))
            self._device_cache[device] = hit
        return hit

    # ------------------------------------------------------------------ reading
    def _snap(self, rows: np.ndarray, steps: np.ndarray, epochs: np.ndarray
              ) -> RasterSnapshot:
        k = len(self.neurons)
        spikes = np.unpackbits(rows, axis=1, count=k, bitorder="little").astype(bool)
        return RasterSnapshot(spikes.reshape(len(steps), k), steps.copy(), epochs.copy(),
                              self.neurons.copy())

    def snapshot(self) -> RasterSnapshot:
        """The window's frames, oldest first (copies, in host memory)."""
        return self._snap(*self._window.frames(self.row_bytes))

    def epoch_snapshot(self, epoch: int) -> RasterSnapshot:
        """The last frames of ``epoch`` (up to :data:`EPOCH_FRAMES`; none when the
        epoch is older than the :data:`EPOCH_SNAPSHOTS` newest)."""
        ring = self._per_epoch.get(epoch)
        if ring is None:
            return self._snap(*_Ring(1).frames(self.row_bytes))
        return self._snap(*ring.frames(self.row_bytes))

    @property
    def epoch_marks(self) -> dict[int, int]:
        """Per kept epoch snapshot, the step of its newest frame (changes on a push)."""
        return {e: r.last_step for e, r in self._per_epoch.items()}

    def epoch_snapshots(self) -> RasterSnapshot:
        """Every epoch snapshot, epoch by epoch, as one snapshot (for saving)."""
        parts = [_Ring(1).frames(self.row_bytes)]
        parts += [self._per_epoch[e].frames(self.row_bytes) for e in sorted(self._per_epoch)]
        return self._snap(np.concatenate([p[0] for p in parts]),
                          np.concatenate([p[1] for p in parts]),
                          np.concatenate([p[2] for p in parts]))

    # --------------------------------------------------------------- restoring
    def _columns(self, snap: RasterSnapshot) -> np.ndarray:
        """``snap``'s frames as packed rows of this store's kept neurons (taken by
        neuron index: a snapshot of every neuron, as files from before the cap hold,
        is sampled; neurons ``snap`` lacks read as silent)."""
        spikes = np.asarray(snap.spikes, dtype=bool)
        src = np.asarray(snap.neurons, dtype=np.int64)
        if not np.array_equal(src, self.neurons):
            pos = np.minimum(np.searchsorted(src, self.neurons), max(len(src) - 1, 0))
            found = src[pos] == self.neurons if len(src) else np.zeros(0, bool)
            out = np.zeros((len(spikes), len(self.neurons)), dtype=bool)
            out[:, found] = spikes[:, pos[found]]
            spikes = out
        return np.packbits(spikes, axis=1, bitorder="little").reshape(
            len(spikes), self.row_bytes)

    def saved(self, spikes: np.ndarray, steps: np.ndarray, epochs: np.ndarray
              ) -> RasterSnapshot | None:
        """Saved frames as a snapshot of this layer: ``spikes`` of every neuron or of
        the kept ones; None when their shapes do not fit."""
        if spikes.ndim != 2 or not len(spikes) == len(steps) == len(epochs) \
                or steps.ndim != 1 or epochs.ndim != 1:
            return None
        if spikes.shape[1] == self.n_neurons:
            return RasterSnapshot(spikes, steps, epochs)
        if spikes.shape[1] == len(self.neurons):
            return RasterSnapshot(spikes, steps, epochs, self.neurons)
        return None

    def to_host(self) -> None:
        """Move every kept frame to host memory (the layer's statistics moved)."""
        for ring in (self._window, *self._per_epoch.values()):
            if ring._buf is not None and not isinstance(ring._buf, np.ndarray):
                ring._buf = np.asarray(to_host(ring._buf))

    def restore(self, snap: RasterSnapshot) -> None:
        """Refill the window from a snapshot (loading, merging); epochs with no
        snapshot of their own get one from the window's frames."""
        if self.capacity == 0:
            return
        rows = self._columns(snap)
        self._window.fill(rows, np.asarray(snap.steps), np.asarray(snap.epochs))
        for e in np.unique(snap.epochs):
            if int(e) not in self._per_epoch:
                keep = snap.epochs == e
                self._fill_epoch(int(e), rows[keep], snap.steps[keep])

    def restore_epochs(self, snap: RasterSnapshot) -> None:
        """Refill the per-epoch snapshots from :meth:`epoch_snapshots`' form."""
        if self.capacity == 0:
            return
        rows = self._columns(snap)
        for e in np.unique(snap.epochs):
            keep = snap.epochs == e
            self._fill_epoch(int(e), rows[keep], snap.steps[keep])

    def _fill_epoch(self, epoch: int, rows: np.ndarray, steps: np.ndarray) -> None:
        ring = self._per_epoch[epoch] = _Ring(EPOCH_FRAMES)
        ring.fill(rows, np.asarray(steps, dtype=np.int64),
                  np.full(len(steps), epoch, dtype=np.int64))
        self._per_epoch = dict(sorted(self._per_epoch.items()))
        while len(self._per_epoch) > EPOCH_SNAPSHOTS:
            del self._per_epoch[min(self._per_epoch)]


def _zeros_like(rows: Any, shape: tuple[int, int]) -> Any:
    if isinstance(rows, np.ndarray):
        return np.zeros(shape, dtype=np.uint8)
    import torch  # a tensor exists, so torch is importable

    return torch.zeros(shape, dtype=torch.uint8, device=rows.device)
