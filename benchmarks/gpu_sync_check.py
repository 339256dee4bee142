"""Prove on a GPU that a watched training loop never waits for the device.

Runs the story's snnTorch network (``bench_watch.Net``) on CUDA under
``torch.cuda.set_sync_debug_mode("error")``: first unwatched (the baseline must be
sync-free for the check to mean anything), then inside
``profiler.watch(model, gradients=True, input=True)`` with ``record_loss`` each
step. Any host synchronisation raises. Then it times both side by side and prints
the slowdown, and finally asks for a report (where the one host transfer belongs).

Without CUDA it says so and exits 0: ``tests/unit/record/test_torch_nosync.py`` checks the same
code path on CPU (``backend="torch"``) with a TorchFunctionMode.

    python benchmarks/gpu_sync_check.py [--time-steps 100] [--steps 20]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_watch import Net

from spikewidget import SpikeProfiler


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--time-steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="steps checked and timed")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check here "
              "(tests/unit/record/test_torch_nosync.py checks the device code path on CPU)")
        return 0
    dev = torch.device("cuda")
    torch.manual_seed(0)
    x = (torch.rand(args.time_steps, args.batch, 700, device=dev) < 0.05).float()
    y = torch.randint(0, 20, (args.batch,), device=dev)
    plain = Net().to(dev)
    watched = copy.deepcopy(plain)
    prof = SpikeProfiler()  # CUDA tensors: reduced on the device
    handle = prof.watch(watched, gradients=True, input=True)
    steps = {}
    for name, net in (("unwatched", plain), ("watched", watched)):  # watched: gradients, input
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)

        def step(net: nn.Module = net, opt: torch.optim.Optimizer = opt,
                 record: bool = name == "watched") -> None:
            loss = nn.functional.cross_entropy(net(x).sum(0), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if record:
                prof.record_loss(loss, n_classes=20)

        steps[name] = step
    for step in steps.values():  # warm-up: allocations, per-epoch statistics, kernels
        step()
        step()
    torch.cuda.synchronize()

    for name, step in steps.items():
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(args.steps):
                step()
        except RuntimeError as exc:
            print(f"FAIL: the {name} loop synchronised with the host: {exc}")
            return 1
        finally:
            torch.cuda.set_sync_debug_mode(0)
        torch.cuda.synchronize()
        print(f"ok: {args.steps} {name} training steps ran under "
              f"set_sync_debug_mode('error')")

    times: dict[str, list[float]] = {k: [] for k in steps}
    names = list(steps)
    for r in range(args.steps):
        for name in names[r % 2:] + names[:r % 2]:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            steps[name]()
            torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["unwatched"])
    print(f"\nT={args.time_steps}, batch={args.batch}, {torch.cuda.get_device_name()}, "
          f"median of {args.steps} interleaved steps")
    for name in names:
        ms = statistics.median(times[name]) * 1e3
        print(f"  {name:<10} {ms:8.2f} ms/step  {(ms / 1e3 / base - 1) * 100:+6.1f}%")
    handle.remove()
    print()
    print(prof.report().summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
