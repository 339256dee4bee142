"""The widget in the notebook hosts this machine can run, in a real Chromium: Notebook 7,
marimo (``mo.ui.anywidget``) and JupyterLab's dark theme (its light theme, live updates
and sliders: tests/browser/test_widget_lab.py).

In each host one page checks what a user relies on: the widget renders (canvases drawn,
as wide as their panels), it updates live while a cell is still recording, a slider
moved in the page reaches the kernel, and it follows the host's light and dark themes.
One server per host, one page each.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("playwright")

from spikewidget.present.widget import bundle_path
from tests.browser.test_widget_lab import CELLS, free_port, notebook
from tests.widget_harness import ROOT, browser_context, have_chromium, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not have_chromium(),
                                 reason="no /usr/bin/chromium (run `make browser`)")]

# The widget's root, in the page or in a host's shadow DOM (marimo renders there).
FIND_ROOT = """() => { const find = (r) => { const e = r.querySelector('.sw-root');
    if (e) return e;
    for (const h of r.querySelectorAll('*')) if (h.shadowRoot) {
      const x = find(h.shadowRoot); if (x) return x; }
    return null; }; return find(document); }"""

LOOK = f"""() => {{ const root = ({FIND_ROOT})(); if (!root) return null;
    const luma = (c) => {{ const m = c.match(/[\\d.]+/g).map(Number);
      return 0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]; }};
    const style = getComputedStyle(root);
    const canvases = [...root.querySelectorAll('canvas')].filter(c => c.offsetParent)
      .map(c => {{ const panel = c.closest('.sw-panel');
        const pad = panel ? parseFloat(getComputedStyle(panel).paddingLeft)
                          + parseFloat(getComputedStyle(panel).paddingRight) : 0;
        const ctx = c.getContext('2d'); let inked = 0;
        if (c.width && c.height) {{ const d = ctx.getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < d.length; i += 4 * 7) if (d[i]) inked++; }}
        return {{ width: c.getBoundingClientRect().width,
                 room: panel ? panel.clientWidth - pad : c.getBoundingClientRect().width,
                 inked }}; }});
    return {{ seq: root.dataset.seq, epoch: root.dataset.epoch,
             bg: luma(style.backgroundColor), fg: luma(style.color), canvases }}; }}"""


def look(page) -> dict:
    return page.evaluate(LOOK)


def assert_rendered(page, *, dark: bool, full_width: bool = True) -> None:
    """Drawn canvases (that fill their panels), in the theme's colours."""
    state = look(page)
    assert state is not None, "no widget in the page"
    assert state["canvases"], "the widget shows no canvas"
    for c in state["canvases"]:
        assert c["inked"] > 0, f"a blank canvas: {c}"
        if full_width:
            assert c["width"] >= 0.9 * c["room"], f"a canvas narrower than its panel: {c}"
    if dark:
        assert state["bg"] < 60 and state["fg"] > 160, f"not dark: {state}"
    else:
        assert state["bg"] > 200 and state["fg"] < 100, f"not light: {state}"


def wait_for_theme(page, *, dark: bool, timeout: float = 15_000) -> None:
    cond = "s.bg < 60 && s.fg > 160" if dark else "s.bg > 200 && s.fg < 100"
    page.wait_for_function(f"() => {{ const s = ({LOOK})(); return s && {cond}; }}",
                           timeout=timeout)
    page.wait_for_timeout(300)  # the redraw after a theme change is scheduled, not sync


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(log.read_text()[-3000:]) from None
            time.sleep(0.3)


@contextmanager
def server(args: list[str], env: dict[str, str], home: Path, probe: str
           ) -> Iterator[None]:
    log_path = home / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_http(probe, proc, log_path)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def jupyter_env(home: Path) -> dict[str, str]:
    config = home / "config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    return {**os.environ, "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "rt"),
            "IPYTHONDIR": str(home / "ipython"),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


# ------------------------------------------------------------------ Jupyter (Lab, Nb 7)
KERNEL = "window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"


