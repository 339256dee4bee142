"""Every word a finding says lives in one place: the rule's row in ``rules.RULES``.

The widget formats the same templates (sent in the payload) and holds none of its own,
so a message changed in Python changes in the browser too, and a new rule without a
browser evaluator fails at load (tests/js/rules_contract.test.mjs) instead of vanishing.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from spikewidget.diagnose.causes import FOLLOWS
from spikewidget.diagnose.rules import RULES
from spikewidget.present.payload import FIXED_CATEGORIES, meta

JS_SOURCES = sorted((Path(__file__).resolve().parents[3] / "js" / "src").glob("**/*.js"))
BROWSER_SPECS = re.compile(r"^(?:\.(\d+))?([gef%r])$")  # what js/src/pyformat.js formats


def templates() -> list[tuple[str, str, str]]:
    return [(r.category, key, t) for r in RULES
            for key, t in [*r.messages.items(), *r.fixes.items()]]


@pytest.mark.parametrize(("category", "key", "template"), templates(),
                         ids=[f"{c}.{k}" for c, k, _ in templates()])
def test_no_template_words_are_copied_into_the_browser(category, key, template):
    js = "\n".join(p.read_text() for p in JS_SOURCES)
    for literal, _, _, _ in string.Formatter().parse(template):
        for chunk in re.split(r"[`'\"$]", literal):  # JS quoting would split a copy
            chunk = chunk.strip(" ,.;:()")
            if len(chunk) >= 16:
                assert chunk not in js, f"{category}.{key}: {chunk!r} is copied in js/src"


@pytest.mark.parametrize(("category", "key", "template"), templates(),
                         ids=[f"{c}.{k}" for c, k, _ in templates()])
def test_every_template_is_one_the_browser_can_format(category, key, template):
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        assert re.fullmatch(r"[A-Za-z_]\w*", field), f"{category}.{key}: field {field!r}"
        assert conversion is None, f"{category}.{key}: !{conversion} is not supported"
        assert spec == "" or BROWSER_SPECS.match(spec), f"{category}.{key}: spec {spec!r}"


def test_the_payload_carries_every_rule_its_causes_and_how_the_browser_judges_it():
    m = meta(raster_window=8)
    assert list(m["rules"]) == [r.category for r in RULES] == m["categories"]
    assert {c for c, r in m["rules"].items() if r["browser"] == "fixed"} == FIXED_CATEGORIES
    assert all(r["browser"] in ("rejudged", "fixed") for r in m["rules"].values())
    assert m["follows"] == FOLLOWS
    assert {"non_binary_spikes", "count_valued_input", "non_finite_values",
            "voltage_runaway", "gradient_blocked", "eval_mode_shift"} == FIXED_CATEGORIES
