"""Every statistic of :class:`~spikewidget.state.epoch_stats.EpochStats`, declared once.

:data:`FIELDS` is the table. Each row says what a field holds (``kind``, ``dtype``),
its value before anything is recorded (``initial``), how two epochs' or processes'
values combine (``merge``), where the device accumulator keeps it (``place``), and how
saved files hold it (``persisted``, ``since``, ``legacy``). From the table follow:
the :class:`EpochStats` dataclass (its fields and defaults), :func:`merge_fields`
(``EpochStats.merge_into``), the device accumulator's scalar layout
(:data:`DEVICE_SCALARS`, :data:`DEVICE_LISTS` in :mod:`spikewidget.record.reduce_torch`),
what :mod:`spikewidget.io.persist` writes and reads (:func:`saved_parts`,
:func:`loaded_values`) and what :mod:`spikewidget.io.schema` checks. What each step
adds (the arithmetic of recording) is not here: it is the hot path,
:mod:`spikewidget.record.reduce_numpy` and :mod:`~spikewidget.record.reduce_torch`.

Add a statistic: a row here (with ``since`` the next format version if files of the
current one exist without it), its update in both reductions, its use in
:mod:`spikewidget.diagnose.stats`; ``tests/unit/state/test_fields.py`` then checks it is saved,
loaded, merged and laid out on the device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .merges import (
    GRADIENT_HEAD,
    NO_STEP,
    first_step,
    merge_head,
    merge_peak_step,
    merge_trend,
    merge_voltage_moments,
)

Kind = Literal["scalar", "vector", "list"]
Place = Literal["device", "host"]


@dataclass(frozen=True, slots=True)
class Field:
    """One statistic of a layer in one epoch.

    ``kind``: ``"scalar"`` (one number), ``"vector"`` (float64 per neuron, shape
    ``(n_neurons,)``) or ``"list"`` (at most :data:`GRADIENT_HEAD` numbers of
    ``dtype``; ``initial`` fills the device accumulator's unused slots).
    ``merge``: ``"sum"``, ``"min"``, ``"max"``, ``"first_step"`` (the earlier step,
    :data:`NO_STEP` meaning never), ``"keep"`` (equal in both parts), or a group merge
    of :mod:`spikewidget.state.merges` that merges this field together with others.
    ``place``: a scalar the device accumulator holds as a host number known from
    shapes alone (``"host"``), or in its scalar tensor (``"device"``); vectors and
    lists are always tensors there. ``since``: the first saved-format version whose
    files must hold the field; a file of an older version without it loads it as
    ``legacy`` (by default ``initial``) or, when ``legacy_from`` names another field,
    as that field's loaded value. ``persisted=False``: never saved, loads as ``initial``.
    """

    name: str
    kind: Kind
    dtype: type
    initial: float | int
    merge: str | Callable[[Any, Any], None]
    place: Place = "device"
    persisted: bool = True
    since: int = 1
    legacy: float | int | None = None
    legacy_from: str | None = None
    stand_in: str | None = None
    doc: str = ""

    @property
    def annotation(self) -> str:
        """The dataclass annotation (what :mod:`spikewidget.io.schema` checks)."""
        if self.kind == "vector":
            return "np.ndarray" if self.stand_in is None else "np.ndarray | None"
        if self.kind == "list":
            return f"list[{self.dtype.__name__}]"
        return self.dtype.__name__

    @property
    def legacy_value(self) -> float | int | list:
        """What a file without this field loads it as (before ``legacy_from``)."""
        if self.kind == "list":
            return []
        return self.initial if self.legacy is None else self.legacy


INF = math.inf
LATER = 3
"""``since`` of the fields added while the format was version 2: files of version 2
may lack them; the next version requires them."""
NEXT = 4
"""``since`` of the fields added while the format is version 3: files of version 3
may lack them (they load as nothing measured)."""

FIELDS: tuple[Field, ...] = (
    Field("n_neurons", "scalar", int, 0, "keep", "host", doc="neurons of the layer"),
    Field("n_steps", "scalar", int, 0, "sum", "host", doc="record_step calls"),
    Field("n_obs", "scalar", int, 0, "sum", "host",
          doc="observations: time steps x samples"),
    Field("n_samples", "scalar", int, 0, "sum", "host", since=LATER, legacy_from="n_obs",
          doc="samples (rows over the time axis); unknown in old files: each observation"),
    Field("spike_sum", "vector", float, 0.0, "sum", doc="spikes per neuron"),
    Field("spike_events", "vector", float, 0.0, "sum", stand_in="spike_sum",
          doc="spike events per neuron (finite non-zero values), held from a layer's "
              "first value other than 0 and 1: a graded layer's spikes counted"),
    Field("spike_max", "scalar", float, -INF, "max"),
    Field("spike_min", "scalar", float, INF, "min"),
    Field("nonbinary", "scalar", int, 0, "sum", doc="spike values other than 0 and 1"),
    Field("fractional", "scalar", int, 0, "sum", since=LATER, legacy_from="nonbinary",
          doc="spike values that are not whole numbers; old files: every non-binary one "
              "may have been (old analog input is never read as counts)"),
    Field("count_steps", "scalar", int, 0, "sum", "host",
          doc="steps whose per-sample counts were measured"),
    Field("count_samples", "scalar", int, 0, "sum", "host", doc="samples counted"),
    Field("active_samples", "vector", float, 0.0, "sum",
          doc="per neuron: counted samples in which it fired"),
    Field("count_max", "scalar", float, -INF, "max", doc="largest per-sample count"),
    Field("count_min", "scalar", float, INF, "min"),
    Field("v_n", "scalar", int, 0, merge_voltage_moments, doc="finite voltages"),
    Field("v_mean", "scalar", float, 0.0, merge_voltage_moments),
    Field("v_m2", "scalar", float, 0.0, merge_voltage_moments,
          doc="voltages' sum of squared deviations from their mean"),
    Field("g_n", "scalar", int, 0, "sum", doc="finite gradient records"),
    Field("g_sum", "scalar", float, 0.0, "sum", doc="sum of their L2 norms"),
    Field("g_max", "scalar", float, -INF, "max"),
    Field("g_min", "scalar", float, INF, "min"),
    Field("nf_spikes", "scalar", int, 0, "sum", doc="NaN/Inf spike values"),
    Field("nf_voltages", "scalar", int, 0, "sum"),
    Field("nf_gradients", "scalar", int, 0, "sum"),
    Field("first_nf_spikes", "scalar", int, NO_STEP, "first_step"),
    Field("first_nf_voltages", "scalar", int, NO_STEP, "first_step"),
    Field("first_nf_gradients", "scalar", int, NO_STEP, "first_step"),
    Field("g_rms_sum", "scalar", float, 0.0, "sum", since=LATER, legacy=math.nan,
          doc="sum of norm / sqrt(values) (NaN in old files: unmeasured, not 0)"),
    Field("g_max_step", "scalar", int, NO_STEP, merge_peak_step, since=LATER,
          doc="step of the largest norm"),
    Field("g_head", "list", float, NO_STEP, merge_head, since=LATER,
          doc="the first GRADIENT_HEAD norms, ordered by step"),
    Field("g_head_steps", "list", int, NO_STEP, merge_head, since=LATER),
    Field("t_n", "scalar", int, 0, merge_trend, since=LATER,
          doc="records with 0 < norm < inf in the ln(norm)-against-step trend"),
    Field("t_mean_x", "scalar", float, 0.0, merge_trend, since=LATER),
    Field("t_mean_y", "scalar", float, 0.0, merge_trend, since=LATER),
    Field("t_m2x", "scalar", float, 0.0, merge_trend, since=LATER),
    Field("t_m2y", "scalar", float, 0.0, merge_trend, since=LATER),
    Field("t_cxy", "scalar", float, 0.0, merge_trend, since=LATER),
    Field("t_first", "scalar", int, NO_STEP, merge_trend, since=LATER),
    Field("t_last", "scalar", int, NO_STEP, merge_trend, since=LATER),
    Field("nf_input_gradients", "scalar", int, 0, "sum", since=LATER,
          doc="NaN/Inf in the gradient at the layer's input"),
    Field("first_nf_input_gradients", "scalar", int, NO_STEP, "first_step", since=LATER),
    Field("g_in_blocked", "scalar", int, 0, "sum", since=NEXT,
          doc="per record of the gradient at the layer's input: neurons that did not "
              "fire, whose spikes got a gradient and whose input got none (exactly 0 "
              "everywhere), summed"),
    Field("g_in_checked", "scalar", int, 0, "sum", since=NEXT,
          doc="per such record: neurons whose spikes got a gradient, summed"),
    Field("v_min", "scalar", float, INF, "min", since=LATER, doc="finite voltages' extrema"),
    Field("v_max", "scalar", float, -INF, "max", since=LATER),
    Field("isi_n", "vector", float, 0.0, "sum", since=2, doc="inter-spike intervals"),
    Field("isi_sum", "vector", float, 0.0, "sum", since=2),
    Field("isi_sq", "vector", float, 0.0, "sum", since=2),
    Field("vt_m2", "vector", float, 0.0, "sum", since=2,
          doc="voltages' squared deviations from each sequence's mean"),
    Field("vt_dof", "vector", float, 0.0, "sum", since=2),
)
"""The table, in the order of the dataclass's fields (``n_neurons`` first)."""

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
VECTORS: tuple[str, ...] = tuple(f.name for f in FIELDS
                                 if f.kind == "vector" and f.stand_in is None)
"""The per-neuron fields every layer holds (float64 each)."""
STOOD_IN: tuple[tuple[str, str], ...] = tuple((f.name, f.stand_in) for f in FIELDS
                                              if f.stand_in is not None)
"""(field, its stand-in) of the per-neuron fields held only once they differ."""
LISTS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "list")
DEVICE_SCALARS: tuple[str, ...] = tuple(f.name for f in FIELDS
                                        if f.kind == "scalar" and f.place == "device")
