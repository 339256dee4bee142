"""What does ``profiler.watch(model)`` cost a training step?

The story's network in snnTorch: 700 inputs -> Linear -> Leaky(256) -> Linear ->
Leaky(20), looped over T time steps inside ``forward``, batch 128, Adam, cross
entropy on the output spike counts. Identical copies of the model train side by
side in one process: unwatched, watched (every step, and one step in four), and
watched with gradients and input, their steps interleaved (rotating order) so that
drift hits all alike. Each round times one step of every variant; the slowdown is
the median over rounds of each round's ratio to the unwatched step, with its
standard error (bootstrap) and the interquartile range: this machine is shared, and
single steps vary by a few percent. Fewer variants give more rounds in the same time.

    python benchmarks/bench_watch.py                 # T=100 (the story), CPU
    python benchmarks/bench_watch.py --time-steps 25 --device cuda
    python benchmarks/bench_watch.py --floor         # + no-op hooks on the same layers
    python benchmarks/bench_watch.py --floor --variants watch --repeats 201  # +-0.6 pt

``--floor`` adds a copy whose two LIF layers carry forward hooks that do nothing: the
cost of PyTorch's hook dispatch alone (``Module.__call__`` takes its slow path for a
module with hooks), which any hook-based recorder pays before recording anything.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import time
from collections.abc import Callable

import snntorch as snn
import torch
from torch import nn

from spikewidget import SpikeProfiler


class Net(nn.Module):
    def __init__(self, n_in: int = 700, n_hidden: int = 256, n_out: int = 20) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.lif1 = snn.Leaky(beta=0.95)
        self.fc2 = nn.Linear(n_hidden, n_out)
        self.lif2 = snn.Leaky(beta=0.95)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)  # (T, batch, 20)


VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "watch": ("watch(model)", {}),
    "every4": ("watch(model, every=4)", {"every": 4}),
    "input": ("watch(model, input=True)", {"input": True}),
    "gradients": ("watch(model, gradients=True)", {"gradients": True}),
}


def median_error(ratios: list[float], resamples: int = 2000) -> float:
    """Standard error of the median of ``ratios``, by bootstrap (seeded)."""
    rng = random.Random(0)
    meds = [statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples)]
    return statistics.stdev(meds)


def make_step(net: nn.Module, x: torch.Tensor, y: torch.Tensor,
              prof: SpikeProfiler | None) -> Callable[[], None]:
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step() -> None:
        loss = nn.functional.cross_entropy(net(x).sum(0), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if prof is not None:
            prof.record_loss(loss, n_classes=20)

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--time-steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=31, help="timed rounds (steps per variant)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--floor", action="store_true",
                    help="also time no-op forward hooks on the LIF layers (dispatch alone)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"watched variants to time, comma-separated from {','.join(VARIANTS)} "
                         f"(fewer variants: more rounds in the same time)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    torch.manual_seed(0)
    x = (torch.rand(args.time_steps, args.batch, 700) < 0.05).float().to(dev)
    y = torch.randint(0, 20, (args.batch,)).to(dev)
    base = Net().to(dev)

    variants: dict[str, Callable[[], None]] = {}
    handles = []
    variants["unwatched"] = make_step(base, x, y, None)
    if args.floor:
        net = copy.deepcopy(base)
        for layer in (net.lif1, net.lif2):
            handles.append(layer.register_forward_hook(lambda module, args, output: None))
        variants["no-op hooks (floor)"] = make_step(net, x, y, None)
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        ap.error(f"--variants: unknown {', '.join(unknown)}; expected some of "
                 f"{', '.join(VARIANTS)}")
    for label, kwargs in (VARIANTS[v] for v in chosen):
        net, prof = copy.deepcopy(base), SpikeProfiler()
        handles.append(prof.watch(net, **kwargs))
        variants[label] = make_step(net, x, y, prof)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    times: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(args.warmup + args.repeats):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
        for name in order:
            sync()
            t0 = time.perf_counter()
            variants[name]()
            sync()
            if r >= args.warmup:
                times[name].append(time.perf_counter() - t0)
    for h in handles:
        h.remove()

    base = times["unwatched"]
    print(f"watch() overhead: snnTorch 700-256-20, T={args.time_steps}, batch={args.batch}, "
          f"device={dev}, threads={torch.get_num_threads()}, {args.repeats} interleaved "
          f"rounds of one training step per variant")
    print(f"{'variant':<32}{'ms/step':>9}{'slowdown':>10}{'+-':>7}{'middle half of rounds':>24}")
    for name in names:
        ms = statistics.median(times[name]) * 1e3
        if name == "unwatched":
            print(f"{name:<32}{ms:>9.2f}{0:>+9.1f}%")
            continue
        ratios = [t / b - 1 for t, b in zip(times[name], base, strict=True)]
        q1, med, q3 = statistics.quantiles(ratios, n=4)
        err = median_error(ratios)
        spread = f"{q1 * 100:+.1f}% .. {q3 * 100:+.1f}%"
        print(f"{name:<32}{ms:>9.2f}{med * 100:>+9.1f}%{err * 100:>6.1f}%{spread:>24}")
    print("+-: standard error of the median slowdown (bootstrap over rounds)")


if __name__ == "__main__":
    main()
