"""Everything recorded for one layer: its identity, per-epoch statistics, the
summaries of dropped epochs and its raster store."""

from __future__ import annotations

import math
from typing import Any, Literal

from .epoch_stats import EpochStats
from .raster import RASTER_NEURONS, RasterWindow

ANALOG = "analog"
Graded = bool | Literal["analog"]
"""What a layer's values are: ``False``, spikes of 0 and 1; ``True``, graded spikes
(sparse events with a size: snnTorch's ``graded_spikes_factor``, integer or weighted
spikes); ``"analog"``, a continuous output that is seldom exactly 0 (SpikingJelly's
``LIAFNode``). Graded layers are judged on their spike events (finite non-zero
values); an analog layer is never called saturated, its outputs being non-zero by
nature."""

DATA = "(data)"
"""The data among a layer's ``fed_by`` (what ``watch`` learns; a declaration may name
it too): a feed that is not a recorded layer, so it always carries signal."""


def is_graded(value: Any) -> bool:
    """Whether ``value`` is a :data:`Graded` (``True``, ``False`` or ``"analog"``)."""
    return isinstance(value, bool) or (isinstance(value, str) and value == ANALOG)


class LayerRecord:
    """One layer of a profile (mutated only under its recorder's lock).

    ``epochs`` maps an epoch to its statistics: an :class:`EpochStats` on the host,
    or a device accumulator (``to_host()`` copies it) when ``device`` is a torch
    device. ``summaries`` holds what epochs dropped by ``max_epochs`` keep.
    ``memo`` is a per-epoch cache readers may keep (a report keeps each epoch's
    health there); an epoch's entry goes when the epoch is dropped.
    """

    __slots__ = (
        "device",
        "epochs",
        "graded",
        "last_epoch",
        "memo",
        "n_neurons",
        "name",
        "neuron_axes",
        "neuron_shape",
        "raster",
        "role",
        "steps",
        "summaries",
    )

    def __init__(self, name: str, role: str, graded: Graded, neuron_axes: int,
                 neuron_shape: tuple[int, ...], device: Any, raster_window: int,
                 raster_neurons: int = RASTER_NEURONS) -> None:
        self.name = name
        self.role = role
        self.graded = graded
        self.neuron_axes = int(neuron_axes)
        self.neuron_shape = tuple(neuron_shape)
        self.n_neurons = math.prod(self.neuron_shape)
        self.device = device  # None: host (NumPy) statistics; else a torch.device
        self.epochs: dict[int, Any] = {}
        self.memo: dict[int, Any] = {}
        self.summaries: dict[int, Any] = {}  # dropped epochs: EpochSummary/DeviceSummary
        self.raster = RasterWindow(self.n_neurons, raster_window, raster_neurons)
        self.steps = 0
        self.last_epoch = 0

    def host_epochs(self) -> dict[int, EpochStats]:
        """Every kept epoch's statistics on the host (device ones copied)."""
        return {e: host_stats(acc) for e, acc in self.epochs.items()}


def host_stats(acc: Any) -> EpochStats:
    """``acc`` as host :class:`EpochStats` (a device accumulator is copied)."""
    return acc if isinstance(acc, EpochStats) else acc.to_host()
