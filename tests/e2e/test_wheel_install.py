"""The normal install ships the front end: a wheel built from a clean copy of the sources
(no bundle in it) and installed into a fresh virtual environment renders the widget.

The copy holds only what git tracks, as a clean clone would; the build hook must run the
JS build itself. The fresh venv borrows the dependencies (numpy, anywidget...) of the test
environment through a ``.pth`` line, but spikewidget itself comes only from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.widget_harness import (
    ROOT,
    browser_context,
    have_chromium,
    open_harness,
    painted_pixels,
    serve_harness,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("npm") is None, reason="npm is needed to build"),
              pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")]

SCRIPT = """
import json, sys
from pathlib import Path
import numpy as np
import spikewidget
from spikewidget import SpikeProfiler
from spikewidget.present.export import widget_state
rng = np.random.default_rng(0)
p = SpikeProfiler()
for epoch in range(2):
    for _ in range(4):
        p.record_step("hidden", (rng.random((8, 4, 32)) < 0.2).astype(np.float32), epoch=epoch)
        silent = np.zeros((8, 4, 16), np.float32)
        p.record_step("output", silent, epoch=epoch)
w = p.widget(interval=None)
out = Path(sys.argv[1])
w.to_html(out / "page.html")
(out / "state.json").write_text(json.dumps(widget_state(w)))
bundle = Path(spikewidget.__file__).parent / "static" / "widget.js"
assert w._esm == bundle.read_text(), "the widget does not load the installed bundle"
print(json.dumps({"module": spikewidget.__file__, "esm": str(bundle)}))
"""


def _clean_copy(dest: Path) -> None:
    """What a clean clone holds: the files git tracks (plus new, not ignored ones)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("wheel")
    src, dist, venv, out = tmp / "src", tmp / "dist", tmp / "venv", tmp / "out"
    for d in (src, out):
        d.mkdir()
    _clean_copy(src)
    assert not (src / "spikewidget" / "static").exists()
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                    "--outdir", str(dist), str(src)], check=True, capture_output=True)
    wheel = next(dist.glob("spikewidget-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {"spikewidget/static/widget.js", "spikewidget/static/standalone.js",
            "spikewidget/py.typed"} <= set(names)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], check=True, capture_output=True, text=True)
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    fresh = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the wheel
    run = subprocess.run([str(python), "-c", SCRIPT, str(out)], check=True,
                         capture_output=True, text=True, cwd=tmp, env=fresh)
    return out, json.loads(run.stdout.strip().splitlines()[-1])


def test_the_installed_package_is_the_wheel_and_carries_its_bundle(installed):
    _, info = installed
    assert "/venv/" in info["module"] and str(ROOT) not in info["module"]
    assert Path(info["esm"]).is_file() and Path(info["esm"]).stat().st_size > 10_000


@pytest.mark.skipif(not have_chromium(), reason="needs Debian's chromium")
def test_the_wheels_widget_and_static_page_render_in_chromium(installed):
    out, info = installed
    state = json.loads((out / "state.json").read_text())
    with browser_context() as ctx:
        serve_harness(ctx, Path(info["esm"]))
        page = open_harness(ctx, state)
        page.wait_for_selector(".sw-table, .sw-ok")
        assert page.errors == []
        assert painted_pixels(page, ".sw-raster") > 500
        assert "output" in page.locator(".sw-root").inner_text()
        static = ctx.new_page()
        static.goto((out / "page.html").as_uri())
        static.wait_for_selector(".sw-table, .sw-ok")
        assert painted_pixels(static, ".sw-raster") > 500
