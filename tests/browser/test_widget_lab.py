"""The widget in a real JupyterLab (level 3): one server for the module, one notebook.

A cell displays the widget over a profiler; the next cell records more steps in a loop
(the page updates while it runs); a slider moved in the page reaches the kernel's
``widget.thresholds``, and ``widget.report()`` is the table on screen.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("playwright")
pytest.importorskip("jupyterlab")

from spikewidget.present.widget import bundle_path
from tests.widget_harness import ROOT, browser_context, have_chromium, screenshot

pytestmark = pytest.mark.skipif(not have_chromium(),
                                reason="no /usr/bin/chromium (run `make browser`)")

CELLS = [
    # 0: a profiler with a healthy hidden layer, and the widget
    """import time, numpy as np
from spikewidget import SpikeProfiler
rng = np.random.default_rng(0)
p = SpikeProfiler(raster_window=200)
def step(rate):
    p.record_step("input", (rng.random((20, 4, 100)) < 0.2).astype(np.float32))
    p.record_step("hidden", (rng.random((20, 4, 500)) < rate).astype(np.float32))
    p.record_step("output", (rng.random((20, 4, 10)) < 0.3).astype(np.float32))
    p.record_loss(2.3, n_classes=10)
for _ in range(5):
    step(0.1)
w = p.widget(interval=0.1, layer="hidden")
w""",
    # 1: training goes on in this cell: the hidden layer dies, in a new epoch
    """p.next_epoch()
for _ in range(30):
    step(np.r_[np.full(100, 0.1), np.zeros(400)])
    time.sleep(0.1)
print("RECORDED", len(p.raster("hidden").steps))""",
    # 2: what the kernel sees of the page
    """print("DEAD_RATE", w.thresholds.dead_rate)
print("REPORT", json.dumps([[x.category, x.layer] for x in w.report().pathologies]))""",
]


DARK_CELLS = [
    """import numpy as np
from spikewidget import SpikeProfiler
rng = np.random.default_rng(1)
p = SpikeProfiler(raster_window=100)
for epoch in range(3):
    if epoch:
        p.next_epoch()
    for _ in range(4):
        rate = 0.1 / (1 + 3 * epoch)
        p.record_step("hidden", (rng.random((20, 2, 300)) < rate).astype(np.float32))
        p.record_step("output", (rng.random((20, 2, 10)) < 0.3).astype(np.float32))
