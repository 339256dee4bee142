"""A diagnosis: per-layer statistics, findings, and a text summary."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import UnknownLayerError
from ..core.fmt import plain
from ..core.renderers import render
from ..state.layer import ANALOG
from .pathology import Pathology, Severity
from .rules import is_count_valued, looks_like_pixels
from .stats import LayerStats, LossStats
from .thresholds import Thresholds


@dataclass
class Report:
    """What :meth:`SpikeProfiler.report` returns.

    ``layer_stats`` maps layer names (in recording order) to :class:`LayerStats`;
    ``pathologies`` lists the findings, most severe first; ``epochs`` are the
    epochs the report covers. All have defaults (``ProfileReport()`` is an empty
    report, ``ProfileReport(pathologies=[...])`` one of those findings).
    """

    layer_stats: dict[str, LayerStats] = field(default_factory=dict)
    pathologies: list[Pathology] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)
    epochs: tuple[int, ...] = ()
    loss: LossStats | None = None
    dropped_epochs: tuple[int, ...] = ()
    """Epochs of the report whose layer statistics ``max_epochs`` dropped (they count
    for the loss only)."""
    max_epochs: int | None = None
    total_steps: int = field(init=False)
    total_spikes: float = field(init=False)
    total_neurons: int = field(init=False)

    def __post_init__(self) -> None:
        stats = self.layer_stats.values()
        self.total_steps = max((s.n_steps for s in stats), default=0)
        self.total_spikes = float(sum(s.total_spikes for s in stats))
        self.total_neurons = sum(s.n_neurons for s in stats)

    @property
    def has_critical(self) -> bool:
        return any(p.severity is Severity.CRITICAL for p in self.pathologies)

    @property
    def is_healthy(self) -> bool:
        """No critical finding and no warning."""
        return not any(p.severity is not Severity.INFO for p in self.pathologies)

    def for_layer(self, name: str) -> list[Pathology]:
        """The findings located at one layer (``"loss"`` for the loss)."""
        if name not in self.layer_stats and name != "loss":
            raise UnknownLayerError(
                f"no layer {name!r} in this report; layers: {list(self.layer_stats)}")
        return [p for p in self.pathologies if p.layer == name]

    def by_category(self, category: str) -> list[Pathology]:
        return [p for p in self.pathologies if p.category == category]

    def summary(self) -> str:
        """Plain-text report: one line per layer, then each finding with its fix."""
        ep = (f"epoch {self.epochs[0]}" if len(self.epochs) == 1 else
              f"epochs {self.epochs[0]}-{self.epochs[-1]}" if self.epochs else "no data")
        lines = [f"SpikeProfiler Report: {self.total_steps} steps, {self.total_neurons} "
                 f"neurons, {self.total_spikes:.0f} total spikes ({ep})", ""]
        if self.dropped_epochs:
            lines.insert(1, f"  (layer statistics of {_epoch_list(self.dropped_epochs)} were "
                            f"dropped: max_epochs={self.max_epochs} keeps the newest; the "
                            f"layers cover the other epochs, the loss every epoch)")
        for raw, st in self.layer_stats.items():
            name = plain(raw)  # a name never acts on the terminal or fakes a line
            if st.role == "input":  # activity, not health: no dead/saturated verdict
                line = (f"  {name} [input]: {st.n_neurons}n, {_activity(st)}, "
                        f"max/step={st.max_value:g}")
            else:
                line = (f"  {name} [{st.role}]: {st.n_neurons}n, {_activity(st)}, "
                        f"dead={st.dead_neuron_count} ({st.dead_neuron_fraction:.0%}), "
                        f"sat={_saturated(st)}, max/step={st.max_value:g}"
                        f"{'' if st.is_binary else ' (non-binary)'}")
            if st.has_voltages:
                line += f", V={st.voltage_mean:.3f}+/-{st.voltage_std:.3f}"
            if st.spike_count_range is not None:
                lo, hi = st.spike_count_range
                line += f", counts/sample=[{lo:g}, {hi:g}]"
            if st.gradient_steps:
                line += f", |grad|={st.gradient_norm_mean:.3g}"
            lines.append(line)
        if self.loss is not None:
            lo = self.loss
            chance = (f" (chance ln {lo.n_classes} = {lo.chance_level:.3f})"
                      if lo.chance_level is not None else "")
            last = f"{lo.last:.4f}" if math.isfinite(lo.last) else str(lo.last)
            lines.append(f"  loss: last={last}, mean={lo.mean:.4f} over {lo.count} "
                         f"records{chance}")
        lines.append("")
        if self.pathologies:
            lines.append(f"Pathologies detected: {len(self.pathologies)}")
            for p in self.pathologies:
                lines.append(f"  [{p.severity.value}] {p.category} @ {plain(p.layer)}: "
                             f"{plain(p.message)}")
                lines.append(f"    Fix: {plain(p.suggestion)}")
        else:
            lines.append("No pathologies detected.")
        return "\n".join(lines)

    def plot(self, **kwargs: Any) -> Any:
        """A matplotlib figure of the same views as the widget (needs matplotlib; drawn
        by :func:`spikewidget.present.plot.plot_report`)."""
        return render("report.plot", self, **kwargs)

    def __str__(self) -> str:
        return self.summary()


def _activity(st: LayerStats) -> str:
    """The mean firing rate (of a graded layer: of its spike events); of other values
    than 0/1 it is not a rate but a mean value."""
    mean = float(st.firing_rates.mean())
    if st.is_binary:
        return f"rate={mean:.3f}"
    if st.graded == ANALOG:
        return f"non-zero in {mean:.0%} of steps (analog output)"
    if st.role == "input":
        what = ("analog values (direct encoding)" if not is_count_valued(st)
                else "8-bit pixels: see count_valued_input" if looks_like_pixels(st)
                else "counts: see count_valued_input")
        return f"mean {mean:.4g} per step ({what})"
    if mean <= 1:
        return f"rate={mean:.3f}"
    why = "graded" if st.graded else "non-binary: see non_binary_spikes"
    return f"mean {mean:.4g} per step ({why})"


ProfileReport = Report
"""The tutorial's name for :class:`Report`."""


def _epoch_list(epochs: tuple[int, ...]) -> str:
    """``epoch 3`` / ``epochs 0-9`` (consecutive) / ``epochs 0, 2, 5``."""
    if len(epochs) == 1:
        return f"epoch {epochs[0]}"
    if epochs[-1] - epochs[0] == len(epochs) - 1:
        return f"epochs {epochs[0]}-{epochs[-1]}"
    return "epochs " + ", ".join(map(str, epochs))


def _saturated(st: LayerStats) -> str:
    """The summary's saturated count; ``n/a`` where saturation is not judged (an analog
    layer, a graded one of unknown ceiling), and a graded layer's ceiling."""
    if st.saturation_levels is None:
        return "n/a"
    ceiling = "" if st.spike_ceiling is None else f"; ceiling {st.spike_ceiling:g}"
    return f"{st.saturated_neuron_count} ({st.saturated_neuron_fraction:.0%}{ceiling})"
