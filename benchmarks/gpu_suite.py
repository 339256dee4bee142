"""The GPU proof (issue 17) in one process: no host sync while watching, and what
watching costs on the device. Fails fast; writes its figures as JSON.

1. Host-sync checks under ``torch.cuda.set_sync_debug_mode("error")`` for three real
   networks, unwatched first (the baseline must be sync-free), then inside
   ``watch(model, gradients=True, input=True)`` with ``record_loss``: the story's
   snnTorch network (T=100, batch 128), SpikingJelly's ``sew_resnet18`` (multi-step,
   T=4, 2x64x64 event frames) and a Norse ``SequentialState`` stack.
2. ``bench_watch.py --floor`` at batch 128 and batch 4 (launch-bound) in subprocesses.
3. ``report()`` and a widget payload (full and update) from a device-recorded profile.

On a machine without CUDA (``--device cpu``) it is a dry run: the same code path with
tiny sizes and no sync mode, to check the plumbing before spending device time.

    python benchmarks/gpu_suite.py --out build/gpu [--device cuda] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_watch import Net  # noqa: E402

from spikewidget import SpikeProfiler  # noqa: E402


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def sync_check(name: str, make: Callable[[], tuple[nn.Module, Any, Any, Callable]],
               dev: torch.device, steps: int, reset: Callable[[nn.Module], None] | None = None
               ) -> dict[str, Any]:
    """Train ``steps`` steps unwatched, then watched, under the sync debug mode; the
    first host sync raises with the line that caused it."""
    model, x, y, loss_of = make()
    prof = SpikeProfiler()
    out: dict[str, Any] = {"network": name}
    for label, watched in (("unwatched", False), ("watched", True)):
        handle = prof.watch(model, gradients=True, input=True) if watched else None
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)

        def step(opt: torch.optim.Optimizer = opt, watched: bool = watched) -> None:
            loss = loss_of(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if reset is not None:
                reset(model)
            if watched:
                prof.record_loss(loss, n_classes=10)

        for _ in range(2):  # warm-up: allocations, first-epoch state, kernels
            step()
        _sync(dev)
        if dev.type == "cuda":
            torch.cuda.set_sync_debug_mode("error")
        t0 = time.perf_counter()
        try:
            for _ in range(steps):
                step()
            _sync(dev)
        except RuntimeError:
            out[label] = "host sync"
            out["traceback"] = traceback.format_exc()
            return out
        finally:
            if dev.type == "cuda":
                torch.cuda.set_sync_debug_mode(0)
        out[label] = "ok"
        out[f"{label}_ms_per_step"] = (time.perf_counter() - t0) / steps * 1e3
        if handle is not None:
            handle.remove()
    t0 = time.perf_counter()
    rep = prof.report()
    out["report_ms"] = (time.perf_counter() - t0) * 1e3
    out["layers"] = len(rep.layer_stats)
    out["findings"] = [f"{p.category} @ {p.layer}" for p in rep.pathologies]
    return out


def story(dev: torch.device, t: int, b: int):
    def make():
        torch.manual_seed(0)
        x = (torch.rand(t, b, 700, device=dev) < 0.05).float()
        y = torch.randint(0, 20, (b,), device=dev)
        return Net().to(dev), x, y, lambda out, y: nn.functional.cross_entropy(out.sum(0), y)
    return make


def sew_resnet(dev: torch.device, t: int, b: int, size: int):
    def make():
        from spikingjelly.activation_based import functional, layer, neuron, surrogate
        from spikingjelly.activation_based.model import sew_resnet
        torch.manual_seed(0)
        model = sew_resnet.sew_resnet18(cnf="ADD", spiking_neuron=neuron.IFNode,
                                        surrogate_function=surrogate.ATan(),
                                        detach_reset=True, num_classes=10)
        model.conv1 = layer.Conv2d(2, 64, kernel_size=7, stride=2, padding=3, bias=False)
        functional.set_step_mode(model, "m")
        x = (torch.rand(t, b, 2, size, size, device=dev) < 0.2).float()  # event frames
        y = torch.randint(0, 10, (b,), device=dev)
        return (model.to(dev), x, y,
                lambda out, y: nn.functional.cross_entropy(out.mean(0), y))
    return make


def norse_stack(dev: torch.device, t: int, b: int):
    def make():
        import norse.torch as norse

        torch.manual_seed(0)
        model = norse.SequentialState(nn.Linear(700, 256), norse.LIF(), nn.Linear(256, 10),
                                      norse.LI())
        x = (torch.rand(t, b, 700, device=dev) < 0.05).float()
        y = torch.randint(0, 10, (b,), device=dev)
        return (model.to(dev), x, y,
                lambda out, y: nn.functional.cross_entropy(out[0].max(0).values, y))
    return make


def payload_timing(dev: torch.device, t: int, b: int, steps: int) -> dict[str, float]:
    """report() and the widget's payload from a profile recorded on the device."""
    from spikewidget.present.payload import PayloadBuilder

    model, x, _, _ = story(dev, t, b)()
    prof = SpikeProfiler()
    with prof.watch(model, gradients=True, input=True), torch.no_grad():
        for _ in range(steps):
            model(x)
    _sync(dev)
    out = {}
    for label, fn in (("report_ms", prof.report), ("payload_full_ms",
                                                   lambda: PayloadBuilder(prof).full())):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        out[label] = statistics.median(times)
    builder = PayloadBuilder(prof)
    builder.full()
    with prof.watch(model), torch.no_grad():
        model(x)
    t0 = time.perf_counter()
    builder.update()
    out["payload_update_ms"] = (time.perf_counter() - t0) * 1e3
    return out


