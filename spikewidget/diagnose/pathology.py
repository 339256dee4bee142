"""What a diagnosis finds: :class:`Severity` and :class:`Pathology`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    """How bad a finding is; ``.value`` is ``"info"``, ``"warning"`` or ``"critical"``."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for critical, 1 for warning, 2 for info (sort order of a report)."""
        return ("critical", "warning", "info").index(self.value)


@dataclass(frozen=True)
class Pathology:
    """One finding: what (``category``), where (``layer``), how bad, and the fix.

    ``metric_value`` is the number the rule compared with its threshold;
    ``epoch`` and ``step`` say where it first appeared when that is known;
    ``cause`` names the finding this one follows from (``"category @ layer"``),
    in which case ``suggestion`` points there instead of offering a second fix.
    """

    severity: Severity
    category: str
    layer: str
    message: str
    suggestion: str
    metric_value: float = 0.0
    epoch: int | None = None
    step: int | None = None
    cause: str | None = None
