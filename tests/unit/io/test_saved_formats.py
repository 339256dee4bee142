"""Profiles saved by earlier spikewidget versions keep loading, with the same report.

``tests/data/profile_v2.npz`` was written by the spikewidget of format version 2
(``tests/data/make_profile_v2.py``), ``profile_v2.json`` holds what that version
reported from it: every layer's statistics and every finding, per epoch and phase.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from spikewidget import SpikeProfiler

DATA = Path(__file__).resolve().parents[2] / "data"


def _generator(version: int = 2):
    """The script that wrote ``profile_v{version}`` (its ``figures`` reads a profile)."""
    spec = importlib.util.spec_from_file_location(f"make_profile_v{version}",
                                                  DATA / f"make_profile_v{version}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _as_then(got: dict, expected: dict) -> dict:
    """``got`` without the layer statistics added since ``expected`` was written,
    each of which must be unknown (None) for a file that could not hold it."""
    for key, selection in got.items():
        if not isinstance(selection, dict) or "layer_stats" not in selection:
            continue
        for name, st in selection["layer_stats"].items():
            then = expected[key]["layer_stats"][name]
            added = {k: v for k, v in st.items() if k not in then}
            assert all(v is None for v in added.values()), (key, name, added)
            selection["layer_stats"][name] = {k: v for k, v in st.items() if k in then}
    return got


def test_the_committed_v2_file_is_version_2():
    with np.load(DATA / "profile_v2.npz") as data:
        meta = json.loads(data["meta"].tobytes())
    assert meta["version"] == 2
    assert (DATA / "profile_v2.npz").stat().st_size < 200_000


def test_a_version_2_profile_reports_what_version_2_reported():
    expected = json.loads((DATA / "profile_v2.json").read_text(encoding="utf-8"))
    loaded = SpikeProfiler.load(DATA / "profile_v2.npz")
    got = _as_then(_generator().figures(loaded), expected)
    assert got.keys() == expected.keys()
    for key in expected:  # one selection at a time: a failure names it
        assert got[key] == expected[key], key


def test_a_version_2_profile_saves_again_and_keeps_recording(tmp_path):
    loaded = SpikeProfiler.load(DATA / "profile_v2.npz")
    again = SpikeProfiler.from_bytes(loaded.to_bytes())
    gen = _generator()
    assert gen.figures(again) == gen.figures(loaded)
    loaded.record_step("hidden", np.ones((6, 4, 20), np.float32))  # a new epoch, 4
    now = loaded.report(epoch=loaded.epoch).layer_stats["hidden"]
    assert (now.n_steps, now.total_spikes) == (1, 6 * 4 * 20)
    assert loaded.dropped_epochs == [0, 1]  # max_epochs=3 came back with the file


# ------------------------------------------------------------------- version 3
def test_the_committed_v3_file_is_version_3_and_holds_spike_events():
    with np.load(DATA / "profile_v3.npz") as data:
        meta = json.loads(data["meta"].tobytes())
        held = {k for k in data.files if k.endswith("_spike_events")}
    assert meta["version"] == 3
    graded = {i for i, lay in enumerate(meta["layers"]) if lay["graded"]}
    assert {lay["graded"] for lay in meta["layers"]} == {False, True, "analog"}
    # exactly the layers with values other than 0 and 1 (the count-valued input too)
    assert graded <= {int(k.split("_")[0][len("layer"):]) for k in held}
    assert (DATA / "profile_v3.npz").stat().st_size < 200_000


def test_a_version_3_profile_reports_what_version_3_reported():
    """Graded spikes of 0.005 and 7 counted as events, an analog layer never
    saturated: as the version that wrote the file reported them."""
    expected = json.loads((DATA / "profile_v3.json").read_text(encoding="utf-8"))
    loaded = SpikeProfiler.load(DATA / "profile_v3.npz")
    got = _as_then(_generator(3).figures(loaded), expected)
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key
    last = loaded.report(epoch=loaded.epoch).layer_stats
    assert 0.1 < float(last["graded"].firing_rates.mean()) < 0.3
    assert last["analog"].saturated_neuron_count == 0 and last["analog"].dead_neuron_count == 4
