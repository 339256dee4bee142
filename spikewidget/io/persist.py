"""Saving and loading a profile: a versioned ``.npz`` with no pickle.

Layout: ``meta`` is UTF-8 JSON (format name, version, thresholds, layers with
their per-epoch scalar statistics, the loss); every per-neuron vector and raster
window is its own array. Floats go through JSON as ``repr`` (exact), so a round
trip reproduces every statistic bit for bit. Other phases (``profiler.phase("eval")``)
are whole profiles of their own, each stored as one array ``phase_<name>``. The file
is written to a temporary name and renamed, so an interrupted save never leaves a
half-written profile.

Loading trusts nothing in the file: :mod:`~spikewidget.io.archive` checks the zip and each
array's header against a byte budget before reading, :mod:`~spikewidget.io.schema` checks every
metadata field's type and range; only :class:`ProfileFormatError` leaves a load.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.arguments import is_path, is_whole
from ..core.errors import InvalidInputError, InvalidTypeError, ProfileFormatError
from ..diagnose.stats import SUMMARY_QUANTILES, EpochSummary
from ..diagnose.thresholds import Thresholds
from ..state.epoch_stats import EpochStats
from ..state.fields import STOOD_IN, saved_parts
from ..state.layer import LayerRecord, host_stats
from ..state.limits import MAX_EPOCH
from ..state.loss import RECENT, LossTracker
from ..state.raster import EPOCH_FRAMES, EPOCH_SNAPSHOTS
from ..state.snapshot import ProfileSnapshot
from .archive import Archive
from .schema import (
    MAX_LOAD_BYTES,
    MAX_META_BYTES,
    MAX_PHASE_DEPTH,
    check_meta,
    planned_bytes,
    vector_names,
)

FORMAT = "spikewidget-profile"
VERSION = 3
"""2 added inter-spike intervals, the voltage's spread over time and its extrema; 3
added per-neuron spike events (``spike_events``, held by layers with values other
than 0 and 1) and requires the fields added since 2 (``since=3`` in the field table)."""
READABLE = (1, 2, 3)
"""Versions this spikewidget reads; an older file's newer statistics read as never
measured (no intervals, spread and extrema unknown; a version-2 file's graded layers
count their spikes by value, as version 2 did)."""


@dataclass
class SavedProfile:
    """What a profile file holds: the recorded state, the thresholds it is judged by
    and its other phases (``"eval"``), each a saved profile of its own."""

    snapshot: ProfileSnapshot
    thresholds: Thresholds
    phases: dict[str, SavedProfile] = field(default_factory=dict)


def save_profile(saved: SavedProfile, path: str | os.PathLike[str]) -> None:
    """Write ``saved`` to ``path`` atomically (the caller holds the recorder's lock)."""
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".spikewidget-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write(saved, fh)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def dump_profile(saved: SavedProfile) -> bytes:
    """The saved form of ``saved`` as bytes (the caller holds the recorder's lock)."""
    buf = io.BytesIO()
    _write(saved, buf)
    return buf.getvalue()


SUMMARY_EXTENT = ("n_samples", "count_samples", "voltage_min", "voltage_max")
"""What a dropped epoch's summary keeps beyond its rates (``since=NEXT``: a file of
version 3 may lack them; its dropped epochs then judge as they did)."""


def summary_extent(summary: Any) -> dict[str, Any]:
    """The :data:`SUMMARY_EXTENT` of an epoch summary, as saved (None: unknown)."""
    return {k: getattr(summary, k) for k in SUMMARY_EXTENT
            if getattr(summary, k) is not None}


def _write(saved: SavedProfile, fh: Any) -> None:
    state = saved.snapshot
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, info in enumerate(state.layers.values()):
        epochs = []
        for e, acc in info.epochs.items():
            scalars, vectors = saved_parts(host_stats(acc))
            arrays.update({f"layer{i}_epoch{e}_{k}": v for k, v in vectors.items()})
            epochs.append({"epoch": e, **scalars})
        snap = info.raster.snapshot()
        arrays[f"layer{i}_raster"] = snap.spikes
        arrays[f"layer{i}_raster_steps"] = snap.steps
        arrays[f"layer{i}_raster_epochs"] = snap.epochs
        per_epoch = info.raster.epoch_snapshots()  # files before them have none
        arrays[f"layer{i}_epoch_raster"] = per_epoch.spikes
        arrays[f"layer{i}_epoch_raster_steps"] = per_epoch.steps
        arrays[f"layer{i}_epoch_raster_epochs"] = per_epoch.epochs
        summaries = []  # epochs max_epochs dropped: what the rules still need
        for e, summary in info.summaries.items():
            arrays[f"layer{i}_summary{e}_rate_q"] = summary.rate_q
            if summary.sample_q is not None:
                arrays[f"layer{i}_summary{e}_sample_q"] = summary.sample_q
            summaries.append({"epoch": e, "max_rate": summary.max_rate,
                              "n_obs": summary.n_obs, **summary_extent(summary)})
        layers.append({"name": info.name, "role": info.role, "graded": info.graded,
                       "summaries": summaries,
                       "neuron_axes": info.neuron_axes,
                       "neuron_shape": list(info.neuron_shape),
                       "steps": info.steps, "last_epoch": info.last_epoch,
                       "epochs": epochs})
    phases = []
    for phase_name, other in saved.phases.items():
        arrays[f"phase_{phase_name}"] = np.frombuffer(dump_profile(other), dtype=np.uint8)
        phases.append(phase_name)
    loss = state.loss
    meta = {
        "format": FORMAT, "version": VERSION,
        "thresholds": saved.thresholds.to_dict(),
        "epoch": state.epoch, "raster_window": state.raster_window,
        "raster_neurons": state.raster_neurons, "max_epochs": state.max_epochs,
        "dropped_epochs": sorted(state.dropped),
        "declared": state.declared, "layers": layers,
        "loss": {"n_classes": loss.n_classes, "count": loss.count,
                 "epochs": [{"epoch": e, "n": s.n, "total": s.total, "min": s.min,
                             "max": s.max, "last": s.last, "nonfinite": s.nonfinite,
                             "first_nonfinite": s.first_nonfinite}
                            for e, s in loss.epochs.items()],
                 "recent": [list(r) for r in loss.recent]},
        "phases": phases,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    np.savez_compressed(fh, **arrays)


def load_profile(path: str | os.PathLike[str], *,
                 max_bytes: int = MAX_LOAD_BYTES) -> SavedProfile:
    """Read a profile; any damage gives a :class:`ProfileFormatError` naming the file
    (a path that cannot be opened raises the usual ``OSError``)."""
    if not is_path(path):
        raise InvalidTypeError(f"load: path must be a file name (str or os.PathLike), "
                               f"got {path!r}")
    name = os.fspath(path)
    with open(name, "rb") as fh:
        return _read(fh, name, _budget(max_bytes))


def read_profile(data: bytes, *, max_bytes: int = MAX_LOAD_BYTES) -> SavedProfile:
    """Inverse of :func:`dump_profile`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProfileFormatError(f"expected the bytes of a profile, got {type(data).__name__}")
    return _read(io.BytesIO(bytes(data)), "<bytes>", _budget(max_bytes))


def _budget(max_bytes: Any) -> int:
    if not is_whole(max_bytes) or max_bytes < 0:
        raise InvalidInputError(f"max_bytes must be a whole number of bytes >= 0, "
                                f"got {max_bytes!r}")
    return int(max_bytes)


def _read(source: Any, name: str, max_bytes: int, depth: int = 0) -> SavedProfile:
    """Only :class:`ProfileFormatError` leaves here, whatever the bytes hold."""
    try:
        archive = Archive(source, name, max_bytes)
        try:
            meta = _read_meta(archive)
            spare = max_bytes - archive.declared_bytes - planned_bytes(meta)
            if spare < 0:
                raise ProfileFormatError(
                    f"{name}: its layers' raster windows ({meta['raster_window']} frames) "
                    f"and arrays need {max_bytes - spare:,} bytes, more than the limit of "
                    f"{max_bytes:,} bytes (pass max_bytes= or --max-bytes to load a larger "
                    f"profile you trust)")
            return _rebuild(archive, meta, spare, depth)
        finally:
            archive.close()
    except ProfileFormatError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise ProfileFormatError(f"{name}: too large or too deeply nested to load "
                                 f"({type(exc).__name__})") from exc
    except Exception as exc:  # any other damage: the file, never the caller, is at fault
        raise ProfileFormatError(
            f"{name}: not a readable spikewidget profile (truncated or corrupted?): "
            f"{type(exc).__name__}: {exc}") from exc


def _read_meta(archive: Archive) -> dict[str, Any]:
    name = archive.name
    if "meta" not in archive.names:
        raise ProfileFormatError(f"{name}: not a spikewidget profile (no 'meta')")
    if archive.size("meta") > MAX_META_BYTES:
        raise ProfileFormatError(f"{name}: metadata of {archive.size('meta'):,} bytes is "
                                 f"over the limit of {MAX_META_BYTES:,}")
    raw = archive.array("meta", np.dtype(np.uint8), (None,), "the metadata")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProfileFormatError(f"{name}: profile metadata is corrupted "
                                 f"({type(exc).__name__}: {str(exc)[:80]})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else "?"
        raise ProfileFormatError(f"{name}: not a spikewidget profile (format "
                                 f"{str(found)[:40]!r})")
    version = meta.get("version")
    if isinstance(version, bool) or version not in READABLE:
        raise ProfileFormatError(
            f"{name}: profile format version {str(version)[:20]} is not supported "
            f"(this spikewidget reads versions {', '.join(map(str, READABLE))})")
    return check_meta(meta, name, version)


def _rebuild(archive: Archive, meta: dict[str, Any], spare: int, depth: int
             ) -> SavedProfile:
    """A saved profile from checked metadata and the archive's arrays, each array
    read only after its dtype and shape matched what the metadata says."""
    name = archive.name
    f8, i8, b1 = np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_)
    thresholds = Thresholds.coerce(meta["thresholds"], Thresholds())
    snap = ProfileSnapshot(meta["raster_window"], meta["raster_neurons"], meta["max_epochs"],
                           declared=meta["declared"], epoch=meta["epoch"],
                           dropped=set(meta["dropped_epochs"]))
    required = vector_names(meta["version"])
    vectors_kept = required + tuple(name for name, _ in STOOD_IN)  # those only where held
    for i, lay in enumerate(meta["layers"]):
        n, label = lay["n_neurons"], f"layer {lay['name']!r}"
        info = LayerRecord(lay["name"], lay["role"], lay["graded"], lay["neuron_axes"],
                           lay["neuron_shape"], None, snap.raster_window, snap.raster_neurons)
        for e, scalars in lay["epochs"].items():
            vectors = {vec: archive.array(f"layer{i}_epoch{e}_{vec}", f8, (n,),
                                          f"{label} epoch {e}: {vec}")
                       for vec in vectors_kept
                       if vec in required or f"layer{i}_epoch{e}_{vec}" in archive.names}
            info.epochs[e] = EpochStats.from_parts(scalars, vectors, meta["version"])
        for key, frames in ((f"layer{i}_epoch_raster", EPOCH_SNAPSHOTS * EPOCH_FRAMES),
                            (f"layer{i}_raster", snap.raster_window)):  # epochs first
            if key not in archive.names:  # files before epoch snapshots have none
                continue
            spikes = archive.array(key, b1, (None, None), f"{label}: {key}",
                                   max_first=frames)
            k = (len(spikes),)
            steps = archive.array(f"{key}_steps", i8, k, f"{label}: {key} steps")
            epochs = archive.array(f"{key}_epochs", i8, k, f"{label}: {key} epochs")
            if (steps < 0).any() or ((epochs < 0) | (epochs > MAX_EPOCH)).any():
                raise ProfileFormatError(f"{name}: {label}: {key} steps or epochs out of "
                                         f"range")
            raster = info.raster.saved(spikes, steps, epochs)
            if raster is None:
                raise ProfileFormatError(f"{name}: {label}: {key} has {spikes.shape[1]} "
                                         f"neurons, not {n} nor the kept sample")
            if key.endswith("epoch_raster"):
                info.raster.restore_epochs(raster)
            else:
                info.raster.restore(raster)
        for summary in lay["summaries"]:  # files before max_epochs have none
            e, key = summary["epoch"], f"layer{i}_summary{summary['epoch']}_"
            q = (None,)
            rate_q = archive.array(key + "rate_q", f8, q, f"{label} summary {e}",
                                   max_first=SUMMARY_QUANTILES)
            sample_q = (archive.array(key + "sample_q", f8, q, f"{label} summary {e}",
                                      max_first=SUMMARY_QUANTILES)
                        if key + "sample_q" in archive.names else None)
            info.summaries[e] = EpochSummary(
                e, rate_q, sample_q, summary["max_rate"], summary["n_obs"],
                **{k: summary[k] for k in SUMMARY_EXTENT if k in summary})
        info.steps = lay["steps"]
        info.last_epoch = lay["last_epoch"]  # the epoch a gradient recorded next joins
        snap.layers[info.name] = info
    loss = meta["loss"]
    tracker = LossTracker(n_classes=loss["n_classes"], count=loss["count"])
    tracker.epochs = loss["epochs"]
    tracker.recent = deque(loss["recent"], maxlen=RECENT)
    snap.loss = tracker
    if meta["phases"] and depth >= MAX_PHASE_DEPTH:
        raise ProfileFormatError(f"{name}: phases nested more than {MAX_PHASE_DEPTH} deep")
    phases = {}
    for phase_name in meta["phases"]:
        raw = archive.array(f"phase_{phase_name}", np.dtype(np.uint8), (None,),
                            f"phase {phase_name!r}")
        phases[phase_name] = _read(io.BytesIO(raw.tobytes()),
                                   f"{name} (phase {phase_name})", spare, depth + 1)
    unread = sorted(archive.unread())
    if unread:  # e.g. a damaged name: the array it was would have read as absent
        shown = ", ".join(repr(k[:40]) for k in unread[:3])
        raise ProfileFormatError(
            f"{name}: {len(unread)} array(s) the metadata does not account for ({shown}"
            f"{', ...' if len(unread) > 3 else ''}); the file is damaged or not written "
            f"by spikewidget")
    return SavedProfile(snap, thresholds, phases)
