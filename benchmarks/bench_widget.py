"""Widget speed: raster drawing, slider re-classification, bytes per update, loop slowdown.

    .venv/bin/python benchmarks/bench_widget.py [--quick]

1. Draw a raster of 1,000,000 spikes (10,000 neurons x 1,000 frames) in headless Chromium.
2. Re-classify 100,000 neurons on a slider move (bars, histogram, table, trends rebuilt).
3. Bytes per live update for 10 layers x 10,000 neurons.
4. Slowdown of a recording loop in a real kernel with a widget refreshing against the
   same loop without one (alternated, median of the ratios).
Goals (issue 3): < 50 ms, < 50 ms, a few bytes per neuron, < 3 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spikewidget import SpikeProfiler  # noqa: E402
from spikewidget.present.export import widget_state  # noqa: E402
from spikewidget.present.payload import PayloadBuilder, message_bytes  # noqa: E402
from spikewidget.present.widget import ProfilerWidget  # noqa: E402
from tests.widget_harness import browser_context, open_harness, serve_harness  # noqa: E402


def raster_profiler() -> SpikeProfiler:
    rng = np.random.default_rng(0)
    p = SpikeProfiler(raster_window=1000)
    for _ in range(10):  # 10 steps x 100 time steps = 1,000 frames
        p.record_step("big", rng.random((100, 1, 10_000)) < 0.1)
    return p


def rates_profiler() -> SpikeProfiler:
    rng = np.random.default_rng(1)
    p = SpikeProfiler(raster_window=16)
    p.record_step("wide", (rng.random((16, 2, 100_000)) < rng.random(100_000) * 0.05))
    return p


def bench_browser(repeats: int) -> dict[str, float]:
    out = {}
    with browser_context() as ctx:
        serve_harness(ctx)
        p = raster_profiler()
        spikes = int(p.raster("big").spikes.sum())
        page = open_harness(ctx, widget_state(ProfilerWidget(p, interval=None)))
        times = []
        for _ in range(repeats):
            page.evaluate("document.querySelector('.sw-root').swRedraw(true)")
            times.append(page.evaluate("document.querySelector('.sw-root').swStats.lastRasterMs"))
        out["raster_spikes"] = spikes
        out["raster_ms"] = statistics.median(times)
        page.close()

        page = open_harness(ctx, widget_state(ProfilerWidget(rates_profiler(), interval=None)))
        times = []
        for k in range(repeats):
            page.evaluate("""pos => { const r = document.querySelector(
                '.sw-range[data-name="dead_rate"]'); r.value = String(pos);
                r.dispatchEvent(new Event('input')); }""", 300 + 37 * k)
            times.append(page.evaluate("document.querySelector('.sw-root').swStats.lastUpdateMs"))
        out["reclassify_ms"] = statistics.median(times)
    return out


def bench_bytes() -> dict[str, float]:
    rng = np.random.default_rng(2)
    p = SpikeProfiler()
    names = [f"layer{i}" for i in range(10)]
    batch = {n: rng.random((25, 16, 10_000)) < 0.05 for n in names}
    for _ in range(20):
        for n in names:
            p.record_step(n, batch[n])
    b = PayloadBuilder(p)
    full = message_bytes(b.full())
    for n in names:
        p.record_step(n, batch[n])
    one = message_bytes(b.update([names[0]]))
    for _ in range(5):
        for n in names:
            p.record_step(n, batch[n])
    five = message_bytes(b.update([names[0]]))
    return {"first_bytes": full, "update_1step_bytes": one, "update_5steps_bytes": five,
            "neurons": 100_000}


LOOP = """
import time, numpy as np, statistics
from spikewidget import SpikeProfiler
rng = np.random.default_rng(3)
names = [f"layer{i}" for i in range(10)]
data = {n: (rng.random((25, 16, 10_000)) < 0.05).astype(np.float32) for n in names}
def loop(p, steps):
    t0 = time.perf_counter()
    for s in range(steps):
        for n in names:
            p.record_step(n, data[n])
        p.record_loss(2.3, n_classes=10)
        if s % 20 == 19:
            p.next_epoch()
    return time.perf_counter() - t0
"""


def bench_slowdown(steps: int, rounds: int) -> dict[str, float]:
    import nbclient
    import nbformat

    cells = [LOOP, "from IPython.display import display\nratios, base, widg = [], [], []"]
    for _ in range(rounds):
        cells.append(f"""p0 = SpikeProfiler(); loop(p0, 5); a = loop(p0, {steps})
p1 = SpikeProfiler(); loop(p1, 5); w = p1.widget(); display(w)
b = loop(p1, {steps}); sent = w.updates_sent; w.close()
base.append(a); widg.append(b); ratios.append(b / a)""")
    cells.append("print('RESULT', statistics.median(ratios), statistics.median(base), "
                 "statistics.median(widg), sent)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    import os

    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    nbclient.NotebookClient(nb, timeout=1200, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    _, ratio, base, widg, sent = text.split()
    return {"loop_ratio": float(ratio), "loop_s": float(base), "loop_widget_s": float(widg),
            "updates_sent": int(sent)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args()
    t0 = time.perf_counter()
    br = bench_browser(repeats=3 if args.quick else 9)
    print(f"raster: {br['raster_spikes']:,} spikes drawn in {br['raster_ms']:.1f} ms "
          f"(goal < 50 ms)")
    print(f"slider: 100,000 neurons re-classified and every view rebuilt in "
          f"{br['reclassify_ms']:.1f} ms (goal < 50 ms)")
    by = bench_bytes()
    n = by["neurons"]
    print(f"bytes: first message {by['first_bytes'] / n:.1f} B/neuron; live update after 1 "
          f"step {by['update_1step_bytes'] / n:.2f} B/neuron, after 5 steps "
          f"{by['update_5steps_bytes'] / n:.2f} B/neuron (10 layers x 10,000 neurons)")
    sd = bench_slowdown(steps=20 if args.quick else 200, rounds=2 if args.quick else 3)
    print(f"loop: {sd['loop_s']:.2f} s without a widget, {sd['loop_widget_s']:.2f} s with one "
          f"({sd['updates_sent']} updates): ratio {sd['loop_ratio']:.3f} "
          f"({(sd['loop_ratio'] - 1) * 100:+.1f} %, goal < 3 %)")
    print(f"(benchmark took {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
