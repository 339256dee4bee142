"""A report from a profile's snapshot: merge the chosen epochs, resolve the output
layers, run the rules and find the epoch where each finding first appears."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..core.errors import InvalidInputError, InvalidTypeError, UnknownLayerError
from ..state.epoch_stats import merge_all
from ..state.layer import LayerRecord, host_stats
from ..state.limits import check_epoch
from ..state.snapshot import ProfileSnapshot
from .pathology import Pathology
from .report import Report
from .roles import output_names, role_known
from .rules import diagnose
from .stats import (
    EpochHealth,
    LayerStats,
    LossStats,
    VersusTraining,
    epoch_health,
    judge_by_samples,
    layer_stats,
    loss_stats,
    spike_counts,
)
from .thresholds import Thresholds

Reference = Mapping[str, Mapping[int, tuple[float, int]]]
"""Per layer and epoch, what the training passes fired: ``(spikes, observations x
neurons)`` (see :func:`training_reference`)."""


def judge(snap: ProfileSnapshot, th: Thresholds, *, epoch: Any = None,
          layers: str | Iterable[str] | None = None,
          reference: Reference | None = None) -> Report:
    """Diagnose ``snap`` under ``th`` (hold the recorder's lock while this reads a
    live snapshot). ``epoch`` and ``layers`` as :meth:`SpikeProfiler.report` takes
    them; ``reference``: the training passes, when ``snap`` is another phase's (each
    layer's ``versus_training`` is then filled in)."""
    selected = select_epochs(epoch, snap.recorded_epochs())
    names = select_layers(layers, list(snap.layers))
    stats, loss = statistics(snap, selected, names, th, reference=reference)
    found = diagnose(stats, loss, th)
    found = _locate_first_epochs(snap, found, selected, names, th, reference)
    dropped = tuple(e for e in selected if e in snap.dropped)
    return Report({s.name: s for s in stats}, found, th, tuple(selected), loss,
                  dropped_epochs=dropped, max_epochs=snap.max_epochs)


def select_epochs(epoch: Any, recorded: list[int]) -> list[int]:
    """The epochs ``epoch`` names among ``recorded`` (see :meth:`SpikeProfiler.report`)."""
    if epoch is None or (isinstance(epoch, str) and epoch == "all"):
        return recorded
    if isinstance(epoch, str) and epoch == "latest":
        return recorded[-1:]
    if getattr(epoch, "ndim", None) == 0:  # a 0-d array or tensor holds one epoch
        epoch = epoch.item()
        if isinstance(epoch, float) and epoch.is_integer():
            epoch = int(epoch)
    if isinstance(epoch, (int, np.integer)) and not isinstance(epoch, bool):
        e = int(epoch)
        if e < 0:
            if -e > len(recorded):
                raise InvalidInputError(
                    f"epoch={e}: only {len(recorded)} epochs were recorded: {recorded}")
            return [recorded[e]]
        if e not in recorded:
            raise InvalidInputError(
                f"epoch={e} was not recorded; recorded epochs: {recorded}")
        return [e]
    if isinstance(epoch, str) or not isinstance(epoch, Iterable):
        raise InvalidTypeError(
            f"epoch must be an int, 'latest', 'all', None or an iterable of ints, "
            f"got {epoch!r}")
    chosen = sorted({check_epoch(e) for e in epoch})
    missing = [e for e in chosen if e not in recorded]
    if missing or not chosen:
        raise InvalidInputError(
            f"epoch={epoch!r}: epochs {missing or '(none)'} were not recorded; "
            f"recorded epochs: {recorded}")
    return chosen


def select_layers(layers: str | Iterable[str] | None, recorded: list[str]) -> list[str]:
    """The recorded layers ``layers`` names, in recording order (all for None)."""
    if layers is None:
        return list(recorded)
    if isinstance(layers, (bytes, bytearray)) or not isinstance(layers, (str, Iterable)):
        raise InvalidTypeError(f"layers must be a layer name or an iterable of names, "
                               f"got {type(layers).__name__} {layers!r}")
    wanted = [layers] if isinstance(layers, str) else list(layers)
    for name in wanted:
        if not isinstance(name, str):
            raise InvalidTypeError(f"layers: each must be a layer name (a str), got "
                                   f"{type(name).__name__} {name!r}")
        if name not in recorded:
            raise UnknownLayerError(
                f"no layer {name!r} was recorded; recorded layers: {recorded}")
    chosen = set(wanted)
    return [n for n in recorded if n in chosen]


def training_reference(snap: ProfileSnapshot) -> dict[str, dict[int, tuple[float, int]]]:
    """What each layer of a training snapshot fired in each epoch, ``(spikes,
    observations x neurons)``, for judging another phase against it (read holding the
    training recorder's lock: a few sums per layer and epoch)."""
    out: dict[str, dict[int, tuple[float, int]]] = {}
    for name, info in snap.layers.items():
        epochs = {}
        for e, acc in info.epochs.items():
            host = host_stats(acc)
            epochs[e] = (float(spike_counts(host, info.graded).sum()),
                         int(host.n_obs) * int(host.n_neurons))
        out[name] = epochs
    return out


