"""Cost of SpikeProfiler.record_step against a minimal NumPy baseline, side by side.

The baseline does the least work any profiler must do: one sum per neuron of each
array given (spikes, voltages, gradients). Both are timed in interleaved rounds of
the same run (the machine is shared and noisy); each figure is the median over
rounds of the per-round ratio, with its standard error (bootstrap) and the middle
half of rounds. A ``[1, 10]`` call measures the per-call overhead (the arrays are
tiny: what is left is Python and NumPy's per-call cost). Goals (issue 18): all three
arrays at most 1.5x the baseline at [128, 1000] and [128, 10000]; a [1, 10] call
under 20 us. Also prints the memory after 1,000 vs 10,000 steps and the time to
re-evaluate a report under new thresholds for 10 layers x 10,000 neurons.

Run: python benchmarks/bench_record.py [--rounds 25]   (about a minute; one thread)
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from unittest import mock

import numpy as np
from timing import Figure, ratios, verdict

from spikewidget import SpikeProfiler, Thresholds
from spikewidget.record import recorder
from spikewidget.state.raster import RasterWindow

RATIO_GOAL = 1.5  # x the minimal baseline, spikes + voltages + gradients
CALL_GOAL_US = 20.0  # per-call overhead: a [1, 10] call


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


def compare(rows: int, n: int, with_v: bool, with_g: bool, rounds: int
            ) -> tuple[list[float], list[float]]:
    """Per-round seconds per call: (record_step, baseline)."""
    rng = np.random.default_rng(0)
    x = (rng.random((rows, n)) < 0.2).astype(np.float32)
    v = rng.standard_normal((rows, n)).astype(np.float32) if with_v else None
    g = rng.standard_normal((rows, n)).astype(np.float32) if with_g else None
    prof = SpikeProfiler()
    acc = {k: np.zeros(n, np.float64) for k in "svg"}
    calls = max(20, 200_000 // (rows * n // 16 + 1))
    calls = min(calls, 2000)
    ours, base = [], []
    for r in range(rounds + 1):  # interleaved (order alternating): same machine load
        pair = [(base, lambda: baseline_step(acc, x, v, g)),
                (ours, lambda: prof.record_step("hidden", x, voltages=v, gradients=g))]
        for out, fn in (pair if r % 2 else pair[::-1]):
            t = time_per_call(fn, calls)
            if r:  # the first round warms up
                out.append(t)
    return ours, base


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


def best_us(fn, calls: int = 2000, rounds: int = 9) -> float:
    """Best per-call time of ``fn`` over ``rounds`` runs of ``calls`` calls, in us."""
    return min(time_per_call(fn, calls) for _ in range(rounds)) * 1e6


def call_breakdown(rows: int, n: int) -> list[tuple[str, float]]:
    """Where one ``record_step`` call with all three arrays spends its time, measured
    in place: the whole call, then with the reductions (``compute_step``), then also
    adding them to the epoch's statistics (``apply_step``: for records without a time
    axis this continues the sequences along time), then also the raster, each
    replaced by a stub; the differences are each part's share. (Timed alone in a
    loop each part takes about half as long: within a call the caches are colder.)"""
    rng = np.random.default_rng(0)
    x = (rng.random((rows, n)) < 0.2).astype(np.float32)
    v = rng.standard_normal((rows, n)).astype(np.float32)
    g = rng.standard_normal((rows, n)).astype(np.float32)
    prof = SpikeProfiler()
    for _ in range(3000):  # a steady layer, as in training
        prof.record_step("hidden", x, voltages=v, gradients=g)
    result = recorder.compute_step(x, v, g, time_steps=None, want_counts=False)

    def call() -> None:
        prof.record_step("hidden", x, voltages=v, gradients=g)

    total = best_us(call)
    with mock.patch.object(recorder, "compute_step", lambda *a, **k: result):
        no_reductions = best_us(call)
        with mock.patch.object(recorder, "apply_step", lambda *a, **k: None):
            no_adding = best_us(call)
            with mock.patch.object(RasterWindow, "push", lambda *a, **k: None):
                rest = best_us(call)
    return [("record_step in all", total),
            ("reductions (compute_step)", total - no_reductions),
            ("adding them up, sequences along time (apply_step)", no_reductions - no_adding),
            ("raster", no_adding - rest),
            ("validation, lock, filing", rest)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=25, help="interleaved timed rounds")
    args = ap.parse_args()
    try:  # one thread, as the goals are stated (NumPy's reductions are single-threaded)
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    print(f"record_step vs minimal NumPy baseline (one sum per neuron per array), float32, "
          f"{args.rounds} interleaved rounds; median of per-round ratios +- standard error "
          f"[middle half of rounds]")
    print(f"{'shape':<14}{'arrays':<15}{'spikewidget':>12}{'baseline':>11}{'ratio':>8}"
          f"{'+-':>6}{'middle half':>15}{'goal':>9}  ")
    cases = [(1, 10, True, True), (1, 10, False, False)]
    for n in (1000, 10_000):
        cases += [(128, n, False, False), (128, n, True, False), (128, n, True, True)]
    for rows, n, with_v, with_g in cases:
        ours, base = compare(rows, n, with_v, with_g, args.rounds)
        label = "s+v+g" if with_g else ("s+v" if with_v else "spikes")
        r = Figure.of(ratios(ours, base))
        us = statistics.median(ours) * 1e6
        goal = ""
        if rows == 1 and with_g:
            goal = f"< {CALL_GOAL_US:.0f} us  {verdict(us < CALL_GOAL_US)}"
        elif with_g:
            goal = f"<= {RATIO_GOAL}x  {verdict(r.median <= RATIO_GOAL)}"
        print(f"{f'[{rows}, {n}]':<14}{label:<15}{us:>9.1f} us"
              f"{statistics.median(base) * 1e6:>8.1f} us{r.median:>7.2f}x{r.error:>6.2f}"
              f"{f'{r.q1:.2f}-{r.q3:.2f}x':>15}  {goal}")
    print("floor: the baseline itself (1.00x): one sum per neuron per array")
    print("\nwhere a [1, 10] call with spikes, voltages and gradients spends its time "
          "(best of 9 x 2,000 calls; each part switched off in turn):")
    for label, us in call_breakdown(1, 10):
        print(f"  {label:<55}{us:>7.1f} us")
    m1, m10 = memory_after(1000), memory_after(10_000)
    print(f"\nmemory held after 1,000 steps: {m1 / 1e6:.2f} MB; after 10,000 steps: "
          f"{m10 / 1e6:.2f} MB (ratio {m10 / m1:.3f})")
    t, neurons = report_reevaluation()
    print(f"report(thresholds=...) for 10 layers, {neurons:,} neurons: {t * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
