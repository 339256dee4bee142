"""The debugging story (``docs/story.md``), replayed end to end with a real snnTorch network.

Each act trains the story's network (700 -> 256 -> 20 LIF, spike-count
cross-entropy), watched by a :class:`SpikeProfiler`, and prints what spikewidget says:

1. as written: tonic count frames, threshold 1.0 -> non-binary spikes (the largest
   value), count-valued input, output counts that overflow the loss;
2. input binarised -> still non-binary, still overflowing;
3. threshold chosen from the data by a sweep of one batch (the story's table);
   overcorrected to 100 -> a silent network and a loss pinned at ln 20;
4. the chosen threshold -> the loss falls well below ln 20, the report is clean.

The broken acts are short and use small batches (their point is the diagnosis, not
the training); only act 4 trains for real. Everything is seeded: the same run gives
the same numbers. Progress is printed at least every :data:`PROGRESS_SECONDS` seconds
of work (once per training step when a step takes longer).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..diagnose.report import Report
from ..profiler import SpikeProfiler
from ..sweep.result import SweepResult
from .datasets import count_frames, shd_like
from .story_model import StoryNet, spike_count_loss

N_CLASSES = 20
CHANCE = math.log(N_CLASSES)
PROGRESS_SECONDS = 2.0


@dataclass
class Act:
    """One act of the story: what was run and what spikewidget said."""

    title: str
    threshold: float
    binarised: bool
    losses: list[float]
    report: Report
    profiler: SpikeProfiler
    test_accuracy: float | None = None
    test_samples: int = 0


@dataclass
class StoryResult:
    acts: list[Act] = field(default_factory=list)
    sweep: SweepResult | None = None
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class StoryConfig:
    """Sizes of the replay. The defaults are the story's network and data (T = 100
    time bins, 700 channels) and what ``make demo`` runs; act 4's > 80 % test accuracy
    and clean report are tested with them (tests/e2e/test_story.py)."""

    samples: int = 1000  # 80 % train, 20 % test
    time_steps: int = 100
    batch: int = 128  # act 4's batch and the sweep's
    broken_batch: int = 32  # acts 1-3: enough samples for every finding
    buggy_steps: int = 3  # act 1
    binarised_steps: int = 2  # act 2
    overcorrected_steps: int = 20  # act 3: loss_at_chance looks at the last 20 losses
    healthy_steps: int = 60  # act 4
    sweep_points: int = 30
    lr: float = 2e-3
    steps_per_epoch: int = 10  # an "epoch" of the replay: the widget's trends need several
    seed: int = 0


class Ticker:
    """Prints a progress line when ``every`` seconds passed since the last one, on the
    first call and on the last (``done == total``)."""

    def __init__(self, log: Callable[[str], None], every: float = PROGRESS_SECONDS) -> None:
        self.log, self.every, self.last = log, every, -math.inf

    def __call__(self, done: int, total: int, text: str) -> None:
        now = time.perf_counter()
        if done <= 1 or done == total or now - self.last >= self.every:
            self.log(text)
            self.last = now


def _say(text: str = "") -> None:
    print(text, flush=True)


def train_act(title: str, frames: torch.Tensor, labels: torch.Tensor, *, threshold: float,
              binarise: bool, steps: int, cfg: StoryConfig,
              log: Callable[[str], None] = _say, batch: int | None = None,
              test_samples: int | None = None) -> Act:
    """Train a fresh story network for ``steps`` batches of ``batch`` samples (default
    ``cfg.batch``), watched; return the act with its accuracy on the first
    ``test_samples`` test samples (default all).

    ``frames`` ``(samples, time, 700)``: the first 80 % train, the rest test.
    """
    batch = cfg.batch if batch is None else batch
    tick = Ticker(log)
    n_train = int(len(labels) * 0.8)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = StoryNet(threshold, seed=cfg.seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    prof = SpikeProfiler()
    losses = []
    with prof.watch(net, input=True, gradients=True):
        for step in range(steps):
            if step and step % cfg.steps_per_epoch == 0:
                prof.next_epoch()
            idx = torch.randint(0, n_train, (batch,), generator=gen)
            x = frames[idx].transpose(0, 1)  # (time, batch, 700)
            if binarise:
                x = (x > 0).float()
            out = net(x)
            loss = spike_count_loss(out, labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            prof.record_loss(loss, n_classes=N_CLASSES)
            losses.append(float(loss.detach()))
            tick(step + 1, steps, f"  [{title}] step {step + 1}/{steps}  loss {losses[-1]:.4g}")
    end = len(labels) if test_samples is None else min(len(labels), n_train + test_samples)
    x_test = frames[n_train:end].transpose(0, 1)
    if binarise:
        x_test = (x_test > 0).float()
    with torch.no_grad():
        acc = float((net(x_test).sum(0).argmax(1) == labels[n_train:end]).float().mean())
    return Act(title, threshold, binarise, losses, prof.report(), prof, acc, end - n_train)


def _print_act(act: Act, log: Callable[[str], None]) -> None:
    loss = act.losses[-1]
    where = ("at chance" if abs(loss - CHANCE) < 0.05 * CHANCE else
             "below chance: learning" if loss < CHANCE else "above chance")
    log(f"  last loss {loss:.4g} (ln {N_CLASSES} = {CHANCE:.3f}: {where}); test accuracy "
        f"{act.test_accuracy:.0%} on {act.test_samples} samples (chance {1 / N_CLASSES:.0%})")
    log("")
    for line in act.report.summary().splitlines():
        log("  " + line)
    log("")


def load_data(cfg: StoryConfig, log: Callable[[str], None] = _say
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The story's data: ``(frames, labels)``, frames ``(samples, time, 700)`` of event
    counts made by tonic's ``ToFrame``, labels ``(samples,)``."""
    tick = Ticker(log)
    log(f"Generating {cfg.samples} SHD-like samples (700 channels, {N_CLASSES} classes) "
        f"as tonic ToFrame count frames, {cfg.time_steps} time bins ...")
    data = shd_like(cfg.samples, seed=cfg.seed, progress=lambda done, total: tick(
        done, total, f"  events of {done}/{total} samples"))
    log("  turning the events into frames with tonic's ToFrame ...")
    frames = torch.from_numpy(count_frames(data, cfg.time_steps, progress=lambda done, total:
                                           tick(done, total, f"  frames of {done}/{total}")))
    log(f"  frames {tuple(frames.shape)}, values 0..{int(frames.max())} (counts, not spikes)")
    return frames, torch.from_numpy(data.labels)