def jupyter_server(tmp_path_factory, app: str) -> Iterator[tuple[str, str]]:
    bundle_path()
    home = tmp_path_factory.mktemp(app)
    root = home / "root"
    root.mkdir()
    (root / "widget.ipynb").write_text(json.dumps(notebook(CELLS)))
    port, token = free_port(), secrets.token_hex(16)
    klass = "JupyterNotebookApp" if app == "notebook" else "LabApp"
    args = [sys.executable, "-m", app, "--no-browser", "--allow-root", "--ip=127.0.0.1",
            f"--port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", f"--{klass}.expose_app_in_browser=True"]
    base = f"http://127.0.0.1:{port}"
    with server(args, jupyter_env(home), home, f"{base}/api/status?token={token}"):
        yield base, token


def run_cell(page, index: int) -> None:
    page.evaluate(f"""() => {{ const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = {index};
        window.jupyterapp.commands.execute('notebook:run-cell'); }}""")


def wait_idle(page, timeout: float = 60_000) -> None:
    page.wait_for_function(f"{KERNEL}?.status === 'idle'", timeout=timeout)


def change_theme(page, name: str) -> None:
    page.evaluate(f"""() => window.jupyterapp.commands.execute('apputils:change-theme',
        {{ theme: {json.dumps(name)} }})""")
    light = "true" if "Light" in name else "false"
    page.wait_for_function(
        f"document.body.dataset.jpThemeLight === '{light}'", timeout=15_000)


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    pytest.importorskip("notebook")
    yield from jupyter_server(tmp_path_factory, "notebook")


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    pytest.importorskip("jupyterlab")
    yield from jupyter_server(tmp_path_factory, "jupyterlab")


def test_notebook_7_renders_updates_live_syncs_a_slider_and_follows_both_themes(notebook7):
    base, token = notebook7
    with browser_context() as ctx:
        page = ctx.new_page()
        page.goto(f"{base}/notebooks/widget.ipynb?token={token}")
        page.wait_for_function("window.jupyterapp?.shell?.currentWidget?.content",
                               timeout=90_000)
        wait_idle(page, timeout=90_000)
        change_theme(page, "JupyterLab Light")
        run_cell(page, 0)
        page.wait_for_selector(".sw-root .sw-raster", timeout=60_000)
        wait_idle(page)
        page.wait_for_timeout(300)
        assert_rendered(page, dark=False)
        seq0 = look(page)["seq"]

        run_cell(page, 1)  # records for 3 s: the page moves while the cell runs
        page.wait_for_function(
            f"document.querySelector('.sw-root').dataset.seq !== '{seq0}' "
            f"&& {KERNEL}.status === 'busy'", timeout=30_000)
        wait_idle(page)
        assert look(page)["epoch"] == "1"

        page.locator(".sw-thresholds summary").click()  # the sliders are folded at first
        page.locator('.sw-range[data-name="dead_rate"]').fill("1000")  # 0.5
        page.wait_for_timeout(300)
        run_cell(page, 2)
        wait_idle(page)
        out = page.locator(".jp-OutputArea-output").filter(has_text="DEAD_RATE")
        out.wait_for(timeout=15_000)
        assert "DEAD_RATE 0.5" in out.text_content()

        change_theme(page, "JupyterLab Dark")
        wait_for_theme(page, dark=True)
        assert_rendered(page, dark=True)  # canvases keep their width after a theme switch
        page.locator(".sw-root").scroll_into_view_if_needed()
        screenshot(page, "notebook7-dark.png", ".sw-root")


def test_jupyterlab_dark_theme_keeps_the_canvases_full_width(jupyterlab):
    base, token = jupyterlab
    with browser_context() as ctx:
        page = ctx.new_page()
        page.goto(f"{base}/lab/tree/widget.ipynb?token={token}&reset")
        wait_idle(page, timeout=90_000)
        change_theme(page, "JupyterLab Dark")
        run_cell(page, 0)
        page.wait_for_selector(".sw-root .sw-raster", timeout=60_000)
        wait_idle(page)
        wait_for_theme(page, dark=True)
        assert_rendered(page, dark=True)
        change_theme(page, "JupyterLab Light")
        wait_for_theme(page, dark=False)
        assert_rendered(page, dark=False)


