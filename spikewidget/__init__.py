"""spikewidget: find out why a spiking neural network will not train.

Record what every layer does while training runs (:class:`SpikeProfiler`), get
the pathology named, located and explained (:meth:`SpikeProfiler.report`).
"""

from __future__ import annotations

from . import present  # noqa: F401  (draws Report.plot and the sweep's views)
from .core.errors import (
    GatherError,
    InvalidInputError,
    InvalidTypeError,
    ProfileFormatError,
    SpikeWidgetError,
    UnknownLayerError,
)
from .diagnose.pathology import Pathology, Severity
from .diagnose.report import ProfileReport, Report
from .diagnose.rules import RULES, rule_table, rule_table_markdown
from .diagnose.stats import LayerStats, LossStats, NonFinite
from .diagnose.thresholds import Thresholds
from .profiler import SpikeProfiler
from .state.layer import DATA
from .state.raster import RasterSnapshot

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``ProfilerWidget`` is imported on first use: anywidget stays optional."""
    if name == "ProfilerWidget":
        from .present.widget import ProfilerWidget

        return ProfilerWidget
    raise AttributeError(f"module 'spikewidget' has no attribute {name!r}")


__all__ = [
    "DATA",
    "RULES",
    "GatherError",
    "InvalidInputError",
    "InvalidTypeError",
    "LayerStats",
    "LossStats",
    "NonFinite",
    "Pathology",
    "ProfileFormatError",
    "ProfileReport",
    "ProfilerWidget",
    "RasterSnapshot",
    "Report",
    "Severity",
    "SpikeProfiler",
    "SpikeWidgetError",
    "Thresholds",
    "UnknownLayerError",
    "__version__",
    "rule_table",
    "rule_table_markdown",
]
