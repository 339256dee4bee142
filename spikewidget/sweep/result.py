"""What a threshold sweep found: one row per candidate threshold, the recommended
interval, its edges and why (data and text; pictures come from
:mod:`spikewidget.present.sweep_view`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..core.fmt import share
from ..core.renderers import render
from ..diagnose.report import Report
from .scale import Scale, nearest

HONESTY = ("The sweep holds this one batch fixed and does not retrain: it predicts the "
           "first forward passes at each threshold, not where training will take them.")

VERDICTS = ("non-binary", "overflow", "silent", "too sparse", "ok")


@dataclass(frozen=True)
class SweepRow:
    """What the network does on the batch when the swept layer has ``threshold``."""

    threshold: float
    max_per_step: float
    """Largest value a spiking layer emitted in one time step (1 for binary spikes)."""
    binary_fraction: float
    """Share of values that were exactly 0 or 1, in the spiking layer with the fewest
    (the layers the verdict reads: every non-input layer not declared graded)."""
    output_count_range: tuple[float, float] | None
    """(min, max) output spikes per sample summed over time."""
    dead_fraction: dict[str, float]
    saturated_fraction: dict[str, float]
    verdict: str
    report: Report
    refined: bool = False
    """True for a threshold added between grid points to locate an edge of the
    recommended interval (see :class:`BandEdge`)."""

    @property
    def where(self) -> str:
        """Where this row's findings come from, as the predicted table's "Where"
        column says it: the sweep's batch at this threshold."""
        return f"sweep batch, threshold {self.threshold:.3g}"


@dataclass(frozen=True)
class BandEdge:
    """One end of the recommended interval: the last threshold that passed and the
    next one swept, which failed. The true edge lies between them."""

    inside: float
    """The last threshold with verdict "ok" on this side."""
    outside: float
    """The nearest swept threshold beyond it, which failed."""
    verdict: str
    """What ``outside`` failed with ("non-binary", "silent", ...)."""
    scale: Scale = "log"
    """The sweep's scale: on ``"linear"`` the edge is known to within :attr:`width`
    (threshold units, e.g. mV), on ``"log"`` to within a factor :attr:`ratio`."""

    @property
    def ratio(self) -> float:
        """How far apart the two are, as a factor >= 1 (1.03: the edge is known to
        within 3 %); NaN on a linear sweep, whose thresholds may be at or below 0
        (see :attr:`width`)."""
        if self.scale != "log":
            return math.nan
        return max(self.inside, self.outside) / min(self.inside, self.outside)

    @property
    def width(self) -> float:
        """How far apart the two are, in threshold units (>= 0)."""
        return abs(self.inside - self.outside)

    def describe(self) -> str:
        """The edge in words: what fails beyond it, and how precisely it is known."""
        low, high = distinct(min(self.inside, self.outside), max(self.inside, self.outside))
        outside = low if self.outside < self.inside else high
        if self.scale == "log":
            gap = self.ratio - 1
            within = f"{gap:.1%}" if gap < 0.01 else f"{gap:.0%}"
        else:
            within = f"{self.width:.3g}"
        return (f"{self.verdict} at {outside} (the edge lies between {low} and {high}, "
                f"known to within {within} in threshold)")


def distinct(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` with 3 significant digits, or as many more as tell them apart
    (19.94 and 19.96 never both read "19.9")."""
    for digits in range(3, 10):
        sa, sb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if sa != sb or a == b:
            return sa, sb
    return f"{a!r}", f"{b!r}"


@dataclass(frozen=True)
class SweepResult:
    """The table, the recommended interval and why."""

    layers: tuple[str, ...]
    original_threshold: float
    rows: list[SweepRow]
    recommended: tuple[float, float] | None
    best: float | None
    reason: str
    batched: bool = False
    """True when the candidates ran K at a time in one forward (see the module doc)."""
    edges: tuple[BandEdge | None, BandEdge | None] = (None, None)
    """The lower and upper end of the recommended interval; None where the interval
    reaches the end of the swept range (nothing failed beyond it) or there is none."""
    scale: Scale = "log"
    """How the thresholds were spaced, refined and are matched by :meth:`row`:
    ``"log"`` (thresholds above 0) or ``"linear"`` (a threshold that is a membrane
    potential at or below 0, such as Norse ``CobaLIFCell``'s ``p.v_thresh``; see
    :mod:`spikewidget.sweep.scale`)."""

    @property
    def layer(self) -> str:
        """The swept layers' names, joined (for titles)."""
        return " + ".join(self.layers)

    @property
    def thresholds(self) -> list[float]:
        return [r.threshold for r in self.rows]

    def row(self, threshold: float) -> SweepRow:
        """The row whose threshold is nearest ``threshold`` on the sweep's
        :attr:`scale` (by ratio on a log sweep, by difference on a linear one)."""
        return self.rows[nearest(self.thresholds, threshold, self.scale)]

    def accepts(self, threshold: float) -> bool:
        """Whether ``threshold`` can be matched to a row: finite, and above 0 on a
        log sweep."""
        return math.isfinite(threshold) and (self.scale != "log" or threshold > 0)

    def table(self) -> str:
        """The sweep as plain text, one row per threshold."""
        layers = list(self.rows[0].dead_fraction) if self.rows else []
        head = (f"{'threshold':>10} {'max/step':>9} {'binary':>7} {'out counts':>14} "
                + "".join(f"{'dead ' + n:>14}" for n in layers) + "  verdict")
        lines = [f"threshold sweep of {self.layer} (was {self.original_threshold:g}; "
                 f"{self.scale} scale)",
                 head]
        for r in self.rows:
            counts = ("-" if r.output_count_range is None else
                      f"[{r.output_count_range[0]:g}, {r.output_count_range[1]:g}]")
            lines.append(f"{r.threshold:>10.3g} {r.max_per_step:>9g} "
                         f"{share(r.binary_fraction):>7} {counts:>14} "
                         + "".join(f"{r.dead_fraction[n]:>14.0%}" for n in layers)
                         + f"  {r.verdict}" + ("  (edge refined)" if r.refined else ""))
        lines += ["", self.reason, HONESTY]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        """The table as HTML, for notebooks (drawn by :mod:`spikewidget.present`)."""
        return render("sweep.html", self)

    def plot(self, ax: Any = None) -> Any:
        """Max per step, output counts and the dead share against the threshold, the
        recommended interval shaded (its edges, where they are only known to lie
        between two thresholds, lighter); the legend sits under the axes, clear of
        every curve. Returns the axes (a new figure's when ``ax`` is None; drawn by
        :mod:`spikewidget.present.sweep_view`)."""
        return render("sweep.plot", self, ax=ax)
