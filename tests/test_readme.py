"""The README's rule table is the one the code applies."""

from __future__ import annotations

from pathlib import Path

from spikewidget import rule_table_markdown


def test_readme_rule_table_matches_the_rules():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert rule_table_markdown() in readme
    assert "make demo" in readme and "make test" in readme
