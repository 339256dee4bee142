"""Attack with hostile layer names: markup, script, mathtext, terminal control codes,
newlines that fake a finding, bidirectional overrides. They are shown literally and
act on nothing: in the terminal summary (escaped) and in the offline HTML dashboard
opened in Chromium (as text). PNG figures are covered with the figures' tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikewidget import SpikeProfiler
from spikewidget.cli import main
from spikewidget.diagnose.roles import infer_role
from tests.widget_harness import browser_context, have_chromium

HOSTILE = [
    "<img src=x onerror=window.__xss=1>",
    "</script><script>window.__xss=2</script>",
    "<!--",
    "$\\notacommand$",
    "cost $x$",
    "_hidden",
    "a\x1b[2Jb\x1b]0;title\x07",
    "ok\n  [critical] fake_finding @ x: forged",
    "\u202eevil",
    "{{x}} ${x} &amp;",
]


def dead_layers(names: list[str]) -> SpikeProfiler:
    """Every named layer is silent (a critical finding that names it)."""
    p = SpikeProfiler()
    for name in names:
        p.record_step(name, np.zeros((4, 6), np.float32))
    return p


def shown_safely(text: str) -> bool:
    """Nothing but printable characters and newlines."""
    return all(c == "\n" or c.isprintable() for c in text)


def test_hostile_names_in_the_summary_are_escaped_and_add_no_line():
    plain = dead_layers([f"layer{i}" for i in range(len(HOSTILE))]).report().summary()
    text = dead_layers(HOSTILE).report().summary()
    assert shown_safely(text)
    assert len(text.splitlines()) == len(plain.splitlines())
    assert "a\\x1b[2Jb\\x1b]0;title\\x07" in text and "\\u202eevil" in text
    assert not any(line.startswith("  [critical] fake_finding") for line in text.splitlines())
    for name in HOSTILE:
        if name.isprintable():
            assert f"silent_network @ {name}:" in text


control = st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co", "Cs"])


@settings(max_examples=40, deadline=None)
@given(name=st.text(st.one_of(control, st.characters()), min_size=1, max_size=8)
       .filter(lambda s: s != "loss" and infer_role(s) == "hidden"))  # "IN" is the input
def test_any_name_prints_on_its_own_line_with_nothing_a_terminal_acts_on(name):
    text = dead_layers(["first", name]).report().summary()
    plain = dead_layers(["first", "second"]).report().summary()
    assert shown_safely(text)
    assert len(text.splitlines()) == len(plain.splitlines())
    if not name.isprintable():  # escaped: not in any line (the lines' own "\n" aside)
        assert not any(name in line for line in text.split("\n"))


def test_the_command_line_prints_hostile_names_escaped(tmp_path, capsys):
    dead_layers(HOSTILE).save(tmp_path / "hostile.npz")
    assert main(["summary", str(tmp_path / "hostile.npz")]) == 1
    out = capsys.readouterr().out
    assert shown_safely(out) and "\x1b" not in out


@pytest.mark.skipif(not have_chromium(), reason="no /usr/bin/chromium (run `make browser`)")
def test_hostile_names_in_the_offline_dashboard_are_text_in_chromium(tmp_path):
    pytest.importorskip("playwright")
    p = dead_layers(HOSTILE)
    title = "</title><script>window.__xss=3</script>"
    path = p.widget(interval=None).to_html(tmp_path / "hostile.html", title=title)
    with browser_context() as ctx:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_selector(".sw-table")
        assert errors == []
        assert page.evaluate("window.__xss") is None
        assert page.locator("img").count() == 0
        assert page.title() == title
        options = page.eval_on_selector_all(".sw-layer-select option",
                                            "os => os.map(o => o.textContent)")
        assert options == HOSTILE
        shown = page.eval_on_selector_all(".sw-table tbody tr",
                                          "rows => rows.map(r => r.cells[2].textContent)")
        assert set(HOSTILE) <= set(shown)  # each one's finding names it literally
        bars = page.locator(".sw-bars").text_content()
        assert all(name in bars for name in HOSTILE if "\n" not in name)
