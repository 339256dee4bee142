"""User text in matplotlib figures, drawn as it is written.

Matplotlib reads text between two ``$`` as math (``"$\\notacommand$"`` makes ``savefig``
raise, ``"cost $x$"`` is drawn as an italic x) and leaves legend entries whose label
starts with ``_`` out. Layer names and finding texts come from users: each artist that
shows them goes through here, with math parsing off, legends built from explicit
handles, and characters a terminal would act on shown escaped (:func:`~spikewidget.core.fmt.plain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.fmt import plain

LITERAL = {"parse_math": False}
"""Keyword arguments that make a matplotlib text artist draw its string literally."""


def shown(text: str) -> str:
    """``text`` as a figure shows it: escaped where it is not printable."""
    return plain(str(text))


def literal(artist: Any) -> Any:
    """Turn math parsing off on a text artist (or each of several); returns it."""
    for t in artist if isinstance(artist, (list, tuple)) else [artist]:
        t.set_parse_math(False)
    return artist


def legend(ax: Any, handles: Sequence[Any], labels: Sequence[str], **kwargs: Any) -> Any:
    """``ax.legend`` of exactly these entries, labels drawn literally (a label that
    starts with ``_`` is kept)."""
    leg = ax.legend(list(handles), [shown(x) for x in labels], **kwargs)
    literal(list(leg.get_texts()))
    return leg


def text_width(text: str, size: float) -> float:
    """Width of one line of ``text`` at ``size`` points, in points (as Agg draws it)."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    global _RENDERER
    if _RENDERER is None:
        _RENDERER = RendererAgg(1, 1, 72)
    w, _, _ = _RENDERER.get_text_width_height_descent(text, FontProperties(size=size),
                                                      ismath=False)
    return float(w)


_RENDERER: Any = None


def wrap(text: str, width: float, size: float) -> str:
    """``text`` (as :func:`shown`) in lines no wider than ``width`` points at ``size``
    points, whole: no word is lost and nothing is cut to "[...]"; a word longer than a
    line is broken where it must."""
    lines: list[str] = []
    line: str | None = None  # None: nothing on this line yet (a space is kept as written)
    for word in shown(text).split(" "):
        trial = word if line is None else f"{line} {word}"
        if text_width(trial, size) <= width:
            line = trial
            continue
        if line is not None:
            lines.append(line)
        line = ""
        for ch in word:  # the word alone is too wide: break it
            if line and text_width(line + ch, size) > width:
                lines.append(line)
                line = ""
            line += ch
    lines.append(line or "")
    return "\n".join(lines)
