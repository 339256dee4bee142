"""The field table is the one place a statistic is declared: every row is recorded on
the host and on the device alike, merges as its row says, and survives save and load
(or loads its legacy value from a file older than it). Each test walks the table, so a
new row is covered without a new test."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from spikewidget import ProfileFormatError, SpikeProfiler
from spikewidget.io.persist import VERSION
from spikewidget.record.reduce_numpy import (
    add_gradients,
    add_input_nonfinite,
    add_input_reach,
    apply_step,
    compute_step,
)
from spikewidget.state.epoch_stats import EpochStats
from spikewidget.state.fields import FIELDS, STOOD_IN, VECTORS, saved_vectors
from spikewidget.state.merges import NO_STEP, first_step

N = 6  # neurons
T, B = 5, 3  # time steps, samples per record


def steps(seed: int = 3) -> list[dict]:
    """Records that move every field off its initial value: fractional and NaN
    spikes, NaN voltages and gradients (each in one step), norms that grow, a NaN in
    a layer's input gradient, neurons whose input got no gradient."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(6):
        x = (rng.random((T * B, N)) < 0.4).astype(np.float64)
        v = rng.standard_normal((T * B, N)) + 0.1 * k
        g = rng.standard_normal((T * B, N)) * 1.7 ** k
        if k == 1:
            x[0, 0] = 0.5
        if k == 2:
            x[1, 1] = np.nan
        if k == 3:
            v[2, 2] = np.nan
        if k == 4:
            g[0, 3] = np.nan
        out.append({"x": x, "v": v, "g": g, "extra": 2.0 * g, "input_nf": int(k == 5),
                    "reach": (k % 3, N - k % 2)})
    return out


def record_host(records: list[dict], first: int = 0) -> EpochStats:
    acc = EpochStats(N)
    for step, r in enumerate(records, start=first):
        apply_step(acc, compute_step(r["x"], r["v"], r["g"], time_steps=T, want_counts=True),
                   step=step)
        add_gradients(acc, r["extra"], step=step)
        add_input_nonfinite(acc, r["input_nf"], step=step)
        add_input_reach(acc, *r["reach"])
    return acc


def record_device(records: list[dict]) -> EpochStats:
    torch = pytest.importorskip("torch")
    from spikewidget.record.reduce_torch import DeviceEpochStats

    acc = DeviceEpochStats(N, torch.device("cpu"))
    for step, r in enumerate(records):
        acc.reduce_step(torch.from_numpy(r["x"]), torch.from_numpy(r["v"]),
                        torch.from_numpy(r["g"]), step=step, time_steps=T, want_counts=True)
        acc.add_gradients(torch.from_numpy(r["extra"]), step=step)
        acc.add_input_nonfinite(torch.tensor(r["input_nf"]), step=step)
        acc.add_input_reach(*(torch.tensor(c) for c in r["reach"]))
    return acc.to_host()


def assert_field_equal(f, got, want, exact: bool) -> None:
    if f.kind == "vector" or (f.kind == "list" and f.dtype is float):
        if exact:
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=f.name)
        else:
            np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float),
                                       rtol=1e-9, atol=1e-12, err_msg=f.name)
    elif f.dtype is float and not exact:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), f.name
    else:
        assert got == want, f.name
        assert type(got) is type(want), f.name


def moved(f, value) -> bool:
    if f.kind == "vector":
        return bool(np.any(value != 0))
    if f.kind == "list":
        return len(value) > 0
    return value != f.initial


def test_the_records_move_every_field_so_the_checks_below_mean_something():
    whole = record_host(steps())
    still = [f.name for f in FIELDS if not moved(f, getattr(whole, f.name))]
    assert not still, f"extend steps() so that these fields are measured: {still}"


def test_a_new_epoch_holds_every_field_at_its_initial_value():
    fresh = EpochStats(N)
    for f in FIELDS:
        value = getattr(fresh, f.name)
        if f.stand_in is not None:
            assert value is None, f.name  # held only once it differs from its stand-in
        elif f.kind == "vector":
            assert value.shape == (N,) and value.dtype == np.float64 and not value.any()
        elif f.kind == "list":
            assert value == []
        elif f.name != "n_neurons":
            assert value == f.initial and type(value) is f.dtype, f.name


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f.name)
def test_the_device_accumulator_records_the_field_as_the_host_does(f):
    records = steps()
    host, device = record_host(records), record_device(records)
    assert_field_equal(f, getattr(device, f.name), getattr(host, f.name), exact=False)


@pytest.mark.parametrize("f", FIELDS, ids=lambda f: f.name)
def test_merging_two_parts_gives_the_field_of_recording_both(f):
    records = steps()
    a, b = record_host(records[:3]), record_host(records[3:], first=3)
    whole = record_host(records)
    for merged in (a.merge(b), b.merge(a)):  # in either order
        assert_field_equal(f, getattr(merged, f.name), getattr(whole, f.name),
                           exact=f.dtype is int)


_OPS = {"sum": lambda a, b: a + b, "min": min, "max": max, "first_step": first_step,
        "keep": lambda a, b: a}


@pytest.mark.parametrize("f", [f for f in FIELDS if isinstance(f.merge, str)],
                         ids=lambda f: f.name)
def test_a_field_with_a_named_op_merges_by_it(f):
    a, b = record_host(steps(3)), record_host(steps(4), first=6)
    merged = a.merge(b)
    want = _OPS[f.merge](getattr(a, f.name), getattr(b, f.name))
    assert_field_equal(f, getattr(merged, f.name), want, exact=True)