"""The scalars the device accumulator keeps in one float64 tensor, in this order;
then :data:`GRADIENT_HEAD` slots for each of :data:`DEVICE_LISTS`."""
HOST_SCALARS: tuple[str, ...] = tuple(f.name for f in FIELDS
                                      if f.kind == "scalar" and f.place == "host")
"""The scalars the device accumulator keeps as host numbers (known from shapes)."""
DEVICE_LISTS: tuple[str, ...] = LISTS
INTEGERS: frozenset[str] = frozenset(f.name for f in FIELDS if f.dtype is int)
GROUP_MERGES: tuple[Callable[[Any, Any], None], ...] = tuple(
    dict.fromkeys(f.merge for f in FIELDS if callable(f.merge)))
"""The group merges, once each, in table order."""
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "sum": lambda a, b: a + b, "min": min, "max": max, "first_step": first_step}
_GENERIC = tuple((f.name, _OPS[f.merge]) for f in FIELDS
                 if f.kind == "scalar" and isinstance(f.merge, str) and f.merge != "keep")
_VECTOR_SUMS = VECTORS


def _check_table() -> None:
    """Refuse at import a table the derivations cannot follow."""
    for f in FIELDS:
        if f.kind not in ("scalar", "vector", "list") or f.dtype not in (int, float):
            raise TypeError(f"field {f.name}: kind {f.kind!r} / dtype {f.dtype!r}")
        if not (callable(f.merge) or f.merge in (*_OPS, "keep")):
            raise TypeError(f"field {f.name}: unknown merge {f.merge!r}")
        if f.kind == "vector" and f.merge != "sum":
            raise TypeError(f"field {f.name}: per-neuron fields merge by sum")
        if f.legacy_from is not None and f.legacy_from not in BY_NAME:
            raise TypeError(f"field {f.name}: legacy_from names no field")
        if f.stand_in is not None and (f.kind != "vector" or f.stand_in not in VECTORS):
            raise TypeError(f"field {f.name}: only a vector stands in for a vector")
    if len(BY_NAME) != len(FIELDS):
        raise TypeError("a field is declared twice")


