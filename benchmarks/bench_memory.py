"""Memory of one 10-million-neuron layer (a SEW-ResNet-sized feature map) after 300
steps with the default settings, and the peak of ``to_bytes``, beside the budget.

The budget has two parts: the raster store, a fixed size whatever the layer's size
(:func:`spikewidget.state.raster.raster_bytes`), and the per-epoch statistics, a fixed
size per neuron and epoch (:data:`STATS_BYTES_PER_NEURON`), whatever the number of
steps. Memory is measured with tracemalloc (NumPy reports its buffers to it).

Run: .venv/bin/python benchmarks/bench_memory.py [n_neurons] [steps]
(about two minutes for 10 million neurons on two busy cores)
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np

from spikewidget import SpikeProfiler
from spikewidget.state.epoch_stats import VECTORS
from spikewidget.state.raster import raster_bytes

STATS_BYTES_PER_NEURON = 8 * len(VECTORS)
"""Per-neuron float64 vectors of one layer in one epoch."""
OPEN_BYTES_PER_NEURON = 12
"""Per neuron and sample (at most 16) of a sequence in flight, for the current epoch
only: records without a time axis continue one (see ``spikewidget.state.temporal``)."""
SHAPE = (256, 200, 200)  # channels, height, width: 10,240,000 neurons


def main(n_neurons: int, steps: int) -> None:
    shape = SHAPE if n_neurons == int(np.prod(SHAPE)) else (n_neurons,)
    rng = np.random.default_rng(0)
    frames = [(rng.random((1, *shape), dtype=np.float32) < 0.05).astype(np.float32)
              for _ in range(2)]  # (batch, C, H, W)
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    prof = SpikeProfiler()
    t0 = time.perf_counter()
    for k in range(steps):
        prof.record_step("conv", frames[k % 2], neuron_axes=len(shape))
    held = tracemalloc.get_traced_memory()[0] - base
    took = time.perf_counter() - t0
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    data = prof.to_bytes()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()

    n = int(np.prod(shape))
    stats = STATS_BYTES_PER_NEURON * n + OPEN_BYTES_PER_NEURON * n  # batch of 1
    raster = raster_bytes(prof.raster_window, prof.raster_neurons)
    mib = 2**20
    print(f"one layer of {n:,} neurons {shape}, {steps} steps, one epoch, default settings "
          f"(raster_window={prof.raster_window}, raster_neurons={prof.raster_neurons}); "
          f"recorded in {took:.0f} s")
    print(f"  {'':34}{'measured':>12}{'budget':>12}")
    print(f"  {'held after the steps':34}{held / mib:>10.1f} M{(stats + raster) / mib:>10.1f} M")
    print(f"    statistics: {STATS_BYTES_PER_NEURON} B/neuron/epoch + {OPEN_BYTES_PER_NEURON}"
          f" B/neuron in flight = {stats / mib:.1f} MiB; "
          f"raster store: {raster / 1024:.0f} KiB (any layer size)")
    print(f"  {'to_bytes peak (beyond held)':34}{peak / mib:>10.1f} M"
          f"{stats / mib:>10.1f} M")
    print(f"  profile size: {len(data) / mib:.1f} MiB")
    ok = held <= stats + raster + mib and peak <= stats
    print("within budget" if ok else "OVER BUDGET")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(args[0] if args else int(np.prod(SHAPE)), args[1] if len(args) > 1 else 300)
