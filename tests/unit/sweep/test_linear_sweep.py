"""A threshold that is a membrane potential at or below 0 is swept on a linear scale.

Norse's ``CobaLIFCell`` (conductance-based LIF) keeps its threshold ``p.v_thresh`` in mV:
-10 by default, with rest -20 and reset -70. In Norse 1.1.0 the cell starts at v = 0
(above -10: every neuron fires on the first step), resets to -70 and is driven back up
by its recurrent conductances (its feed-forward input never reaches it, see
tests/e2e/census_nets.py), so the layer fires a few times per sequence at thresholds
below its membrane's reach and never above it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import snntorch as snn
import torch

from spikewidget import InvalidInputError, SpikeProfiler, frameworks
from spikewidget.present.payload import decode_array, sweep_message
from spikewidget.sweep.result import BandEdge
from tests.unit.sweep.test_sweep import assert_same_sweep, real_forward_report


class Coba(torch.nn.Module):
    """(time, batch, 30) -> (time, batch, 40): a Linear layer into a CobaLIFCell."""

    def __init__(self, seed: int = 0) -> None:
        from norse.torch import CobaLIFCell

        super().__init__()
        torch.manual_seed(seed)
        self.fc, self.cell = torch.nn.Linear(30, 40), CobaLIFCell(40, 40)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state, out = None, []
        for t in range(x.shape[0]):
            z, state = self.cell(self.fc(x[t]), state)
            out.append(z)
        return torch.stack(out)


class Leaky(torch.nn.Module):
    """(time, batch, 20) -> (time, batch, 30): a Linear layer into snnTorch Leaky."""

    def __init__(self, threshold: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc, self.lif = torch.nn.Linear(20, 30), snn.Leaky(beta=0.9, threshold=threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem, out = self.lif.init_leaky(), []
        for t in range(x.shape[0]):
            spk, mem = self.lif(self.fc(x[t]), mem)
            out.append(spk)
        return torch.stack(out)


class Mixed(torch.nn.Module):
    """A snnTorch layer (threshold 1) feeding a CobaLIFCell (-10 mV)."""

    def __init__(self) -> None:
        from norse.torch import CobaLIFCell

        super().__init__()
        self.fc, self.lif = torch.nn.Linear(20, 40), snn.Leaky(beta=0.9)
        self.cell = CobaLIFCell(40, 40)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem, state, out = self.lif.init_leaky(), None, []
        for t in range(x.shape[0]):
            spk, mem = self.lif(self.fc(x[t]), mem)
            z, state = self.cell(spk, state)
            out.append(z)
        return torch.stack(out)


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    torch.manual_seed(3)
    return (torch.rand(100, 8, 30) < 0.3).float()  # (time, batch, 30) binary


@pytest.fixture(scope="module")
def coba_sweep(batch):
    net = Coba()
    result = SpikeProfiler().threshold_sweep(net, batch, layer="cell", n=12)
    return net, result


def test_a_coba_lif_cell_is_swept_on_a_linear_grid_that_holds_its_threshold(coba_sweep):
    net, result = coba_sweep
    assert result.scale == "linear" and result.original_threshold == -10.0
    grid = np.array([r.threshold for r in result.rows if not r.refined])
    assert len(grid) == 12
    np.testing.assert_allclose(np.diff(grid), np.diff(grid)[0], rtol=1e-9)  # even steps
    assert grid[0] < -10.0 < grid[-1]
    assert float(net.cell.p.v_thresh) == -10.0  # the user's model is untouched


def test_raising_the_potential_past_the_membranes_reach_silences_the_layer(coba_sweep):
    _, result = coba_sweep
    dead = [r.dead_fraction["cell"] for r in result.rows]
    assert result.row(-10.0).verdict == "ok" and dead[0] == 0.0  # fires at -10 and below
    silent = [i for i, r in enumerate(result.rows) if r.verdict == "silent"]
    assert silent and silent == list(range(silent[0], len(result.rows)))  # silent above
    assert all(dead[i] == 1.0 for i in silent)
    assert result.rows[-1].output_count_range == (0.0, 0.0)
    # the top of the grid lies above everything the membrane reaches: it starts at 0 mV
    # and relaxes towards rest (-20 mV) when it never fires
    assert result.rows[-1].threshold > 0.0


def test_the_recommendation_is_a_potential_inside_the_grid_with_its_edge_refined(coba_sweep):
    _, result = coba_sweep
    lo, hi = result.recommended
    grid = [r.threshold for r in result.rows if not r.refined]
    assert grid[0] <= lo <= result.best <= hi <= grid[-1]
    assert result.best in grid and result.row(result.best).verdict == "ok"
    below, above = result.edges
    assert below is None  # nothing failed under it: the lowest grid point passed
    assert above.verdict == "silent" and above.inside == hi < above.outside
    step = grid[1] - grid[0]
    assert above.width == pytest.approx(step / 8)  # 3 arithmetic halvings of one step
    assert math.isnan(above.ratio)  # a ratio of potentials means nothing
    assert sum(r.refined for r in result.rows) == 3
    refined = sorted(r.threshold for r in result.rows if r.refined)
    last_ok = max(t for t in grid if t <= hi)  # the refinement stays in one grid step
    assert all(last_ok < t < last_ok + step for t in refined)
    assert f"known to within {above.width:.3g} in threshold" in result.reason
    assert "%" not in result.reason.split("above it:")[1]
    assert "linear scale" in result.table()


def test_the_nearest_row_of_a_linear_sweep_is_nearest_by_difference(coba_sweep):
    _, result = coba_sweep
    for value in (-10.3, -3.0, 0.0, 1.7, -1e6, 1e6):
        got = result.row(value).threshold
        assert all(abs(got - value) <= abs(r.threshold - value) for r in result.rows)


def test_each_linear_row_equals_a_real_forward_pass(batch):
    grid = [-40.0, -10.0, -2.0, 5.0]
    result = SpikeProfiler().threshold_sweep(Coba(), batch, layer="cell", thresholds=grid)
    assert result.scale == "linear" and result.thresholds == grid  # no refinement asked
    for row in result.rows:
        real = real_forward_report(Coba(), batch, ["cell"], row.threshold).report()
        a, b = row.report.layer_stats["cell"], real.layer_stats["cell"]
        np.testing.assert_array_equal(a.firing_rates, b.firing_rates)
        assert a.spike_count_range == b.spike_count_range
    rates = [r.report.layer_stats["cell"].firing_rates.mean() for r in result.rows]
    assert rates[0] > 0 and rates[-1] == 0.0


def test_linear_candidates_batched_equal_one_forward_each(batch):
    kw = {"layer": "cell", "thresholds": [-30.0, -10.0, -1.0, 3.0]}
    seq = SpikeProfiler().threshold_sweep(Coba(), batch, **kw)
    bat = SpikeProfiler().threshold_sweep(Coba(), batch, batched=True, chunk=2, **kw)
    assert bat.batched and bat.scale == seq.scale == "linear"
    assert_same_sweep(seq, bat)


def test_the_widget_message_and_slider_carry_the_linear_scale(coba_sweep, batch):
    pytest.importorskip("anywidget")
    _, result = coba_sweep
    msg = sweep_message(result, "cell")
    assert msg["scale"] == "linear" and msg["original"] == -10.0
    np.testing.assert_array_equal(decode_array(msg["grid"]), result.thresholds)
    prof = SpikeProfiler()
    w = prof.widget(interval=None, sweep=result)
    assert w.sweep_threshold == result.best  # starts at the best
    w.sweep_threshold = -9.0  # a potential: snapped to the nearest grid point by difference
    assert w.sweep_threshold == result.row(-9.0).threshold
    assert abs(w.sweep_threshold + 9.0) == min(abs(t + 9.0) for t in result.thresholds)
    for bad in (math.nan, math.inf):
        with pytest.raises(InvalidInputError, match="finite number"):
            w.sweep_threshold = bad
    log = SpikeProfiler().threshold_sweep(Leaky(), batch[:, :, :20], layer="lif",
                                          thresholds=[0.5, 2.0])
    assert sweep_message(log, "lif")["scale"] == "log" and log.scale == "log"


def test_a_linear_sweep_is_plotted_on_a_linear_axis(coba_sweep):
    import matplotlib

    matplotlib.use("Agg")
    _, result = coba_sweep
    ax = result.plot()
    assert ax.get_xscale() == "linear"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata()[:1], result.thresholds[:1])


def test_a_positive_threshold_is_swept_linearly_when_asked(batch):
    x = batch[:20, :, :20] * 2
    result = SpikeProfiler().threshold_sweep(Leaky(), x, layer="lif", n=8, refine=0,
                                             scale="linear")
    grid = np.array(result.thresholds)
    assert result.scale == "linear" and grid[0] < 1.0 < grid[-1]
    np.testing.assert_allclose(np.diff(grid), np.diff(grid)[0], rtol=1e-9)
    default = SpikeProfiler().threshold_sweep(Leaky(), x, layer="lif", n=8, refine=0)
    assert default.scale == "log"


def test_layers_that_need_different_scales_are_refused_naming_them(batch):
    x = batch[:10, :, :20]
    prof, net = SpikeProfiler(), Mixed()
    with pytest.raises(InvalidInputError, match=r"'lif' \(Leaky, 1\).*above 0.*"
                                                r"'cell' \(CobaLIFCell, -10\).*at or below 0"):
        prof.threshold_sweep(net, x, layer=["lif", "cell"])
    assert prof.layers == [] and float(net.cell.p.v_thresh) == -10.0
    # asked for, one shared linear value runs (both layers get each candidate)
    both = prof.threshold_sweep(net, x, layer=["lif", "cell"], thresholds=[-5.0, 0.5],
                                scale="linear")
    assert both.scale == "linear" and both.thresholds == [-5.0, 0.5]


def test_scale_requests_that_cannot_hold_say_what_is_expected(batch):
    prof, net = SpikeProfiler(), Coba()
    with pytest.raises(InvalidInputError, match=r"'cell' \(CobaLIFCell\) has threshold -10; "
                                                r"scale='log' searches thresholds above 0"):
        prof.threshold_sweep(net, batch, layer="cell", scale="log")
    with pytest.raises(InvalidInputError, match=r"scale must be one of \['log', 'linear'\]"):
        prof.threshold_sweep(net, batch, layer="cell", scale="symlog")
    with pytest.raises(InvalidInputError, match="thresholds must be finite numbers"):
        prof.threshold_sweep(net, batch, layer="cell", thresholds=[-10.0, math.nan])
    assert prof.layers == [] and float(net.cell.p.v_thresh) == -10.0


def test_a_threshold_that_is_not_finite_is_refused_naming_the_layer(batch):
    net = Coba()
    frameworks.set_threshold(net.cell, math.nan)
    prof = SpikeProfiler()
    with pytest.raises(InvalidInputError, match=r"'cell' \(CobaLIFCell\) has threshold nan; "
                                                r"the sweep needs a finite threshold"):
        prof.threshold_sweep(net, batch, layer="cell")
    leaky = Leaky(threshold=math.inf)
    with pytest.raises(InvalidInputError, match=r"'lif' \(Leaky\) has threshold inf; "
                                                r"the sweep needs a finite threshold"):
        prof.threshold_sweep(leaky, batch[:, :, :20], layer="lif")
    assert prof.layers == []


def test_a_band_edge_describes_its_width_in_the_scale_it_was_found_on():
    linear = BandEdge(-4.5, -3.0, "silent", "linear")
    assert linear.width == 1.5 and math.isnan(linear.ratio)
    assert linear.describe() == ("silent at -3 (the edge lies between -4.5 and -3, known to "
                                 "within 1.5 in threshold)")
    log = BandEdge(20.0, 8.0, "non-binary")
    assert log.scale == "log" and log.ratio == 2.5
    assert "known to within 150% in threshold" in log.describe()
