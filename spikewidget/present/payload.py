"""Python → JavaScript data for the widget: what a profiler recorded, as binary arrays.

A *message* is a dict of small JSON values and encoded arrays (:func:`encode_array`:
``{"dtype", "shape", "data": memoryview}``; ipywidgets sends each memoryview as a binary
buffer, never as a JSON list). The first message (``"base": True``) carries everything;
:meth:`PayloadBuilder.update` then carries only what changed: the per-neuron spike counts
of epochs that received steps, new raster frames, the loss when it moved.

The browser re-applies thresholds to these statistics (``js/src/diagnose/rules.js``); it never
recomputes them. Spike counts travel as the smallest unsigned integer type that holds
them exactly, so that ``count / n_obs`` is the same float64 in both languages.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import operator
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..diagnose.causes import CAUSES, FOLLOWS, GONE
from ..diagnose.profile import Profile
from ..diagnose.rules import CATEGORIES, RULES
from ..diagnose.stats import LayerStats
from ..diagnose.thresholds import ORDER, Thresholds
from ..state.raster import RasterSnapshot
from ..sweep.result import HONESTY, SweepResult
from .palette import as_dict as palette_dict

VERSION = 1

def _count_range(st: LayerStats, k: int) -> float:
    return math.nan if st.spike_count_range is None else st.spike_count_range[k]


def _same(name: str) -> Callable[[LayerStats], Any]:
    return operator.attrgetter(name)


WIDGET_SCALARS: dict[str, Callable[[LayerStats], Any]] = {
    "n_steps": _same("n_steps"),
    "n_obs": _same("n_observations"),
    "max_value": _same("max_value"),
    "min_value": _same("min_value"),
    "is_binary": _same("is_binary"),
    "has_count_range": lambda st: st.spike_count_range is not None,
    "count_lo": lambda st: _count_range(st, 0),
    "count_hi": lambda st: _count_range(st, 1),
    "has_voltages": _same("has_voltages"),
    "voltage_mean": _same("voltage_mean"),
    "voltage_std": _same("voltage_std"),
    "gradient_steps": _same("gradient_steps"),
    "gradient_norm_mean": _same("gradient_norm_mean"),
    "gradient_norm_max": _same("gradient_norm_max"),
    "count_samples": _same("count_samples"),
    "n_samples": _same("n_samples"),
    "gradient_norm_baseline": _same("gradient_norm_baseline"),
    "gradient_baseline_records": _same("gradient_baseline_records"),
    "gradient_peak_step": _same("gradient_peak_step"),
    "gradient_growth": _same("gradient_growth"),
    "gradient_growth_per_step": _same("gradient_growth_per_step"),
    "gradient_growth_from": lambda st: st.gradient_growth_steps[0],
    "gradient_growth_to": lambda st: st.gradient_growth_steps[1],
    "gradient_rms_mean": _same("gradient_rms_mean"),
    "gradient_norm_geomean": _same("gradient_norm_geomean"),
    "voltage_max": _same("voltage_max"),
    "threshold": lambda st: math.nan if st.threshold is None else st.threshold,
    "resting_potential": lambda st: (math.nan if st.resting_potential is None
                                     else st.resting_potential),
    "spike_ceiling": lambda st: math.nan if st.spike_ceiling is None else st.spike_ceiling,
}
"""The per-layer scalars the widget reads, each with how it follows from a layer's
:class:`LayerStats` (the judged statistics, not the raw accumulators of
:mod:`spikewidget.state.fields`: the browser re-applies thresholds to these)."""

SCALAR_FIELDS: tuple[str, ...] = tuple(WIDGET_SCALARS)
"""Per layer and epoch, one float64 each (NaN-safe, unlike JSON), in this order; the
names travel with the base message (``scalar_fields``), which the JS reads them by."""

FIXED_CATEGORIES: frozenset[str] = frozenset(
    r.category for r in RULES if r.browser == "fixed")
"""Rules no threshold changes: their findings are sent ready-made."""

ORDER_CONSTRAINTS = ORDER
"""(low, high, strict) pairs that :class:`Thresholds` enforces; the sliders keep them."""

_UINTS = (np.uint8, np.uint16, np.uint32)


# ------------------------------------------------------------------- the codec
def encode_array(a: np.ndarray) -> dict[str, Any]:
    """``{"dtype", "shape", "data"}`` with ``data`` a little-endian memoryview."""
    a = np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        a = a.view(np.uint8)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return {"dtype": a.dtype.name, "shape": list(a.shape), "data": memoryview(a).cast("B")}


def encode_counts(spike_sum: np.ndarray) -> dict[str, Any]:
    """Per-neuron spike sums in the smallest exact dtype (uint8/16/32, else float64)."""
    s = np.asarray(spike_sum, dtype=np.float64)
    if s.size and np.all(np.isfinite(s)):
        lo, hi = float(s.min()), float(s.max())
        if lo >= 0 and np.array_equal(s, np.floor(s)):
            for t in _UINTS:
                if hi <= np.iinfo(t).max:
                    return encode_array(s.astype(t))
    return encode_array(s)


def decode_array(enc: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array` (also accepts ``{"b64": ...}`` data)."""
    data = enc["data"]
    raw = base64.b64decode(data["b64"]) if isinstance(data, dict) else bytes(data)
    dtype = np.dtype(enc["dtype"]).newbyteorder("<")
    return np.frombuffer(raw, dtype=dtype).reshape(enc["shape"])