p.widget(interval=None, layer="hidden")""",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook(cells: list[str]) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                        "language": "python"}},
            "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "outputs": [],
                       "execution_count": None, "source": src}
                      for i, src in enumerate(["import json\n" + cells[0], *cells[1:]])]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    bundle_path()
    home = tmp_path_factory.mktemp("lab")
    root = home / "root"
    root.mkdir()
    (root / "widget.ipynb").write_text(json.dumps(notebook(CELLS)))
    (root / "dark.ipynb").write_text(json.dumps(notebook(DARK_CELLS)))
    config = home / "config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "rt"),
           "IPYTHONDIR": str(home / "ipython"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    log = open(home / "lab.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError((home / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


KERNEL = "window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
ROOT_JS = "document.querySelector('.sw-root')"


def run_cell(page, index: int) -> None:
    # not awaited: the command resolves only when the cell has finished
    page.evaluate(f"""() => {{ const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = {index};
        window.jupyterapp.commands.execute('notebook:run-cell'); }}""")


def wait_idle(page, timeout: float = 60_000) -> None:
    page.wait_for_function(f"{KERNEL}?.status === 'idle'", timeout=timeout)


def table(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        ".sw-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def test_widget_in_jupyterlab_updates_live_and_syncs_sliders_to_the_kernel(lab):
    """Display, live updates during a running cell, slider -> kernel."""
    base, token = lab
    with browser_context() as ctx:
        page = ctx.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.goto(f"{base}/lab/tree/widget.ipynb?token={token}&reset")
        wait_idle(page, timeout=90_000)
        run_cell(page, 0)
        page.wait_for_selector(".sw-root .sw-raster", timeout=60_000)
        wait_idle(page)
        seq0 = page.evaluate(f"{ROOT_JS}.dataset.seq")
        caption0 = page.locator(".sw-caption").first.text_content()
        assert not any(r[1] == "dead_neurons" and r[2] == "hidden" for r in table(page))

        run_cell(page, 1)  # a training loop in the same cell
        page.wait_for_function(
            f"{ROOT_JS}.dataset.seq !== '{seq0}' && {KERNEL}.status === 'busy'",
            timeout=30_000)  # the page moved while the cell was still running
        page.wait_for_function(f"{ROOT_JS}.dataset.epoch === '1'", timeout=30_000)
        wait_idle(page)
        # the layer that was alive in epoch 0 died in epoch 1: that leads, and its dead
        # neurons follow from it (marked with an arrow)
        page.wait_for_function(
            """() => [...document.querySelectorAll('.sw-table tbody tr')].some(
                r => r.cells[1].textContent === 'layer_died'
                  && r.cells[2].textContent === 'hidden')""", timeout=15_000)
        assert ["\u21b3 dead_neurons", "hidden"] in [[r[1], r[2]] for r in table(page)]
        assert page.locator(".sw-caption").first.text_content() != caption0

        page.locator(".sw-root .sw-thresholds summary").click()  # folded by default
        page.locator('.sw-range[data-name="dead_rate"]').fill("1000")  # 0.5
        on_screen = [[r[1].removeprefix("\u21b3 "), r[2]] for r in table(page)]
        page.wait_for_timeout(300)
        run_cell(page, 2)
        wait_idle(page)
        out = page.locator(".jp-OutputArea-output").filter(has_text="DEAD_RATE")
        out.wait_for(timeout=15_000)
        text = out.text_content()
        assert "DEAD_RATE 0.5" in text
        kernel_report = json.loads(text.split("REPORT", 1)[1].strip())
        assert kernel_report == on_screen
        page.locator(".sw-root").scroll_into_view_if_needed()
        screenshot(page, "jupyterlab.png", ".jp-NotebookPanel")
        shots = Path(ROOT / "build" / "screenshots" / "jupyterlab.png")
        assert shots.stat().st_size > 10_000


CANVAS_FIT = """() => [...document.querySelectorAll('.sw-root canvas')]
    .filter(c => !c.hidden && c.getClientRects().length).map(c => {
      const p = c.parentElement, s = getComputedStyle(p);
      return [c.className, c.getBoundingClientRect().width,
              p.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)]; })"""


def assert_canvases_fill_their_panels(page) -> None:
    fits = page.evaluate(CANVAS_FIT)
    assert len(fits) >= 4, fits
    for name, width, room in fits:
        assert room > 250 and abs(width - room) <= 1, (name, width, room)


def test_in_jupyterlabs_dark_theme_canvases_keep_their_size_without_interaction(lab):
    """Dark theme: the palette's dark variant, and canvases sized to their panels at
    once (no 200 px canvases until the next interaction), also across theme switches."""
    from spikewidget.present.palette import CLASS

    base, token = lab
    with browser_context() as ctx:
        page = ctx.new_page()
        page.goto(f"{base}/lab/tree/dark.ipynb?token={token}&reset")
        wait_idle(page, timeout=90_000)
        page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', "
                      "{theme: 'JupyterLab Dark'})")
        page.wait_for_function("document.body.dataset.jpThemeLight === 'false'",
                               timeout=30_000)
        run_cell(page, 0)
        page.wait_for_selector(".sw-root .sw-health", timeout=60_000)
        wait_idle(page)
        page.wait_for_timeout(1500)  # no mouse, no key: what the page settles on
        assert page.evaluate(f"{ROOT_JS}.dataset.theme") == "dark"
        assert_canvases_fill_their_panels(page)
        dead = page.evaluate("getComputedStyle(document.querySelector('.sw-bars .sw-dead'))"
                             ".backgroundColor")
        assert dead == "rgb({}, {}, {})".format(*(int(CLASS["dark"]["dead"][i:i + 2], 16)
                                                  for i in (1, 3, 5)))
        screenshot(page, "jupyterlab-dark.png", ".jp-NotebookPanel")
        page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', "
                      "{theme: 'JupyterLab Light'})")
        page.wait_for_function(f"{ROOT_JS}.dataset.theme === 'light'", timeout=30_000)
        page.wait_for_timeout(1000)
        assert_canvases_fill_their_panels(page)
