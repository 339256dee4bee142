"""The notebooks run top to bottom in a real kernel, are committed without outputs, and
show what their text promises: the quick start's figure, the sweep inside the widget,
and the story's act 4 ending as the README says."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def test_there_are_the_three_notebooks():
    assert [p.stem for p in NOTEBOOKS] == ["debug_journey", "quickstart", "threshold_tuning"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_points_outside_the_repository(path):
    text = path.read_text()
    assert "shared/seeds" not in text
    for link in re.findall(r"\]\(([^)]+\.md)\)", text):
        assert (path.parent / link).resolve().is_file(), link


def text_of(cell) -> str:
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif "data" in o and "text/plain" in o.data:
            parts.append(o.data["text/plain"])
    return "".join(parts)


def widget_states(nb) -> dict[str, dict]:
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return {k: v.get("state", {}) for k, v in state.items()}


def shown_widgets(cell) -> list[str]:
    return [o.data[WIDGET_VIEW]["model_id"] for o in cell.outputs
            if WIDGET_VIEW in o.get("data", {})]


def check_quickstart(nb) -> None:
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert any("image/png" in o.get("data", {}) for o in last.outputs), \
        "the last cell shows the report's figure"


def check_threshold_tuning(nb) -> None:
    code = [c for c in nb.cells if c.cell_type == "code"]
    states = widget_states(nb)
    shown = [m for c in code if "sweep=sweep" in c.source for m in shown_widgets(c)]
    assert shown, "the cell with widget(sweep=...) shows a widget"
    sweeps = states[shown[0]]["_sweeps"]
    assert [s["key"] for s in sweeps] == ["lif1 + lif2"]
    chosen = re.search(r"'lif1 \+ lif2': ([\d.e+-]+)", text_of(code[-1]))
    assert chosen, text_of(code[-1])
    assert float(chosen.group(1)) > 0


def check_debug_journey(nb) -> None:
    act4 = next(c for c in nb.cells if c.cell_type == "code" and "act4 = " in c.source)
    out = text_of(act4)
    accuracy = re.search(r"test accuracy (\d+)%", out)
    assert accuracy and int(accuracy.group(1)) > 80, out  # the README's claim
    assert "No pathologies detected." in out, out
    act1 = next(c for c in nb.cells if c.cell_type == "code" and "act1 = " in c.source)
    for finding in ("count_valued_input @ input", "non_binary_spikes @ lif1",
                    "output_overflow @ lif2"):
        assert finding in text_of(act1)


CHECKS = {"quickstart": check_quickstart, "threshold_tuning": check_threshold_tuning,
          "debug_journey": check_debug_journey}


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the story trains for real; a loaded machine is slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_and_shows_what_it_says(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ,  # the kernel imports this checkout's spikewidget
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    NotebookClient(nb, timeout=3000, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    assert any(shown_widgets(c) for c in nb.cells if c.cell_type == "code"), \
        "each notebook shows the live widget"
    CHECKS[path.stem](nb)
