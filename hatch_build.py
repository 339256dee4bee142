"""Hatch build hook: every wheel (and editable install) ships the widget's built front end.

The bundle ``spikewidget/static/{widget,standalone}.js`` is built by esbuild from ``js/src``
and is not kept in git. Before a wheel is built this hook rebuilds it when it is missing or
older than its sources, so ``pip install .``, ``pip install git+...`` and ``python -m build``
all give a package whose ``ProfilerWidget`` and ``to_html`` work. An sdist carries both the
sources and the built bundle, so installing from it needs no Node when the bundle is fresh.

Set ``SPIKEWIDGET_SKIP_JS=1`` to build without the front end (the core needs none of it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUNDLES = ("widget.js", "standalone.js")


def _newest_source(js: Path) -> float:
    sources = [*js.glob("src/**/*.js"), js / "package.json", js / "package-lock.json"]
    return max((p.stat().st_mtime for p in sources if p.exists()), default=0.0)


def bundle_is_stale(root: Path) -> bool:
    """True when a bundle is missing, or ``js/`` exists and has a newer source file."""
    static = root / "spikewidget" / "static"
    bundles = [static / name for name in BUNDLES]
    if not all(p.is_file() and p.stat().st_size > 0 for p in bundles):
        return True
    js = root / "js"
    if not (js / "package.json").is_file():
        return False
    return _newest_source(js) > min(p.stat().st_mtime for p in bundles)


def build_bundle(root: Path) -> None:
    """Run ``npm ci`` (when ``node_modules`` is absent) and ``npm run build`` in ``js/``."""
    js = root / "js"
    npm = shutil.which("npm")
    if not (js / "package.json").is_file() or npm is None:
        raise RuntimeError(
            "spikewidget: the widget bundle spikewidget/static/widget.js is missing and "
            + ("js/ is not here to build it from" if npm else "npm (Node 18+) is not installed")
            + "; install Node and npm, or set SPIKEWIDGET_SKIP_JS=1 to build without the widget")
    if not (js / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=js, check=True)
    subprocess.run([npm, "run", "--silent", "build"], cwd=js, check=True)


class FrontEndBuildHook(BuildHookInterface):
    """Builds the front end before hatchling collects the wheel's files."""

    PLUGIN_NAME = "spikewidget-frontend"

    def initialize(self, version: str, build_data: dict) -> None:
        if os.environ.get("SPIKEWIDGET_SKIP_JS") == "1":
            return
        root = Path(self.root)
        if bundle_is_stale(root):
            build_bundle(root)
