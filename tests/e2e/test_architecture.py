"""The package's design holds: layers import downwards only (the import-linter
contract in pyproject.toml), no module imports itself through others, every
sub-package is placed in a layer, and ``import spikewidget`` stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for m in sorted(edges):
        if m not in index:
            visit(m)
    return found


def test_no_module_imports_itself_through_others():
    graph = grimp.build_graph("spikewidget")
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert _strongly_connected(edges) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]]


def test_every_sub_package_has_a_layer():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"]
                    if c["type"] == "layers")
    placed = {name.strip() for layer in contract["layers"] for name in layer.split("|")}
    package = ROOT / "spikewidget"
    found = {f"spikewidget.{p.parent.name}" for p in package.glob("*/__init__.py")}
    found |= {f"spikewidget.{p.stem}" for p in package.glob("*.py")
              if p.stem not in ("__init__", "__main__")}
    assert found - placed == set(), "place every package and module in a layer"


def test_importing_spikewidget_pulls_in_no_heavy_or_optional_library():
    code = ("import sys, spikewidget\n"
            "heavy = [m for m in ('torch', 'matplotlib', 'anywidget', 'traitlets')\n"
            "         if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "report = spikewidget.SpikeProfiler().report()\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