def bench(device: str, batch: int, time_steps: int, repeats: int) -> str:
    cmd = [sys.executable, str(HERE / "bench_watch.py"), "--device", device, "--floor",
           "--batch", str(batch), "--time-steps", str(time_steps), "--repeats", str(repeats)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    if run.returncode:
        raise RuntimeError(f"bench_watch failed:\n{run.stdout}\n{run.stderr}")
    return run.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("build/gpu"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (the CPU dry run)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    quick = args.quick or dev.type != "cuda"
    t, b, steps, size, repeats = (8, 8, 3, 32, 3) if quick else (100, 128, 20, 64, 41)
    args.out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if dev.type == "cuda" else platform.processor()
        or "cpu", "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
        "dry_run": quick, "sync": []}
    t_start = time.perf_counter()
    checks = [("story snnTorch", story(dev, t, b), None),
              ("SpikingJelly sew_resnet18", sew_resnet(dev, 4, min(b, 16), size),
               "spikingjelly"),
              ("Norse SequentialState", norse_stack(dev, t, b), None)]
    ok = True
    for name, make, kind in checks:
        reset = None
        if kind == "spikingjelly":
            from spikingjelly.activation_based import functional
            reset = functional.reset_net
        try:
            result = sync_check(name, make, dev, steps, reset)
        except ImportError as exc:  # a framework missing: say so, go on
            result = {"network": name, "skipped": str(exc)}
        figures["sync"].append(result)
        print(json.dumps({k: v for k, v in result.items() if k != "traceback"}), flush=True)
        if "traceback" in result:
            print(result["traceback"], flush=True)
            ok = False
    if not ok:  # fail fast: the goal is no sync at all
        (args.out / "gpu_figures.json").write_text(json.dumps(figures, indent=1))
        print("FAIL: a watched step synchronised with the host (traceback above)")
        return 1
    figures["payload"] = payload_timing(dev, t, b, steps)
    print(json.dumps(figures["payload"]), flush=True)
    figures["bench"] = {}
    for batch in (b, 4):
        text = bench(args.device, batch, t, repeats)
        figures["bench"][f"batch{batch}"] = text
        print(text, flush=True)
    figures["seconds"] = time.perf_counter() - t_start
    (args.out / "gpu_figures.json").write_text(json.dumps(figures, indent=1))
    print(f"done in {figures['seconds']:.0f} s; figures in {args.out / 'gpu_figures.json'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
