"""Regenerate the README's pictures from a real run of the story (``make images``).

Runs act 1 (the set-up as written) and act 2 with the sweep of act 3 exactly as
``make demo`` does (``spikewidget.demo.story``, seeded), writes their offline HTML dashboards,
and screenshots them in Debian's Chromium from disk (no server, no network):

- ``docs/img/widget.png``: act 1's widget, light theme (the README's first picture);
- ``docs/img/widget-dark.png``: the same in a dark colour scheme;
- ``docs/img/widget-sweep.png``: act 2's widget with the threshold sweep;
- ``docs/img/report.png``: act 1's PNG report (``report.plot``).

Usage: ``python docs/make_images.py [--out docs/img]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WIDTH = 1100  # CSS px of the page: the widget's two-column layout at its full width


def screenshot(html: Path, png: Path, *, dark: bool = False) -> None:
    """A PNG of the widget in ``html`` opened from disk, the page as wide as ``WIDTH``."""
    from tests.widget_harness import browser_context

    with browser_context(color_scheme="dark" if dark else "light",
                         device_scale_factor=1) as ctx:
        page = ctx.new_page()
        page.set_viewport_size({"width": WIDTH, "height": 1400})
        page.goto(html.as_uri())
        page.wait_for_selector(".sw-root canvas", timeout=60_000)
        page.wait_for_timeout(500)  # the first draw is scheduled on a frame
        page.locator(".sw-root").first.screenshot(path=str(png))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    import matplotlib
    import torch

    matplotlib.use("Agg")
    from spikewidget.demo.story import StoryConfig, load_data, sweep_thresholds, train_act

    torch.set_flush_denormal(True)
    cfg = StoryConfig()
    frames, labels = load_data(cfg)
    print("Act 1 (as written) and act 2 (binarised), as make demo runs them ...", flush=True)
    act1 = train_act("as written", frames, labels, threshold=1.0, binarise=False,
                     steps=cfg.buggy_steps, cfg=cfg, batch=cfg.broken_batch,
                     test_samples=2 * cfg.broken_batch)
    act2 = train_act("binarised", frames, labels, threshold=1.0, binarise=True,
                     steps=cfg.binarised_steps, cfg=cfg, batch=cfg.broken_batch,
                     test_samples=2 * cfg.broken_batch)
    sweep = sweep_thresholds(act2.profiler, frames, cfg)

    with tempfile.TemporaryDirectory(prefix="sw-images-") as tmp:
        act1_html = act1.profiler.to_html(Path(tmp) / "act1.html", layer="lif1")
        sweep_html = act2.profiler.to_html(Path(tmp) / "act2.html", layer="lif1",
                                           sweep=sweep)
        written = [args.out / name for name in ("widget.png", "widget-dark.png",
                                                "widget-sweep.png", "report.png")]
        screenshot(act1_html, written[0])
        screenshot(act1_html, written[1], dark=True)
        screenshot(sweep_html, written[2])
    act1.report.plot(profiler=act1.profiler).savefig(written[3], dpi=90)
    for path in written:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
