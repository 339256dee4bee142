"""The README's rule table is the one the code applies."""

from __future__ import annotations

from pathlib import Path

from spikewidget import rule_table_markdown


def test_readme_rule_table_matches_the_rules():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert rule_table_markdown() in readme
    assert "make demo" in readme and "make test" in readme


def test_readme_framework_example_runs_as_written(capsys):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    marker = "<!-- frameworks: executed by tests/test_readme.py -->"
    block = readme.split(marker, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "SpikeProfiler Report" in out and "input [input]" in out
    assert "['1', '3']" in out and "['1'] ['3']" in out
