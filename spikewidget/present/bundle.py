"""Where the built front end lies in the package (``static/``, made by esbuild)."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent.parent / "static"
"""The folder of the built bundles (``widget.js``, ``standalone.js``)."""


def bundle_path(name: str = "widget.js") -> Path:
    """Path of a built front-end file; raises with the build command if it is missing."""
    path = STATIC / name
    if not path.is_file():
        raise FileNotFoundError(
            f"the widget's front end is not built ({path} is missing); run `make setup` "
            f"or `cd js && npm ci && npm run build` in the spikewidget checkout")
    return path
