"""What the views and the sweep read of a profile: a Protocol that
:class:`~spikewidget.profiler.SpikeProfiler` implements (and a test's stand-in can)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ..state.raster import RasterSnapshot
from .report import Report
from .thresholds import Thresholds


class Profile(Protocol):
    """A recorded profile that can be read and judged.

    Readers may also use, where present: ``version`` (grows with every change),
    ``dropped_epochs``, ``max_epochs``, ``raster_window``, ``consistent()`` (hold
    recording while several reads make one snapshot) and ``epoch_rasters(layer)``.
    """

    @property
    def layers(self) -> list[str]:
        """Recorded layer names, in order of first recording."""

    @property
    def epochs(self) -> list[int]:
        """Every epoch with recorded data, ascending."""

    @property
    def thresholds(self) -> Thresholds:
        """The constants reports judge by unless told otherwise."""

    def report(self, thresholds: Thresholds | Mapping[str, float] | None = None, *,
               epoch: Any = None, layers: str | Iterable[str] | None = None) -> Report:
        """Diagnose what was recorded."""

    def raster(self, layer: str, epoch: int | None = None) -> RasterSnapshot:
        """The recent frames of one layer."""
