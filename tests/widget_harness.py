"""Headless Chromium for the widget's browser tests and benchmark (no `playwright install`).

:func:`browser_context` starts Debian's ``/usr/bin/chromium`` through Playwright;
:func:`open_harness` serves the built ``widget.js`` and a page with a fake anywidget
model (``get/set/on/off/save_changes/send``) from a fake origin, and calls the module's
default export, ``initialize`` and ``render`` as anywidget does, so the front end runs exactly as in
JupyterLab, minus the kernel. Screenshots go to ``build/screenshots/``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SPIKEWIDGET_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "build" / "screenshots"
ORIGIN = "http://spikewidget.test"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]

HARNESS = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>spikewidget harness</title></head><body style="margin:0">
<div id="root" style="width: 1000px"></div>
<script type="module">
import widget from "/widget.js";
// base64 arrays -> DataViews, as ipywidgets hands binary buffers to the front end
function toViews(v) {
  if (Array.isArray(v)) return v.map(toViews);
  if (v && typeof v === "object") {
    if (typeof v.b64 === "string" && Object.keys(v).length === 1) {
      const bin = atob(v.b64);
      const u = new Uint8Array(bin.length + 1);  // offset 1: misaligned on purpose
      for (let i = 0; i < bin.length; i++) u[i + 1] = bin.charCodeAt(i);
      return new DataView(u.buffer, 1, bin.length);
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toViews(x)]));
  }
  return v;
}
function makeModel(state) {
  const values = { ...state };
  const listeners = new Map();
  const log = { sets: [], saves: 0, sent: [] };
  const fire = (name) => { for (const fn of listeners.get(`change:${name}`) || []) fn(); };
  return {
    log,
    get: (name) => values[name],
    set(name, value) { values[name] = value; log.sets.push([name, value]); fire(name); },
    save_changes() { log.saves += 1; },
    send(msg) { log.sent.push(msg); },
    on(ev, fn) { if (!listeners.has(ev)) listeners.set(ev, new Set()); listeners.get(ev).add(fn); },
    off(ev, fn) { listeners.get(ev)?.delete(fn); },
    // what the kernel does: a trait set from Python
    push(name, value) { values[name] = toViews(value); fire(name); },
    listenerCount: () => [...listeners.values()].reduce((a, s) => a + s.size, 0),
  };
}
window.mount = (state) => {
  const views = { _base: toViews(state._base), _update: toViews(state._update),
    _sweeps: toViews(state._sweeps || []) };
  window.model = makeModel({ ...state, ...views });
  // anywidget's lifecycle: the default export makes the model's widget, initialize runs
  // once per model, then render once per view
  window.widgetDef = typeof widget === "function" ? widget() : widget;
  window.endModel = widgetDef.initialize({ model: window.model });
  window.cleanup = widgetDef.render({ model: window.model, el: document.getElementById("root") });
  return true;
};
// another view of the same model (a widget displayed twice), in a new element
window.renderAgain = () => {
  const el = document.createElement("div");
  el.className = "sw-second";
  document.body.appendChild(el);
  return widgetDef.render({ model: window.model, el });
};
window.ready = true;
</script></body></html>"""


def have_chromium() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


@contextlib.contextmanager
def browser_context(**kwargs: Any) -> Iterator[Any]:
    """A Playwright browser context on the system Chromium (closed on exit)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="sw-chromium-") as profile, \
            sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1040, "height": 1300}, **kwargs)
        try:
            yield ctx
        finally:
            ctx.close()


def serve_harness(ctx: Any, bundle_file: Path | None = None) -> None:
    """Route the fake origin: ``/`` is the harness page, ``/widget.js`` the bundle
    (``bundle_file``, default the source tree's)."""
    bundle = (bundle_file or ROOT / "spikewidget" / "static" / "widget.js").read_bytes()

    def handle(route: Any) -> None:
        path = route.request.url[len(ORIGIN):].split("?")[0]
        if path in ("", "/"):
            route.fulfill(status=200, content_type="text/html", body=HARNESS)
        elif path == "/widget.js":
            route.fulfill(status=200, content_type="text/javascript", body=bundle)
        else:
            route.fulfill(status=404, body="not found")

    ctx.route(f"{ORIGIN}/**", handle)


def open_harness(ctx: Any, state: dict[str, Any]) -> Any:
    """A new page showing the widget for ``state`` (see export.widget_state)."""
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("window.ready === true")
    page.evaluate("s => mount(s)", state)
    page.wait_for_selector(".sw-root")
    return page


def push(page: Any, trait: str, message: Any) -> None:
    """Set the fake model's ``trait`` to ``message`` and wait until every view on the page
    has drawn since (a draw after the push shows it: the store takes it at once). Waiting
    for a ``seq`` instead would pass early when a fresh builder repeats the seq on screen.
    """
    page.evaluate("""([trait, message]) => {
        for (const r of document.querySelectorAll('.sw-root')) r.swDrawsBefore = r.swStats.draws;
        model.push(trait, message); }""", [trait, message])
    page.wait_for_function("[...document.querySelectorAll('.sw-root')]"
                           ".every(r => r.swStats.draws > r.swDrawsBefore)")


def painted_pixels(page: Any, selector: str) -> int:
    """How many pixels of a canvas differ from its top-left (background) pixel."""
    return page.evaluate(
        """sel => { const c = document.querySelector(sel);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) {
          if (d[i] !== d[0] || d[i+1] !== d[1] || d[i+2] !== d[2]) n++; } return n; }""",
        selector)


def screenshot(page: Any, name: str, selector: str = ".sw-root") -> Path:
    """Save a PNG of the widget under build/screenshots/ for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = SCREENSHOTS / name
    page.locator(selector).first.screenshot(path=str(out))
    return out
