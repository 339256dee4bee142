"""The widget's views as one matplotlib figure, for scripts and papers.

``report.plot()`` (:func:`plot_report`) draws per-layer neuron classes, the firing-rate
histogram of one layer with the cut-offs, the loss per epoch with the ln C chance line,
and the pathology table (severity in words). Given the profiler, it adds the spike
raster and the dead/saturated trends over epochs.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np

from .report import Report

CLASS_COLOURS = {"dead": "#5b7fd6", "healthy": "#3fa45b", "saturated": "#e07b39"}
SEVERITY_COLOURS = {"critical": "#d1242f", "warning": "#b07a00", "info": "#0969da"}


def plot_report(report: Report, *, profiler: Any = None, layer: str | None = None,
                figsize: tuple[float, float] | None = None) -> Any:
    """A :class:`matplotlib.figure.Figure` of ``report`` (no pyplot state touched).

    Args:
        report: what :meth:`SpikeProfiler.report` returned.
        profiler: the profiler it came from; adds the raster and per-epoch trends.
        layer: the layer of the histogram and raster; default the one with the
            most severe finding, else the first.
        figsize: inches; default (12, 10).
    """
    from matplotlib.figure import Figure

    names = list(report.layer_stats)
    layer = layer or _default_layer(report)
    fig = Figure(figsize=figsize or (12, 10), layout="constrained")
    grid = fig.add_gridspec(3, 2, height_ratios=[1.1, 1, 1.1])
    _raster(fig.add_subplot(grid[0, 0]), profiler, layer, report)
    _histogram(fig.add_subplot(grid[0, 1]), report, layer)
    _bars(fig.add_subplot(grid[1, 0]), report, names)
    _trends(fig.add_subplot(grid[1, 1]), report, profiler)
    _table(fig.add_subplot(grid[2, :]), report)
    ep = report.epochs
    fig.suptitle("spikewidget report" + (f" \u2014 epoch {ep[0]}" if len(ep) == 1 else
                                         f" \u2014 epochs {ep[0]}\u2013{ep[-1]}" if ep else ""))
    return fig


def _default_layer(report: Report) -> str | None:
    for p in report.pathologies:
        if p.layer in report.layer_stats:
            return p.layer
    return next(iter(report.layer_stats), None)


def _raster(ax: Any, profiler: Any, layer: str | None, report: Report) -> None:
    ax.set_title(f"Spike raster \u2014 {layer}" if layer else "Spike raster", loc="left")
    snap = profiler.raster(layer) if profiler is not None and layer else None
    if snap is None or len(snap.steps) == 0:
        ax.text(0.5, 0.5, "pass profiler= to draw the raster" if profiler is None
                else "no frames kept", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    keep = np.isin(snap.epochs, report.epochs) if report.epochs else slice(None)
    spikes = snap.spikes[keep] if np.any(keep) else snap.spikes
    ax.imshow(spikes.T, aspect="auto", interpolation="antialiased", cmap="Greys",
              origin="lower", vmin=0, vmax=1)
    ax.set_xlabel("frame (time step)")
    ax.set_ylabel("neuron")


def _histogram(ax: Any, report: Report, layer: str | None) -> None:
    th = report.thresholds
    ax.set_title(f"Firing rates \u2014 {layer}" if layer else "Firing rates", loc="left")
    if layer is None:
        ax.set_axis_off()
        return
    rates = report.layer_stats[layer].firing_rates
    rates = rates[np.isfinite(rates)]
    positive = rates[rates > 0]
    top = max(1.0, float(positive.max()) if positive.size else 1.0)
    edges = np.logspace(-5, math.log10(top), 41)
    ax.hist(np.clip(positive, edges[0], None), bins=edges, color=CLASS_COLOURS["healthy"])
    ax.set_xscale("log")
    zeros = int(np.count_nonzero(rates == 0))
    for x, name in ((th.dead_rate, "dead"), (th.saturated_rate, "saturated")):
        ax.axvline(x, color=CLASS_COLOURS[name], linestyle="--",
                   label=f"{name} cut-off {x:g}")
    ax.set_xlabel(f"spikes per step (log; {zeros} neurons at rate 0 not shown)")
    ax.set_ylabel("neurons")
    ax.legend(loc="upper left", fontsize="small")


def _bars(ax: Any, report: Report, names: list[str]) -> None:
    ax.set_title("Neuron classes per layer", loc="left")
    if not names:
        ax.set_axis_off()
        return
    y = np.arange(len(names))
    left = np.zeros(len(names))
    for cls in ("dead", "healthy", "saturated"):
        share = np.array([_share(report.layer_stats[n], cls) for n in names])
        ax.barh(y, share, left=left, color=CLASS_COLOURS[cls], label=cls)
        left += share
    for i, n in enumerate(names):
        st = report.layer_stats[n]
        ax.text(1.01, i, f"{st.dead_neuron_fraction:.0%} dead, "
                f"{st.saturated_neuron_fraction:.0%} sat.", va="center", fontsize="small",
                transform=ax.get_yaxis_transform())
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of neurons")
    ax.legend(loc="lower right", fontsize="small", ncols=3)


def _share(st: Any, cls: str) -> float:
    if cls == "dead":
        return st.dead_neuron_fraction
    if cls == "saturated":
        return st.saturated_neuron_fraction
    return 1.0 - st.dead_neuron_fraction - st.saturated_neuron_fraction


def _trends(ax: Any, report: Report, profiler: Any) -> None:
    ax.set_title("Trends over epochs", loc="left")
    drew = False
    if profiler is not None and profiler.epochs:
        epochs = profiler.epochs
        per = [profiler.report(thresholds=report.thresholds, epoch=e) for e in epochs]
        for i, name in enumerate(profiler.layers):
            colour = f"C{i % 10}"
            dead = [r.layer_stats[name].dead_neuron_fraction if name in r.layer_stats
                    else np.nan for r in per]
            sat = [r.layer_stats[name].saturated_neuron_fraction if name in r.layer_stats
                   else np.nan for r in per]
            ax.plot(epochs, dead, "-o", color=colour, ms=3, label=f"{name} dead")
            ax.plot(epochs, sat, "--", color=colour, label=f"{name} saturated")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("share of neurons (dead \u2014, saturated - -)")
        ax.legend(fontsize="x-small", ncols=2, loc="upper left")
        drew = True
    loss = report.loss
    if loss is not None and loss.epoch_means:
        lax = ax.twinx() if drew else ax
        eps = sorted(loss.epoch_means)
        lax.plot(eps, [loss.epoch_means[e] for e in eps], "k-s", ms=3, label="loss")
        if loss.chance_level is not None:
            lax.axhline(loss.chance_level, color="#e07b39", linestyle=":",
                        label=f"chance ln {loss.n_classes} = {loss.chance_level:.3f}")
        lax.set_ylabel("mean loss per epoch")
        lax.legend(fontsize="x-small", loc="upper right")
        drew = True
    if not drew:
        ax.text(0.5, 0.5, "pass profiler= for per-epoch trends", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("epoch")


def _table(ax: Any, report: Report) -> None:
    ax.set_axis_off()
    ax.set_title(f"Pathologies ({len(report.pathologies)})", loc="left")
    if not report.pathologies:
        ax.text(0, 0.9, "No pathologies detected.", transform=ax.transAxes)
        return
    rows = []
    for p in report.pathologies[:12]:
        where = (f"epoch {p.epoch}, step {p.step}" if p.step is not None
                 else f"epoch {p.epoch}" if p.epoch is not None else "")
        rows.append([p.severity.value.upper(), p.category, p.layer,
                     textwrap.shorten(p.message, 90), textwrap.shorten(p.suggestion, 60), where])
    table = ax.table(cellText=rows, colLabels=["Severity", "Pathology", "Layer", "Message",
                                               "Fix", "Where"],
                     loc="upper center", cellLoc="left", colLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.auto_set_column_width(list(range(6)))
    for i, p in enumerate(report.pathologies[:12], start=1):
        table[i, 0].get_text().set_color(SEVERITY_COLOURS[p.severity.value])
        table[i, 0].get_text().set_fontweight("bold")
