"""The matplotlib figures as a reader sees them: read back from the rendered artists
(Agg) of report.plot() and SweepResult.plot(). Layout (the table inside the figure,
whole texts, no empty bottom, legends clear of the plots), colours that mean one thing
(palette.py), the loss of every epoch, and user text drawn literally."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from spikewidget import SpikeProfiler  # noqa: E402
from spikewidget.present.palette import CLASS, LAYER, SEVERITY  # noqa: E402
from spikewidget.present.plot import neuron_classes, plot_report  # noqa: E402


def troubled(epochs: int = 4, layers: tuple[str, str, str, str] = (
        "input", "hidden", "wide", "output")) -> SpikeProfiler:
    """Count-valued input, a dead layer, a saturated one, and a non-binary output with
    one NaN in the last epoch; the loss sits at chance."""
    inp, hidden, wide, output = layers
    rng = np.random.default_rng(0)
    p = SpikeProfiler()
    p.declare_layer(inp, role="input")
    for epoch in range(epochs):
        if epoch:
            p.next_epoch()
        for step in range(3):
            p.record_step(inp, rng.poisson(0.5, (8, 4, 30)).astype(float))
            p.record_step(hidden, (rng.random((8, 4, 50)) < 0.001 * (epoch + 1)).astype(float))
            p.record_step(wide, (rng.random((8, 4, 40)) < 0.99).astype(float))
            out = (rng.random((8, 4, 10)) < 0.3).astype(float)
            out[0, 0, 0] = 3.0
            if epoch == epochs - 1 and step == 1:
                out[1, 1, 1] = np.nan
            p.record_step(output, out)
            p.record_loss(2.4 - 0.1 * epoch, n_classes=10)
    return p


def rendered(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def inside(inner, outer, tol: float = 1.0) -> bool:
    return (inner.x0 >= outer.x0 - tol and inner.x1 <= outer.x1 + tol
            and inner.y0 >= outer.y0 - tol and inner.y1 <= outer.y1 + tol)


def overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def panel(fig, title: str):
    return next(ax for ax in fig.axes if ax.get_title(loc="left").startswith(title))


@pytest.fixture(scope="module")
def prof() -> SpikeProfiler:
    return troubled()


# ------------------------------------------------------------------- the table
def test_the_table_lies_inside_the_figure_with_every_text_whole(prof):
    report = prof.report()
    fig = report.plot(profiler=prof)
    renderer = rendered(fig)
    table = panel(fig, "Pathologies").tables[0]
    figbox = fig.bbox
    assert inside(table.get_window_extent(renderer), figbox)  # not off the left edge
    cells = table.get_celld()
    for (row, col), cell in cells.items():  # no text spills out of its cell
        assert inside(cell.get_text().get_window_extent(renderer),
                      cell.get_window_extent(renderer)), (row, col, cell.get_text().get_text())
    for i, p in enumerate(report.pathologies, start=1):
        message = cells[i, 3].get_text().get_text()
        fix = cells[i, 4].get_text().get_text()
        assert "[...]" not in fix
        # wrapped, never cut: the lines joined are the whole text
        assert message.replace("\n", " ") == p.message
        assert fix.replace("\n", " ") == p.suggestion
        sev = cells[i, 0].get_text()
        assert sev.get_text() == p.severity.value.upper()
        assert to_hex(sev.get_color()) == SEVERITY["light"][p.severity.value].lower()
    where = {cells[i, 5].get_text().get_text() for i in range(1, len(report.pathologies) + 1)}
    assert "epoch 3, step 10" in where and "since epoch 0" in where


def test_the_figure_is_as_tall_as_its_content(prof):
    many = prof.report().plot(profiler=prof)
    few = SpikeProfiler()
    few.record_step("hidden", np.zeros((4, 20)))
    one = few.report().plot(profiler=few)
    assert len(prof.report().pathologies) > len(few.report().pathologies) + 2
    assert many.get_figheight() > one.get_figheight() + 0.5
    for fig in (many, one):  # no mostly-empty bottom: the table ends near the edge
        renderer = rendered(fig)
        table = panel(fig, "Pathologies").tables[0]
        bottom = table.get_window_extent(renderer).y0 / fig.dpi
        assert bottom < 0.3, bottom


# ------------------------------------------------------------------- colours
def class_of_colour(colour: str) -> str | None:
    return next((k for k, v in CLASS["light"].items() if v.lower() == colour), None)


@pytest.mark.parametrize("layer", ["hidden", "wide", "output"])
def test_histogram_bars_take_the_colour_of_their_neurons_class(prof, layer):
    report = prof.report()
    st = report.layer_stats[layer]
    fig = report.plot(profiler=prof, layer=layer)
    ax = panel(fig, "Firing rates")
    counts = {"dead": 0.0, "healthy": 0.0, "saturated": 0.0}
    for patch in ax.patches:
        if isinstance(patch, Rectangle) and patch.get_height() > 0:
            cls = class_of_colour(to_hex(patch.get_facecolor()))
            assert cls is not None, to_hex(patch.get_facecolor())  # only class colours
            counts[cls] += patch.get_height()
            if cls == "healthy" and st.sample_activity is None:
                # judged by rate: no green at rates below the dead cut-off (judged per
                # sample, a neuron of a low rate that fires in many samples is healthy)
                assert patch.get_x() >= report.thresholds.dead_rate * (1 - 1e-9)
    classes = neuron_classes(st, report.thresholds)
    finite = np.isfinite(st.firing_rates)
    assert counts["dead"] == np.count_nonzero(classes[finite] == 0)
    assert counts["saturated"] == np.count_nonzero(classes[finite] == 2)
    assert counts["healthy"] == np.count_nonzero(classes[finite] == 1)
    # the same classes the report counts (by samples where they were counted)
    assert np.count_nonzero(classes == 0) == st.dead_neuron_count
    assert np.count_nonzero(classes == 2) == st.saturated_neuron_count


def test_an_input_layer_is_drawn_as_activity_not_in_class_colours(prof):
    fig = prof.report().plot(profiler=prof, layer="input")
    ax = panel(fig, "Firing rates")
    colours = {to_hex(p.get_facecolor()) for p in ax.patches if p.get_height() > 0}
    assert colours and not colours & {c.lower() for c in CLASS["light"].values()}
    bars = panel(fig, "Neuron classes")
    assert any("not judged" in t.get_text() for t in bars.texts)


def test_trend_lines_are_coloured_by_layer_never_by_class(prof):
    fig = prof.report().plot(profiler=prof)
    ax = panel(fig, "Trends over epochs")
    colours = [to_hex(line.get_color()) for line in ax.get_lines() if len(line.get_xdata())]
    layer_colours = {c.lower() for c in LAYER["light"]}
    assert colours and set(colours) <= layer_colours
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"hidden", "wide", "output"} <= set(labels) and "input" not in labels
    # one colour per layer, dead (solid) and saturated (dashed) in the same colour
    assert len(set(colours)) == 3


# ------------------------------------------------------------------- the loss
def test_a_report_of_the_last_epoch_still_shows_the_loss_of_every_epoch(prof):
    fig = prof.report(epoch=-1).plot(profiler=prof)
    ax = panel(fig, "Loss per epoch")
    loss_line = next(line for line in ax.get_lines() if len(line.get_xdata()) == 4)
    np.testing.assert_array_equal(loss_line.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_allclose(loss_line.get_ydata(), [2.4, 2.3, 2.2, 2.1])
    rings = [line for line in ax.get_lines() if list(line.get_xdata()) == [3]]
    assert rings, "the selected epoch is marked"
    spans = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
    assert any(a < 3 < b and b - a < 1 for a, b in spans)  # the selected epoch shaded
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "this report: epoch 3" in labels


# ------------------------------------------------------------------- legends
def test_no_legend_covers_a_plot(prof):
    fig = prof.report(epoch=-1).plot(profiler=prof)
    renderer = rendered(fig)
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        box = leg.get_window_extent(renderer)
        assert inside(box, fig.bbox), ax.get_title(loc="left")
        for other in fig.axes:
            if other.get_visible() and other.axison:
                assert not overlap(box, other.get_window_extent(renderer)), (
                    ax.get_title(loc="left"), other.get_title(loc="left"))


def test_the_png_has_ink_in_its_bottom_band(prof, tmp_path):
    """A pixel check: the bottom tenth of the PNG is not blank (the table reaches it)."""
    fig = prof.report().plot(profiler=prof)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    img = matplotlib.image.imread(io.BytesIO(buf.getvalue()))
    band = img[int(img.shape[0] * 0.93):, :, :3]
    assert (band < 0.8).any(axis=2).mean() > 0.01


def test_a_layer_not_in_the_report_is_named_in_the_error(prof):
    from spikewidget import UnknownLayerError

    with pytest.raises(UnknownLayerError, match="'nope'.*hidden"):
        plot_report(prof.report(), layer="nope")


# ------------------------------------------------------------------- the sweep
@pytest.fixture(scope="module")
def one_point_sweep():
    import torch

    from spikewidget.demo.datasets import count_frames, shd_like
    from spikewidget.demo.story_model import StoryNet

    data = shd_like(16, seed=3)
    batch = (torch.from_numpy(count_frames(data, 30)).transpose(0, 1).contiguous() > 0).float()
    result = SpikeProfiler().threshold_sweep(StoryNet(1.0), batch, layer=["lif1", "lif2"],
                                             thresholds=[8.0, 20.0, 40.0, 120.0])
    assert result.recommended == (20.0, 20.0)  # one grid point wide
    return result


def test_the_sweep_plot_shows_a_one_point_band_and_keeps_the_legend_off_the_curves(
        one_point_sweep):
    ax = one_point_sweep.plot()
    fig = ax.figure
    renderer = rendered(fig)
    ax2 = next(a for a in fig.axes if a is not ax)
    dead = next(line for line in ax2.get_lines())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith("dead share") for label in labels)
    assert any(label.startswith("recommended 20") for label in labels)
    # the band: a line at the recommended threshold, and the shaded edges around it
    assert any(isinstance(line, Line2D) and list(line.get_xdata()) == [20.0, 20.0]
               for line in ax.get_lines())
    shaded = [p.get_window_extent(renderer) for p in ax.patches]
    assert max(b.width for b in shaded) > 20  # pixels: visible
    legend_box = ax.get_legend().get_window_extent(renderer)
    assert not overlap(legend_box, ax.get_window_extent(renderer))
    assert not overlap(legend_box, dead.get_window_extent(renderer))
    assert inside(legend_box, fig.bbox)
    fig.savefig(io.BytesIO(), format="png")


# ------------------------------------------------------------- hostile layer names
NAME = st.text(alphabet=st.sampled_from("$\\_^{}%#&~|<>ab cX\u00e9\u2211"),
               min_size=1, max_size=12).filter(lambda s: s.strip() and s != "loss")
PAIR = st.lists(NAME, min_size=2, max_size=2, unique=True)


def texts_of(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text()]


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@example(names=["$\\notacommand$", "cost $x$"])
@example(names=["_hidden", "_out"])
@given(names=PAIR)
def test_hostile_layer_names_are_drawn_as_written_in_the_report_figure(names):
    hidden, output = names
    p = troubled(epochs=2, layers=("input", hidden, "wide", output))
    fig = p.report(epoch=-1).plot(profiler=p, layer=hidden)
    fig.savefig(io.BytesIO(), format="png", dpi=40)  # no mathtext error
    drawn = texts_of(fig)
    for name in (hidden, output):
        exact = [t for t in drawn if t.get_text() == name]
        assert exact, name  # the bar label, and the legend entry of its trend line
        assert all(not t.get_parse_math() for t in exact)
        legend_labels = [t.get_text() for t in panel(fig, "Trends").get_legend().get_texts()]
        assert name in legend_labels  # a name starting with "_" is not left out
    assert panel(fig, "Firing rates").get_title(loc="left") == f"Firing rates \u2014 {hidden}"
    # no text with a "$" in it is read as math (the figure's own texts have none)
    for t in drawn:
        if "$" in t.get_text():
            assert not t.get_parse_math(), t.get_text()
    table = panel(fig, "Pathologies").tables[0]
    assert all(not c.get_text().get_parse_math() for c in table.get_celld().values())
    assert hidden in [c.get_text().get_text() for c in table.get_celld().values()]


class _Named(__import__("torch").nn.Module):
    """Linear -> snnTorch Leaky looped over time, the neuron under a hostile key."""

    def __init__(self, key: str) -> None:
        import snntorch as snn
        import torch

        super().__init__()
        torch.manual_seed(0)
        self.key = key
        self.fc = torch.nn.Linear(6, 8)
        self.layers = torch.nn.ModuleDict({key: snn.Leaky(beta=0.9)})

    def forward(self, x):
        import torch

        lif = self.layers[self.key]
        mem, out = lif.init_leaky(), []
        for t in range(x.shape[0]):
            spk, mem = lif(self.fc(x[t]), mem)
            out.append(spk)
        return torch.stack(out)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(key="$\\notacommand$")
@example(key="_cost $x$")
@given(key=NAME.filter(lambda s: "." not in s))
def test_hostile_layer_names_are_drawn_as_written_in_the_sweep_plot(key):
    import matplotlib.pyplot as plt
    import torch

    x = torch.rand(5, 3, 6) * 2
    result = SpikeProfiler().threshold_sweep(_Named(key), x, layer=f"layers.{key}",
                                             thresholds=[0.05, 0.5, 50.0])
    ax = result.plot()
    try:
        ax.figure.savefig(io.BytesIO(), format="png", dpi=40)
        label = ax.xaxis.get_label()
        assert label.get_text() == f"threshold of layers.{key}"
        assert not label.get_parse_math()
    finally:
        plt.close(ax.figure)
