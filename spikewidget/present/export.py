"""Static export: one self-contained HTML file of a widget's views.

The page inlines the front end (``static/standalone.js``, the same code as the notebook
widget), the recorded statistics (binary arrays as base64) and a model that lives in the
page, so sliders, scrubber and hover work from disk with no kernel and no network.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from .bundle import bundle_path
from .payload import to_jsonable


def widget_state(widget: Any) -> dict[str, Any]:
    """Everything a page needs to show ``widget``: a full message with every layer's
    raster, the sweeps shown (with their slider positions), and the sliders',
    scrubber's and layer picker's current values."""
    return to_jsonable(widget.page_state())


def _script_json(value: Any) -> str:
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(state: dict[str, Any], *, title: str = "spikewidget report") -> str:
    """The HTML page for a :func:`widget_state`."""
    js = bundle_path("standalone.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<link rel=\"icon\" href=\"data:,\">\n"
        "</head>\n<body class=\"sw-standalone\">\n<div id=\"spikewidget\"></div>\n"
        f"<script id=\"spikewidget-state\" type=\"application/json\">{_script_json(state)}"
        "</script>\n"
        f"<script>{js}</script>\n"
        "<script>SpikeWidget.mount(document.getElementById(\"spikewidget\"), "
        "JSON.parse(document.getElementById(\"spikewidget-state\").textContent));</script>\n"
        "</body>\n</html>\n")


def write_html(widget: Any, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write ``widget``'s views to ``path`` as one self-contained HTML file."""
    out = Path(path)
    out.write_text(render_html(widget_state(widget), title=title or "spikewidget report"),
                   encoding="utf-8")
    return out
