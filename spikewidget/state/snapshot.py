"""A profile's whole recorded state as one public value: what saving, loading,
merging and gathering read and write (no module reaches into a recorder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .layer import LayerRecord
from .loss import LossTracker


@dataclass
class ProfileSnapshot:
    """Everything a recorder holds, but its lock and its phases.

    ``layers`` in order of first recording; ``declared`` what the user declared per
    layer (and ``watch_role``, what :func:`watch` saw of the model's output);
    ``epoch`` the current epoch; ``dropped`` the epochs ``max_epochs`` dropped.
    Taken live from a recorder (:meth:`Recorder.snapshot`) it shares the recorder's
    objects: read it while holding ``recorder.consistent()``.
    """

    raster_window: int
    raster_neurons: int
    max_epochs: int | None
    layers: dict[str, LayerRecord] = field(default_factory=dict)
    declared: dict[str, dict[str, Any]] = field(default_factory=dict)
    loss: LossTracker = field(default_factory=LossTracker)
    epoch: int = 0
    dropped: set[int] = field(default_factory=set)

    def recorded_epochs(self) -> list[int]:
        """Every epoch with any recorded data, ascending (dropped ones too)."""
        found = set(self.loss.epochs) | self.loss.pending_epochs | self.dropped
        for info in self.layers.values():
            found.update(info.epochs)
        return sorted(found)
