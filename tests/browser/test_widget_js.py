"""The front end's pure functions under node's test runner (tests/js/*.test.mjs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_unit_tests_pass():
    proc = subprocess.run(["node", "--test", "tests/js/"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    summary = [line for line in proc.stdout.splitlines() if line.startswith("# ")]
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert any(line.startswith("# pass") and int(line.split()[-1]) > 5 for line in summary), \
        summary
