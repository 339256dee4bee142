"""The README's rule table is the one the code applies."""

from __future__ import annotations

from pathlib import Path

from spikewidget import rule_table_markdown


def test_readme_rule_table_matches_the_rules():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert rule_table_markdown() in readme
    assert "make demo" in readme and "make test" in readme


def test_readme_framework_example_runs_as_written(capsys):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    marker = "<!-- frameworks: executed by tests/e2e/test_readme.py -->"
    block = readme.split(marker, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "SpikeProfiler Report" in out and "input [input]" in out
    assert "['1', '3']" in out and "['1'] ['3']" in out


def test_readme_limits_are_the_ones_the_code_enforces():
    from spikewidget.io.persist import READABLE, VERSION
    from spikewidget.io.schema import MAX_LOAD_BYTES, MAX_META_BYTES, MAX_PHASE_DEPTH
    from spikewidget.state.limits import MAX_EPOCH, MAX_RASTER_NEURONS, MAX_RASTER_WINDOW

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Guarantees and limits", 1)[1].split("\n## ", 1)[0]
    assert f"version {VERSION}" in section and READABLE == (1, 2, 3)
    assert f"**{MAX_LOAD_BYTES // 2**30} GiB**" in section
    assert f"**{MAX_META_BYTES // 2**20} MiB**" in section
    assert f"at most **{MAX_PHASE_DEPTH}** deep" in section
    assert MAX_EPOCH == 2**31 - 1 and "`2**31 - 1`" in section
    assert f"`raster_window` from 0 to `{MAX_RASTER_WINDOW}` frames" in section
    assert f"`raster_neurons` from 0 to `{MAX_RASTER_NEURONS}`" in section