_check_table()


def defaults(n_neurons: int) -> dict[str, Any]:
    """Every field at its initial value (new arrays and lists)."""
    out: dict[str, Any] = {}
    for f in FIELDS:
        if f.kind == "vector":
            out[f.name] = None if f.stand_in else np.zeros(n_neurons, dtype=np.float64)
        elif f.kind == "list":
            out[f.name] = []
        else:
            out[f.name] = f.initial
    out["n_neurons"] = n_neurons
    return out


def merge_fields(out: Any, other: Any) -> None:
    """Add ``other``'s fields to ``out`` in place, each as the table says: the group
    merges first (they read counts and maxima before those merge), then the vectors
    held only once they differ from their stand-in (before the stand-in merges), then
    each field."""
    for group in GROUP_MERGES:
        group(out, other)
    for name, stand_in in STOOD_IN:
        mine, theirs = getattr(out, name), getattr(other, name)
        if mine is None and theirs is None:
            continue
        if mine is None:
            mine = getattr(out, stand_in).copy()
            setattr(out, name, mine)
        np.add(mine, getattr(other, stand_in) if theirs is None else theirs, out=mine)
    for name in _VECTOR_SUMS:
        mine = getattr(out, name)
        np.add(mine, getattr(other, name), out=mine)
    for name, op in _GENERIC:
        setattr(out, name, op(getattr(out, name), getattr(other, name)))


