"""Attack on loading: a profile may come from anyone (``spikewidget summary`` on a
colleague's file). Whatever its bytes, ``load``/``from_bytes`` either give back the
profile that was saved or raise :class:`ProfileFormatError`; a profile that loads
never fails later in ``report()``; no file makes them allocate beyond their budget.

The default run takes a few seconds of fuzzing; the ``fuzz`` marker holds the bigger
runs (CI runs them too; ``-m "not fuzz"`` leaves them out).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikewidget import ProfileFormatError, SpikeProfiler
from spikewidget.io.schema import MAX_LOAD_BYTES
from spikewidget.present.payload import PayloadBuilder
from spikewidget.state.fields import VECTORS
from tests.conftest import bernoulli, fingerprint


def real_profile() -> SpikeProfiler:
    """A small profile with everything a file holds: declarations, a graded layer,
    voltages, gradients (one NaN), counts, several epochs, a loss, an eval phase."""
    rng = np.random.default_rng(7)
    p = SpikeProfiler(thresholds={"dead_rate": 0.02}, raster_window=6)
    p.declare_layer("frames", role="input")
    p.declare_layer("sew", graded=True, fan_out=12)
    for epoch in range(2):
        for _ in range(2):
            p.record_step("frames", rng.poisson(1.5, (3, 2, 5)).astype(np.float32))
            g = rng.standard_normal((3, 2, 8))
            g[0, 0, 0] = np.nan if epoch else g[0, 0, 0]
            p.record_step("sew", rng.integers(0, 3, (3, 2, 8)).astype(np.float32),
                          voltages=rng.normal(size=(3, 2, 8)), gradients=g)
            p.record_step("out", bernoulli(rng, (3, 2, 4), 0.5))
            p.record_gradients("out", rng.standard_normal((3, 2, 4)))
            p.record_loss(1.5 - 0.1 * epoch, n_classes=4)
        p.phase("eval").record_step("out", bernoulli(rng, (3, 2, 4), 0.4))
        p.phase("eval").record_loss(1.7)
        p.next_epoch()
    return p


ORIGINAL = real_profile()
RAW = ORIGINAL.to_bytes()
PRINT = fingerprint(ORIGINAL)


def arrays_of(raw: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def packed(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


META = json.loads(arrays_of(RAW)["meta"].tobytes())


def with_meta(meta: object) -> bytes:
    arrays = arrays_of(RAW)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return packed(arrays)


def use_fully(p: SpikeProfiler) -> None:
    """Everything a user does with a loaded profile (none of it may raise)."""
    for e in [None, *p.epochs]:
        p.report(epoch=e).summary()
    for ph in p.phases:
        p.report(phase=ph).summary()
    PayloadBuilder(p).full()
    SpikeProfiler.from_bytes(p.to_bytes())


def loads_as_saved_or_refused(data: bytes) -> None:
    try:
        back = SpikeProfiler.from_bytes(data)
    except ProfileFormatError:
        return
    assert fingerprint(back) == PRINT  # never a silently different profile


# ------------------------------------------------------------- bit flips, cuts
def test_the_real_profile_round_trips_and_is_used_fully():
    back = SpikeProfiler.from_bytes(RAW)
    assert fingerprint(back) == PRINT
    use_fully(back)


BITS = st.integers(0, len(RAW) * 8 - 1)


def flipped(where: int) -> bytes:
    raw = bytearray(RAW)
    raw[where // 8] ^= 1 << (where % 8)
    return bytes(raw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=BITS)
def test_a_flipped_bit_is_refused_or_changes_nothing(where):
    loads_as_saved_or_refused(flipped(where))


def renamed(raw: bytes, old: str, new: str) -> bytes:
    """The profile ``raw`` with its member ``old`` (no ``.npy``) stored as ``new``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            name = info.filename[:-4]
            dst.writestr((new if name == old else name) + ".npy", src.read(info),
                         compress_type=info.compress_type)
    return out.getvalue()


