"""Threshold sweep of the story's network: 30 thresholds, batch 128, side by side with
the same 30 forward passes done by hand (what the story's author did, minus retraining).

Run: .venv/bin/python benchmarks/bench_sweep.py   (about half a minute)
"""

from __future__ import annotations

import time

import torch

from spikewidget import SpikeProfiler, adapters
from spikewidget.datasets import count_frames, shd_like
from spikewidget.story_model import StoryNet


def main(time_steps: int = 100, batch: int = 128, n: int = 30) -> None:
    torch.set_num_threads(2)
    data = shd_like(batch, seed=0)
    frames = torch.from_numpy(count_frames(data, time_steps))
    x = (frames.transpose(0, 1) > 0).float().contiguous()  # (time, batch, 700)
    net = StoryNet(1.0)
    t0 = time.perf_counter()
    result = SpikeProfiler().threshold_sweep(net, x, layer=["lif1", "lif2"], n=n)
    sweep_s = time.perf_counter() - t0

    t0 = time.perf_counter()  # the bare forward passes, no recording, same thresholds
    torch.set_flush_denormal(True)
    for th in result.thresholds:
        work = StoryNet(1.0)
        for name in ("lif1", "lif2"):
            adapters.set_threshold(getattr(work, name), th)
        with torch.no_grad():
            work(x)
    torch.set_flush_denormal(False)
    bare_s = time.perf_counter() - t0

    print(result.table())
    print(f"\nsweep of {n} thresholds (+1 pass for the grid), batch {batch}, "
          f"{time_steps} time steps, 700-256-20: {sweep_s:.1f} s; the same forward passes "
          f"with no recording: {bare_s:.1f} s (ratio {sweep_s / bare_s:.2f}x)")


if __name__ == "__main__":
    main()
