"""What a saved profile's metadata must hold: every field's type and range, and the
limits a file must stay within to be loaded.

:func:`check_meta` is run on the decoded JSON before anything is built from it, so a
crafted or damaged file is refused at load with a :class:`ProfileFormatError` that
names the file and the field, and a profile that loads never fails later in
``report()``. The per-epoch fields follow the field table
(:data:`spikewidget.state.fields.FIELDS`: each one's type, and the format version
from which a file must hold it) and :class:`EpochLoss`'s dataclass fields, so a
statistic added there is checked here without a second list.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Any, NoReturn

from ..core.errors import ProfileFormatError, SpikeWidgetError
from ..diagnose.roles import ROLES
from ..diagnose.thresholds import Thresholds
from ..state.fields import GRADIENT_HEAD, NEXT, NO_STEP, SAVED_SCALARS, saved_vectors
from ..state.layer import ANALOG, Graded, is_graded
from ..state.limits import MAX_EPOCH, MAX_RASTER_NEURONS, MAX_RASTER_WINDOW, PHASES, RESERVED_NAMES
from ..state.loss import RECENT, EpochLoss
from ..state.raster import RASTER_NEURONS, raster_bytes

MAX_LOAD_BYTES = 4 * 2**30
"""Default limit on what a file may make :meth:`SpikeProfiler.load` allocate: the
declared (uncompressed) sizes of its arrays, and the raster windows its layers reserve
(``raster_window`` frames of one byte per neuron). Checked before anything is
decompressed; ``load(path, max_bytes=...)`` raises it for a large profile you trust."""
MAX_META_BYTES = 32 * 2**20
"""Largest metadata (the JSON of thresholds, layers and per-epoch scalars) read: about
20,000 layer-epochs; parsed, it takes up to some 20 times its size."""
MAX_COUNT = 2**63 - 1
"""Largest step, sample or value count a file may state."""
MAX_PHASE_DEPTH = 2
"""How deeply phases (``profiler.phase("eval")``) may nest inside a file."""
DECLARATIONS = ("role", "watch_role", "graded", "neuron_axes", "fan_out", "threshold",
                "resting_potential", "fed_by", "spike_ceiling")
"""What ``declare_layer`` (and ``watch``) may have said about a layer."""


def check_meta(meta: Any, name: str, version: int) -> dict[str, Any]:
    """The metadata with every field checked and as plain Python numbers; raises
    :class:`ProfileFormatError` naming ``name`` and the first bad field."""
    c = _Checker(name)
    top = c.mapping(meta, "metadata")
    try:
        thresholds = Thresholds.from_dict(c.mapping(c.key(top, "thresholds", "metadata"),
                                                    "thresholds"))
    except SpikeWidgetError as exc:
        raise ProfileFormatError(f"{name}: thresholds: {exc}") from exc
    window = c.whole(c.key(top, "raster_window", "metadata"), "raster_window", 0,
                     MAX_RASTER_WINDOW)
    declared = {}
    for layer, decl in c.mapping(c.key(top, "declared", "metadata"), "declared").items():
        declared[c.layer_name(layer, "declared")] = c.declaration(decl, f"declared[{layer!r}]")
    layers = [c.layer(lay, f"layers[{i}]", version)
              for i, lay in enumerate(c.sequence(c.key(top, "layers", "metadata"), "layers"))]
    names = [lay["name"] for lay in layers]
    twice = sorted(n for n, k in Counter(names).items() if k > 1)
    if twice:
        raise ProfileFormatError(f"{name}: layers: layer {_show(twice[0])} appears twice")
    phases = c.sequence(top.get("phases", []), "phases")
    for i, ph in enumerate(phases):
        if ph not in PHASES[1:] or phases.index(ph) != i:
            c.fail(f"phases[{i}]", f"one distinct name of {PHASES[1:]}", ph)
    kept = c.whole(top.get("raster_neurons", RASTER_NEURONS), "raster_neurons", 0,
                   MAX_RASTER_NEURONS)  # files before the cap kept every neuron: sampled now
    max_epochs = top.get("max_epochs")
    if max_epochs is not None:
        max_epochs = c.whole(max_epochs, "max_epochs", 1, MAX_EPOCH)
    dropped = sorted({c.whole(e, "dropped_epochs", 0, MAX_EPOCH) for e in c.sequence(
        top.get("dropped_epochs", []), "dropped_epochs")})
    return {"thresholds": thresholds, "raster_window": window, "raster_neurons": kept,
            "max_epochs": max_epochs, "dropped_epochs": dropped, "declared": declared,
            "layers": layers, "loss": c.loss(c.key(top, "loss", "metadata")),
            "epoch": c.whole(c.key(top, "epoch", "metadata"), "epoch", 0, MAX_EPOCH),
            "phases": list(phases), "version": version}


def planned_bytes(meta: dict[str, Any]) -> int:
    """What building the checked ``meta`` allocates beyond its arrays: each layer's
    raster store (:func:`spikewidget.state.raster.raster_bytes`: its window and epoch
    snapshots, bits of at most ``raster_neurons`` neurons)."""
    return sum(raster_bytes(meta["raster_window"], min(lay["n_neurons"],
                                                        meta["raster_neurons"]))
               for lay in meta["layers"])


def vector_names(version: int) -> tuple[str, ...]:
    """The per-neuron arrays each layer's epoch has in a file of ``version``."""
    return saved_vectors(version)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


