"""Saving and loading a profile: a versioned ``.npz`` with no pickle.

Layout: ``meta`` is UTF-8 JSON (format name, version, thresholds, layers with
their per-epoch scalar statistics, the loss); every per-neuron vector and raster
window is its own array. Floats go through JSON as ``repr`` (exact), so a round
trip reproduces every statistic bit for bit. Other phases (``profiler.phase("eval")``)
are whole profiles of their own, each stored as one array ``phase_<name>``. The file
is written to a temporary name and renamed, so an interrupted save never leaves a
half-written profile.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from .epoch_stats import NEW_IN_V2, VECTORS, EpochStats
from .errors import ProfileFormatError
from .loss import RECENT, EpochLoss, LossTracker
from .raster import RASTER_NEURONS
from .stats import EpochSummary
from .thresholds import Thresholds

if TYPE_CHECKING:
    from .profiler import SpikeProfiler

FORMAT = "spikewidget-profile"
VERSION = 2
"""2 added inter-spike intervals, the voltage's spread over time and its extrema."""
READABLE = (1, 2)
"""Versions this spikewidget reads; a version-1 file's newer statistics read as never
measured (no intervals, spread and extrema unknown)."""


def save_profile(profiler: SpikeProfiler, path: str | os.PathLike[str]) -> None:
    """Write ``profiler`` to ``path`` atomically (the caller holds its lock)."""
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".spikewidget-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write(profiler, fh)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def dump_profile(profiler: SpikeProfiler) -> bytes:
    """The saved form of ``profiler`` as bytes (the caller holds its lock)."""
    buf = io.BytesIO()
    _write(profiler, buf)
    return buf.getvalue()


