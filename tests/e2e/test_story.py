"""The story replays as `make demo` runs it (the default, seeded StoryConfig, in a
subprocess): every finding of the debugging journey, then health, with progress lines
no more than a few units of work apart."""

from __future__ import annotations

import itertools
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spikewidget import SpikeProfiler
from spikewidget.demo.story import CHANCE, PROGRESS_SECONDS, StoryConfig

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``(lines, stamps, out)``: the demo's stdout lines, when each arrived (s), its files."""
    out = tmp_path_factory.mktemp("story")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    errors = out / "stderr.txt"
    t0 = time.perf_counter()
    with open(errors, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "spikewidget", "demo", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT)
        lines, stamps = [], []
        for line in proc.stdout:  # not a terminal: the lines must still come as they happen
            lines.append(line.rstrip("\n"))
            stamps.append(time.perf_counter() - t0)
    assert proc.wait() == 0, errors.read_text()[-3000:]
    return lines, stamps, out


def act_lines(lines: list[str], number: int) -> list[str]:
    start = next(i for i, s in enumerate(lines) if s.startswith(f"Act {number} "))
    end = next((i for i, s in enumerate(lines) if s.startswith(f"Act {number + 1} ")),
               len(lines))
    return lines[start:end]


def sweep_table(lines: list[str]) -> list[list[str]]:
    """The rows of act 3's printed sweep table, split into columns."""
    return [s.split() for s in act_lines(lines, 3) if re.match(r"\s+[\d.]+\s+\d+\s", s)]


def findings(out: Path, act: int) -> set[tuple[str, str]]:
    report = SpikeProfiler.load(out / f"story-act{act}.npz").report()
    return {(p.category, p.layer) for p in report.pathologies}


def test_act_one_names_every_bug_of_the_story(demo):
    lines, _, out = demo
    assert {("non_binary_spikes", "lif1"), ("non_binary_spikes", "lif2"),
            ("count_valued_input", "input"), ("output_overflow", "lif2")} <= findings(out, 1)
    report = SpikeProfiler.load(out / "story-act1.npz").report()
    nb = next(p for p in report.pathologies if p.category == "non_binary_spikes"
              and p.layer == "lif2")
    assert nb.metric_value > 100 and f"{nb.metric_value:g}" in nb.message
    assert report.loss.recent[0] > 100 * CHANCE  # the story's astronomical loss
    assert any("x = (x > 0).float()" in s for s in act_lines(lines, 1))


def test_binarising_leaves_the_threshold_problem(demo):
    found = findings(demo[2], 2)
    assert ("count_valued_input", "input") not in found
    assert ("non_binary_spikes", "lif2") in found


def test_the_sweep_recommends_a_binary_threshold_and_overcorrecting_pins_the_loss(demo):
    lines, _, out = demo
    table = sweep_table(lines)
    grid = [row for row in table if row[-2:] != ["(edge", "refined)"]]
    assert len(grid) == StoryConfig().sweep_points
    assert 0 < len(table) - len(grid) <= 6  # each failing edge bisected three times
    assert grid[0][-1] == "non-binary" and grid[-1][-1] == "silent"
    assert ("loss_at_chance", "loss") in findings(out, 3)
    assert ("dead_neurons", "lif1") in findings(out, 3)
    losses = SpikeProfiler.load(out / "story-act3.npz").report().loss.recent
    assert len(losses) == StoryConfig().overcorrected_steps
    assert all(math.isclose(x, CHANCE, rel_tol=1e-3) for x in losses)


def test_act_four_ends_as_the_readme_says_clean_and_above_80_percent(demo):
    lines, _, out = demo
    act4 = act_lines(lines, 4)
    chosen = re.search(r"threshold ([\d.]+) from the sweep", act4[0])
    verdicts = {row[0]: row[-1] for row in sweep_table(lines)}
    assert chosen and verdicts[chosen.group(1)] == "ok"  # the sweep's pick
    report = SpikeProfiler.load(out / "story-act4.npz").report()
    assert report.pathologies == []
    assert any(s.strip() == "No pathologies detected." for s in act4)
    assert sum(report.loss.recent[-5:]) / 5 < 0.5 * CHANCE  # from 3.0 to about 1
    accuracy = re.search(r"test accuracy (\d+)% on (\d+) samples", "\n".join(act4))
    assert accuracy and int(accuracy.group(1)) > 80
    assert int(accuracy.group(2)) == StoryConfig().samples // 5  # the whole test split
    for name in ("story-act1.png", "story-act4.html", "story-act1.html", "story-act4.png"):
        assert (out / name).stat().st_size > 10_000


UNIT = re.compile(r"(\[[^\]]+\] step|sweep:) (\d+)/(\d+)")


def one_unit_apart(before: str, after: str) -> bool:
    """``after`` reports the unit of work (a training step, a sweep candidate, an act's
    test pass) that follows the one ``before`` reported."""
    now, then = UNIT.search(after), UNIT.search(before)
    if now:
        return int(now.group(2)) == 1 or bool(
            then and then.group(1) == now.group(1) and int(then.group(2)) + 1 == int(now.group(2)))
    return after.lstrip().startswith("last loss") and bool(
        then and then.group(2) == then.group(3))


def test_progress_comes_every_few_seconds_or_every_unit_of_work(demo):
    """On two idle cores a line comes every ~2 s. On a loaded machine one training step
    or sweep candidate can take longer than that; then every one of them prints, and
    nothing else is silent for longer than a few of act 4's steps."""
    lines, stamps, _ = demo
    act4 = [(int(m.group(2)), t) for s, t in zip(lines, stamps, strict=True)
            if (m := UNIT.search(s)) and "] step" in s and s.startswith("  [threshold")
            and "threshold 100]" not in s]
    (first, t_first), (last, t_last) = act4[0], act4[-1]
    step_time = (t_last - t_first) / (last - first)  # one training step, on this machine
    allowed = 3 * max(PROGRESS_SECONDS, step_time) + 1.0
    silences = [(b - a, lines[i + 1]) for i, (a, b) in enumerate(itertools.pairwise(stamps))
                if b - a > allowed and not one_unit_apart(lines[i], lines[i + 1])]
    assert not silences, f"no output for that long (a step takes {step_time:.1f} s)"
    assert sum(1 for s in lines if UNIT.search(s)) >= 10  # progress was printed at all
