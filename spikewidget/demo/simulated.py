"""A short demo: a small simulated SNN with the debugging story's bugs, diagnosed.

NumPy only (no torch needed): count-valued input frames as tonic's ``ToFrame``
makes them, a hidden LIF layer whose threshold is far too low for its input (it
emits several spikes per step, as in the story), a layer that never fires, and an
output layer whose spike counts, used as logits, overflow a naive softmax.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from ..diagnose.report import Report
from ..profiler import SpikeProfiler


@dataclass
class DemoResult:
    profiler: SpikeProfiler
    report: Report
    profile_path: str | None


def lif_multi_spike(current: np.ndarray, threshold: float, beta: float = 0.9
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Run a leaky integrate-and-fire layer over ``current`` ``(time, batch, n)``.

    Emits ``floor(v / threshold)`` spikes per step (the bug: several per step when
    the input is large) and resets by subtraction. Returns ``(spikes, voltages)``.
    """
    v = np.zeros(current.shape[1:], dtype=np.float32)
    spikes = np.empty_like(current)
    volts = np.empty_like(current)
    for t in range(current.shape[0]):
        v = beta * v + current[t]
        s = np.floor(np.maximum(v, 0) / threshold)
        v = v - s * threshold
        spikes[t], volts[t] = s, v
    return spikes, volts


def naive_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Cross-entropy through a float32 softmax without max-subtraction (overflows)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(logits.astype(np.float32))
        p = e / e.sum(axis=1, keepdims=True)
        return float(-np.log(p[np.arange(len(labels)), labels]).mean())


def run_demo(steps: int = 12, out_dir: str | None = "out", seed: int = 0,
             verbose: bool = True) -> DemoResult:
    """Simulate ``steps`` training steps, record them, print and return the report."""
    rng = np.random.default_rng(seed)
    time_steps, batch, n_in, n_hidden, n_dead, n_out = 50, 16, 100, 64, 32, 10
    w1 = rng.normal(0.5, 0.2, (n_in, n_hidden)).astype(np.float32)
    w_dead = -np.abs(rng.normal(0, 0.1, (n_hidden, n_dead))).astype(np.float32)
    w2 = rng.normal(0.05, 0.05, (n_hidden, n_out)).astype(np.float32)
    prof = SpikeProfiler()
    prof.declare_layer("input", role="input")
    prof.declare_layer("output", role="output")
    for step in range(steps):
        if step and step % 4 == 0:
            prof.next_epoch()
        frames = rng.poisson(1.5, (time_steps, batch, n_in)).astype(np.float32)
        spk1, v1 = lif_multi_spike(frames @ w1, threshold=1.0)
        spk_dead, v_dead = lif_multi_spike(spk1 @ w_dead, threshold=1.0)
        spk_out, v_out = lif_multi_spike(spk1 @ w2, threshold=1.0)
        prof.record_step("input", frames)
        prof.record_step("lif1", spk1, voltages=v1)
        prof.record_step("lif_dead", spk_dead, voltages=v_dead)
        prof.record_step("output", spk_out, voltages=v_out)
        labels = rng.integers(0, n_out, batch)
        prof.record_loss(naive_cross_entropy(spk_out.sum(axis=0), labels), n_classes=n_out)
        if verbose:
            print(f"recording step {step + 1}/{steps}", end="\r" if _tty() else "\n",
                  flush=True)
    if verbose and _tty():
        print()
    report = prof.report()
    path = None
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "demo-profile.npz")
        prof.save(path)
    if verbose:
        print(report.summary())
        print(f"\nchance level for {n_out} classes: ln {n_out} = {math.log(n_out):.3f}")
        if path:
            print(f"profile saved to {path}  (try: spikewidget summary {path})")
    return DemoResult(prof, report, path)


def _tty() -> bool:
    return sys.stdout.isatty()
