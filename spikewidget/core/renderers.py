"""Where results find their pictures, without importing the layer that draws them.

A result (:class:`~spikewidget.diagnose.report.Report`, a sweep's result) offers
``.plot()`` and notebook HTML; the functions that draw them live in
:mod:`spikewidget.present`, which registers them here by name when it is imported
(``import spikewidget`` imports it). Lower layers call :func:`render`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Drawer = TypeVar("Drawer", bound=Callable[..., Any])

_DRAWERS: dict[str, Callable[..., Any]] = {}


def register(kind: str) -> Callable[[Drawer], Drawer]:
    """Decorator: ``fn`` draws results of ``kind`` (``"report.plot"``, ...)."""

    def add(fn: Drawer) -> Drawer:
        _DRAWERS[kind] = fn
        return fn

    return add


def render(kind: str, *args: Any, **kwargs: Any) -> Any:
    """What the drawer registered for ``kind`` returns for these arguments."""
    drawer = _DRAWERS.get(kind)
    if drawer is None:
        raise LookupError(f"nothing draws {kind!r}: import spikewidget.present first")
    return drawer(*args, **kwargs)