def to_jsonable(msg: Any) -> Any:
    """A copy with every memoryview as ``{"b64": ...}`` and non-finite floats as None."""
    if isinstance(msg, dict):
        return {k: to_jsonable(v) for k, v in msg.items()}
    if isinstance(msg, (list, tuple)):
        return [to_jsonable(v) for v in msg]
    if isinstance(msg, (memoryview, bytes, bytearray)):
        return {"b64": base64.b64encode(bytes(msg)).decode("ascii")}
    if isinstance(msg, float) and not math.isfinite(msg):
        return None
    return msg


def message_bytes(msg: Any) -> int:
    """Bytes a message costs on the wire: its binary buffers plus its JSON."""
    buffers = 0

    def strip(v: Any) -> Any:
        nonlocal buffers
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [strip(x) for x in v]
        if isinstance(v, (memoryview, bytes, bytearray)):
            buffers += memoryview(v).nbytes
            return None
        return v

    text = json.dumps(strip(msg))
    return buffers + len(text)


# ------------------------------------------------------------------ the pieces
def layer_scalars(st: LayerStats) -> np.ndarray:
    """The :data:`SCALAR_FIELDS` of one layer, as float64."""
    return np.array([float(get(st)) for get in WIDGET_SCALARS.values()], dtype=np.float64)


def finding_dict(p: Any) -> dict[str, Any]:
    """A :class:`Pathology` as the table shows it (``metric_value`` left out)."""
    return {"severity": p.severity.value, "category": p.category, "layer": p.layer,
            "message": p.message, "fix": p.suggestion, "epoch": p.epoch, "step": p.step,
            "cause": p.cause}


def pack_raster(layer: int, snap: RasterSnapshot, after_step: int | None) -> dict | None:
    """The frames of ``snap`` newer than ``after_step`` (all if None), bits packed.

    ``reset`` tells the browser to drop what it holds (the frames do not continue it).
    Returns None when there is nothing new.
    """
    steps = snap.steps
    if len(steps) == 0:
        return None
    reset = after_step is None or int(steps[0]) > after_step + 1 or int(steps[-1]) < after_step
    keep = slice(None) if reset else steps > after_step
    spikes = snap.spikes[keep]
    if len(spikes) == 0:
        return None
    bits = np.packbits(spikes, axis=1, bitorder="little")
    return {"layer": layer, "n": int(snap.spikes.shape[1]), "reset": bool(reset),
            "bits": encode_array(bits), "steps": encode_array(steps[keep].astype(np.int32)),
            "epochs": encode_array(snap.epochs[keep].astype(np.int32)), **_kept(snap)}


def pack_epoch_raster(layer: int, epoch: int, snap: RasterSnapshot) -> dict[str, Any]:
    """The kept frames of one epoch (its last ones), bits packed, for scrubbing to an
    epoch that has left the window."""
    return {"layer": layer, "epoch": int(epoch), "n": int(snap.spikes.shape[1]),
            "bits": encode_array(np.packbits(snap.spikes, axis=1, bitorder="little")),
            "steps": encode_array(snap.steps.astype(np.int32)), **_kept(snap)}


def _kept(snap: RasterSnapshot) -> dict[str, Any]:
    """Which neurons a raster's columns are, when they are a sample of a bigger layer
    (flat indices, ascending); nothing when they are every neuron."""
    neurons = np.asarray(snap.neurons)
    if np.array_equal(neurons, np.arange(len(neurons))):
        return {}
    return {"neurons": encode_array(neurons.astype(np.int32))}


