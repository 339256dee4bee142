"""A linear-scale sweep in Chromium: the slider of a Norse CobaLIFCell sweep (thresholds
in mV, at or below 0) follows a chosen potential to the grid point nearest by
difference, not by ratio."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("anywidget")
pytest.importorskip("torch")

import torch

from spikewidget import SpikeProfiler
from spikewidget.present.export import widget_state
from spikewidget.present.widget import ProfilerWidget
from tests.browser.test_widget_sweep import ctx, needs_chromium, shown  # noqa: F401
from tests.unit.sweep.test_linear_sweep import Coba
from tests.widget_harness import open_harness


@pytest.fixture(scope="module")
def coba() -> dict:
    torch.manual_seed(3)
    x = (torch.rand(100, 8, 30) < 0.3).float()
    prof, net = SpikeProfiler(raster_window=0), Coba()
    with torch.no_grad(), prof.watch(net, input=True):
        net(x)
    return {"profiler": prof, "sweep": prof.threshold_sweep(net, x, layer="cell", n=12)}


@needs_chromium
def test_a_linear_sweep_slider_snaps_a_potential_to_the_nearest_grid_point(ctx, coba):  # noqa: F811
    result = coba["sweep"]
    assert result.scale == "linear"
    th = result.thresholds
    page = open_harness(ctx, widget_state(
        ProfilerWidget(coba["profiler"], interval=None, sweep=result)))
    panel = page.locator(".sw-sweep").first
    assert panel.get_attribute("data-scale") == "linear"
    assert shown(page)[0] == result.best
    # a potential below 0, 30% of the way from one grid point to the next
    value = th[1] + 0.3 * (th[2] - th[1])
    page.evaluate("v => model.push('sweep_thresholds', {cell: v})", value)
    assert shown(page)[0] == th[1] == result.row(value).threshold
    # above 0, where a ratio would pick the upper point and the difference the lower one
    a, b = th[-2], th[-1]
    assert 0 < a < b
    value = ((a + b) / 2 + math.sqrt(a * b)) / 2
    assert abs(math.log(value / b)) < abs(math.log(value / a))  # log-nearer to b
    page.evaluate("v => model.push('sweep_thresholds', {cell: v})", value)
    assert shown(page)[0] == a == result.row(value).threshold
    assert page.errors == []
