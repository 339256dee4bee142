"""A threshold sweep's pictures: its table as HTML and its curves in matplotlib."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from ..core.fmt import share
from ..core.renderers import register
from ..sweep.result import HONESTY, SweepResult, distinct
from .figtext import LITERAL, legend, shown
from .palette import CLASS, SEVERITY

_BAND = "#6f6f6f"
"""The recommended interval in sweep plots: not a class colour (it is not a class)."""


@register("sweep.html")
def sweep_html(result: SweepResult) -> str:
    """A sweep's table as HTML: every user text escaped, verdicts in the severity
    colours, the recommended rows bold."""
    esc = html.escape
    layers = list(result.rows[0].dead_fraction) if result.rows else []
    severity = SEVERITY["light"]  # a verdict reads as a finding would: how bad
    colour = {"ok": CLASS["light"]["healthy"], "too sparse": severity["warning"],
              "silent": severity["warning"]}
    cells = "".join(f"<th>dead {esc(n)}</th>" for n in layers)
    body = []
    for r in result.rows:
        rec = (result.recommended is not None
               and result.recommended[0] <= r.threshold <= result.recommended[1])
        counts = ("-" if r.output_count_range is None else
                  f"[{r.output_count_range[0]:g}, {r.output_count_range[1]:g}]")
        dead = "".join(f"<td>{r.dead_fraction[n]:.0%}</td>" for n in layers)
        style = ' style="font-weight:bold"' if rec else ""
        body.append(
            f"<tr{style}><td>{r.threshold:.3g}</td><td>{r.max_per_step:g}</td>"
            f"<td>{share(r.binary_fraction)}</td><td>{esc(counts)}</td>{dead}"
            f"<td style=\"color:{colour.get(r.verdict, severity['critical'])}\">"
            f"{esc(r.verdict)}{' (edge refined)' if r.refined else ''}</td></tr>")
    return (f"<div><b>Threshold sweep of {esc(result.layer)}</b> (was "
            f"{result.original_threshold:g})<table><tr><th>threshold</th>"
            f"<th>max/step</th><th>binary</th><th>output counts</th>{cells}"
            f"<th>verdict</th></tr>{''.join(body)}</table><p>{esc(result.reason)}</p>"
            f"<p><i>{esc(HONESTY)}</i></p></div>")


@register("sweep.plot")
def plot_sweep(result: SweepResult, ax: Any = None) -> Any:
    """Max per step, output counts and the dead share against the threshold, the
    recommended interval shaded (its edges, where they are only known to lie
    between two thresholds, lighter); the legend sits under the axes, clear of
    every curve. Returns the axes (a new figure's when ``ax`` is None)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import ScaledTranslation

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    th = result.thresholds
    ax.set_xscale("log" if result.scale == "log" else "linear")
    ax.set_yscale("symlog")
    entries: list[tuple[Any, str]] = []
    if result.recommended is not None:
        lo, hi = result.recommended
        a, b = distinct(lo, hi)
        band = ax.axvspan(lo, hi, color=_BAND, alpha=0.35, lw=0, zorder=0,
                          label=f"recommended {a} to {b}")
        for x in (lo, hi):  # a band one threshold wide stays visible
            ax.axvline(x, color=_BAND, lw=2, zorder=0.5, label="_band edge")
        entries.append((band, f"recommended {a} to {b}"))
        edges = [e for e in result.edges if e is not None]
        for e in edges:
            ax.axvspan(min(e.inside, e.outside), max(e.inside, e.outside), color=_BAND,
                       alpha=0.12, lw=0, zorder=0, label="_edge")
        if edges:
            entries.append((Patch(color=_BAND, alpha=0.12),
                            "an edge lies here (ok on one side, failed on the other)"))
    line, = ax.plot(th, [r.max_per_step for r in result.rows], "o-", color="black",
                    ms=4, label="max spikes / step")
    entries.append((line, "max spikes / step (1 = binary)"))
    line, = ax.plot(th, [r.output_count_range[1] if r.output_count_range else np.nan
                         for r in result.rows], "s-", color="#777777", ms=4,
                    label="max output count / sample")
    entries.append((line, "max output count / sample"))
    ax.set_ylabel("spikes (symlog)")
    ax2 = ax.twinx()
    ax2.plot(th, [max(r.dead_fraction.get(n, np.nan) for n in result.layers)
                  for r in result.rows], "^--", color=CLASS["light"]["dead"], ms=4,
             label="dead fraction")
    entries.append((Line2D([], [], ls="--", marker="^", color=CLASS["light"]["dead"]),
                    "dead share (most dead swept layer), right axis"))
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("dead share")
    ax.set_xlabel(f"threshold of {shown(result.layer)}", **LITERAL)
    shift = ScaledTranslation(0, -0.5, ax.figure.dpi_scale_trans)
    legend(ax, [h for h, _ in entries], [t for _, t in entries], ncols=2,
           loc="upper center", bbox_to_anchor=(0.5, 0.0),
           bbox_transform=ax.transAxes + shift, fontsize=8, frameon=False)
    ax.set_title("Threshold sweep (batch fixed, no retraining)")
    return ax