# ---------------------------------------------------------------------- saved files
def saved(p: SpikeProfiler, tmp_path, edit=None, drop_arrays=()) -> SpikeProfiler:
    """``p`` saved, its metadata edited by ``edit(meta)``, then loaded."""
    path = tmp_path / "p.npz"
    p.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files
                  if not any(k.endswith(f"_{name}") for name in drop_arrays)}
    meta = json.loads(arrays["meta"].tobytes())
    if edit is not None:
        edit(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return SpikeProfiler.load(path)


def epoch_entry(p: SpikeProfiler) -> tuple[dict, dict[str, np.ndarray]]:
    """What the saved form of ``p`` holds for layer 0, epoch 0."""
    with np.load(io.BytesIO(p.to_bytes())) as data:
        meta = json.loads(data["meta"].tobytes())
        arrays = {k[len("layer0_epoch0_"):]: data[k] for k in data.files
                  if k.startswith("layer0_epoch0_")}
    return meta["layers"][0]["epochs"][0], arrays


def distinctive() -> tuple[dict, dict[str, np.ndarray]]:
    """A value for every saved field that no recording gives by default."""
    scalars, vectors = {}, {}
    for i, f in enumerate(FIELDS):
        if f.kind == "vector":
            vectors[f.name] = np.arange(N) + 0.5 + i
        elif f.kind == "list":
            scalars[f.name] = [3, 4] if f.dtype is int else [1.5, 2.5]
        elif f.name != "n_neurons":
            scalars[f.name] = 5 + i if f.dtype is int else 0.25 + i
    return scalars, vectors


def one_layer() -> SpikeProfiler:
    p = SpikeProfiler()
    p.record_step("h", np.zeros((2, N), np.float32))
    return p


def test_every_saved_field_round_trips_through_a_file(tmp_path):
    scalars, vectors = distinctive()
    path = tmp_path / "v.npz"
    one_layer().save(path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays.update({f"layer0_epoch0_{k}": v for k, v in vectors.items()})
    meta = json.loads(arrays["meta"].tobytes())
    meta["layers"][0]["epochs"][0].update(scalars)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    entry, saved_arrays = epoch_entry(SpikeProfiler.load(path))
    for f in FIELDS:
        if not f.persisted:
            continue
        if f.kind == "vector":
            np.testing.assert_array_equal(saved_arrays[f.name], vectors[f.name])
        elif f.name != "n_neurons":
            assert entry[f.name] == scalars[f.name], f.name


@pytest.mark.parametrize("f", [f for f in FIELDS if f.since > 1 and f.persisted],
                         ids=lambda f: f.name)
def test_a_file_older_than_a_field_loads_its_legacy_value(f, tmp_path):
    p = one_layer()
    before, _ = epoch_entry(p)

    def edit(meta):
        meta["version"] = f.since - 1
        meta["layers"][0]["epochs"][0].pop(f.name, None)

    # a file of that version holds only that version's per-neuron arrays
    newer = [v for v in VECTORS if v not in saved_vectors(f.since - 1)]
    old = saved(p, tmp_path, edit, drop_arrays=(f.name, *newer))
    entry, arrays = epoch_entry(old)
    if f.kind == "vector":
        assert not arrays[f.name].any()
    else:
        legacy = before[f.legacy_from] if f.legacy_from else f.legacy_value
        got = entry[f.name]
        assert got == legacy or (math.isnan(legacy) and math.isnan(got)), f.name
    old.record_step("h", np.ones((2, N), np.float32))  # recording continues


@pytest.mark.parametrize("f", [f for f in FIELDS if f.persisted and f.kind != "vector"
                               and f.since <= VERSION], ids=lambda f: f.name)
def test_a_file_of_this_version_without_a_field_is_refused_naming_it(f, tmp_path):
    def edit(meta):
        assert meta["version"] == VERSION
        del meta["layers"][0]["epochs"][0][f.name]

    with pytest.raises(ProfileFormatError, match=f.name):
        saved(one_layer(), tmp_path, edit)


def test_no_step_is_the_initial_of_every_first_step_field():
    for f in FIELDS:
        if f.merge == "first_step":
            assert f.initial == NO_STEP and f.dtype is int, f.name


@pytest.mark.parametrize("name, stand_in", STOOD_IN)
def test_a_field_with_a_stand_in_is_held_only_once_it_differs_and_then_exactly(
        name, stand_in, tmp_path):
    """Layers whose values stay 0/1 hold no spike events (they are the spike sums) on
    either backend, nor save them; from the first other value they are the count of
    finite non-zero values, earlier binary steps included."""
    binary = [dict(r, x=np.nan_to_num(np.round(r["x"]))) for r in steps()]
    assert getattr(record_host(binary), name) is None
    assert getattr(record_device(binary), name) is None
    p = SpikeProfiler()
    p.record_step("h", binary[0]["x"])
    assert not any(k.endswith(f"_{name}") for k in epoch_entry(p)[1])

    graded = [dict(r, x=r["x"] * 0.005) for r in binary[:3]] + binary[3:]
    want = sum(np.count_nonzero(r["x"], axis=0) for r in graded)
    np.testing.assert_array_equal(getattr(record_host(graded), name), want)
    np.testing.assert_array_equal(getattr(record_device(graded), name), want)
    late = binary[3:] + graded[:3]  # the first graded step comes after binary ones
    np.testing.assert_array_equal(getattr(record_host(late), name), want)
    p.record_step("h", graded[0]["x"])
    _, arrays = epoch_entry(p)
    np.testing.assert_array_equal(
        arrays[name], np.count_nonzero(binary[0]["x"], axis=0)
        + np.count_nonzero(graded[0]["x"], axis=0))
