"""The wheel's build hook rebuilds the front end when any module under js/src changed,
however deep in its folders (hatch_build.py)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
hatch_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hatch_build)


def _tree(root: Path, bundle_mtime: float, source_mtime: float) -> Path:
    """A checkout with built bundles and one nested source, at the given mtimes."""
    static = root / "spikewidget" / "static"
    static.mkdir(parents=True)
    for name in hatch_build.BUNDLES:
        (static / name).write_text("bundle")
        os.utime(static / name, (bundle_mtime, bundle_mtime))
    (root / "js").mkdir()
    (root / "js" / "package.json").write_text("{}")
    os.utime(root / "js" / "package.json", (0, 0))
    nested = root / "js" / "src" / "views" / "raster.js"
    nested.parent.mkdir(parents=True)
    nested.write_text("export {};")
    os.utime(nested, (source_mtime, source_mtime))
    return nested


def test_a_changed_module_in_a_subfolder_makes_the_bundle_stale(tmp_path):
    _tree(tmp_path, bundle_mtime=1_000, source_mtime=2_000)
    assert hatch_build.bundle_is_stale(tmp_path)


def test_a_bundle_newer_than_every_source_is_fresh(tmp_path):
    _tree(tmp_path, bundle_mtime=2_000, source_mtime=1_000)
    assert not hatch_build.bundle_is_stale(tmp_path)
