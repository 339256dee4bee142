"""Threshold sweep of the story's network: 30 thresholds, batch 128, side by side with
the same 30 forward passes done by hand (what the story's author did, minus retraining),
one forward per candidate (the default) against K candidates per forward (``batched``).

Run: .venv/bin/python benchmarks/bench_sweep.py   (about 20 s)
"""

from __future__ import annotations

import resource
import time

import torch

from spikewidget import SpikeProfiler, frameworks
from spikewidget.demo.datasets import count_frames, shd_like
from spikewidget.demo.story_model import StoryNet


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(time_steps: int = 100, batch: int = 128, n: int = 30, repeats: int = 2) -> None:
    torch.set_num_threads(2)
    data = shd_like(batch, seed=0)
    frames = torch.from_numpy(count_frames(data, time_steps))
    x = (frames.transpose(0, 1) > 0).float().contiguous()  # (time, batch, 700)
    layers = ["lif1", "lif2"]

    def sweep(**kw):
        t0 = time.perf_counter()
        result = SpikeProfiler().threshold_sweep(StoryNet(1.0), x, layer=layers, n=n, **kw)
        return result, time.perf_counter() - t0

    def bare(grid):  # the forward passes alone: no recording, no copies of the model
        t0 = time.perf_counter()
        torch.set_flush_denormal(True)
        for th in grid:
            work = StoryNet(1.0)
            for name in layers:
                frameworks.set_threshold(getattr(work, name), th)
            with torch.no_grad():
                work(x)
        torch.set_flush_denormal(False)
        return None, time.perf_counter() - t0

    result, _ = sweep()
    grid = result.thresholds
    modes = {
        "sequential (default)": lambda: sweep(),
        "batched, default chunk": lambda: sweep(batched=True),
        "batched, chunk=8": lambda: sweep(batched=True, chunk=8),
        "bare forward passes": lambda: bare(grid),
    }
    times: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for _ in range(repeats):  # interleaved, best of `repeats`: less noise from the machine
        for name, fn in modes.items():
            got, s = fn()
            if got is not None and name != "sequential (default)":
                assert got.batched, name
                assert [r.verdict for r in got.rows] == [r.verdict for r in result.rows]
            times[name] = min(times.get(name, float("inf")), s)
            peaks[name] = _peak_mb()  # the process's peak so far (ru_maxrss never falls)

    print(result.table())
    print(f"\n{n} thresholds (+1 pass for the grid), batch {batch}, {time_steps} time steps, "
          f"700-256-20, {torch.get_num_threads()} threads, best of {repeats}:")
    base = times["bare forward passes"]
    seq = times["sequential (default)"]
    for name, s in times.items():
        print(f"  {name:<24} {s:6.2f} s   {s / base:5.2f}x bare   {s / seq:5.2f}x sequential"
              f"   (process peak so far {peaks[name]:.0f} MB)")
    faster = min(("sequential (default)", "batched, default chunk", "batched, chunk=8"),
                 key=times.__getitem__)
    print(f"fastest sweep here: {faster}")


if __name__ == "__main__":
    main()
