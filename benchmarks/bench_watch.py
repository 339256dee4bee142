"""What does ``profiler.watch(model)`` cost a training step?

Two networks, both looping over T time steps inside ``forward``:

- ``story``: the story's network in snnTorch, 700 inputs -> Linear -> Leaky(256) ->
  Linear -> Leaky(20), T=100, batch 128, cross entropy on the output spike counts;
- ``csnn``: a tutorial-6-style snnTorch CSNN on 28x28 frames, Conv(1->12, 5) ->
  MaxPool 2 -> Leaky -> Conv(12->64, 5) -> MaxPool 2 -> Leaky -> Linear(1024->10) ->
  Leaky, T=25, batch 32.

Identical copies of a model train side by side in one process, Adam: unwatched,
watched (every step, one step in four, with gradients, with input), their steps
interleaved (rotating order) so that drift hits all alike. Each round times one
step of every variant; a slowdown is the median over rounds of each round's ratio to
the unwatched step, with its standard error (bootstrap) and the interquartile range:
this machine is shared, and single steps vary by a few percent. Fewer variants give
more rounds in the same time. The goals of issue 18 are printed beside the figures:
``watch`` at most 3 % and within 2 points of the no-op-hook floor, ``gradients=True``
and ``input=True`` at most 2 points above ``watch`` (per-round differences).

    python benchmarks/bench_watch.py --floor             # both networks, CPU, 1 thread
    python benchmarks/bench_watch.py --net story --time-steps 25 --device cuda
    python benchmarks/bench_watch.py --floor --variants watch --repeats 201  # +-0.6 pt

``--floor`` adds a copy whose LIF layers carry forward hooks that do nothing: the
cost of PyTorch's hook dispatch alone (``Module.__call__`` takes its slow path for a
module with hooks), which any hook-based recorder pays before recording anything.
With ``gradients`` among the variants it also adds a copy whose LIF layers put a
pre-hook that does nothing on the node of every frame's spikes: what PyTorch charges
for one Python call per frame in backward, which any per-frame gradient recorder pays
(printed beside ``gradients=True - watch``).

``--clock cpu`` times each step in this process's CPU time instead of wall-clock
time: steadier on a machine other jobs share (their time slices are not counted; their
use of the caches and memory still is). The header prints the load average.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Callable

import snntorch as snn
import torch
from timing import Figure, machine, verdict
from torch import nn
from torch.nn import functional as F

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


class CSNN(nn.Module):
    """snnTorch tutorial 6's convolutional SNN (frames ``(T, batch, 1, 28, 28)``)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, 5)
        self.lif1 = snn.Leaky(beta=0.5)
        self.conv2 = nn.Conv2d(12, 64, 5)
        self.lif2 = snn.Leaky(beta=0.5)
        self.fc = nn.Linear(64 * 4 * 4, 10)
        self.lif3 = snn.Leaky(beta=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2, mem3 = self.lif1.init_leaky(), self.lif2.init_leaky(), self.lif3.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(F.max_pool2d(self.conv1(x[t]), 2), mem1)
            spk2, mem2 = self.lif2(F.max_pool2d(self.conv2(spk1), 2), mem2)
            spk3, mem3 = self.lif3(self.fc(spk2.flatten(1)), mem3)
            out.append(spk3)
        return torch.stack(out)  # (T, batch, 10)


NETS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], int, int, int]] = {
    # name: (model, input frame shape, classes, default T, default batch)
    "story": (Net, (700,), 20, 100, 128),
    "csnn": (CSNN, (1, 28, 28), 10, 25, 32),
}

VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "watch": ("watch(model)", {}),
    "every4": ("watch(model, every=4)", {"every": 4}),
    "input": ("watch(model, input=True)", {"input": True}),
    "gradients": ("watch(model, gradients=True)", {"gradients": True}),
}


GRADIENT_FLOOR = "no-op gradient hooks (floor)"


def noop_gradient_hook(module: nn.Module, args: object, output: tuple) -> None:
    """A forward hook that puts a pre-hook doing nothing on the node that made the
    spikes: PyTorch's own cost of one Python call per frame in backward (registering
    it, the engine calling it), which any per-frame gradient recorder pays."""
    spikes = output[0]
    if spikes.grad_fn is not None:
        spikes.grad_fn.register_prehook(lambda grads: None)


