"""The story replays end to end: every finding of the debugging journey, then health."""

from __future__ import annotations

import math

import pytest

from spikewidget.story import CHANCE, StoryConfig, losses_fell, run_story


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    cfg = StoryConfig(samples=300, time_steps=40, batch=64, buggy_steps=6,
                      overcorrected_steps=21, healthy_steps=45, sweep_points=16)
    out = tmp_path_factory.mktemp("story")
    lines: list[str] = []
    return run_story(str(out), cfg, log=lines.append), lines


def categories(act):
    return {(p.category, p.layer) for p in act.report.pathologies}


def test_act_one_names_every_bug_of_the_story(story):
    result, _ = story
    act = result.acts[0]
    found = categories(act)
    assert {("non_binary_spikes", "lif1"), ("non_binary_spikes", "lif2"),
            ("count_valued_input", "input"), ("output_overflow", "lif2")} <= found
    nb = next(p for p in act.report.pathologies if p.category == "non_binary_spikes"
              and p.layer == "lif2")
    assert nb.metric_value > 100 and f"{nb.metric_value:g}" in nb.message
    assert act.losses[0] > 100 * CHANCE  # the story's astronomical loss


def test_binarising_leaves_the_threshold_problem(story):
    act = story[0].acts[1]
    found = categories(act)
    assert ("count_valued_input", "input") not in found
    assert ("non_binary_spikes", "lif2") in found


def test_the_sweep_recommends_a_binary_threshold_and_overcorrecting_pins_the_loss(story):
    result, _ = story
    assert result.sweep.rows[0].verdict == "non-binary"
    assert result.sweep.rows[-1].verdict == "silent"
    overcorrected = result.acts[2]
    found = categories(overcorrected)
    assert ("loss_at_chance", "loss") in found
    assert ("dead_neurons", "lif1") in found
    assert all(math.isclose(x, CHANCE, rel_tol=1e-3) for x in overcorrected.losses)


def test_the_chosen_threshold_trains_and_the_report_is_clean(story):
    result, lines = story
    healthy = result.acts[3]
    assert healthy.threshold == result.sweep.best
    assert losses_fell(healthy)
    assert not healthy.report.has_critical
    assert healthy.test_accuracy > 0.3
    assert any("Act 4" in line for line in lines)
    assert any(f.endswith("story-act4.html") for f in result.files)
    assert any(f.endswith("story-act1.png") for f in result.files)
