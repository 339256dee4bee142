"""The widget's views as one matplotlib figure, for scripts and papers.

``report.plot()`` (:func:`plot_report`) draws the spike raster, the firing-rate histogram
of one layer (each bar in the colour of its neurons' class), the neuron classes per
layer, the dead/saturated share of each layer over epochs, the loss per epoch with the
ln C chance line, and the pathology table (severity in words, every text whole). The
raster, the trends and the loss over every epoch need the profiler; the epochs the
report covers are marked. The figure is as tall as its content.

Colours come from :mod:`spikewidget.present.palette`: class colours for neuron classes only,
layer colours for per-layer lines, severity colours in the table. User text (layer
names, messages) is drawn literally (:mod:`spikewidget.present.figtext`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.errors import UnknownLayerError
from ..core.renderers import register
from ..diagnose.profile import Profile
from ..diagnose.report import Report
from ..diagnose.thresholds import Thresholds
from .figtext import LITERAL, legend, shown
from .palette import CLASS, layer_colour
from .plot_table import draw_table, table_layout

CLASSES = ("dead", "healthy", "saturated")
CLASS_COLOURS = CLASS["light"]
INPUT_COLOUR = "#8c8c8c"
"""Input layers: activity, not health (no class colour)."""
_INK = "#404040"  # cut-offs, chance line, the loss: not a class, not a layer
WIDTH = 12.0
"""Default width of the figure, inches."""
_ROW0 = 3.8  # inches: the title, the raster and the histogram with its legend
_SIDE = 0.25  # inches left free beside the table
_TABLE_TITLE = 0.3  # inches above the table for its title
_BOTTOM = 0.1  # inches below the table


@register("report.plot")
def plot_report(report: Report, *, profiler: Profile | None = None, layer: str | None = None,
                figsize: tuple[float, float] | None = None) -> Any:
    """A :class:`matplotlib.figure.Figure` of ``report`` (no pyplot state touched).

    Args:
        report: what :meth:`SpikeProfiler.report` returned.
        profiler: the profiler it came from; adds the raster, the per-epoch trends
            and the loss of every epoch (the report's own epochs marked).
        layer: the layer of the histogram and raster; default the one with the
            most severe finding, else the first hidden layer.
        figsize: inches; default 12 wide and as tall as the content.
    """
    from matplotlib.figure import Figure

    names = list(report.layer_stats)
    if layer is not None and layer not in report.layer_stats:
        raise UnknownLayerError(f"plot_report: layer {layer!r} is not in this report; "
                                f"layers: {names}")
    layer = layer or _default_layer(report)
    width = figsize[0] if figsize else WIDTH
    table = table_layout(report, width - 2 * _SIDE)
    # three bands, each as tall as what it holds (inches, titles and legends included)
    legend_rows = math.ceil((len(names) + 3) / 2)  # the trends' legend, two columns
    bands = [_ROW0, max(1.6, 0.3 * len(names) + 0.4) + 1.1 + 0.17 * legend_rows,
             (table.height if table.findings else 0.3) + _TABLE_TITLE + 2 * _BOTTOM]
    if figsize is not None:  # the user's size: the table keeps its share
        bands = [x * figsize[1] / sum(bands) for x in bands]
    fig = Figure(figsize=(width, sum(bands)), layout="constrained")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=bands)
    history = _History.of(report, profiler)
    upper = top.subplots(1, 2)
    _raster(upper[0], profiler, layer, report)
    _histogram(upper[1], report, layer)
    mid = middle.subplots(1, 3, width_ratios=[1.3, 1, 1])
    _bars(mid[0], report, names)
    _trends(mid[1], report, history)
    _loss(mid[2], report, history)
    # the table: placed by hand, exactly as tall as its rows need
    h = bands[2]
    table_ax = bottom.add_axes((_SIDE / width, _BOTTOM / h, 1 - 2 * _SIDE / width,
                                max(h - _TABLE_TITLE - 2 * _BOTTOM, 0.01) / h))
    draw_table(table_ax, table)
    ep = report.epochs
    top.suptitle("spikewidget report" + (f" \u2014 epoch {ep[0]}" if len(ep) == 1 else
                                         f" \u2014 epochs {ep[0]}\u2013{ep[-1]}" if ep else ""))
    return fig


def _default_layer(report: Report) -> str | None:
    for p in report.pathologies:
        if p.layer in report.layer_stats:
            return p.layer
    hidden = [n for n, st in report.layer_stats.items() if st.role != "input"]
    return hidden[0] if hidden else next(iter(report.layer_stats), None)


def neuron_classes(st: Any, th: Thresholds) -> np.ndarray:
    """Per neuron, 0 (dead), 1 (healthy) or 2 (saturated), as the report counts them:
    a neuron is dead when it fires in fewer than ``dead_rate`` of the samples (where
    its layer's samples were counted: ``sample_activity``), else when its rate is below it;
    saturated as :attr:`LayerStats.saturation_levels` says (never, for an analog
    layer or a graded one of unknown ceiling)."""
    rates = np.asarray(st.firing_rates, dtype=np.float64)
    activity = st.sample_activity
    dead = (activity < th.dead_rate) if activity is not None else (rates < th.dead_rate)
    out = np.ones(rates.shape, dtype=np.int8)
    levels = st.saturation_levels
    if levels is not None:
        out[np.asarray(levels).reshape(rates.shape) > th.saturated_rate] = 2
    out[dead] = 0
    return out


def _below(ax: Any, inches: float = 0.42) -> dict[str, Any]:
    """Legend placement under an axes, clear of its tick labels and x label."""
    from matplotlib.transforms import ScaledTranslation

    shift = ScaledTranslation(0, -inches, ax.figure.dpi_scale_trans)
    return {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0),
            "bbox_transform": ax.transAxes + shift, "fontsize": "x-small", "frameon": False}


def _raster(ax: Any, profiler: Profile | None, layer: str | None, report: Report) -> None:
    ax.set_title("Spike raster" + (f" \u2014 {shown(layer)}" if layer else ""), loc="left",
                 **LITERAL)
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
    """Firing rates on a log axis, rate 0 in a bin of its own at the left; each bar in
    its neurons' class colour (stacked where a bin holds several classes)."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullLocator

    th = report.thresholds
    ax.set_title("Firing rates" + (f" \u2014 {shown(layer)}" if layer else ""), loc="left",
                 **LITERAL)
    if layer is None:
        ax.set_axis_off()
        return
    st = report.layer_stats[layer]
    rates = np.asarray(st.firing_rates, dtype=np.float64)
    finite = np.isfinite(rates)
    is_input = st.role == "input"
    classes = np.ones(rates.shape, np.int8) if is_input else neuron_classes(st, th)
    top = max(1.0, float(rates[finite].max()) if finite.any() else 1.0)
    decades = max(0, math.ceil(math.log10(top)))
    edges = np.logspace(-5, decades, 8 * (decades + 5) + 1)
    zero = (10 ** -6.2, 10 ** -5.8)  # the rate-0 bin
    colours = ([INPUT_COLOUR] * 3 if is_input else [CLASS_COLOURS[c] for c in CLASSES])
    bottom = 0.0
    for k in range(3):
        mine = rates[finite & (classes == k)]
        positive = np.clip(mine[mine > 0], edges[0], None)
        if positive.size:
            ax.hist(positive, bins=edges, color=colours[k],
                    bottom=_stack(ax, positive, edges, k, rates, finite, classes))
        zeros = int(np.count_nonzero(mine == 0))
        if zeros:
            ax.bar(zero[0], zeros, width=zero[1] - zero[0], bottom=bottom, align="edge",
                   color=colours[k])
            bottom += zeros
    ax.set_xscale("log")
    ax.set_xlim(10 ** -6.4, edges[-1] * 10 ** 0.2)
    ticks = [10 ** -6] + [10.0 ** d for d in range(-5, decades + 1)]
    ax.set_xticks(ticks, ["0"] + [f"1e{d}" if d else "1" for d in range(-5, decades + 1)])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("spikes per step (log axis; the bar at 0: neurons that never fired)")
    ax.set_ylabel("neurons")
    if is_input:
        handles = [Patch(color=INPUT_COLOUR)]
        labels = [f"{st.n_neurons} input neurons (activity, not judged)"]
    else:
        handles = [Patch(color=CLASS_COLOURS[c]) for c in CLASSES]
        counts = np.bincount(classes[finite], minlength=3)
        labels = [f"{c} ({n})" for c, n in zip(CLASSES, counts, strict=True)]
        cuts = [] if st.sample_activity is not None else [(th.dead_rate, "dead", ":")]
        if not st.graded:  # a graded layer's saturation is not a rate: no cut-off here
            cuts.append((th.saturated_rate, "saturated", "--"))
        for x, name, style in cuts:
            handles.append(ax.axvline(x, color=_INK, linestyle=style, lw=1))
            labels.append(f"{name} cut-off {x:g}")
        if st.sample_activity is not None:  # judged per sample: no cut-off on this axis
            handles.append(Patch(visible=False))
            labels.append(f"dead: fires in < {th.dead_rate:.0%} of samples")
    legend(ax, handles, labels, ncols=3, **_below(ax))


def _stack(ax: Any, positive: np.ndarray, edges: np.ndarray, k: int, rates: np.ndarray,
           finite: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Per bin, the neurons of the classes drawn before class ``k`` (bars stack)."""
    below = rates[finite & (classes < k) & (rates > 0)]
    counts, _ = np.histogram(np.clip(below, edges[0], None), bins=edges)
    return counts.astype(np.float64)


def _bars(ax: Any, report: Report, names: list[str]) -> None:
    from matplotlib.patches import Patch

    ax.set_title("Neuron classes per layer (share of neurons)", loc="left")
    if not names:
        ax.set_axis_off()
        return
    y = np.arange(len(names))
    for i, n in enumerate(names):
        st = report.layer_stats[n]
        ax.text(-0.02, i, shown(n), transform=ax.get_yaxis_transform(), ha="right",
                va="center", fontsize="small", **LITERAL)
        if st.role == "input":  # activity, not health: no class
            ax.barh(i, 1.0, color="none", edgecolor=INPUT_COLOUR, hatch="//", lw=0.8)
            words = f"input: mean rate {float(np.mean(st.firing_rates)):.3g} (not judged)"
        else:
            left = 0.0
            for cls in CLASSES:
                share = _share(st, cls)
                ax.barh(i, share, left=left, color=CLASS_COLOURS[cls])
                left += share
            words = (f"{st.dead_neuron_fraction:.0%} dead, "
                     f"{st.saturated_neuron_fraction:.0%} sat.")
        ax.text(1.02, i, words, va="center", fontsize="x-small",
                transform=ax.get_yaxis_transform())
    ax.set_yticks(y, [""] * len(names))
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    legend(ax, [Patch(color=CLASS_COLOURS[c]) for c in CLASSES], list(CLASSES), ncols=3,
           **_below(ax, 0.3))


def _share(st: Any, cls: str) -> float:
    if cls == "dead":
        return st.dead_neuron_fraction
    if cls == "saturated":
        return st.saturated_neuron_fraction
    return 1.0 - st.dead_neuron_fraction - st.saturated_neuron_fraction


class _History:
    """Per epoch, the report of that epoch alone (from the profiler), and the loss
    means of every epoch; ``selected``: the epochs ``report`` covers."""

    def __init__(self, layers: list[str], per: dict[int, Report], loss: dict[int, float],
                 selected: tuple[int, ...]) -> None:
        self.layers, self.per, self.loss, self.selected = layers, per, loss, selected

    @classmethod
    def of(cls, report: Report, profiler: Profile | None) -> _History:
        per: dict[int, Report] = {}
        layers: list[str] = []
        if profiler is not None:
            layers = list(profiler.layers)
            per = {e: profiler.report(thresholds=report.thresholds, epoch=e)
                   for e in profiler.epochs}
        loss: dict[int, float] = {}
        for r in [*per.values(), report]:
            if r.loss is not None:
                loss.update(r.loss.epoch_means)
        return cls(layers, per, dict(sorted(loss.items())), tuple(report.epochs))

    def mark(self, ax: Any, epochs: list[int]) -> list[tuple[Any, str]]:
        """Shade the selected epochs when they are not all of ``epochs``."""
        chosen = [e for e in epochs if e in set(self.selected)]
        if not chosen or len(chosen) == len(epochs):
            return []
        span = ax.axvspan(min(chosen) - 0.4, max(chosen) + 0.4, color=_INK, alpha=0.12,
                          lw=0)
        what = (f"epoch {chosen[0]}" if len(chosen) == 1 else
                f"epochs {chosen[0]}\u2013{chosen[-1]}")
        return [(span, f"this report: {what}")]


def _trends(ax: Any, report: Report, history: _History) -> None:
    from matplotlib.lines import Line2D

    ax.set_title("Trends over epochs", loc="left")
    epochs = sorted(history.per)
    if not epochs:
        ax.text(0.5, 0.5, "pass profiler= for per-epoch trends", ha="center", va="center",
                transform=ax.transAxes, fontsize="small")
        ax.set_axis_off()
        return
    entries = history.mark(ax, epochs)
    for i, name in enumerate(history.layers):
        stats = [history.per[e].layer_stats.get(name) for e in epochs]
        if all(s is None or s.role == "input" for s in stats):
            continue  # input layers: activity, not health
        colour = layer_colour(i)
        dead = [s.dead_neuron_fraction if s else np.nan for s in stats]
        sat = [s.saturated_neuron_fraction if s else np.nan for s in stats]
        line, = ax.plot(epochs, dead, "-o", color=colour, ms=3)
        ax.plot(epochs, sat, "--s", color=colour, ms=3)
        entries.append((line, name))
    entries += [(Line2D([], [], color=_INK, ls="-"), "dead (solid)"),
                (Line2D([], [], color=_INK, ls="--"), "saturated (dashed)")]
    ax.set_ylim(-0.03, 1.03)
    ax.set_xticks(epochs if len(epochs) <= 12 else ax.get_xticks())
    ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
    ax.set_ylabel("share of neurons")
    ax.set_xlabel("epoch")
    legend(ax, [h for h, _ in entries], [lab for _, lab in entries], ncols=2, **_below(ax))


def _loss(ax: Any, report: Report, history: _History) -> None:
    from matplotlib.lines import Line2D

    ax.set_title("Loss per epoch", loc="left")
    if not history.loss:
        ax.text(0.5, 0.5, "no loss recorded", ha="center", va="center",
                transform=ax.transAxes, fontsize="small")
        ax.set_axis_off()
        return
    eps = list(history.loss)
    entries = history.mark(ax, eps)
    line, = ax.plot(eps, [history.loss[e] for e in eps], "-o", color="black", ms=4)
    entries.append((line, "mean loss" if len(eps) > 1 or history.per else
                    "mean loss (pass profiler= for every epoch)"))
    loss = report.loss
    if loss is not None and loss.chance_level is not None:
        chance = ax.axhline(loss.chance_level, color=_INK, linestyle=":")
        entries.append((chance, f"chance ln {loss.n_classes} = {loss.chance_level:.3f}"))
    chosen = [e for e in eps if e in set(history.selected)]
    if chosen and len(chosen) < len(eps):
        ax.plot(chosen, [history.loss[e] for e in chosen], "o", ms=9, mfc="none",
                mec="black")
        entries.append((Line2D([], [], ls="", marker="o", ms=7, mfc="none", mec="black"),
                        "this report's epochs"))
    ax.set_xticks(eps if len(eps) <= 12 else ax.get_xticks())
    ax.set_xlim(eps[0] - 0.5, eps[-1] + 0.5)
    ax.set_xlabel("epoch")
    legend(ax, [h for h, _ in entries], [lab for _, lab in entries], ncols=1, **_below(ax))