def test_a_damaged_array_name_is_refused_even_where_the_array_is_optional():
    """Rasters, epoch snapshots and summaries may be absent (older files); a damaged
    name must not make one read as absent and the profile load different."""
    with zipfile.ZipFile(io.BytesIO(RAW)) as z:
        names = [i.filename[:-4] for i in z.infolist()]
    optional = [n for n in names if n.endswith(("_raster", "_epoch_raster"))]
    assert optional  # the profile has rasters to damage
    for name in names:
        damaged = name[:-1] + chr(ord(name[-1]) ^ 0x01)  # one flipped bit in the name
        with pytest.raises(ProfileFormatError) as info:
            SpikeProfiler.from_bytes(renamed(RAW, name, damaged))
        if name in optional:
            assert repr(damaged) in str(info.value), (name, str(info.value))


@settings(max_examples=30, deadline=None)
@given(cut=st.integers(0, len(RAW) - 1))
def test_every_truncation_is_refused(cut):
    with pytest.raises(ProfileFormatError):
        SpikeProfiler.from_bytes(RAW[:cut])


@pytest.mark.fuzz
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=BITS)
def test_fuzz_flipped_bits(where):
    loads_as_saved_or_refused(flipped(where))


@pytest.mark.fuzz
def test_fuzz_every_truncation():
    for cut in range(0, len(RAW), 3):
        with pytest.raises(ProfileFormatError):
            SpikeProfiler.from_bytes(RAW[:cut])


# --------------------------------------------------------------- crafted zips
def central_entries(raw: bytes) -> list[int]:
    """Offsets of the zip's central-directory entries."""
    out, i = [], raw.find(b"PK\x01\x02")
    while i >= 0:
        out.append(i)
        i = raw.find(b"PK\x01\x02", i + 4)
    return out


@pytest.mark.parametrize("field,offset,value", [
    ("needs a newer zip version", 6, 99),
    ("encrypted", 8, 1),
    ("unknown compression method", 10, 99),
    ("compression method bzip2 (unusual)", 10, zipfile.ZIP_BZIP2),
])
def test_zip_features_profiles_never_use_are_refused(field, offset, value):
    raw = bytearray(RAW)
    entry = central_entries(RAW)[1]
    if offset == 8:
        raw[entry + offset] |= value
    else:
        raw[entry + offset] = value
    with pytest.raises(ProfileFormatError):
        SpikeProfiler.from_bytes(bytes(raw))


def test_members_that_are_not_npy_arrays_are_refused():
    for content in (b"hello", b"\x93NUMPY\x01\x00" + b"\xff" * 40, b""):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("meta.npy", content)
        with pytest.raises(ProfileFormatError):
            SpikeProfiler.from_bytes(buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf, meta=np.array([{"format": "x"}], dtype=object), allow_pickle=True)
    with pytest.raises(ProfileFormatError, match="Python objects"):
        SpikeProfiler.from_bytes(buf.getvalue())


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