def sweep_thresholds(profiler: SpikeProfiler, frames: torch.Tensor, cfg: StoryConfig,
                     log: Callable[[str], None] = _say) -> SweepResult:
    """Act 3's sweep: the story's network at each candidate threshold on one batch of
    binarised input (``cfg.batch`` samples, ``cfg.sweep_points`` candidates)."""
    tick = Ticker(log)
    batch = (frames[: cfg.batch].transpose(0, 1) > 0).float().contiguous()
    return profiler.threshold_sweep(
        StoryNet(1.0, seed=cfg.seed), batch, layer=["lif1", "lif2"], n=cfg.sweep_points,
        progress=lambda done, total: tick(done, total, f"  sweep: {done}/{total} thresholds"))


def chosen_threshold(sweep: SweepResult) -> float:
    """Act 4's threshold: the sweep's best, else 20 (the story's own pick, between 20
    and 30) when no candidate of the sweep was judged healthy."""
    return sweep.best if sweep.best is not None else 20.0


def run_story(out_dir: str | None = "out", cfg: StoryConfig | None = None,
              log: Callable[[str], None] = _say) -> StoryResult:
    """Replay the story; write profiles (and HTML/PNG dashboards when available)."""
    cfg = cfg or StoryConfig()
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    torch.set_flush_denormal(True)  # the buggy acts drive floats subnormal: 20x slower
    result = StoryResult()
    frames, labels = load_data(cfg, log)

    log("\nAct 1 - the set-up as written: count frames, threshold 1.0")
    act1 = train_act("as written", frames, labels, threshold=1.0, binarise=False,
                     steps=cfg.buggy_steps, cfg=cfg, log=log, batch=cfg.broken_batch,
                     test_samples=2 * cfg.broken_batch)
    _print_act(act1, log)

    log("Act 2 - fix the data at the source: x = (x > 0).float()")
    act2 = train_act("binarised", frames, labels, threshold=1.0, binarise=True,
                     steps=cfg.binarised_steps, cfg=cfg, log=log, batch=cfg.broken_batch,
                     test_samples=2 * cfg.broken_batch)
    _print_act(act2, log)

    log("Act 3 - choose the threshold from the data: a sweep of one batch")
    sweep = sweep_thresholds(act2.profiler, frames, cfg, log)
    result.sweep = sweep
    for line in sweep.table().splitlines():
        log("  " + line)
    log("")
    log("  Overcorrecting is its own failure: threshold 100")
    act3 = train_act("threshold 100", frames, labels, threshold=100.0, binarise=True,
                     steps=cfg.overcorrected_steps, cfg=cfg, log=log,
                     batch=cfg.broken_batch, test_samples=2 * cfg.broken_batch)
    _print_act(act3, log)

    chosen = chosen_threshold(sweep)
    log(f"Act 4 - binarised input and threshold {chosen:.3g} from the sweep")
    act4 = train_act(f"threshold {chosen:.3g}", frames, labels, threshold=chosen,
                     binarise=True, steps=cfg.healthy_steps, cfg=cfg, log=log)
    _print_act(act4, log)
    result.acts = [act1, act2, act3, act4]

    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        for i, act in enumerate(result.acts, 1):
            path = os.path.join(out_dir, f"story-act{i}.npz")
            act.profiler.save(path)
            result.files.append(path)
        result.files += _write_pictures(result, out_dir, log)
    result.seconds = time.perf_counter() - t0
    torch.set_flush_denormal(False)
    log(f"Done in {result.seconds:.0f} s. Files: {', '.join(result.files)}")
    return result


def _write_pictures(result: StoryResult, out_dir: str, log: Callable[[str], None]
                    ) -> list[str]:
    """HTML dashboards and PNGs of the first and last acts, where the widget exists."""
    written = []
    try:
        from ..present.export import write_html  # noqa: F401  (the widget's static export)
    except ImportError:
        return written
    for i in (1, len(result.acts)):
        act = result.acts[i - 1]
        log(f"Writing the dashboard and the PNG report of act {i} ...")
        html_path = os.path.join(out_dir, f"story-act{i}.html")
        act.profiler.to_html(html_path)
        written.append(html_path)
        try:
            import matplotlib

            matplotlib.use("Agg")
            fig = act.report.plot(profiler=act.profiler)
            png = os.path.join(out_dir, f"story-act{i}.png")
            fig.savefig(png, dpi=110)
            written.append(png)
        except ImportError:  # pragma: no cover - matplotlib is a dependency
            log("  (matplotlib missing: no PNG)")
    return written


def losses_fell(act: Act) -> bool:
    """Did the act's loss end well below chance (under 80% of ln C)?"""
    tail = np.mean(act.losses[-5:])
    return bool(tail < 0.8 * CHANCE)
