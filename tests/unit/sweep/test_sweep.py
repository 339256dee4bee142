"""The threshold sweep predicts real forward passes, leaves the model alone, recommends."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import snntorch as snn
import torch

from spikewidget import InvalidInputError, SpikeProfiler
from spikewidget.demo.datasets import count_frames, shd_like
from spikewidget.demo.story_model import StoryNet
from tests.conftest import _canon, fingerprint


class NorseNet(torch.nn.Module):
    """A Norse LIF cell looped over time: (time, batch, 30) -> (time, batch, 40)."""

    def __init__(self, seed: int | None = None) -> None:
        from norse.torch import LIFBoxCell

        super().__init__()
        if seed is not None:
            torch.manual_seed(seed)
        self.fc = torch.nn.Linear(30, 40)
        self.cell = LIFBoxCell()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state, out = None, []
        for t in range(x.shape[0]):
            z, state = self.cell(self.fc(x[t]), state)
            out.append(z)
        return torch.stack(out)


@pytest.fixture(scope="module")
def story_batch() -> torch.Tensor:
    data = shd_like(32, seed=3)
    frames = torch.from_numpy(count_frames(data, 30)).transpose(0, 1).contiguous()
    return (frames > 0).float()  # (time, batch, 700), binarised


def real_forward_report(model, batch, layers, threshold) -> SpikeProfiler:
    from spikewidget import frameworks

    for name in layers:
        frameworks.set_threshold(dict(model.named_modules())[name], threshold)
    prof = SpikeProfiler(raster_window=0)
    with torch.no_grad(), prof.watch(model, input=True):
        model(batch)
    return prof


def test_each_row_equals_a_real_forward_pass_of_the_modified_model(story_batch):
    net = StoryNet(1.0)
    result = SpikeProfiler().threshold_sweep(net, story_batch, layer=["lif1", "lif2"],
                                             thresholds=[2.0, 15.0, 60.0])
    assert result.thresholds == [2.0, 15.0, 60.0]
    for row in result.rows:
        real = real_forward_report(StoryNet(1.0), story_batch, ["lif1", "lif2"],
                                   row.threshold).report()
        for name in ("input", "lif1", "lif2"):
            a, b = row.report.layer_stats[name], real.layer_stats[name]
            np.testing.assert_array_equal(a.firing_rates, b.firing_rates)
            assert (a.max_value, a.nonbinary_count, a.spike_count_range) == \
                (b.max_value, b.nonbinary_count, b.spike_count_range)
        assert [p.category for p in row.report.pathologies] == \
            [p.category for p in real.pathologies]
        assert row.max_per_step == max(real.layer_stats[n].max_value for n in ("lif1", "lif2"))


def test_the_model_and_the_profiler_are_left_exactly_as_they_were(story_batch):
    net = StoryNet(1.0)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    prof = SpikeProfiler()
    prof.record_step("hidden", np.ones((4, 3)))
    snapshot = fingerprint(prof)
    prof.threshold_sweep(net, story_batch, layer="lif1", n=5)
    after = net.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert float(net.lif1.threshold) == 1.0
    assert fingerprint(prof) == snapshot
    assert not net._forward_hooks and not net.lif1._forward_hooks  # no hook left behind


def test_the_story_table_and_its_recommendation(story_batch):
    result = SpikeProfiler().threshold_sweep(StoryNet(1.0), story_batch,
                                             layer=["lif1", "lif2"], n=24)
    low, high = result.rows[0], result.rows[-1]
    assert low.verdict == "non-binary" and low.max_per_step > 100
    assert high.verdict == "silent" and high.output_count_range == (0.0, 0.0)
    assert result.recommended is not None
    lo, hi = result.recommended
    assert lo <= result.best <= hi
    chosen = result.row(result.best)
    assert chosen.verdict == "ok" and chosen.max_per_step == 1.0
    assert chosen.output_count_range[1] <= 50
    text = result.table()
    assert "does not retrain" in text and "Recommended threshold" in text
    assert "does not retrain" in result._repr_html_()


def test_grid_defaults_to_log_spacing_over_the_membrane_range(story_batch):
    result = SpikeProfiler().threshold_sweep(StoryNet(1.0), story_batch, layer="lif1", n=10)
    th = np.array(result.thresholds)
    assert len(th) == 10 and th[0] <= 1.0
    ratios = th[1:] / th[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    assert result.rows[-1].dead_fraction["lif1"] == 1.0  # the top of the range is silent


def test_bad_sweep_requests_say_what_is_wrong(story_batch):
    prof, net = SpikeProfiler(), StoryNet(1.0)
    with pytest.raises(InvalidInputError, match="'lif3'.*lif1"):
        prof.threshold_sweep(net, story_batch, layer="lif3")
    with pytest.raises(InvalidInputError, match="'fc1'.*no known firing threshold"):
        prof.threshold_sweep(net, story_batch, layer="fc1")
    with pytest.raises(InvalidInputError, match="thresholds"):
        prof.threshold_sweep(net, story_batch, layer="lif1", thresholds=[0.0, 1.0])


def test_spikingjelly_and_norse_thresholds_are_swept_too():
    from spikingjelly.activation_based import neuron

    torch.manual_seed(0)
    x = torch.rand(20, 8, 30) * 3

    class SJ(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(30, 40)
            self.lif = neuron.LIFNode(step_mode="m")

        def forward(self, x):
            self.lif.reset()
            return self.lif(self.fc(x))

    sj = SJ()
    result = SpikeProfiler().threshold_sweep(sj, x, layer="lif", thresholds=[0.1, 1.0, 50.0])
    rates = [r.report.layer_stats["lif"].firing_rates.mean() for r in result.rows]
    assert rates[0] > rates[1] > rates[2] == 0.0
    assert sj.lif.v_threshold == 1.0

    nn_ = NorseNet()
    result = SpikeProfiler().threshold_sweep(nn_, x, layer="cell",
                                             thresholds=[0.05, 0.5, 50.0])
    rates = [r.report.layer_stats["cell"].firing_rates.mean() for r in result.rows]
    assert rates[0] > rates[1] > rates[2] == 0.0


# ------------------------------------------------------------- batched candidates
def assert_same_sweep(a, b) -> None:
    """Every statistic, finding and verdict of two sweeps is identical."""
    assert a.thresholds == b.thresholds
    assert (a.recommended, a.best, a.reason) == (b.recommended, b.best, b.reason)
    for ra, rb in zip(a.rows, b.rows, strict=True):
        assert ra.verdict == rb.verdict and ra.output_count_range == rb.output_count_range
        assert list(ra.report.layer_stats) == list(rb.report.layer_stats)
        for name, st in ra.report.layer_stats.items():
            assert _canon(dataclasses.astuple(st)) == \
                _canon(dataclasses.astuple(rb.report.layer_stats[name])), (ra.threshold, name)
        assert [(p.severity, p.category, p.layer, p.message) for p in ra.report.pathologies] \
            == [(p.severity, p.category, p.layer, p.message) for p in rb.report.pathologies]


def test_batched_candidates_equal_one_forward_each_in_snntorch(story_batch):
    grid = [2.0, 8.0, 15.0, 20.0, 30.0, 200.0]  # non-binary to silent
    kw = {"layer": ["lif1", "lif2"], "thresholds": grid}
    seq = SpikeProfiler().threshold_sweep(StoryNet(1.0), story_batch, **kw)
    done = []
    bat = SpikeProfiler().threshold_sweep(StoryNet(1.0), story_batch, batched=True, chunk=3,
                                          progress=lambda i, n: done.append(i), **kw)
    assert bat.batched and not seq.batched
    assert done == [1, 4, 6]  # the first alone (shapes), then chunks of 3 (the last short)
    assert_same_sweep(seq, bat)
    assert {r.verdict for r in bat.rows} >= {"non-binary", "silent"}
    # the automatic grid too, and feature maps: a (K*B, 1, 1, 1) threshold per sample
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), snn.Leaky(beta=0.9, init_hidden=True))
    torch.manual_seed(1)
    images = torch.rand(6, 1, 8, 8) * 2
    a = SpikeProfiler().threshold_sweep(conv, images, layer="1", n=5, watch_input=False)
    b = SpikeProfiler().threshold_sweep(conv, images, layer="1", n=5, watch_input=False,
                                        batched=True)
    assert b.batched
    assert_same_sweep(a, b)


def _spikingjelly_net():
    from spikingjelly.activation_based import neuron

    class SJ(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc = torch.nn.Linear(30, 40)
            self.cell = neuron.LIFNode(step_mode="m")

        def forward(self, x):
            self.cell.reset()
            return self.cell(self.fc(x))

    return SJ


def test_batched_candidates_equal_one_forward_each_in_norse_and_sj_falls_back():
    sj_net = _spikingjelly_net()
    torch.manual_seed(0)
    x = torch.rand(20, 8, 30) * 3
    kw = {"layer": "cell", "thresholds": [0.05, 0.3, 0.5, 1.0, 50.0]}
    seq = SpikeProfiler().threshold_sweep(NorseNet(seed=0), x, **kw)
    bat = SpikeProfiler().threshold_sweep(NorseNet(seed=0), x, batched=True, **kw)
    assert bat.batched
    assert_same_sweep(seq, bat)
    # SpikingJelly's kernels want a float threshold: one forward per candidate
    seq = SpikeProfiler().threshold_sweep(sj_net(), x, **kw)
    bat = SpikeProfiler().threshold_sweep(sj_net(), x, batched=True, **kw)
    assert not bat.batched
    assert_same_sweep(seq, bat)


def test_a_model_whose_batch_axis_is_not_the_inputs_falls_back_to_one_forward_each():
    class BatchFirst(torch.nn.Module):  # x is (batch, time, n): watch reads (time, batch)
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.fc = torch.nn.Linear(30, 40)
            self.lif = snn.Leaky(beta=0.9)

        def forward(self, x):
            mem, out = self.lif.init_leaky(), []
            for t in range(x.shape[1]):
                spk, mem = self.lif(self.fc(x[:, t]), mem)
                out.append(spk)
            return torch.stack(out)

    torch.manual_seed(0)
    x = torch.rand(8, 20, 30) * 3
    kw = {"layer": "lif", "thresholds": [0.1, 1.0, 5.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing leaks from the attempt
        bat = SpikeProfiler().threshold_sweep(BatchFirst(), x, batched=True, **kw)
    assert not bat.batched
    assert_same_sweep(SpikeProfiler().threshold_sweep(BatchFirst(), x, **kw), bat)


def test_the_sweep_draws_as_a_matplotlib_figure(story_batch):
    import matplotlib

    matplotlib.use("Agg")
    result = SpikeProfiler().threshold_sweep(StoryNet(1.0), story_batch,
                                             layer=["lif1", "lif2"], n=12)
    ax = result.plot()
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == ["max spikes / step",
                                                     "max output count / sample"]
    np.testing.assert_allclose(lines[0].get_xdata(), result.thresholds)
    np.testing.assert_allclose(lines[0].get_ydata(), [r.max_per_step for r in result.rows])
    assert ax.get_xscale() == "log"
    assert result.recommended is not None
    assert any(p.get_label().startswith("recommended") for p in ax.patches)


# ------------------------------------------------------- the recommended interval's edges
def test_a_one_point_band_gets_its_edges_bisected_with_progress(story_batch):
    grid = [8.0, 20.0, 40.0]  # non-binary, ok, too sparse / silent: one grid point passes
    coarse = SpikeProfiler().threshold_sweep(StoryNet(1.0), story_batch,
                                             layer=["lif1", "lif2"], thresholds=grid)
    assert coarse.recommended == (20.0, 20.0) and coarse.thresholds == grid
    below, above = coarse.edges
    assert (below.inside, below.outside, below.verdict) == (20.0, 8.0, "non-binary")
    assert above.inside == 20.0 and above.outside == 40.0 and above.verdict != "ok"
    assert "known to within 150% in threshold" in coarse.reason  # 20 -> 8: how coarse
    assert "pass refine=3" in coarse.reason

    done = []
    fine = SpikeProfiler().threshold_sweep(StoryNet(1.0), story_batch,
                                           layer=["lif1", "lif2"], thresholds=grid,
                                           refine=3, progress=lambda i, n: done.append((i, n)))
    assert done == [(1, 3), (2, 3), (3, 3)] + [(k, 9) for k in range(4, 10)]
    assert fine.thresholds == sorted(fine.thresholds) and len(fine.rows) == 9
    assert [r.threshold for r in fine.rows if not r.refined] == grid
    assert fine.best == 20.0  # the best stays a grid point
    lo, hi = fine.recommended
    assert lo <= 20.0 <= hi and lo < hi  # the band grew into the bisected gaps
    for edge, gap in zip(fine.edges, (20.0 / 8.0, 40.0 / 20.0), strict=True):
        assert edge.ratio == pytest.approx(gap ** (1 / 8))  # 3 halvings on a log scale
        assert fine.row(edge.inside).verdict == "ok"
        assert fine.row(edge.outside).verdict == edge.verdict != "ok"
    assert (fine.edges[0].inside, fine.edges[1].inside) == (lo, hi)
    assert "known to within 12% in threshold" in fine.reason
    assert "refine=" not in fine.reason
    # the refined rows are real forward passes: swept again on their own, they agree
    ends = [fine.edges[0].outside, lo, hi, fine.edges[1].outside]
    again = SpikeProfiler().threshold_sweep(StoryNet(1.0), story_batch,
                                            layer=["lif1", "lif2"], thresholds=ends)
    assert [r.verdict for r in again.rows] == [fine.row(t).verdict for t in ends]
    assert "(edge refined)" in fine.table()


def test_an_interval_that_reaches_the_end_of_the_grid_is_refined_on_one_side(story_batch):
    result = SpikeProfiler().threshold_sweep(StoryNet(1.0), story_batch, layer=["lif1", "lif2"],
                                             thresholds=[20.0, 120.0], refine=2)
    assert result.edges[0] is None and result.edges[1].verdict != "ok"
    assert sum(r.refined for r in result.rows) == 2
    assert "Below it: not swept" in result.reason


def test_a_bad_refine_says_what_is_expected(story_batch):
    prof = SpikeProfiler()
    for bad in (-1, 2.5, 21):
        with pytest.raises(InvalidInputError, match="refine must be a whole number"):
            prof.threshold_sweep(StoryNet(1.0), story_batch, layer="lif1", refine=bad)


def test_thresholds_that_round_alike_are_told_apart():
    from spikewidget.sweep.result import distinct

    assert distinct(19.91, 19.94) == ("19.91", "19.94")
    assert distinct(19.9, 19.9) == ("19.9", "19.9")
    assert distinct(0.5, 2.0) == ("0.5", "2")