def replaced_member(key: str, content: bytes) -> bytes:
    """The real profile with member ``key`` (no .npy) replaced by raw ``content``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(RAW)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, content if info.filename == f"{key}.npy"
                         else src.read(info))
    return out.getvalue()


@pytest.mark.parametrize("key,shape,descr", [
    ("layer1_epoch0_spike_sum", (10**12,), "<f8"),
    ("layer1_epoch0_spike_sum", (8,), ">f8"),  # right size, foreign byte order
    ("layer1_epoch0_spike_sum", (8,), "<f4"),
    ("layer1_raster", (10**9, 10**9), "|b1"),
    ("layer1_raster", (7, 8), "|b1"),  # more frames than the window of 6
    ("layer1_raster_steps", (10**12,), "<i8"),
    ("meta", (10**12,), "|u1"),
    ("phase_eval", (10**12,), "|u1"),
])
def test_headers_claiming_other_shapes_or_huge_sizes_are_refused_before_allocating(
        key, shape, descr):
    data = replaced_member(key, npy_header(shape, descr) + b"\0" * 64)
    tracemalloc.start()
    try:
        with pytest.raises(ProfileFormatError):
            SpikeProfiler.from_bytes(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def patched_sizes(raw: bytes, sizes: dict[int, int]) -> bytes:
    """``raw`` with the declared uncompressed size of central entry i set to sizes[i]."""
    out = bytearray(raw)
    for i, size in sizes.items():
        entry = central_entries(raw)[i]
        out[entry + 24:entry + 28] = struct.pack("<I", size)
    return bytes(out)


def test_a_deflate_bomb_is_refused_from_its_declared_sizes_at_once():
    """64 MiB of zeros in a 64 kB member, with a budget of 16 MiB; then a directory
    declaring 6 GB against the default budget: both refused without decompressing."""
    zeros = np.zeros(8 * 2**20)  # 64 MiB of float64
    arrays = arrays_of(RAW)
    arrays["layer1_epoch0_spike_sum"] = zeros
    bomb = packed(arrays)
    assert len(bomb) < 300_000
    tracemalloc.start()
    began = time.perf_counter()
    try:
        with pytest.raises(ProfileFormatError, match="declares .* bytes of arrays, more "
                                                     "than the limit"):
            SpikeProfiler.from_bytes(bomb, max_bytes=16 * 2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - began < 0.5 and peak < 8 * 2**20
    huge = patched_sizes(RAW, {1: 3_000_000_000, 2: 3_000_000_000})
    began = time.perf_counter()
    with pytest.raises(ProfileFormatError, match=f"limit of {MAX_LOAD_BYTES:,} bytes"):
        SpikeProfiler.from_bytes(huge)
    assert time.perf_counter() - began < 0.5


def test_a_member_whose_directory_lies_about_its_size_is_refused():
    for i in (1, 2, 5):
        loads = patched_sizes(RAW, {i: 3})
        with pytest.raises(ProfileFormatError):
            SpikeProfiler.from_bytes(loads)


def test_a_large_trusted_profile_loads_with_a_larger_budget():
    with pytest.raises(ProfileFormatError, match="max_bytes="):
        SpikeProfiler.from_bytes(RAW, max_bytes=1000)
    assert fingerprint(SpikeProfiler.from_bytes(RAW, max_bytes=len(RAW) * 100)) == PRINT
    with pytest.raises(ValueError, match="max_bytes must be a whole number"):
        SpikeProfiler.from_bytes(RAW, max_bytes=-1)


def test_layers_whose_raster_window_would_not_fit_the_budget_are_refused():
    meta = copy.deepcopy(META)
    meta["layers"][0]["neuron_shape"] = [10**9]
    with pytest.raises(ProfileFormatError):
        SpikeProfiler.from_bytes(with_meta(meta))
    meta = copy.deepcopy(META)
    meta["raster_window"] = 10**13
    with pytest.raises(ProfileFormatError, match="raster_window"):
        SpikeProfiler.from_bytes(with_meta(meta))


def test_deeply_nested_json_and_huge_numbers_in_json_are_refused():
    for text in (b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
                 b'{"format": "spikewidget-profile", "version": ' + b"9" * 5000 + b"}",
                 b"\xff\xfe not utf-8", b"[1, 2]", b"null"):
        arrays = arrays_of(RAW)
        arrays["meta"] = np.frombuffer(text, dtype=np.uint8)
        with pytest.raises(ProfileFormatError):
            SpikeProfiler.from_bytes(packed(arrays))


def test_phases_nested_in_phases_are_bounded():
    raw = RAW
    for _ in range(4):  # a profile whose eval phase holds a profile whose eval ...
        arrays = arrays_of(RAW)
        arrays["phase_eval"] = np.frombuffer(raw, dtype=np.uint8)
        raw = packed(arrays)
    with pytest.raises(ProfileFormatError, match="nested"):
        SpikeProfiler.from_bytes(raw)


# --------------------------------------------------------- type-confused meta
def paths(obj: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            out += paths(v, (*prefix, i))
    return out


PATHS = paths(META)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.sampled_from([0, 1, -1, 2, 3, 2**31, 2**63, 10**400 // 10**390])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6)
    | st.sampled_from(["loss", "", "hidden", "output", "3", "nan"]),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids,
                                                              max_size=3),
    max_leaves=6)


def mutated(meta: dict, path: tuple, value: object, delete: bool) -> dict:
    meta = copy.deepcopy(meta)
    node = meta
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return meta


def loads_and_works_or_is_refused(data: bytes) -> None:
    try:
        back = SpikeProfiler.from_bytes(data)
    except ProfileFormatError:
        return
    use_fully(back)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=json_values, delete=st.booleans())
def test_any_field_of_any_type_is_refused_at_load_or_works_everywhere(path, value, delete):
    loads_and_works_or_is_refused(with_meta(mutated(META, path, value, delete)))


@pytest.mark.fuzz
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS), json_values, st.booleans()),
                      min_size=1, max_size=4))
def test_fuzz_several_fields_changed_at_once(edits):
    meta = META
    for path, value, delete in edits:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # parent gone
            meta = mutated(meta, path, value, delete)
    loads_and_works_or_is_refused(with_meta(meta))


@pytest.mark.parametrize("path,value,words", [
    (("layers", 0, "epochs", 0, "n_obs"), "5", ["'frames'", "n_obs", "whole number"]),
    (("layers", 0, "epochs", 0, "n_steps"), None, ["n_steps", "None"]),
    (("loss", "recent", 0), [0, 0], ["loss.recent[0]", "[index, epoch, value]"]),
    (("loss", "n_classes"), "4", ["loss.n_classes"]),
    (("layers", 0, "name"), 3, ["layers[0].name", "layer name"]),
    (("layers", 1, "name"), "loss", ["reserved"]),
    (("layers", 1, "name"), "frames", ["'frames' appears twice"]),
    (("declared",), [], ["declared", "an object"]),
    (("declared", "sew", "graded"), "yes", ["graded", "true, false or 'analog'"]),
    (("thresholds", "dead_rate"), 7, ["thresholds", "dead_rate"]),
    (("layers", 0, "neuron_shape"), [5, 0], ["neuron_shape"]),
    (("layers", 0, "last_epoch"), 2**40, ["last_epoch"]),
    (("phases",), ["train"], ["phases[0]"]),
])
def test_crafted_fields_are_refused_naming_the_field(path, value, words):
    with pytest.raises(ProfileFormatError) as info:
        SpikeProfiler.from_bytes(with_meta(mutated(META, path, value, False)))
    for w in words:
        assert w in str(info.value)
    assert "<bytes>" in str(info.value)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=st.integers(0, 2), values=st.lists(
    st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e308, 0.5, 3.0]), min_size=1,
    max_size=8), vec=st.sampled_from(VECTORS))
def test_any_numbers_in_the_per_neuron_arrays_still_report(layer, values, vec):
    arrays = arrays_of(RAW)
    key = f"layer{layer}_epoch1_{vec}"
    v = arrays[key].copy()
    v[:len(values)] = values[:len(v)]
    arrays[key] = v
    loads_and_works_or_is_refused(packed(arrays))


def test_a_file_on_disk_names_itself_and_a_missing_path_is_an_os_error(tmp_path):
    path = tmp_path / "colleague.npz"
    path.write_bytes(patched_sizes(RAW, {1: 3}))
    with pytest.raises(ProfileFormatError, match="colleague.npz"):
        SpikeProfiler.load(path)
    with pytest.raises(FileNotFoundError):
        SpikeProfiler.load(tmp_path / "missing.npz")
    with pytest.raises(IsADirectoryError):
        SpikeProfiler.load(tmp_path)