def layer_entry(st: LayerStats, index: int) -> dict[str, Any]:
    """One layer of a report as the browser's rules read it: per-neuron spike sums,
    per-sample activity (output layers), the layers feeding it (None: unknown) and the
    :data:`SCALAR_FIELDS`."""
    return {"index": index, "role": st.role, "graded": st.graded,
            "fed_by": None if st.fed_by is None else list(st.fed_by),
            "counts": encode_counts(st.per_neuron_spikes),
            # output layers: in how many samples each neuron fired (dead rule)
            "activity": (None if st.active_samples is None
                         else encode_counts(st.active_samples)),
            # per neuron, the voltage's std over time (voltage collapse rule)
            "time_std": (None if st.voltage_time_std is None or not st.has_voltages
                         else encode_array(st.voltage_time_std)),
            # graded layers with a known ceiling: per neuron, the share of it emitted
            "fullness": (None if st.ceiling_fullness is None
                         else encode_array(np.asarray(st.ceiling_fullness, np.float64))),
            "scalars": encode_array(layer_scalars(st))}


def report_chunk(rep: Any, index_of: Callable[[LayerStats], int]) -> dict[str, Any]:
    """``{"layers", "fixed"}`` of a :class:`Report`: every layer (``index_of`` gives
    its place in the message's layer list) and the findings no threshold changes."""
    layers = [layer_entry(st, index_of(st)) for st in rep.layer_stats.values()]
    fixed = [finding_dict(p) for p in rep.pathologies if p.category in FIXED_CATEGORIES]
    return {"layers": layers, "fixed": fixed}


def sweep_message(result: SweepResult, key: str, raster_window: int = 0) -> dict[str, Any]:
    """A :class:`~spikewidget.sweep.result.SweepResult` for the browser's sweep slider.

    Per candidate threshold: its report encoded as a chunk (:func:`report_chunk`, the
    same per-layer arrays as a recorded epoch), so the browser re-judges it under the
    rule sliders; plus the grid, its ``scale`` (``"log"`` or ``"linear"``: how the
    slider matches a threshold to a grid point), ``best``, ``recommended`` and why.
    ``key`` names the sweep (its swept layers joined by " + "). ``where`` is what the predicted
    table's "Where" column says of a candidate's findings (its batch and threshold).
    """
    layers: list[dict[str, Any]] = []
    index: dict[str, int] = {}

    def index_of(st: LayerStats) -> int:
        if st.name not in index:
            index[st.name] = len(layers)
            layers.append({"name": st.name, "n_neurons": st.n_neurons,
                           "shape": list(st.neuron_shape)})
        return index[st.name]

    candidates = [{"threshold": float(r.threshold), "verdict": r.verdict,
                   "refined": r.refined, "where": r.where,
                   **report_chunk(r.report, index_of)} for r in result.rows]
    rec = result.recommended
    return {"v": VERSION, "key": key, "swept": list(result.layers),
            "original": float(result.original_threshold),
            "grid": encode_array(np.array(result.thresholds, dtype=np.float64)),
            "scale": result.scale,
            "best": None if result.best is None else float(result.best),
            "recommended": None if rec is None else [float(rec[0]), float(rec[1])],
            "reason": result.reason, "note": HONESTY,
            "meta": meta(raster_window, palette=False),  # the widget's own palette serves
            "layers": layers, "candidates": candidates}


def rule_texts() -> dict[str, dict[str, Any]]:
    """Each rule's templates and how the browser evaluates it (``js/src/diagnose/rules.js``
    formats these; it holds no words of its own)."""
    return {r.category: {"messages": dict(r.messages), "fixes": dict(r.fixes),
                         "browser": r.browser, "constants": dict(r.constants)}
            for r in RULES}


def meta(raster_window: int, max_epochs: int | None = None,
         dropped_epochs: Iterable[int] = (), *, palette: bool = True) -> dict[str, Any]:
    """What never changes while a widget lives: slider specs, rules, constants; which
    epochs ``max_epochs`` dropped (a change sends a new base); and the palette
    (:mod:`spikewidget.present.palette`, the one source of the widget's colours)."""
    return {
        "max_epochs": max_epochs, "dropped_epochs": [int(e) for e in dropped_epochs],
        "sliders": Thresholds.slider_specs(),
        "order": [list(c) for c in ORDER_CONSTRAINTS],
        "categories": list(CATEGORIES),
        "rules": rule_texts(),
        "causes": {effect: [list(c) for c in causes] for effect, causes in CAUSES.items()},
        "follows": FOLLOWS,
        "gone": list(GONE),
        "scalar_fields": list(SCALAR_FIELDS),
        "raster_window": raster_window,
        **({"palette": palette_dict()} if palette else {}),
    }


