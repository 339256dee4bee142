"""`make setup` keeps pip's expected complaint about the --no-deps frameworks to one note,
and still shows every other dependency conflict and pip's exit status."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILTER = ROOT / "requirements" / "pip-filter.awk"
HEADER = ("ERROR: pip's dependency resolver does not currently take into account all the "
          "packages that are installed. This behaviour is the source of the following "
          "dependency conflicts.")

pytestmark = pytest.mark.skipif(shutil.which("awk") is None, reason="no awk")


def run_filter(lines: list[str]) -> list[str]:
    out = subprocess.run(["awk", "-f", str(FILTER)], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_the_expected_conflicts_of_the_no_deps_frameworks_become_one_note():
    out = run_filter(["Collecting tonic", HEADER,
                      "spikingjelly 2.0.0 requires torchvision, which is not installed.",
                      "norse 1.1.0 requires torchvision, which is not installed.",
                      "tonic 1.7.0 requires librosa, which is not installed.",
                      "Successfully installed spikewidget-0.1.0"])
    assert out[:2] == ["Collecting tonic", "Successfully installed spikewidget-0.1.0"]
    assert len(out) == 3 and "ERROR" not in out[2]
    assert "3 requirements" in out[2] and "harmless" in out[2] and "--no-deps" in out[2]


def test_any_other_conflict_is_shown_with_pips_header():
    other = "foo 1.0 requires bar<2, but you have bar 3.0 which is incompatible."
    out = run_filter([HEADER, "spikingjelly 2.0.0 requires torchvision, which is not "
                      "installed.", other])
    assert out[:2] == [HEADER, other]


def test_make_setup_keeps_pips_exit_status_through_the_filter():
    makefile = (ROOT / "Makefile").read_text()
    assert ".SHELLFLAGS := -eo pipefail -c" in makefile
    failed = subprocess.run(["bash", "-eo", "pipefail", "-c",
                             f"(echo oops; exit 3) 2>&1 | awk -f {FILTER}"],
                            capture_output=True, text=True)
    assert failed.returncode == 3 and failed.stdout == "oops\n"
    pip_lines = [line for line in makefile.splitlines() if "$(PIP) install" in line]
    assert pip_lines and all(line.endswith("$(PIP_FILTER)") for line in pip_lines)
