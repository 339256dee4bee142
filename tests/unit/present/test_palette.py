"""The palette (spikewidget/palette.py) in both themes: legible, colour-blind safe, and
each family apart from the others. Contrast is WCAG 2's; colour distances are CIE76 in
CIELAB; colour blindness is simulated with Machado, Oliveira and Fernandes (2009) at
full severity."""

from __future__ import annotations

import itertools
import math

import pytest

from spikewidget.present.palette import BACKGROUND, CLASS, LAYER, SEVERITY, as_dict, layer_colour
from spikewidget.present.payload import meta

# JupyterLab's and the static page's backgrounds besides the palette's own
PAGES = {"light": [BACKGROUND["light"], "#FFFFFF"], "dark": [BACKGROUND["dark"], "#0D1117"]}

CVD = {  # linear-RGB matrices, severity 1.0
    "protan": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
               (-0.003882, -0.048116, 1.051998)),
    "deutan": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
               (-0.011820, 0.042940, 0.968881)),
    "tritan": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
               (0.004733, 0.691367, 0.303900)),
}


def linear(hex_colour: str) -> list[float]:
    c = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in c]


def luminance(hex_colour: str) -> float:
    r, g, b = linear(hex_colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab(rgb: list[float]) -> tuple[float, float, float]:
    x = 0.4124 * rgb[0] + 0.3576 * rgb[1] + 0.1805 * rgb[2]
    y = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    z = 0.0193 * rgb[0] + 0.1192 * rgb[1] + 0.9505 * rgb[2]

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x / 0.95047), f(y), f(z / 1.08883)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def distance(a: str, b: str, cvd: str | None = None) -> float:
    def seen(h: str) -> list[float]:
        c = linear(h)
        if cvd is None:
            return c
        return [min(1.0, max(0.0, sum(m * v for m, v in zip(row, c, strict=True))))
                for row in CVD[cvd]]

    return math.dist(lab(seen(a)), lab(seen(b)))


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_colour_stands_out_on_its_themes_background(theme):
    for page in PAGES[theme]:
        for name, c in CLASS[theme].items():  # bars, histogram, map cells: 3:1 (graphics)
            assert contrast(c, page) >= 3, (theme, name, c, page)
        for c in LAYER[theme]:  # trend lines
            assert contrast(c, page) >= 3, (theme, c, page)
        for name, c in SEVERITY[theme].items():  # badge text: 4.5:1
            assert contrast(c, page) >= 4.5, (theme, name, c, page)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_class_colours_stay_apart_for_colour_blind_eyes(theme):
    for (na, a), (nb, b) in itertools.combinations(CLASS[theme].items(), 2):
        for cvd in (None, *CVD):
            assert distance(a, b, cvd) >= 15, (theme, na, nb, cvd)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_layer_colours_are_never_class_colours_and_differ_from_each_other(theme):
    for c in LAYER[theme]:
        for name, k in CLASS[theme].items():
            assert distance(c, k) >= 25, (theme, c, name)
    for a, b in itertools.combinations(LAYER[theme], 2):
        assert distance(a, b) >= 15, (theme, a, b)


def test_both_themes_have_the_same_names_and_the_widget_receives_them():
    assert CLASS["light"].keys() == CLASS["dark"].keys() == {"dead", "healthy", "saturated"}
    assert SEVERITY["light"].keys() == SEVERITY["dark"].keys()
    assert len(LAYER["light"]) == len(LAYER["dark"])
    assert layer_colour(len(LAYER["dark"]) + 1, "dark") == LAYER["dark"][1]
    assert meta(0)["palette"] == as_dict()  # the JS side's one source