_LOSS_FIELDS = dataclasses.fields(EpochLoss)


class _Checker:
    """Type and range checks that name the file and the field that failed."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, where: str, expected: str, value: Any) -> NoReturn:
        raise ProfileFormatError(f"{self.name}: {where} must be {expected}, got "
                                 f"{_show(value)}")

    def key(self, obj: dict[str, Any], key: str, where: str) -> Any:
        if key not in obj:
            raise ProfileFormatError(f"{self.name}: {where} has no {key!r}")
        return obj[key]

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, "an object", value)
        return value

    def sequence(self, value: Any, where: str, max_len: int | None = None) -> list[Any]:
        if not isinstance(value, list):
            self.fail(where, "a list", value)
        if max_len is not None and len(value) > max_len:
            self.fail(where, f"a list of at most {max_len} entries", f"{len(value)} entries")
        return value

    def whole(self, value: Any, where: str, lo: int, hi: int = MAX_COUNT) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.fail(where, f"a whole number from {lo} to {hi}", value)
        return int(value)

    def real(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(where, "a number", value)
        try:
            return float(value)
        except OverflowError:
            self.fail(where, "a number within float range", value)

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            self.fail(where, "true or false", value)
        return value

    def graded(self, value: Any, where: str) -> Graded:
        if not is_graded(value):
            self.fail(where, f"true, false or {ANALOG!r}", value)
        return value

    def layer_name(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(where, "a non-empty layer name", value)
        if value in RESERVED_NAMES:
            self.fail(where, "a layer name other than the reserved "
                      f"{sorted(RESERVED_NAMES)}", value)
        return value

    def declaration(self, value: Any, where: str) -> dict[str, Any]:
        decl = self.mapping(value, where)
        out: dict[str, Any] = {}
        for key, v in decl.items():
            at = f"{where}.{key}"
            if key in ("role", "watch_role"):
                if v not in ROLES:
                    self.fail(at, f"one of {ROLES}", v)
                out[key] = v
            elif key == "graded":
                out[key] = self.graded(v, at)
            elif key == "neuron_axes":
                out[key] = self.whole(v, at, 1, 64)
            elif key == "fan_out":
                f = self.real(v, at)
                if not (math.isfinite(f) and f > 0):
                    self.fail(at, "a positive number of synapses", v)
                out[key] = f
            elif key == "spike_ceiling":
                f = self.real(v, at)
                if not (math.isfinite(f) and f > 0):
                    self.fail(at, "a positive spike value", v)
                out[key] = f
            elif key in ("threshold", "resting_potential"):
                f = self.real(v, at)
                if not math.isfinite(f):
                    self.fail(at, "a finite potential", v)
                out[key] = f
            elif key == "fed_by":
                names = self.sequence(v, at, 100_000)
                out[key] = sorted({self.layer_name(n, at) for n in names})
            else:
                self.fail(where, f"declarations among {DECLARATIONS}", key)
        return out

    def layer(self, value: Any, where: str, version: int) -> dict[str, Any]:
        lay = self.mapping(value, where)
        name = self.layer_name(self.key(lay, "name", where), f"{where}.name")
        where = f"layer {name!r}"
        role = self.key(lay, "role", where)
        if role not in ROLES:
            self.fail(f"{where}: role", f"one of {ROLES}", role)
        shape = tuple(self.whole(d, f"{where}: neuron_shape", 1) for d in self.sequence(
            self.key(lay, "neuron_shape", where), f"{where}: neuron_shape", 64))
        if not shape:
            self.fail(f"{where}: neuron_shape", "at least one axis", [])
        axes = self.whole(self.key(lay, "neuron_axes", where), f"{where}: neuron_axes", 1, 64)
        if axes != len(shape):
            self.fail(f"{where}: neuron_axes", f"{len(shape)} (the axes of its neuron "
                      f"shape {shape})", axes)
        n = math.prod(shape)
        epochs: dict[int, dict[str, Any]] = {}
        for i, ep in enumerate(self.sequence(self.key(lay, "epochs", where),
                                             f"{where}: epochs")):
            at = f"{where}: epochs[{i}]"
            ep = self.mapping(ep, at)
            e = self.whole(self.key(ep, "epoch", at), f"{at}.epoch", 0, MAX_EPOCH)
            if e in epochs:
                self.fail(f"{at}.epoch", "an epoch not listed before", e)
            epochs[e] = self.epoch_scalars(ep, f"{where}: epoch {e}", n, version)
        last = lay.get("last_epoch", max(epochs, default=0))  # absent before it was saved
        return {"name": name, "role": role,
                "graded": self.graded(self.key(lay, "graded", where), f"{where}: graded"),
                "neuron_axes": axes, "neuron_shape": shape, "n_neurons": n,
                "steps": self.whole(self.key(lay, "steps", where), f"{where}: steps", 0),
                "last_epoch": self.whole(last, f"{where}: last_epoch", 0, MAX_EPOCH),
                "epochs": epochs, "summaries": self.summaries(lay, where, epochs, version)}

    def summaries(self, lay: dict[str, Any], where: str, epochs: dict[int, Any],
                  version: int) -> list[dict[str, Any]]:
        """The summaries of epochs ``max_epochs`` dropped (files before it have none)."""
        out: dict[int, dict[str, Any]] = {}
        for i, sm in enumerate(self.sequence(lay.get("summaries", []),
                                             f"{where}: summaries")):
            at = f"{where}: summaries[{i}]"
            sm = self.mapping(sm, at)
            e = self.whole(self.key(sm, "epoch", at), f"{at}.epoch", 0, MAX_EPOCH)
            if e in out or e in epochs:
                self.fail(f"{at}.epoch", "an epoch with no statistics and no other summary",
                          e)
            out[e] = {"epoch": e, "max_rate": self.real(self.key(sm, "max_rate", at),
                                                        f"{at}.max_rate"),
                      "n_obs": self.whole(self.key(sm, "n_obs", at), f"{at}.n_obs", 0),
                      **self.summary_extent(sm, at, version)}
        return list(out.values())

    def summary_extent(self, sm: dict[str, Any], at: str, version: int) -> dict[str, Any]:
        """A summary's samples and voltage extrema (added while the format was version
        3, ``since=NEXT``: an older file's load as unknown)."""
        out: dict[str, Any] = {}
        for k in ("n_samples", "count_samples"):
            if k in sm or version >= NEXT:
                out[k] = self.whole(self.key(sm, k, at), f"{at}.{k}", 0)
        for k in ("voltage_min", "voltage_max"):
            if k in sm or version >= NEXT:
                out[k] = self.real(self.key(sm, k, at), f"{at}.{k}")
        return out

    def epoch_scalars(self, ep: dict[str, Any], where: str, n: int,
                      version: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in SAVED_SCALARS:  # scalars and lists; the vectors are arrays
            if f.name not in ep:
                if version < f.since:
                    continue  # from_parts supplies its legacy value ("not measured")
                raise ProfileFormatError(f"{self.name}: {where} has no {f.name!r}")
            v, at = ep[f.name], f"{where}: {f.name}"
            if f.kind == "list":
                items = self.sequence(v, at, GRADIENT_HEAD)
                out[f.name] = ([self.whole(x, at, NO_STEP) for x in items] if f.dtype is int
                               else [self.real(x, at) for x in items])
            elif f.dtype is int:
                out[f.name] = self.whole(v, at, NO_STEP if f.initial == NO_STEP else 0)
            else:
                out[f.name] = self.real(v, at)
        if out["n_neurons"] != n:
            self.fail(f"{where}: n_neurons", f"{n} (its neuron shape's size)", out["n_neurons"])
        if len(out.get("g_head", [])) != len(out.get("g_head_steps", [])):
            self.fail(f"{where}: g_head_steps", "one step per g_head entry",
                      out.get("g_head_steps"))
        return out

    def loss(self, value: Any) -> dict[str, Any]:
        loss = self.mapping(value, "loss")
        n_classes = self.key(loss, "n_classes", "loss")
        if n_classes is not None:
            n_classes = self.whole(n_classes, "loss.n_classes", 2)
        epochs: dict[int, EpochLoss] = {}
        for i, ep in enumerate(self.sequence(self.key(loss, "epochs", "loss"), "loss.epochs")):
            at = f"loss.epochs[{i}]"
            ep = self.mapping(ep, at)
            e = self.whole(self.key(ep, "epoch", at), f"{at}.epoch", 0, MAX_EPOCH)
            if e in epochs:
                self.fail(f"{at}.epoch", "an epoch not listed before", e)
            values = {}
            for f in _LOSS_FIELDS:
                v = self.key(ep, f.name, at)
                values[f.name] = (self.real(v, f"{at}.{f.name}") if f.type == "float" else
                                  self.whole(v, f"{at}.{f.name}",
                                             NO_STEP if f.default == NO_STEP else 0))
            epochs[e] = EpochLoss(**values)
        recent = []
        for i, r in enumerate(self.sequence(self.key(loss, "recent", "loss"), "loss.recent",
                                            RECENT)):
            at = f"loss.recent[{i}]"
            if not isinstance(r, list) or len(r) != 3:
                self.fail(at, "[index, epoch, value]", r)
            recent.append((self.whole(r[0], at, 0), self.whole(r[1], at, 0, MAX_EPOCH),
                           self.real(r[2], at)))
        return {"n_classes": n_classes, "epochs": epochs, "recent": recent,
                "count": self.whole(self.key(loss, "count", "loss"), "loss.count", 0)}
