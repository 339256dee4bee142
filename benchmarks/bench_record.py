"""Cost of SpikeProfiler.record_step against a minimal NumPy baseline, side by side.

The baseline does the least work any profiler must do: one sum per neuron of each
array given (spikes, voltages, gradients). Both are timed interleaved in the same
run (the machine is shared and noisy); the table prints medians and their ratio.
Also prints the memory after 1,000 vs 10,000 steps and the time to re-evaluate a
report under new thresholds for 10 layers x 10,000 neurons.

Run: .venv/bin/python benchmarks/bench_record.py   (about a minute)
"""

from __future__ import annotations

import statistics
import time
import tracemalloc

import numpy as np

from spikewidget import SpikeProfiler, Thresholds


def baseline_step(acc: dict, x: np.ndarray, v: np.ndarray | None, g: np.ndarray | None) -> None:
    acc["s"] += x.sum(axis=0)
    if v is not None:
        acc["v"] += v.sum(axis=0)
    if g is not None:
        acc["g"] += g.sum(axis=0)


def time_per_call(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def compare(n: int, with_v: bool, with_g: bool, rounds: int = 15) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = (rng.random((128, n)) < 0.2).astype(np.float32)
    v = rng.standard_normal((128, n)).astype(np.float32) if with_v else None
    g = rng.standard_normal((128, n)).astype(np.float32) if with_g else None
    prof = SpikeProfiler()
    acc = {k: np.zeros(n, np.float64) for k in "svg"}
    calls = max(20, 200_000 // n)
    ours, base = [], []
    for _ in range(rounds):  # interleaved: both see the same machine load
        base.append(time_per_call(lambda: baseline_step(acc, x, v, g), calls))
        ours.append(time_per_call(
            lambda: prof.record_step("hidden", x, voltages=v, gradients=g), calls))
    return statistics.median(ours), statistics.median(base)


def memory_after(steps: int) -> int:
    rng = np.random.default_rng(0)
    x = (rng.random((128, 1000)) < 0.2).astype(np.float32)
    v = rng.standard_normal((128, 1000)).astype(np.float32)
    tracemalloc.start()
    prof = SpikeProfiler()
    for _ in range(steps):
        prof.record_step("hidden", x, voltages=v, gradients=v)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del prof
    return current


def report_reevaluation() -> tuple[float, float]:
    rng = np.random.default_rng(0)
    prof = SpikeProfiler()
    for layer in range(10):
        for _ in range(3):
            prof.record_step(f"layer{layer}", (rng.random((32, 10_000)) < 0.05).astype(np.float32))
    th = Thresholds(dead_rate=0.03)
    full = [time_per_call(lambda: prof.report(thresholds=th), 5) for _ in range(5)]
    return statistics.median(full), sum(len(s.firing_rates)
                                        for s in prof.report().layer_stats.values())


def main() -> None:
    print("record_step vs minimal NumPy baseline (one sum per neuron per array), float32,")
    print("medians of interleaved rounds")
    print(f"{'shape':<14}{'arrays':<26}{'spikewidget':>13}{'baseline':>12}{'ratio':>8}")
    for n in (1000, 10_000):
        for with_v, with_g, label in ((False, False, "spikes"),
                                      (True, False, "spikes+voltages"),
                                      (True, True, "spikes+voltages+gradients")):
            ours, base = compare(n, with_v, with_g)
            print(f"{f'[128, {n}]':<14}{label:<26}{ours * 1e6:>10.1f} us{base * 1e6:>9.1f} us"
                  f"{ours / base:>7.2f}x")
    m1, m10 = memory_after(1000), memory_after(10_000)
    print(f"\nmemory held after 1,000 steps: {m1 / 1e6:.2f} MB; after 10,000 steps: "
          f"{m10 / 1e6:.2f} MB (ratio {m10 / m1:.3f})")
    t, neurons = report_reevaluation()
    print(f"report(thresholds=...) for 10 layers, {neurons:,} neurons: {t * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