# ------------------------------------------------------------------------------ marimo
MARIMO_APP = '''import marimo

app = marimo.App()


@app.cell
def _():
    import json
    import time

    import marimo as mo
    import numpy as np

    from spikewidget import SpikeProfiler

{setup}
    ui = mo.ui.anywidget(w)
    ui
    return json, mo, np, p, step, time, ui, w


@app.cell
def _(np, p, step, time, ui):
{record}
    return


@app.cell
def _(json, mo, ui, w):
    ui.value  # re-runs when the page changes a trait of the widget
    mo.md("DEAD_RATE " + str(w.thresholds.dead_rate) + " REPORT "
          + json.dumps([[x.category, x.layer] for x in w.report().pathologies]))
    return


if __name__ == "__main__":
    app.run()
'''


def indent(src: str) -> str:
    return "\n".join("    " + line if line else "" for line in src.splitlines())


@pytest.fixture(scope="module")
def marimo_app(tmp_path_factory):
    pytest.importorskip("marimo")
    bundle_path()
    home = tmp_path_factory.mktemp("marimo")
    setup = CELLS[0].rsplit("\nw", 1)[0].replace("import time, numpy as np\n", "")
    setup = setup.replace("from spikewidget import SpikeProfiler\n", "")
    app = MARIMO_APP.format(setup=indent(setup), record=indent(CELLS[1]))
    (home / "app.py").write_text(app)
    (home / "xdg" / "marimo").mkdir(parents=True)
    # the page's theme follows the browser's colour scheme
    (home / "xdg" / "marimo" / "marimo.toml").write_text('[display]\ntheme = "system"\n')
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "xdg"), "HOME": str(home),
           "MARIMO_SKIP_UPDATE_CHECK": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    port = free_port()
    args = [sys.executable, "-m", "marimo", "run", str(home / "app.py"), "--headless",
            "--no-token", "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with server(args, env, home, f"{base}/health"):
        yield base


def test_marimo_renders_updates_live_syncs_a_slider_and_follows_both_themes(marimo_app):
    with browser_context(color_scheme="light") as ctx:
        page = ctx.new_page()
        page.goto(marimo_app)
        page.wait_for_function(f"() => !!({FIND_ROOT})()?.querySelector('.sw-raster')",
                               timeout=90_000)
        seq0 = look(page)["seq"]
        # the recording cell runs for 3 s after the widget's cell: the page follows it
        page.wait_for_function(
            f"() => {{ const r = ({FIND_ROOT})(); return r.dataset.epoch === '1' "
            f"&& r.dataset.seq !== '{seq0}'; }}", timeout=30_000)
        seq1 = look(page)["seq"]
        page.wait_for_function(f"() => ({FIND_ROOT})().dataset.seq !== '{seq1}'",
                               timeout=30_000)  # and moves again while it runs
        page.get_by_text("DEAD_RATE 0.01").wait_for(timeout=60_000)  # cells all ran
        page.wait_for_timeout(500)
        assert_rendered(page, dark=False)

        # Playwright's locators pierce marimo's open shadow root
        page.locator(".sw-thresholds summary").click()  # the sliders are folded at first
        page.locator('.sw-range[data-name="dead_rate"]').fill("1000")  # 0.5
        on_screen = page.evaluate(f"""() => [...({FIND_ROOT})().querySelectorAll(
            '.sw-table tbody tr')].map(r => [r.cells[1].textContent.replace('\\u21b3 ', ''),
            r.cells[2].textContent])""")
        answer = page.get_by_text("DEAD_RATE 0.5")
        answer.wait_for(timeout=30_000)
        kernel_report = json.loads(answer.text_content().split("REPORT", 1)[1])
        assert kernel_report == on_screen

        page.emulate_media(color_scheme="dark")
        wait_for_theme(page, dark=True)
        assert_rendered(page, dark=True)
        screenshot(page, "marimo-dark.png")
