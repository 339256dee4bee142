"""Numbers as findings print them: a printed figure never contradicts its verdict."""

from __future__ import annotations

import math


def share(fraction: float) -> str:
    """A fraction in [0, 1] as a percentage that is 0% or 100% only when exact.

    ``share(0.0004)`` is ``"< 0.1%"``, ``share(0.9996)`` is ``"> 99.9%"``; anything
    else has one decimal (``"12.5%"``). NaN prints as ``"n/a"``.
    """
    if math.isnan(fraction):
        return "n/a"
    if fraction <= 0:
        return "0%"
    if fraction >= 1:
        return "100%"
    if fraction < 0.001:
        return "< 0.1%"
    if fraction > 0.999:
        return "> 99.9%"
    return f"{fraction:.1%}"


def plain(text: str) -> str:
    """``text`` with every character that a terminal would act on (newlines, escape
    sequences, other non-printables) shown escaped, as Python writes it: a layer
    named ``"a\\n[critical] x"`` cannot fake a line of a report."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
