"""Attack on the command line: a CI job reads exit code 1 as "critical finding", so
every usage, I/O or file error exits 2 with one line on stderr and no traceback,
before any output is written; text a stream cannot encode never crashes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikewidget import SpikeProfiler
from spikewidget.cli import EXIT_CRITICAL, EXIT_ERROR, EXIT_OK, main

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    sick = SpikeProfiler()
    sick.record_step("hidden", np.zeros((8, 10), np.float32))
    sick.save(folder / "sick.npz")
    healthy = SpikeProfiler()
    rng = np.random.default_rng(0)
    healthy.record_step("hidden", (rng.random((256, 10)) < 0.3).astype(np.float32))
    healthy.save(folder / "healthy.npz")
    raw = (folder / "sick.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    (folder / "a-file").write_text("not a folder")
    return folder


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spikewidget: "), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("args,words", [
    (["report", "{d}/sick.npz", "--html", "/nonexistent/x.html"], ["/nonexistent", "folder"]),
    (["report", "{d}/sick.npz", "--html", "{d}"], ["is a folder"]),
    (["report", "{d}/sick.npz", "--html", ""], ["--html needs a file name"]),
    (["report", "{d}/sick.npz", "--png", "/nonexistent/x.png"], ["/nonexistent"]),
    (["report", "{d}/sick.npz", "--png", "{d}/x.jpg"], ["must end in .png", "x.jpg"]),
    (["report", "{d}/sick.npz", "--png", "{d}/x"], ["must end in .png"]),
    (["report", "{d}/truncated.npz"], ["truncated.npz"]),
    (["summary", "{d}/missing.npz"], ["missing.npz"]),
    (["summary", "{d}"], ["Is a directory"]),
    (["summary", "{d}/sick.npz", "--epoch", "5"], ["epoch=5"]),
    (["summary", "{d}/sick.npz", "--epoch", "x"], ["--epoch", "'x'"]),
    (["demo", "--out", "{d}/a-file"], ["a-file", "is a file"]),
    (["summary", "{d}/sick.npz", "--max-bytes", "100"], ["limit of 100 bytes", "--max-bytes"]),
    (["report"], ["profile"]),
    (["nonsense"], ["invalid choice"]),
    ([], ["command"]),
])
def test_usage_and_io_errors_exit_2_with_one_line_before_writing(profiles, capsys, args,
                                                                 words):
    before = sorted(os.listdir(profiles))
    code = main([a.format(d=profiles) for a in args])
    assert code == EXIT_ERROR
    err = one_error_line(capsys)
    for w in words:
        assert w in err
    assert sorted(os.listdir(profiles)) == before  # nothing half-written


def test_findings_still_gate_with_0_and_1(profiles, capsys, tmp_path):
    assert main(["summary", str(profiles / "healthy.npz")]) == EXIT_OK
    assert main(["summary", str(profiles / "healthy.npz"), "--max-bytes", "10000000"]) == 0
    html, png = tmp_path / "r.html", tmp_path / "R.PNG"
    assert main(["report", str(profiles / "sick.npz"), "--html", str(html),
                 "--png", str(png)]) == EXIT_CRITICAL
    out = capsys.readouterr().out
    assert f"PNG written to {png}" in out and png.read_bytes()[:4] == b"\x89PNG"
    assert html.stat().st_size > 10_000


def test_a_bug_inside_exits_2_not_1(profiles, capsys, monkeypatch):
    """An unexpected exception must not read as a critical finding to a CI job."""
    from spikewidget.diagnose.report import Report

    def broken(self) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(Report, "summary", broken)
    assert main(["summary", str(profiles / "sick.npz")]) == EXIT_ERROR
    assert "internal error" in one_error_line(capsys)


@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(where=st.integers(0, 10**9), cut=st.booleans())
def test_any_damaged_file_exits_2_or_reads_as_the_original(profiles, capsys, tmp_path,
                                                           where, cut):
    raw = bytearray((profiles / "sick.npz").read_bytes())
    i = where % len(raw)
    if cut:
        raw = raw[:i]
    else:
        raw[i] ^= 1 << (where % 8)
    path = tmp_path / f"damaged-{where}-{cut}.npz"
    path.write_bytes(bytes(raw))
    code = main(["summary", str(path)])
    captured = capsys.readouterr()
    if code == EXIT_ERROR:
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    else:
        assert code == EXIT_CRITICAL and "dead_neurons @ hidden" in captured.out


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spikewidget", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                          encoding="utf-8", errors="strict")


def test_a_layer_name_a_strict_ascii_stdout_cannot_encode_is_shown_escaped(tmp_path):
    p = SpikeProfiler()
    p.record_step("schicht\u2192\u00fc\U0001f9e0", np.zeros((4, 10), np.float32))
    p.save(tmp_path / "names.npz")
    out = run_cli("summary", str(tmp_path / "names.npz"), PYTHONIOENCODING="ascii:strict")
    assert out.returncode == EXIT_CRITICAL, out.stderr
    assert "Traceback" not in out.stderr
    assert "schicht\\u2192\\xfc\\U0001f9e0" in out.stdout
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes((tmp_path / "names.npz").read_bytes()[:200])
    out = run_cli("report", str(damaged), PYTHONIOENCODING="ascii:strict")
    assert out.returncode == EXIT_ERROR
    assert out.stderr.count("\n") == 1 and "damaged.npz" in out.stderr
