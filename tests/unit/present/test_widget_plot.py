"""report.plot(): the widget's views in matplotlib."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from spikewidget import SpikeProfiler
from spikewidget.present.plot import plot_report


@pytest.fixture
def profiler() -> SpikeProfiler:
    rng = np.random.default_rng(1)
    p = SpikeProfiler()
    for epoch in range(3):
        if epoch:
            p.next_epoch()
        for _ in range(4):
            p.record_step("hidden", (rng.random((10, 2, 50)) < 0.0002 * (epoch + 1)).astype(float))
            p.record_step("output", (rng.random((10, 2, 10)) < 0.5).astype(float))
            p.record_loss(2.3, n_classes=10)
    return p


def test_report_plot_draws_every_view_with_severity_in_words(profiler):
    fig = profiler.report(epoch=-1).plot(profiler=profiler)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    for want in ("Spike raster", "Firing rates", "Neuron classes per layer",
                 "Trends over epochs", "Pathologies"):
        assert any(t.startswith(want) for t in titles), (want, titles)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    table_text = [c.get_text().get_text() for ax in fig.axes for tab in ax.tables
                  for c in tab.get_celld().values()]
    assert "CRITICAL" in table_text  # hidden is dead: named, not only coloured
    assert any("dead" in t for t in texts)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.tell() > 10_000


def test_plot_without_profiler_still_shows_what_the_report_holds(profiler):
    fig = plot_report(profiler.report())
    assert len(fig.axes) >= 5
    fig.savefig(io.BytesIO(), format="png")