def copy_fields(stats: Any) -> dict[str, Any]:
    """The fields of ``stats`` with new arrays and lists."""
    out = {}
    for f in FIELDS:
        v = getattr(stats, f.name)
        out[f.name] = (v if v is None else v.copy()) if f.kind == "vector" \
            else list(v) if f.kind == "list" else v
    return out


# ---------------------------------------------------------------------- saved files
SAVED_SCALARS: tuple[Field, ...] = tuple(f for f in FIELDS
                                         if f.persisted and f.kind != "vector")
"""What a file's metadata holds per layer and epoch (JSON numbers and lists)."""


def saved_vectors(version: int) -> tuple[str, ...]:
    """The per-neuron arrays each layer's epoch has in a file of ``version`` (those
    with a stand-in are there only where held: :data:`STOOD_IN`)."""
    return tuple(f.name for f in FIELDS if f.kind == "vector" and f.persisted
                 and f.since <= version and f.stand_in is None)


def saved_parts(stats: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(scalars as plain Python numbers and lists, per-neuron arrays) to save."""
    scalars = {f.name: getattr(stats, f.name) for f in SAVED_SCALARS}
    vectors = {f.name: getattr(stats, f.name) for f in FIELDS
               if f.kind == "vector" and f.persisted and getattr(stats, f.name) is not None}
    return scalars, vectors


def loaded_values(scalars: dict[str, Any], vectors: dict[str, np.ndarray], version: int
                  ) -> dict[str, Any]:
    """The constructor arguments of an epoch saved in a file of ``version``: each field
    from the file, else its legacy value (a vector absent from the file starts at
    zero); raises ``KeyError`` naming the fields a file of ``version`` must have."""
    missing = sorted(f.name for f in SAVED_SCALARS
                     if f.since <= version and f.name not in scalars)
    if missing:
        raise KeyError(f"missing fields {missing}")
    out: dict[str, Any] = {}
    for f in SAVED_SCALARS:
        if f.name in scalars:
            v = scalars[f.name]
            out[f.name] = [f.dtype(x) for x in v] if f.kind == "list" else v
        elif f.legacy_from is None:
            out[f.name] = f.legacy_value
    for f in SAVED_SCALARS:  # after the others: they may name each other
        if f.name not in out:
            out[f.name] = out[f.legacy_from]
    for name, v in vectors.items():
        if v is not None:
            out[name] = np.asarray(v, dtype=np.float64)
    return out


def missing_in(version: int) -> frozenset[str]:
    """The saved fields a file of ``version`` may lack."""
    return frozenset(f.name for f in FIELDS if f.persisted and version < f.since)


__all__ = ["BY_NAME", "DEVICE_LISTS", "DEVICE_SCALARS", "FIELDS", "GRADIENT_HEAD",
           "HOST_SCALARS", "INTEGERS", "NO_STEP", "STOOD_IN", "VECTORS", "Field", "copy_fields",
           "defaults", "loaded_values", "merge_fields", "missing_in", "saved_parts",
           "saved_vectors"]