# ----------------------------------------------------------------- the builder
class PayloadBuilder:
    """Turns a :class:`SpikeProfiler` into a first full message, then into updates.

    Only the public API of the profiler is used (``layers``, ``epochs``,
    ``report(epoch=...)``, ``raster(layer)``). Not thread-safe: one caller at a time.
    """

    def __init__(self, profiler: Profile) -> None:
        self.profiler = profiler
        self.seq = 0
        self._layers: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}
        self._epoch_sig: dict[int, tuple] = {}
        self._latest: int | None = None
        self._loss_sig: tuple | None = None
        self._raster_step: dict[str, int] = {}
        self._version: int | None = None  # the profiler's version at the last message
        self._raster_seen: dict[str, int | None] = {}  # version when a raster was last sent
        self._epoch_raster_sig: dict[str, dict[int, tuple]] = {}  # what was sent per epoch
        self._dropped: list[int] = []  # the profiler's dropped epochs at the last base

    # -- public -----------------------------------------------------------------
    def full(self, raster_layers: Iterable[str] | None = None) -> dict[str, Any]:
        """Everything (``"base": True``); rasters of ``raster_layers`` (default all)."""
        with self._snapshot():
            return self._full(raster_layers)

    def update(self, raster_layers: Iterable[str] = ()) -> dict[str, Any] | None:
        """What changed since the last message, or None if nothing did.

        Returns a full message instead when the profiler was reset. Its reads form one
        snapshot: a reset by another thread comes before or after, never between.
        """
        with self._snapshot():
            return self._update(raster_layers)

    def _snapshot(self) -> Any:
        consistent = getattr(self.profiler, "consistent", None)
        return consistent() if consistent is not None else contextlib.nullcontext()

    def _full(self, raster_layers: Iterable[str] | None = None) -> dict[str, Any]:
        self._version = getattr(self.profiler, "version", None)
        self._layers, self._index = [], {}
        self._epoch_sig, self._raster_step, self._loss_sig = {}, {}, None
        self._raster_seen, self._epoch_raster_sig = {}, {}
        self._dropped = list(getattr(self.profiler, "dropped_epochs", []))
        epochs = self.profiler.epochs
        chunks = [c for c in (self._chunk(e) for e in epochs) if c is not None]
        self._latest = epochs[-1] if epochs else None
        names = self.profiler.layers if raster_layers is None else list(raster_layers)
        self.seq += 1
        return {"base": True, "v": VERSION, "seq": self.seq, "prev": None,
                "meta": meta(getattr(self.profiler, "raster_window", 0),
                             getattr(self.profiler, "max_epochs", None), self._dropped),
                "layers": list(self._layers), "epochs": epochs, "chunks": chunks,
                "loss": self._loss(force=True), "raster": self._rasters(names),
                "epoch_raster": self._epoch_rasters(names)}

    def _update(self, raster_layers: Iterable[str] = ()) -> dict[str, Any] | None:
        version = getattr(self.profiler, "version", None)
        wanted = list(raster_layers)
        if version is not None and version == self._version and all(
                self._raster_seen.get(n, -1) == version for n in wanted):
            return None  # nothing recorded since: no report needs building
        self._version = version
        raster_layers = wanted
        names = self.profiler.layers
        known = [d["name"] for d in self._layers]
        epochs = self.profiler.epochs
        if names[:len(known)] != known or any(e not in epochs for e in self._epoch_sig) \
                or getattr(self.profiler, "dropped_epochs", []) != self._dropped:
            return self._full(raster_layers)
        todo = {e for e in epochs if e not in self._epoch_sig}
        if epochs:
            todo.add(epochs[-1])
        if self._latest is not None and self._latest in epochs:
            todo.add(self._latest)
        n_layers = len(self._layers)
        chunks = [c for c in (self._chunk(e) for e in sorted(todo)) if c is not None]
        for name in names:  # recorded only into an epoch we did not look at
            if name not in self._index:
                self._add_layer(self.profiler.report(epoch="all", layers=[name])
                                .layer_stats[name])
        self._latest = epochs[-1] if epochs else None
        loss = self._loss(force=False)
        rasters = self._rasters(raster_layers)
        kept = self._epoch_rasters(raster_layers)
        if not chunks and loss is None and not rasters and not kept \
                and n_layers == len(self._layers):
            return None
        prev, self.seq = self.seq, self.seq + 1
        msg: dict[str, Any] = {"base": False, "v": VERSION, "seq": self.seq, "prev": prev,
                               "epochs": epochs, "chunks": chunks, "raster": rasters}
        if kept:
            msg["epoch_raster"] = kept
        if n_layers != len(self._layers):
            msg["layers"] = list(self._layers)
        if loss is not None:
            msg["loss"] = loss
        return msg

    # -- pieces -----------------------------------------------------------------
    def _add_layer(self, st: LayerStats) -> int:
        if st.name not in self._index:
            self._index[st.name] = len(self._layers)
            self._layers.append({"name": st.name, "n_neurons": st.n_neurons,
                                 "shape": list(st.neuron_shape)})
        return self._index[st.name]

    def _chunk(self, epoch: int) -> dict[str, Any] | None:
        rep = self.profiler.report(epoch=epoch)
        sig = tuple((name, st.n_steps) for name, st in rep.layer_stats.items())
        loss_n = rep.loss.count if rep.loss is not None else 0
        sig = (*sig, ("loss", loss_n))
        if self._epoch_sig.get(epoch) == sig:
            return None
        self._epoch_sig[epoch] = sig
        return {"epoch": epoch, **report_chunk(rep, self._add_layer)}

    def _loss(self, *, force: bool) -> dict[str, Any] | None:
        loss = self.profiler.report(epoch="all", layers=[]).loss
        if loss is None:
            sig: tuple = (0, None)
        else:
            sig = (loss.count, loss.n_classes, len(loss.recent),
                   float(loss.recent[-1]) if len(loss.recent) else None)
        if sig == self._loss_sig and not force:
            return None
        self._loss_sig = sig
        if loss is None:
            empty = encode_array(np.zeros(0))
            return {"n_classes": None, "chance": None,
                    "epochs": encode_array(np.zeros(0, np.int32)), "means": empty,
                    "counts": empty, "maxes": empty, "nonfinite": empty, "recent": empty,
                    "recent_epochs": encode_array(np.zeros(0, np.int32))}
        eps = sorted(loss.epoch_means)
        extent = [loss.epoch_extent[e] for e in eps]
        return {"n_classes": loss.n_classes, "chance": loss.chance_level,
                "epochs": encode_array(np.array(eps, dtype=np.int32)),
                "means": encode_array(np.array([loss.epoch_means[e] for e in eps],
                                               dtype=np.float64)),
                # per epoch, what the overflow rule says of the recorded loss
                "counts": encode_array(np.array([x[0] for x in extent], np.float64)),
                "maxes": encode_array(np.array([x[1] for x in extent], np.float64)),
                "nonfinite": encode_array(np.array([x[2] for x in extent], np.float64)),
                "recent": encode_array(np.asarray(loss.recent, dtype=np.float64)),
                "recent_epochs": encode_array(np.asarray(loss.recent_epochs, np.int32))}

    def _epoch_rasters(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """The kept frames of each epoch of ``names`` that changed since last sent,
        where the window holds fewer frames of that epoch than its snapshot."""
        out = []
        source = getattr(self.profiler, "epoch_rasters", None)
        if source is None:
            return out
        for name in names:
            if name not in self._index:
                continue
            sent = self._epoch_raster_sig.setdefault(name, {})
            window = self.profiler.raster(name).epochs
            for epoch, snap in source(name).items():
                sig = (len(snap.steps), int(snap.steps[-1]) if len(snap.steps) else -1)
                if np.count_nonzero(window == epoch) >= len(snap.steps):
                    continue  # the window shows as much of this epoch (sent when it leaves)
                if sent.get(epoch) != sig:
                    sent[epoch] = sig
                    out.append(pack_epoch_raster(self._index[name], epoch, snap))
        return out

    def _rasters(self, names: Iterable[str]) -> list[dict[str, Any]]:
        out = []
        for name in names:
            if name not in self._index:
                continue
            snap = self.profiler.raster(name)
            self._raster_seen[name] = self._version
            packed = pack_raster(self._index[name], snap, self._raster_step.get(name))
            if packed is not None:
                out.append(packed)
                self._raster_step[name] = int(snap.steps[-1])
        return out
