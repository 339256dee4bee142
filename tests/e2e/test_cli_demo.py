"""The demo finds the story's bugs; the command line reads saved profiles and gates on them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from spikewidget import SpikeProfiler
from spikewidget.cli import EXIT_CRITICAL, EXIT_ERROR, EXIT_OK, main
from spikewidget.demo.simulated import run_demo


def test_the_demo_names_every_bug_it_planted(tmp_path):
    result = run_demo(steps=4, out_dir=str(tmp_path), verbose=False)
    found = {(p.category, p.layer) for p in result.report.pathologies}
    assert {("non_binary_spikes", "lif1"), ("count_valued_input", "input"),
            ("dead_neurons", "lif_dead"), ("output_overflow", "output"),
            ("non_finite_values", "loss")} <= found
    assert SpikeProfiler.load(result.profile_path).report().summary() == \
        result.report.summary()


def test_python_dash_m_demo_runs_and_prints_the_report(tmp_path):
    out = subprocess.run([sys.executable, "-m", "spikewidget", "demo", "--quick",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "non_binary_spikes @ lif1" in out.stdout
    assert "recording step 12/12" in out.stdout
    assert (tmp_path / "demo-profile.npz").exists()


def test_summary_exit_codes_gate_on_critical_findings(tmp_path, capsys):
    sick, healthy = SpikeProfiler(), SpikeProfiler()
    sick.record_step("hidden", np.zeros((8, 10)))
    rng = np.random.default_rng(0)
    healthy.record_step("hidden", (rng.random((256, 10)) < 0.3).astype(np.float32))
    sick.save(tmp_path / "sick.npz")
    healthy.save(tmp_path / "healthy.npz")
    assert main(["summary", str(tmp_path / "sick.npz")]) == EXIT_CRITICAL
    assert "dead_neurons @ hidden" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "healthy.npz"), "--epoch", "-1"]) == EXIT_OK
    assert "No pathologies detected." in capsys.readouterr().out
    (tmp_path / "junk.npz").write_bytes(b"not a profile")
    assert main(["summary", str(tmp_path / "junk.npz")]) == EXIT_ERROR
    assert "junk.npz" in capsys.readouterr().err
    assert main(["summary", str(tmp_path / "missing.npz")]) == EXIT_ERROR


def test_report_writes_html_and_png(tmp_path, capsys):
    p = SpikeProfiler()
    p.record_step("hidden", np.zeros((8, 10)))
    p.save(tmp_path / "run.npz")
    html, png = tmp_path / "run.html", tmp_path / "run.png"
    code = main(["report", str(tmp_path / "run.npz"), "--html", str(html), "--png", str(png)])
    assert code == EXIT_CRITICAL
    assert "dead_neurons" in html.read_text() and html.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
