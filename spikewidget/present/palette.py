"""The one palette of spikewidget's pictures, for the widget (JS) and the figures (matplotlib).

Three families, each with one meaning and never reused for another:

- ``CLASS``: what a neuron is (dead / healthy / saturated), in bars, histograms, heatmaps.
- ``LAYER``: which layer a line belongs to (trends, legends). No class hue is among them.
- ``SEVERITY``: how bad a finding is (critical / warning / info), in tables.

Each family has a ``light`` and a ``dark`` variant (the theme's background). The class
colours are Okabe and Ito's colour-blind safe set; the layer colours come from Paul Tol's
"muted" scheme without its blue, green and orange hues (darkened where a hue had less
than 3:1 contrast on white; the dark theme's are lighter tints). Colours are ``#rrggbb``
strings. ``tests/unit/present/test_palette.py`` checks contrast on each theme's background, that the
class colours stay apart under simulated colour blindness, and that no layer colour is
near a class colour.

``BACKGROUND`` is the page colour each variant is made for (the widget picks the variant
whose background is nearer in luminance to the page it is drawn on).
"""

from __future__ import annotations

CLASS: dict[str, dict[str, str]] = {
    "light": {"dead": "#0072B2", "healthy": "#009E73", "saturated": "#D55E00"},
    "dark": {"dead": "#5E9BFF", "healthy": "#2EC4A0", "saturated": "#F08A4B"},
}

LAYER: dict[str, list[str]] = {
    "light": ["#332288", "#CC6677", "#8A8A2E", "#882255", "#AA4499", "#666666",
              "#A07A2C", "#6B4C9A"],
    "dark": ["#CDB8F5", "#E8798C", "#CFCF5F", "#C85A92", "#E7A3E3", "#BDBDBD",
             "#D9A95B", "#9C6FD6"],
}

SEVERITY: dict[str, dict[str, str]] = {
    "light": {"critical": "#D1242F", "warning": "#9A6700", "info": "#0969DA"},
    "dark": {"critical": "#FF6B6B", "warning": "#E3B341", "info": "#58A6FF"},
}


BACKGROUND: dict[str, str] = {"light": "#FFFFFF", "dark": "#111111"}


def layer_colour(index: int, theme: str = "light") -> str:
    """The colour of the ``index``-th layer (cycles past the palette's end)."""
    colours = LAYER[theme]
    return colours[index % len(colours)]


def as_dict() -> dict[str, object]:
    """All three families, as the JS side receives them (JSON-ready)."""
    return {"class": CLASS, "layer": LAYER, "severity": SEVERITY, "background": BACKGROUND}