def _versus_training(reference: Reference | None, info: LayerRecord,
                     selected: list[int], name: str) -> VersusTraining | None:
    """The layer in the latest selected epoch both phases recorded (None: none)."""
    if reference is None or name not in reference:
        return None
    trained = reference[name]
    for e in sorted(selected, reverse=True):
        if e not in info.epochs or e not in trained or not trained[e][1]:
            continue
        host = host_stats(info.epochs[e])
        cells = int(host.n_obs) * int(host.n_neurons)
        if cells:
            rate = float(spike_counts(host, info.graded).sum()) / cells
            return VersusTraining(e, rate, trained[e][0] / trained[e][1], cells)
    return None


def statistics(snap: ProfileSnapshot, selected: list[int], names: list[str],
               th: Thresholds, history: bool = True, reference: Reference | None = None
               ) -> tuple[list[LayerStats], LossStats | None]:
    """Merged statistics of the chosen epochs and layers; ``history``: also each
    layer's health in every epoch up to the last chosen; ``reference``: see
    :func:`judge`."""
    stats = []
    for name in names:
        info = snap.layers[name]
        per_epoch = [(e, host_stats(info.epochs[e])) for e in selected
                     if e in info.epochs]
        if not per_epoch:
            continue
        merged = merge_all([s for _, s in per_epoch])
        declared = snap.declared.get(name, {})
        with np.errstate(over="ignore", invalid="ignore"):  # Inf is a finding here
            stats.append(layer_stats(
                name, info.role, info.graded, info.neuron_shape, merged,
                tuple(e for e, _ in per_epoch), per_epoch, th,
                fan_out=declared.get("fan_out"), threshold=declared.get("threshold"),
                resting_potential=declared.get("resting_potential"),
                fed_by=_fed_by(declared),
                spike_ceiling=declared.get("spike_ceiling")))
    snap.loss.flush()
    chosen = set(selected)
    recent = [(e, v) for _, e, v in snap.loss.recent if e in chosen]
    loss = loss_stats(
        [(e, snap.loss.epochs[e]) for e in selected if e in snap.loss.epochs],
        np.array([v for _, v in recent], dtype=np.float64),
        snap.loss.n_classes, np.array([e for e, _ in recent], dtype=np.int64))
    outputs = output_names([
        (n, info.role, role_known(snap.declared.get(n, {})))
        for n, info in snap.layers.items()])
    for s in stats:  # per-sample counts: every layer's activity, outputs' ranges
        if s.name in outputs:
            s.role = "output"
        else:
            s.spike_count_range = None
        judge_by_samples(s, th)
        s.versus_training = _versus_training(reference, snap.layers[s.name], selected,
                                             s.name)
        if history:
            s.per_epoch = _history(snap.layers[s.name], max(selected), s.role, th)
    return stats, loss


def _history(info: LayerRecord, until: int, role: str, th: Thresholds
             ) -> tuple[EpochHealth, ...]:
    """The layer's health in every recorded epoch up to ``until``; kept in the
    layer's memo per epoch while that epoch receives no new step."""
    out = []
    for e in sorted(x for x in (*info.epochs, *info.summaries) if x <= until):
        if e not in info.epochs:  # dropped: its summary (see max_epochs)
            out.append(info.summaries[e].health(role, th))
            continue
        acc = info.epochs[e]
        key = (acc.n_steps, th.dead_rate, role)
        hit = info.memo.get(e)
        if hit is None or hit[0] != key:
            hit = info.memo[e] = (key, epoch_health(e, host_stats(acc), role, th,
                                                    info.graded))
        out.append(hit[1])
    return tuple(out) if len(out) > 1 else ()


def _locate_first_epochs(snap: ProfileSnapshot, found: list[Pathology],
                         selected: list[int], names: list[str], th: Thresholds,
                         reference: Reference | None = None) -> list[Pathology]:
    """Fill in the first epoch where each layer finding appears on its own."""
    missing = {(p.category, p.layer) for p in found
               if p.epoch is None and p.layer != "loss"}
    first: dict[tuple[str, str], int] = {}
    if len(selected) == 1:
        first = dict.fromkeys(missing, selected[0])
        missing = set()
    for e in selected:
        if not missing:
            break
        stats, _ = statistics(snap, [e], names, th, history=False, reference=reference)
        for p in diagnose(stats, None, th):
            key = (p.category, p.layer)
            if key in missing:
                first[key] = e
                missing.discard(key)
    return [dataclasses.replace(p, epoch=first[(p.category, p.layer)])
            if (p.category, p.layer) in first else p for p in found]


def _fed_by(declared: dict[str, Any]) -> tuple[str, ...] | None:
    """The declared feeding layers, as a tuple (None: not declared)."""
    fed = declared.get("fed_by")
    return None if fed is None else tuple(fed)