def make_step(net: nn.Module, x: torch.Tensor, y: torch.Tensor,
              prof: SpikeProfiler | None, classes: int) -> Callable[[], None]:
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step() -> None:
        loss = nn.functional.cross_entropy(net(x).sum(0), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if prof is not None:
            prof.record_loss(loss, n_classes=classes)

    return step


def run(net_name: str, args: argparse.Namespace, chosen: list[str]) -> None:
    """Time every variant of one network in interleaved rounds and print the table."""
    make_net, frame, classes, default_t, default_batch = NETS[net_name]
    time_steps = args.time_steps or default_t
    batch = args.batch or default_batch
    dev = torch.device(args.device)
    torch.manual_seed(0)
    x = (torch.rand(time_steps, batch, *frame) < 0.05).float().to(dev)
    y = torch.randint(0, classes, (batch,)).to(dev)
    base = make_net().to(dev)
    lifs = [m for m in base.modules() if isinstance(m, snn.Leaky)]

    variants: dict[str, Callable[[], None]] = {}
    handles = []
    variants["unwatched"] = make_step(base, x, y, None, classes)
    if args.floor:
        net = copy.deepcopy(base)
        for layer in (m for m in net.modules() if isinstance(m, snn.Leaky)):
            handles.append(layer.register_forward_hook(lambda module, args, output: None))
        variants["no-op hooks (floor)"] = make_step(net, x, y, None, classes)
        if "gradients" in chosen:
            net = copy.deepcopy(base)
            for layer in (m for m in net.modules() if isinstance(m, snn.Leaky)):
                handles.append(layer.register_forward_hook(noop_gradient_hook))
            variants[GRADIENT_FLOOR] = make_step(net, x, y, None, classes)
    labels = {}
    for key in chosen:
        label, kwargs = VARIANTS[key]
        net, prof = copy.deepcopy(base), SpikeProfiler()
        handles.append(prof.watch(net, **kwargs))
        variants[label] = make_step(net, x, y, prof, classes)
        labels[key] = label

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    times: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for r in range(args.warmup + args.repeats):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
        for name in order:
            sync()
            t0 = clock()
            variants[name]()
            sync()
            if r >= args.warmup:
                times[name].append(clock() - t0)
    for h in handles:
        h.remove()

    unwatched = times["unwatched"]
    slow = {name: [t / b - 1 for t, b in zip(times[name], unwatched, strict=True)]
            for name in names}
    print(f"watch() overhead: {net_name} ({len(lifs)} LIF layers), T={time_steps}, "
          f"batch={batch}, device={dev}, threads={torch.get_num_threads()}, {args.repeats} "
          f"interleaved rounds of one training step per variant, {args.clock} clock")
    print(f"machine: {machine()}, "
          f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{'variant':<32}{'ms/step':>9}{'slowdown':>10}{'+-':>7}{'middle half of rounds':>24}")
    for name in names:
        ms = statistics.median(times[name]) * 1e3
        if name == "unwatched":
            print(f"{name:<32}{ms:>9.2f}{0:>+9.1f}%")
            continue
        f = Figure.of(slow[name])
        spread = f"{f.q1 * 100:+.1f}% .. {f.q3 * 100:+.1f}%"
        print(f"{name:<32}{ms:>9.2f}{f.median * 100:>+9.1f}%{f.error * 100:>6.1f}%{spread:>24}")
    print("+-: standard error of the median slowdown (bootstrap over rounds)")
    goals(slow, labels, "no-op hooks (floor)" if args.floor else None)


def goals(slow: dict[str, list[float]], labels: dict[str, str], floor: str | None) -> None:
    """Issue 18's goals beside the figures: differences are per round, in points."""

    def diff(a: str, b: str) -> Figure:
        return Figure.of([(p - q) * 100 for p, q in zip(slow[a], slow[b], strict=True)])

    rows = []
    if "watch" in labels:
        w = Figure.of([v * 100 for v in slow[labels["watch"]]])
        rows.append(("watch(model) slowdown", w, "<= 3 %", w.median <= 3))
        if floor is not None:
            d = diff(labels["watch"], floor)
            rows.append(("watch(model) - no-op floor", d, "<= 2 pts", d.median <= 2))
        for key in ("gradients", "input"):
            if key in labels:
                d = diff(labels[key], labels["watch"])
                rows.append((f"{labels[key]} - watch", d, "<= 2 pts", d.median <= 2))
        if floor is not None and GRADIENT_FLOOR in slow:
            d = diff(GRADIENT_FLOOR, floor)
            rows.append(("  PyTorch's part: no-op gradient hooks - floor", d, "(none)", None))
    if not rows:
        return
    print(f"{'goal (issue 18)':<48}{'measured':>10}{'+-':>7}{'goal':>10}")
    for label, f, goal, met in rows:
        mark = "" if met is None else f"  {verdict(met)}"
        print(f"{label:<48}{f.median:>+9.1f}{f.error:>7.1f}{goal:>10}{mark}")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", default="story,csnn",
                    help=f"networks to time, comma-separated from {','.join(NETS)}")
    ap.add_argument("--time-steps", type=int, default=0, help="0: the network's default")
    ap.add_argument("--batch", type=int, default=0, help="0: the network's default")
    ap.add_argument("--repeats", type=int, default=31, help="timed rounds (steps per variant)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time steps by wall clock, or by this process's CPU time "
                         "(steadier on a shared machine)")
    ap.add_argument("--floor", action="store_true",
                    help="also time no-op forward hooks on the LIF layers (dispatch alone) "
                         "and, with gradients, no-op gradient hooks on their spikes")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"watched variants to time, comma-separated from {','.join(VARIANTS)} "
                         f"(fewer variants: more rounds in the same time)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        ap.error(f"--variants: unknown {', '.join(unknown)}; expected some of "
                 f"{', '.join(VARIANTS)}")
    nets = [v.strip() for v in args.net.split(",") if v.strip()]
    if not nets or set(nets) - set(NETS):
        ap.error(f"--net: expected some of {', '.join(NETS)}, got {args.net!r}")
    for name in nets:
        run(name, args, chosen)


if __name__ == "__main__":
    main()