def _write(profiler: SpikeProfiler, fh: Any) -> None:
    from .profiler import _host_stats

    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, info in enumerate(profiler._layers.values()):
        epochs = []
        for e, acc in info.epochs.items():
            host = _host_stats(acc)
            for vec in VECTORS:
                arrays[f"layer{i}_epoch{e}_{vec}"] = getattr(host, vec)
            epochs.append({"epoch": e, **host.scalars()})
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
                              "n_obs": summary.n_obs})
        layers.append({"name": info.name, "role": info.role, "graded": info.graded,
                       "summaries": summaries,
                       "neuron_axes": info.neuron_axes,
                       "neuron_shape": list(info.neuron_shape),
                       "steps": info.steps, "last_epoch": info.last_epoch,
                       "epochs": epochs})
    phases = []
    for phase_name, other in profiler._phases.items():
        with other._lock:
            other._loss.flush()
            arrays[f"phase_{phase_name}"] = np.frombuffer(dump_profile(other), dtype=np.uint8)
        phases.append(phase_name)
    loss = profiler._loss
    meta = {
        "format": FORMAT, "version": VERSION,
        "thresholds": profiler.thresholds.to_dict(),
        "epoch": profiler.epoch, "raster_window": profiler.raster_window,
        "raster_neurons": profiler.raster_neurons, "max_epochs": profiler.max_epochs,
        "dropped_epochs": sorted(profiler._dropped),
        "declared": profiler._declared, "layers": layers,
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


def load_profile(cls: type[SpikeProfiler], path: str | os.PathLike[str]) -> SpikeProfiler:
    """Read a profile; any damage gives a :class:`ProfileFormatError` naming the file."""
    name = os.fspath(path)
    return _read(cls, name, name)


def read_profile(cls: type[SpikeProfiler], data: bytes) -> SpikeProfiler:
    """Inverse of :func:`dump_profile`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProfileFormatError(f"expected the bytes of a profile, got {type(data).__name__}")
    return _read(cls, io.BytesIO(bytes(data)), "<bytes>")


def _read(cls: type[SpikeProfiler], source: Any, name: str) -> SpikeProfiler:
    try:
        with np.load(source, allow_pickle=False) as data:
            if not hasattr(data, "files") or "meta" not in data.files:
                raise ProfileFormatError(f"{name}: not a spikewidget profile (no 'meta')")
            meta = _read_meta(name, data["meta"])
            return _rebuild(cls, name, meta, data)
    except ProfileFormatError:
        raise
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
            TypeError, IndexError, NotImplementedError, RuntimeError) as exc:
        raise ProfileFormatError(
            f"{name}: not a readable spikewidget profile (truncated or corrupted?): "
            f"{type(exc).__name__}: {exc}") from exc


def _read_meta(name: str, raw: np.ndarray) -> dict[str, Any]:
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileFormatError(f"{name}: profile metadata is corrupted ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ProfileFormatError(f"{name}: not a spikewidget profile (format "
                                 f"{meta.get('format') if isinstance(meta, dict) else '?'!r})")
    if meta.get("version") not in READABLE:
        raise ProfileFormatError(
            f"{name}: profile format version {meta.get('version')!r} is not supported "
            f"(this spikewidget reads versions {', '.join(map(str, READABLE))})")
    return meta


def _rebuild(cls: type[SpikeProfiler], name: str, meta: dict[str, Any],
             data: Any) -> SpikeProfiler:
    from .profiler import _Layer

    prof = cls(thresholds=Thresholds.from_dict(meta["thresholds"]),
               raster_window=int(meta["raster_window"]),
               raster_neurons=int(meta.get("raster_neurons", RASTER_NEURONS)),
               max_epochs=meta.get("max_epochs"))
    prof._dropped = {int(e) for e in meta.get("dropped_epochs", [])}
    prof._declared = {k: dict(v) for k, v in meta["declared"].items()}
    for i, lay in enumerate(meta["layers"]):
        shape = tuple(int(d) for d in lay["neuron_shape"])
        info = _Layer(lay["name"], lay["role"], bool(lay["graded"]), int(lay["neuron_axes"]),
                      shape, None, prof.raster_window, prof.raster_neurons)
        for ep in lay["epochs"]:
            e = int(ep["epoch"])
            old = meta["version"] == 1
            vectors = {vec: data[f"layer{i}_epoch{e}_{vec}"] for vec in VECTORS
                       if not (old and vec in NEW_IN_V2)}
            for vec, arr in vectors.items():
                if arr.shape != (info.n_neurons,):
                    raise ProfileFormatError(
                        f"{name}: layer {lay['name']!r} epoch {e} has {vec} of shape "
                        f"{arr.shape} for {info.n_neurons} neurons")
            scalars = {k: v for k, v in ep.items() if k != "epoch"}
            if old:  # extrema never measured
                scalars.update(v_min=float("inf"), v_max=float("-inf"))
            info.epochs[e] = EpochStats.from_parts(scalars, vectors)
        for key in (f"layer{i}_epoch_raster", f"layer{i}_raster"):  # epochs first
            if key not in data.files:  # files before epoch snapshots have none
                continue
            raster = info.raster.saved(data[key], data[f"{key}_steps"], data[f"{key}_epochs"])
            if raster is None:
                raise ProfileFormatError(f"{name}: {key} of layer {lay['name']!r} has "
                                         f"shape {data[key].shape}")
            if key.endswith("epoch_raster"):
                info.raster.restore_epochs(raster)
            else:
                info.raster.restore(raster)
        for summary in lay.get("summaries", []):  # files before max_epochs have none
            e = int(summary["epoch"])
            key = f"layer{i}_summary{e}_"
            info.summaries[e] = EpochSummary(
                e, np.asarray(data[key + "rate_q"], np.float64),
                np.asarray(data[key + "sample_q"], np.float64)
                if key + "sample_q" in data.files else None,
                float(summary["max_rate"]), int(summary["n_obs"]))
        info.steps = int(lay["steps"])
        # the epoch a gradient recorded next belongs to (files before it: the latest)
        info.last_epoch = int(lay.get("last_epoch", max(info.epochs, default=0)))
        prof._layers[info.name] = info
    loss = meta["loss"]
    tracker = LossTracker(n_classes=loss["n_classes"], count=int(loss["count"]))
    for ep in loss["epochs"]:
        tracker.epochs[int(ep["epoch"])] = EpochLoss(
            n=int(ep["n"]), total=ep["total"], min=ep["min"], max=ep["max"],
            last=ep["last"], nonfinite=int(ep["nonfinite"]),
            first_nonfinite=int(ep["first_nonfinite"]))
    tracker.recent = deque((tuple(r) for r in loss["recent"]), maxlen=RECENT)
    prof._loss = tracker
    prof._epoch = int(meta["epoch"])
    for phase_name in meta.get("phases", []):  # files before phases have none
        raw = data[f"phase_{phase_name}"].tobytes()
        prof._phases[phase_name] = _read(cls, io.BytesIO(raw), f"{name} (phase {phase_name})")
    return prof
