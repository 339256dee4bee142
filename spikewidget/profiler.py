"""SpikeProfiler: record what every layer does while training runs, then diagnose.

Data flows one way: :meth:`SpikeProfiler.record_step` validates the input
(:mod:`arrays`), folds it into fixed-size per-layer, per-epoch statistics
(:mod:`reduce_numpy` on the host, :mod:`reduce_torch` on a device) and a bounded
raster window; :meth:`SpikeProfiler.report` merges the chosen epochs and runs the
rules (:mod:`rules`) under a :class:`Thresholds` - without re-recording anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

import numpy as np

from .core.arguments import is_one_of, is_path, is_whole
from .core.arrays import is_device_tensor, to_array, to_host, torch_module
from .core.errors import InvalidInputError, InvalidTypeError, UnknownLayerError
from .diagnose.pathology import Pathology
from .diagnose.report import Report
from .diagnose.rules import diagnose
from .diagnose.stats import (
    ROLES,
    DeviceSummary,
    EpochHealth,
    EpochSummary,
    LayerStats,
    LossStats,
    epoch_health,
    judge_output_by_samples,
    layer_stats,
    loss_stats,
)
from .diagnose.thresholds import Thresholds
from .record.reduce_numpy import (
    StepResult,
    add_gradients,
    add_input_nonfinite,
    apply_step,
    compute_step,
)
from .state.epoch_stats import EpochStats, merge_all
from .state.loss import LossTracker
from .state.raster import RASTER_NEURONS, RasterSnapshot, RasterWindow

Backend = Literal["auto", "numpy", "torch"]

_INPUT_NAMES = frozenset({"input", "inputs", "in"})
_OUTPUT_NAMES = frozenset({"output", "outputs", "out", "readout"})


PHASES = ("train", "eval")
"""Kinds of pass kept apart: training, and validation (the model in eval mode)."""


def infer_role(name: str) -> str:
    """``input``/``output`` for the usual names of those layers, else ``hidden``."""
    last = name.lower().rsplit(".", 1)[-1]
    if last in _INPUT_NAMES:
        return "input"
    if last in _OUTPUT_NAMES:
        return "output"
    return "hidden"


def resolve_role(name: str, decl: Mapping[str, Any]) -> str:
    """A layer's role: as declared, else as :func:`watch` saw the model use it
    (``"watch_role"``), else from its name."""
    return decl.get("role") or decl.get("watch_role") or infer_role(name)


def output_names(roles: list[tuple[str, str, bool]]) -> set[str]:
    """The layers whose spikes are the model's output, from ``(name, role, known)``
    in recording order (``known``: declared, or seen by :func:`watch`).

    Layers whose role is ``output``; if there are none, the last non-input layer,
    unless its role is known (a hidden layer in front of a non-spiking readout:
    then no layer is read as the output).
    """
    chosen = {name for name, role, _ in roles if role == "output"}
    if chosen:
        return chosen
    candidates = [(name, known) for name, role, known in roles if role != "input"]
    if candidates and not candidates[-1][1]:
        return {candidates[-1][0]}
    return set()


class _Layer:
    """Everything recorded for one layer."""

    __slots__ = (
        "device",
        "epochs",
        "graded",
        "health",
        "last_epoch",
        "n_neurons",
        "name",
        "neuron_axes",
        "neuron_shape",
        "raster",
        "role",
        "steps",
        "summaries",
    )

    def __init__(self, name: str, role: str, graded: bool, neuron_axes: int,
                 neuron_shape: tuple[int, ...], device: Any, raster_window: int,
                 raster_neurons: int = RASTER_NEURONS) -> None:
        self.name = name
        self.role = role
        self.graded = graded
        self.neuron_axes = int(neuron_axes)
        self.neuron_shape = neuron_shape
        self.n_neurons = math.prod(neuron_shape)
        self.device = device  # None: host (NumPy) statistics; else a torch.device
        self.epochs: dict[int, Any] = {}
        self.health: dict[int, tuple[Any, EpochHealth]] = {}  # epoch -> (key, health)
        self.summaries: dict[int, EpochSummary | DeviceSummary] = {}  # dropped epochs
        self.raster = RasterWindow(self.n_neurons, raster_window, raster_neurons)
        self.steps = 0
        self.last_epoch = 0


class SpikeProfiler:
    """Records spikes, voltages and gradients per layer per step, and diagnoses them.

    Drop-in for the published tutorial's ``SpikeProfiler``: ``dead_threshold``,
    ``saturated_threshold`` and ``gradient_explosion_ratio`` set those constants;
    ``thresholds`` sets any of them (a :class:`Thresholds` or a mapping).
    ``raster_window`` is how many recent time steps per layer are kept for rasters,
    of at most ``raster_neurons`` neurons per layer (a strided sample of bigger
    layers), as bits: at most :func:`~spikewidget.state.raster.raster_bytes` per layer
    (396 KiB with the defaults, epoch snapshots included), whatever the layer's size.
    ``max_epochs``: keep the statistics of at most this many epochs per layer (the
    newest; older ones are dropped, and reports and the widget say so). Each layer
    holds 56 bytes per neuron per epoch (seven float64 per-neuron sums), whatever the
    number of steps: None (the default) keeps every epoch.
    ``backend``: ``"auto"`` reduces device tensors on their device and everything
    else with NumPy; ``"torch"`` always uses torch ops; ``"numpy"`` always copies
    to the host.
    """

    def __init__(self, dead_threshold: float | None = None,
                 saturated_threshold: float | None = None,
                 gradient_explosion_ratio: float | None = None, *,
                 thresholds: Thresholds | Mapping[str, float] | None = None,
                 raster_window: int = 256, raster_neurons: int = RASTER_NEURONS,
                 max_epochs: int | None = None, backend: Backend = "auto") -> None:
        th = Thresholds.coerce(thresholds, Thresholds())
        legacy = {"dead_rate": dead_threshold, "saturated_rate": saturated_threshold,
                  "gradient_explosion_ratio": gradient_explosion_ratio}
        changes = {k: v for k, v in legacy.items() if v is not None}
        self._thresholds = th.replace(**changes) if changes else th
        if not is_whole(raster_window) or not 0 <= raster_window <= MAX_RASTER_WINDOW:
            raise InvalidInputError(
                f"raster_window must be a whole number of time steps from 0 to "
                f"{MAX_RASTER_WINDOW}, got {raster_window!r}")
        raster_window = int(raster_window)
        if not is_whole(raster_neurons) or not 0 <= raster_neurons <= MAX_RASTER_NEURONS:
            raise InvalidInputError(
                f"raster_neurons must be a whole number of neurons from 0 to "
                f"{MAX_RASTER_NEURONS}, got {raster_neurons!r}")
        self.raster_neurons = int(raster_neurons)
        if max_epochs is not None and (not is_whole(max_epochs) or max_epochs < 1):
            raise InvalidInputError(
                f"max_epochs must be None (keep every epoch) or a whole number of epochs "
                f">= 1, got {max_epochs!r}")
        self.max_epochs = None if max_epochs is None else int(max_epochs)
        self._dropped: set[int] = set()  # epochs whose layer statistics were dropped
        if not is_one_of(backend, ("auto", "numpy", "torch")):
            raise InvalidInputError(
                f"backend must be 'auto', 'numpy' or 'torch', got {backend!r}")
        self.raster_window = raster_window
        self.backend = backend
        self._lock = threading.RLock()
        self._layers: dict[str, _Layer] = {}
        self._declared: dict[str, dict[str, Any]] = {}
        self._loss = LossTracker()
        self._epoch = 0
        self._version = 0
        self._phases: dict[str, SpikeProfiler] = {}  # see phase()

    @property
    def version(self) -> int:
        """A counter that grows whenever anything recorded or declared changes (for
        readers such as the widget that poll for changes without building reports)."""
        return self._version

    # ------------------------------------------------------------ configuration
    @property
    def thresholds(self) -> Thresholds:
        """The constants :meth:`report` uses unless told otherwise."""
        return self._thresholds

    @thresholds.setter
    def thresholds(self, value: Thresholds | Mapping[str, float]) -> None:
        self._thresholds = Thresholds.coerce(value, self._thresholds)
        self._version += 1

    @property
    def dead_threshold(self) -> float:
        return self._thresholds.dead_rate

    @property
    def saturated_threshold(self) -> float:
        return self._thresholds.saturated_rate

    @property
    def gradient_explosion_ratio(self) -> float:
        return self._thresholds.gradient_explosion_ratio

    def declare_layer(self, name: str, *, role: str | None = None,
                      graded: bool | None = None, neuron_axes: int | None = None,
                      fan_out: float | None = None) -> None:
        """Say what a layer is, before or after it is recorded.

        ``role``: ``"input"`` (its values are checked for counts), ``"output"`` (its
        per-sample spike counts are checked for overflow) or ``"hidden"``; by default
        inferred from the name. ``graded=True`` means non-binary values are intended
        (snnTorch ``graded_spikes_factor``, SEW-ResNet ADD). ``neuron_axes``: how many
        trailing axes index neurons (3 for ``(time, batch, channels, height, width)``).
        ``fan_out``: how many synapses each of its neurons drives (a following
        ``nn.Linear``: its ``out_features``), for ``LayerStats.estimated_syn_ops``
        (spikes x fan-out); ``watch`` sets it where it can read it from the model.
        """
        _check_name(name)
        if fan_out is not None and (isinstance(fan_out, bool)
                                    or not isinstance(fan_out, (int, float, np.number))
                                    or not math.isfinite(fan_out) or fan_out <= 0):
            raise InvalidInputError(
                f"layer {name!r}: fan_out must be a positive number of synapses per "
                f"neuron, got {fan_out!r}")
        if role is not None and not is_one_of(role, ROLES):
            raise InvalidInputError(
                f"layer {name!r}: role must be one of {ROLES}, got {role!r}")
        if graded is not None and not isinstance(graded, bool):
            raise InvalidTypeError(f"layer {name!r}: graded must be True or False, "
                                   f"got {graded!r}")
        if neuron_axes is not None:
            _check_neuron_axes(name, neuron_axes, None)
            neuron_axes = int(neuron_axes)  # NumPy integers too: saved as JSON
        with self._lock:
            info = self._layers.get(name)
            if info is not None and neuron_axes is not None \
                    and neuron_axes != info.neuron_axes:
                raise InvalidInputError(
                    f"layer {name!r}: already recorded with neuron_axes="
                    f"{info.neuron_axes} (neuron shape {info.neuron_shape}); "
                    f"cannot change it to {neuron_axes}")
            self._version += 1
            decl = self._declared.setdefault(name, {})
            if fan_out is not None:
                decl["fan_out"] = float(fan_out)
            for key, value in (("role", role), ("graded", graded),
                               ("neuron_axes", neuron_axes)):
                if value is not None:
                    decl[key] = value
                    if info is not None and key != "neuron_axes":
                        setattr(info, key, value)
            phases = list(self._phases.values())
        for other in phases:
            other.declare_layer(name, role=role, graded=graded, neuron_axes=neuron_axes)

    def _note_model_output(self, watched: list[str], output: str | None) -> None:
        """What :func:`watch` saw: ``output`` is the watched layer whose spikes the
        model returns, or None when a non-spiking readout (``nn.Linear``, a leaky
        integrator) follows every watched layer. Declarations still win."""
        with self._lock:
            for name in watched:
                decl = self._declared.setdefault(name, {})
                decl["watch_role"] = "output" if name == output else "hidden"
                info = self._layers.get(name)
                if info is not None:
                    info.role = resolve_role(name, decl)
            self._version += 1
            phases = list(self._phases.values())
        for other in phases:
            other._note_model_output(watched, output)

    def neuron_axes(self, name: str) -> int | None:
        """How many trailing axes index neurons in layer ``name``: as recorded, else as
        declared, else None."""
        _check_name(name)
        with self._lock:
            info = self._layers.get(name)
            if info is not None:
                return info.neuron_axes
            return self._declared.get(name, {}).get("neuron_axes")

    # ---------------------------------------------------------------- recording
    @property
    def epoch(self) -> int:
        """The epoch that steps are recorded into unless ``epoch=`` says otherwise."""
        return self._epoch

    def next_epoch(self) -> int:
        """Start a new epoch; returns its number."""
        with self._lock:
            self._epoch += 1
            self._version += 1
            for other in self._phases.values():
                other._epoch = max(other._epoch, self._epoch)
            return self._epoch

    def record_step(self, layer: str, spikes: Any, voltages: Any = None,
                    gradients: Any = None, *, epoch: int | None = None,
                    neuron_axes: int | None = None) -> None:
        """Record one step of one layer.

        Args:
            layer: the layer's name; layers are reported in order of first recording.
            spikes: ``(n_neurons,)``, ``(batch, n_neurons)``, ``(time, batch, n_neurons)``
                or with several trailing neuron axes (see ``neuron_axes``); NumPy or
                torch on any device. A neuron's rate is its spikes per observation
                (per time step per sample).
            voltages: membrane potentials, same shape as ``spikes``.
            gradients: gradients of the loss with respect to the spikes, same shape.
            epoch: record into this epoch (and make it the current one).
            neuron_axes: how many trailing axes index neurons (default 1, or what
                the layer was first recorded or declared with).

        Raises :class:`InvalidTypeError` / :class:`InvalidInputError` for bad input,
        leaving everything recorded so far unchanged. NaN, Inf and huge values are
        recorded and reported, never rejected.
        """
        _check_name(layer)
        ep = self._epoch if epoch is None else _check_epoch(epoch)
        info, decl, last = self._snapshot(layer)
        axes = neuron_axes if neuron_axes is not None else (
            info.neuron_axes if info is not None else decl.get("neuron_axes", 1))
        if info is not None:
            device = info.device
        elif self.backend == "torch" or (self.backend == "auto" and is_device_tensor(spikes)):
            device = _device_of(spikes)
        else:
            device = None
        x = _prepare(spikes, layer, "spikes", device)
        shape = tuple(x.shape)
        _check_neuron_axes(layer, axes, len(shape))
        axes = int(axes)
        split = len(shape) - axes
        lead, nshape = shape[:split], shape[split:]
        if info is not None:
            _check_neuron_shape(layer, shape, nshape, info)
        v = _prepare(voltages, layer, "voltages", device, shape)
        g = _prepare(gradients, layer, "gradients", device, shape)
        n, m = math.prod(nshape), math.prod(lead)
        x2 = x.reshape(m, n)
        v2 = None if v is None else v.reshape(m, n)
        g2 = None if g is None else g.reshape(m, n)
        time_steps = lead[0] if len(lead) >= 2 else None
        role = info.role if info is not None else resolve_role(layer, decl)
        want_counts = _wants_counts(layer, role, info, last)
        frames = x2[:1] if time_steps is None else x2.reshape(time_steps, -1, n)[:, 0]
        # host data: the reductions (the costly part) run without the lock, so readers
        # (a report, the widget's refresh thread) are never kept waiting for long
        if device is None:
            result = compute_step(x2, v2, g2, time_steps=time_steps, want_counts=want_counts)

            def fold(acc: Any, step: int) -> None:
                apply_step(acc, result, step=step)
        else:
            def fold(acc: Any, step: int) -> None:  # asynchronous kernels, queued locked
                acc.reduce_step(x2, v2, g2, step=step, time_steps=time_steps,
                                want_counts=want_counts)
        self._file(layer, info, ep, decl, role, axes, shape, device, fold, frames)

    def _record_reduced(self, layer: str, shape: tuple[int, ...], neuron_axes: int,
                        compute: Callable[[bool], StepResult], frames: Any) -> None:
        """Record one host step whose reductions were made elsewhere (the folded
        sequences of :mod:`torch_hooks`). ``shape``: the step's ``(time, batch,
        *neurons)``; ``compute(want_counts)`` gives its :class:`StepResult`;
        ``frames``: ``(time, n_neurons)`` of the first sample, for the raster."""
        ep = self._epoch
        info, decl, last = self._snapshot(layer)
        nshape = shape[len(shape) - neuron_axes:]
        if info is not None:
            _check_neuron_shape(layer, shape, nshape, info)
            if info.device is not None:
                raise InvalidInputError(f"layer {layer!r} is recorded on {info.device}; "
                                        f"record each layer from one device")
        role = info.role if info is not None else resolve_role(layer, decl)
        result = compute(_wants_counts(layer, role, info, last))

        def fold(acc: Any, step: int) -> None:
            apply_step(acc, result, step=step)

        self._file(layer, info, ep, decl, role, neuron_axes, shape, None, fold, frames)

    def _snapshot(self, layer: str) -> tuple[_Layer | None, dict[str, Any], str | None]:
        """What validating a step of ``layer`` needs: the layer as recorded so far (or
        None), its declarations and the latest recorded layer (reductions run unlocked)."""
        with self._lock:
            return (self._layers.get(layer), dict(self._declared.get(layer, {})),
                    next(reversed(self._layers), None))

    def _file(self, layer: str, info: _Layer | None, ep: int, decl: dict[str, Any],
              role: str, axes: int, shape: tuple[int, ...], device: Any,
              fold: Callable[[Any, int], None], frames: Any) -> None:
        """Fold a validated step into its layer's epoch statistics and raster (``info``
        is the layer as seen before validation, None if it was new then)."""
        nshape = shape[len(shape) - axes:]
        with self._lock:
            now = self._layers.get(layer)
            if now is not None and now is not info:  # created by another thread meanwhile
                _check_neuron_shape(layer, shape, nshape, now)
                if (now.device is None) != (device is None):
                    raise InvalidInputError(
                        f"layer {layer!r} was first recorded concurrently from another "
                        f"device; record each layer from one device")
            info = now
            acc = info.epochs.get(ep) if info is not None else None
            if acc is None and info is not None:
                self._check_keeps(layer, info, ep)
            if acc is None:
                acc = EpochStats(math.prod(nshape)) if device is None \
                    else _device_stats(math.prod(nshape), device)
                for other in (info.epochs.values() if info is not None else ()):
                    other.open = None  # a new epoch starts new sequences (temporal)
            step = info.steps if info is not None else 0
            fold(acc, step)
            # ---- commit: the step is in; now file it ----
            if info is None:
                info = _Layer(layer, role, bool(decl.get("graded", False)), axes, nshape,
                              device, self.raster_window, self.raster_neurons)
                self._layers[layer] = info
            info.epochs[ep] = acc
            self._drop_old_epochs(info)
            info.raster.push(frames, step, ep)
            info.steps += 1
            info.last_epoch = ep
            self._epoch = ep
            self._version += 1

    def _check_keeps(self, layer: str, info: _Layer, ep: int) -> None:
        """Refuse a step into an epoch that ``max_epochs`` dropped or would drop at once."""
        k = self.max_epochs
        if k is None:
            return
        if len(info.epochs) >= k and ep < min(info.epochs):
            raise InvalidInputError(
                f"layer {layer!r}: epoch {ep} is older than the {k} newest epochs "
                f"kept (max_epochs={k}; kept: {sorted(info.epochs)}); its statistics "
                f"are dropped")

    def _drop_old_epochs(self, info: _Layer) -> None:
        """Keep the newest ``max_epochs`` epochs of a layer (call under the lock)."""
        k = self.max_epochs
        if k is None or len(info.epochs) <= k:
            return
        for e in sorted(info.epochs)[:-k]:
            acc = info.epochs.pop(e)
            info.summaries[e] = (EpochSummary.of(e, acc) if isinstance(acc, EpochStats)
                                 else DeviceSummary(e, acc))  # no sync: sorted there
            info.health.pop(e, None)
            self._dropped.add(e)

    @property
    def dropped_epochs(self) -> list[int]:
        """Epochs whose layer statistics ``max_epochs`` dropped (their loss is kept)."""
        with self._lock:
            return sorted(self._dropped)

    def record_gradients(self, layer: str, gradients: Any, *,
                         epoch: int | None = None) -> None:
        """Record the gradient of the loss w.r.t. a layer's spikes for one step.

        ``gradients`` has any leading axes and the layer's neuron shape as trailing
        axes; the layer must already be recorded. Adds one gradient-norm sample
        to the epoch of the layer's latest step (or ``epoch``); not a new step.
        Used by backward hooks, which see gradients after the forward was recorded.
        """
        _check_name(layer)
        with self._lock:
            info = self._layer(layer)
            ep = info.last_epoch if epoch is None else _check_epoch(epoch)
            if ep not in info.epochs:
                raise InvalidInputError(
                    f"layer {layer!r}: no step was recorded in epoch {ep}; gradients "
                    f"belong to a recorded step (epochs: {sorted(info.epochs)})")
            g = _prepare(gradients, layer, "gradients", info.device)
            shape = tuple(g.shape)
            k = len(info.neuron_shape)
            if shape[len(shape) - k:] != info.neuron_shape or len(shape) < k:
                raise InvalidInputError(
                    f"layer {layer!r}: gradients has shape {shape}; expected trailing "
                    f"axes {info.neuron_shape} (the layer's neuron shape)")
            g2 = g.reshape(-1, info.n_neurons)
            step = max(info.steps - 1, 0)
            acc = info.epochs[ep]
            if info.device is None:
                add_gradients(acc, g2, step=step)
            else:
                acc.add_gradients(g2, step=step)
            self._version += 1

    def _record_input_nonfinite(self, layer: str, count: Any) -> None:
        """Add ``count`` NaN/Inf values found in the gradient at ``layer``'s input
        (a tensor count stays on its device on the device path) to its latest step."""
        with self._lock:
            info = self._layer(layer)
            acc = info.epochs.get(info.last_epoch)
            if acc is None:
                return
            step = max(info.steps - 1, 0)
            if info.device is None:
                count = int(count)
                if not count:
                    return
                add_input_nonfinite(acc, count, step=step)
            else:
                acc.add_input_nonfinite(count, step=step)
            self._version += 1

    def record_loss(self, loss: Any, n_classes: int | None = None, *,
                    epoch: int | None = None) -> None:
        """Record the training loss (a number or a one-element tensor, any device).

        ``n_classes`` (C) enables the chance-level check against ln C.
        """
        with self._lock:
            ep = self._epoch if epoch is None else _check_epoch(epoch)
            self._loss.record(loss, ep, n_classes, keep_tensor=self.backend == "torch")
            self._epoch = ep
            self._version += 1

    def reset(self) -> None:
        """Forget everything recorded (declarations and thresholds stay), in every
        phase."""
        with self._lock:
            self._phases.clear()
            self._layers.clear()
            self._dropped = set()
            self._loss = LossTracker()
            self._epoch = 0
            self._version += 1

    # ---------------------------------------------------------------- reading
    @contextlib.contextmanager
    def consistent(self) -> Iterator[SpikeProfiler]:
        """Hold recording (and resets) from other threads while several reads make one
        snapshot: ``with profiler.consistent(): a = p.epochs; r = p.report(epoch=a[-1])``.
        Steps recorded meanwhile wait, then are filed; nothing is lost."""
        with self._lock:
            yield self

    @property
    def layers(self) -> list[str]:
        """Recorded layer names in order of first recording."""
        with self._lock:
            return list(self._layers)

    @property
    def epochs(self) -> list[int]:
        """Every epoch with any recorded data, ascending (dropped ones too: see
        ``max_epochs``)."""
        with self._lock:
            return self._all_epochs()

    def _all_epochs(self) -> list[int]:
        found = set(self._loss.epochs) | self._loss.pending_epochs | self._dropped
        for info in self._layers.values():
            found.update(info.epochs)
        return sorted(found)

    def raster(self, layer: str, epoch: int | None = None) -> RasterSnapshot:
        """The recent frames of one layer (first sample of each batch), oldest first;
        with ``epoch``, that epoch's frames: those still in the window, or its kept
        snapshot (its last frames) when that holds more. Of at most
        ``raster_neurons`` neurons: ``snapshot.neurons`` says which."""
        with self._lock:
            store = self._layer(layer).raster
            if epoch is None:
                return store.snapshot()
            ep = _check_epoch(epoch)
            window = store.snapshot()
            keep = window.epochs == ep
            kept = store.epoch_snapshot(ep)
            if np.count_nonzero(keep) >= len(kept.steps):
                return RasterSnapshot(window.spikes[keep], window.steps[keep],
                                      window.epochs[keep], window.neurons)
            return kept

    def epoch_rasters(self, layer: str) -> dict[int, RasterSnapshot]:
        """Per epoch, the last frames it kept of ``layer`` (up to 32, for the newest 64
        epochs: :data:`~spikewidget.state.raster.EPOCH_FRAMES`, ``EPOCH_SNAPSHOTS``), so an
        epoch that has left the raster window still shows what its neurons did."""
        with self._lock:
            store = self._layer(layer).raster
            return {e: store.epoch_snapshot(e) for e in store.epoch_marks}

    def phase(self, name: str = "eval") -> SpikeProfiler:
        """The profiler that holds the passes of phase ``name``.

        ``"train"`` is this profiler. ``"eval"``: validation passes, kept apart so
        they never mix into the training statistics; :meth:`watch` records a forward
        there when the model is in eval mode (``model.training`` False). Record into
        it by hand (``profiler.phase("eval").record_loss(val_loss)``), read it with
        ``report(phase="eval")`` or ``widget(phase="eval")``, save it with its own
        ``save()``. It shares this profiler's thresholds, declarations and epoch.
        """
        if not is_one_of(name, PHASES):
            raise InvalidInputError(f"phase must be one of {PHASES}, got {name!r}")
        if name == "train":
            return self
        with self._lock:
            other = self._phases.get(name)
            if other is None:
                other = self._phases[name] = SpikeProfiler(
                    thresholds=self._thresholds, raster_window=self.raster_window,
                    raster_neurons=self.raster_neurons, max_epochs=self.max_epochs,
                    backend=self.backend)
                other._declared = {k: dict(v) for k, v in self._declared.items()}
                self._version += 1
            other._thresholds = self._thresholds
            other._epoch = max(other._epoch, self._epoch)
            return other

    @property
    def phases(self) -> list[str]:
        """The phases with anything recorded: ``"train"`` (this profiler), ``"eval"``."""
        with self._lock:
            others = [(n, p) for n, p in self._phases.items()]
        found = ["train"] if self.layers or self._loss.count else []
        return found + [n for n, p in others if p.layers or p._loss.count]

    def report(self, thresholds: Thresholds | Mapping[str, float] | None = None, *,
               epoch: Any = None, layers: str | Iterable[str] | None = None,
               phase: str = "train") -> Report:
        """Diagnose what was recorded, without re-recording.

        Args:
            thresholds: constants to judge by (a :class:`Thresholds`, or a mapping of
                overrides of the profiler's own); default the profiler's.
            epoch: ``None`` or ``"all"`` for every epoch, an int (negative counts from
                the latest: ``-1`` is the latest), ``"latest"``, or an iterable of
                epochs such as ``range(3, 6)``.
            layers: a name or names to restrict the report to; default all.
            phase: ``"train"`` (default) or ``"eval"``: the validation passes
                (see :meth:`phase`), never mixed into training statistics.
        """
        if not is_one_of(phase, PHASES):
            raise InvalidInputError(f"phase must be one of {PHASES}, got {phase!r}")
        if phase != "train":
            return self.phase(phase).report(thresholds, epoch=epoch, layers=layers)
        th = Thresholds.coerce(thresholds, self._thresholds)
        with self._lock:  # one consistent snapshot, even while another thread resets
            selected = self._select_epochs(epoch)
            names = self._select_layers(layers)
            stats, loss = self._statistics(selected, names, th)
            found = diagnose(stats, loss, th)
            found = self._locate_first_epochs(found, selected, names, th)
        dropped = tuple(e for e in selected if e in self._dropped)
        return Report({s.name: s for s in stats}, found, th, tuple(selected), loss,
                      dropped_epochs=dropped, max_epochs=self.max_epochs)

    def _statistics(self, selected: list[int], names: list[str], th: Thresholds,
                    history: bool = True) -> tuple[list[LayerStats], LossStats | None]:
        """Merged statistics of the chosen epochs and layers (call under the lock);
        ``history``: also each layer's health in every epoch up to the last chosen."""
        stats = []
        for name in names:
            info = self._layers[name]
            per_epoch = [(e, _host_stats(info.epochs[e])) for e in selected
                         if e in info.epochs]
            if not per_epoch:
                continue
            merged = merge_all([s for _, s in per_epoch])
            with np.errstate(over="ignore", invalid="ignore"):  # Inf is a finding here
                stats.append(layer_stats(
                    name, info.role, info.graded, info.neuron_shape, merged,
                    tuple(e for e, _ in per_epoch), per_epoch, th,
                    fan_out=self._declared.get(name, {}).get("fan_out")))
        self._loss.flush()
        chosen = set(selected)
        recent = [(e, v) for _, e, v in self._loss.recent if e in chosen]
        loss = loss_stats(
            [(e, self._loss.epochs[e]) for e in selected if e in self._loss.epochs],
            np.array([v for _, v in recent], dtype=np.float64),
            self._loss.n_classes, np.array([e for e, _ in recent], dtype=np.int64))
        outputs = output_names([
            (n, info.role, _role_known(self._declared.get(n, {})))
            for n, info in self._layers.items()])
        for s in stats:  # counts are measured for output layers only
            if s.name in outputs:
                s.role = "output"
                judge_output_by_samples(s, th)
            else:
                s.spike_count_range = None
                s.active_samples = None
            if history:
                s.per_epoch = self._history(self._layers[s.name], max(selected),
                                            s.name in outputs, th)
        return stats, loss

    def _history(self, info: _Layer, until: int, by_samples: bool, th: Thresholds
                 ) -> tuple[EpochHealth, ...]:
        """The layer's health in every recorded epoch up to ``until`` (call under the
        lock); cached per epoch while that epoch receives no new step."""
        out = []
        for e in sorted(x for x in (*info.epochs, *info.summaries) if x <= until):
            if e not in info.epochs:  # dropped: its summary (see max_epochs)
                out.append(info.summaries[e].health(by_samples, th))
                continue
            acc = info.epochs[e]
            key = (acc.n_steps, th.dead_rate, by_samples)
            hit = info.health.get(e)
            if hit is None or hit[0] != key:
                hit = info.health[e] = (key, epoch_health(e, _host_stats(acc), by_samples, th))
            out.append(hit[1])
        return tuple(out) if len(out) > 1 else ()

    def _locate_first_epochs(self, found: list[Pathology], selected: list[int],
                             names: list[str], th: Thresholds) -> list[Pathology]:
        """Fill in the first epoch where each layer finding appears on its own (call
        under the lock)."""
        missing = {(p.category, p.layer) for p in found
                   if p.epoch is None and p.layer != "loss"}
        first: dict[tuple[str, str], int] = {}
        if len(selected) == 1:
            first = dict.fromkeys(missing, selected[0])
            missing = set()
        for e in selected:
            if not missing:
                break
            stats, _ = self._statistics([e], names, th, history=False)
            for p in diagnose(stats, None, th):
                key = (p.category, p.layer)
                if key in missing:
                    first[key] = e
                    missing.discard(key)
        return [dataclasses.replace(p, epoch=first[(p.category, p.layer)])
                if (p.category, p.layer) in first else p for p in found]

    def _layer(self, name: str) -> _Layer:
        if not isinstance(name, str) or name not in self._layers:
            raise UnknownLayerError(
                f"no layer {name!r} was recorded; recorded layers: {list(self._layers)}")
        return self._layers[name]

    def _select_layers(self, layers: str | Iterable[str] | None) -> list[str]:
        if layers is None:
            return list(self._layers)
        if isinstance(layers, (bytes, bytearray)) or not isinstance(layers, (str, Iterable)):
            raise InvalidTypeError(f"layers must be a layer name or an iterable of names, "
                                   f"got {type(layers).__name__} {layers!r}")
        wanted = [layers] if isinstance(layers, str) else list(layers)
        for name in wanted:
            if not isinstance(name, str):
                raise InvalidTypeError(f"layers: each must be a layer name (a str), got "
                                       f"{type(name).__name__} {name!r}")
            self._layer(name)
        chosen = set(wanted)
        return [n for n in self._layers if n in chosen]

    def _select_epochs(self, epoch: Any) -> list[int]:
        recorded = self._all_epochs()
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
        chosen = sorted({_check_epoch(e) for e in epoch})
        missing = [e for e in chosen if e not in recorded]
        if missing or not chosen:
            raise InvalidInputError(
                f"epoch={epoch!r}: epochs {missing or '(none)'} were not recorded; "
                f"recorded epochs: {recorded}")
        return chosen

    # ------------------------------------------------------------ combining
    def merge(self, other: SpikeProfiler) -> None:
        """Fold ``other``'s statistics into this profiler.

        The result equals one profiler that recorded both (rates, counts, extrema,
        voltage moments, gradient norms, non-finite findings, losses). Layers new
        to this profiler are appended in ``other``'s order. Both keep running.
        """
        if not isinstance(other, SpikeProfiler):
            raise InvalidTypeError(f"merge expects a SpikeProfiler, got {type(other).__name__}")
        if other is self:
            raise InvalidInputError("cannot merge a profiler into itself")
        with other._lock:
            other._loss.flush()
            theirs = [(info, {e: _host_stats(a).copy() for e, a in info.epochs.items()},
                       (info.raster.snapshot(), info.raster.epoch_snapshots()))
                      for info in other._layers.values()]
            their_loss = other._loss
            their_epoch = other._epoch
            their_declared = {k: dict(v) for k, v in other._declared.items()}
        with self._lock:
            for info, _, _ in theirs:
                mine = self._layers.get(info.name)
                if mine is not None and mine.neuron_shape != info.neuron_shape:
                    raise InvalidInputError(
                        f"layer {info.name!r}: neuron shape {info.neuron_shape} in the "
                        f"other profiler, {mine.neuron_shape} here; cannot merge")
            _check_declarations_agree(self._declared, their_declared)
            for info, epochs, raster in theirs:
                mine = self._layers.get(info.name)
                if mine is None:
                    mine = _Layer(info.name, info.role, info.graded, info.neuron_axes,
                                  info.neuron_shape, None, self.raster_window,
                                  self.raster_neurons)
                    mine.raster.restore_epochs(raster[1])
                    mine.raster.restore(raster[0])
                    self._layers[info.name] = mine
                elif mine.device is not None:
                    mine.epochs = {e: _host_stats(a) for e, a in mine.epochs.items()}
                    mine.device = None
                    mine.raster.to_host()
                for e, stats in epochs.items():
                    if e in mine.epochs:
                        mine.epochs[e].merge_into(stats)
                    else:
                        mine.epochs[e] = stats
                mine.steps = max(mine.steps, info.steps)
                mine.last_epoch = max(mine.last_epoch, info.last_epoch)
                for e, summary in info.summaries.items():
                    if e not in mine.epochs:
                        mine.summaries.setdefault(e, summary)
                self._drop_old_epochs(mine)
            self._dropped |= other._dropped
            self._loss.flush()
            self._loss.merge(their_loss)
            for name, decl in their_declared.items():  # the same whichever merges which
                mine_decl = self._declared.setdefault(name, {})
                mine_decl.update(decl)
                info = self._layers.get(name)
                if info is not None:
                    info.role = resolve_role(name, mine_decl)
                    info.graded = bool(mine_decl.get("graded", info.graded))
            self._epoch = max(self._epoch, their_epoch)
            self._version += 1
            their_phases = list(other._phases.items())
        for name, phase in their_phases:
            self.phase(name).merge(phase)

    # ------------------------------------------------------------ persistence
    def to_bytes(self) -> bytes:
        """Everything recorded, in the :meth:`save` format, as bytes."""
        from .io.persist import dump_profile

        with self._lock:
            self._loss.flush()
            return dump_profile(self)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int | None = None) -> SpikeProfiler:
        """Inverse of :meth:`to_bytes`; ``max_bytes`` as in :meth:`load`."""
        from .io.persist import read_profile
        from .io.schema import MAX_LOAD_BYTES

        return read_profile(cls, data, max_bytes=MAX_LOAD_BYTES if max_bytes is None
                            else max_bytes)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write everything recorded to ``path`` (a versioned .npz, no pickle)."""
        from .io.persist import save_profile

        _check_path(path, "save")
        with self._lock:
            self._loss.flush()
            save_profile(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *,
             max_bytes: int | None = None) -> SpikeProfiler:
        """Read a profile written by :meth:`save`; recording can continue.

        Any damaged, foreign or crafted file raises :class:`ProfileFormatError` (a
        path that cannot be opened, the usual ``OSError``). ``max_bytes`` (default
        :data:`~spikewidget.io.schema.MAX_LOAD_BYTES`, 4 GiB) bounds what the
        file may make this allocate, checked from its declared sizes before anything
        is decompressed.
        """
        from .io.persist import load_profile
        from .io.schema import MAX_LOAD_BYTES

        return load_profile(cls, path, max_bytes=MAX_LOAD_BYTES if max_bytes is None
                            else max_bytes)

    # ------------------------------------------------------------ integrations
    def watch(self, model: Any, **kwargs: Any) -> Any:
        """Record every spiking layer of a torch model on each forward call (or one
        call in ``every``).

        See :func:`spikewidget.hooks.watch.watch`; returns a handle whose
        ``remove()`` detaches every hook (also a context manager).
        """
        from .hooks.watch import watch

        return watch(self, model, **kwargs)

    def gather(self, **kwargs: Any) -> SpikeProfiler | None:
        """Merge every rank's statistics on one rank (``torch.distributed``).

        See :func:`spikewidget.io.distributed.gather`.
        """
        from .io.distributed import gather

        return gather(self, **kwargs)

    def threshold_sweep(self, model: Any, batch: Any, *, layer: str | list[str],
                        thresholds: Iterable[float] | None = None,
                        **kwargs: Any) -> Any:
        """Predict, from one batch, what each firing threshold of ``layer`` does.

        See :func:`spikewidget.sweep.runner.threshold_sweep`: returns a
        :class:`~spikewidget.sweep.result.SweepResult` (table, recommended interval, why).
        The model is never modified; nothing recorded here changes.
        """
        from .sweep.runner import threshold_sweep

        return threshold_sweep(self, model, batch, layer=layer, thresholds=thresholds,
                               **kwargs)

    def widget(self, *, phase: str = "train", **kwargs: Any) -> Any:
        """A live notebook dashboard of this profiler (:class:`ProfilerWidget`), or of
        its validation passes with ``phase="eval"`` (see :meth:`phase`)."""
        from .present.widget import ProfilerWidget

        return ProfilerWidget(self.phase(phase), **kwargs)

    def to_html(self, path: str | os.PathLike[str], **kwargs: Any) -> Any:
        """Write a self-contained offline HTML dashboard to ``path``; returns its Path.

        ``kwargs`` go to :class:`ProfilerWidget` (``epoch=``, ``layer=``, ``thresholds=``).
        """
        _check_path(path, "to_html")
        return self.widget(interval=None, **kwargs).to_html(path)

    def __repr__(self) -> str:
        return (f"SpikeProfiler(layers={self.layers}, epoch={self._epoch}, "
                f"thresholds=...)")


# ------------------------------------------------------------------ helpers
RESERVED_NAMES = frozenset({"loss"})
"""Names findings use for things that are not layers."""

MAX_RASTER_WINDOW = 65536
"""The most frames ``raster_window`` may keep per layer (9 MiB at 1024 neurons)."""
MAX_RASTER_NEURONS = 65536
"""The most neurons ``raster_neurons`` may keep per layer for pictures."""

MAX_EPOCH = 2**31 - 1
"""The largest epoch number (epochs travel to the browser as int32)."""

def _check_name(layer: Any) -> None:
    if not isinstance(layer, str) or not layer:
        raise InvalidTypeError(f"layer must be a non-empty string, got {layer!r}")
    if layer in RESERVED_NAMES:
        raise InvalidInputError(
            f"layer {layer!r}: this name is reserved for the recorded loss's findings; "
            f"name the layer otherwise")


def _check_path(path: Any, what: str) -> None:
    """A file name that can be written: a non-empty path in an existing folder."""
    if not is_path(path):
        raise InvalidTypeError(f"{what}: path must be a file name (str or os.PathLike), "
                               f"got {path!r}")
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what}: {os.fspath(path)!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what}: cannot write {os.fspath(path)!r}: the folder "
                                f"{folder!r} does not exist")


def _check_epoch(epoch: Any) -> int:
    if not is_whole(epoch) or not 0 <= epoch <= MAX_EPOCH:
        raise InvalidInputError(
            f"epoch must be a whole number from 0 to {MAX_EPOCH}, got {epoch!r}")
    return int(epoch)


def _check_neuron_axes(layer: str, axes: Any, ndim: int | None) -> None:
    if isinstance(axes, bool) or not isinstance(axes, (int, np.integer)) or axes < 1:
        raise InvalidInputError(
            f"layer {layer!r}: neuron_axes must be a whole number >= 1, got {axes!r}")
    if ndim is not None and axes > ndim:
        raise InvalidInputError(
            f"layer {layer!r}: neuron_axes={axes} but spikes has only {ndim} axes")


def _check_neuron_shape(layer: str, shape: tuple[int, ...], nshape: tuple[int, ...],
                        info: _Layer) -> None:
    if nshape != info.neuron_shape:
        raise InvalidInputError(
            f"layer {layer!r}: spikes has shape {shape}, i.e. neuron shape {nshape} "
            f"({math.prod(nshape)} neurons), but this layer was first recorded with neuron "
            f"shape {info.neuron_shape} ({info.n_neurons} neurons); expected (..., "
            f"{', '.join(map(str, info.neuron_shape))})")


def _check_declarations_agree(mine: Mapping[str, Mapping[str, Any]],
                              theirs: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse to merge profilers whose users declared a layer differently (what only
    one of them declared is taken as declared)."""
    for name, decl in theirs.items():
        here = mine.get(name, {})
        for key in ("role", "graded", "neuron_axes", "fan_out"):
            if key in decl and key in here and decl[key] != here[key]:
                raise InvalidInputError(
                    f"layer {name!r}: declared {key}={here[key]!r} here but "
                    f"{key}={decl[key]!r} in the other profiler; declare it the same way "
                    f"in both before merging")


def _role_known(decl: Mapping[str, Any]) -> bool:
    return "role" in decl or "watch_role" in decl


def _wants_counts(layer: str, role: str, info: _Layer | None, last: str | None) -> bool:
    """Measure per-sample counts for output layers, and for a new or the latest
    layer while roles may still change (the last hidden layer reads as the output)."""
    return role == "output" or (role != "input" and (info is None or last == layer))


def _device_of(x: Any) -> Any:
    torch = torch_module()
    if torch is None:
        raise InvalidInputError("backend='torch' needs torch, which is not imported")
    return x.device if isinstance(x, torch.Tensor) else torch.device("cpu")


def _device_stats(n: int, device: Any) -> Any:
    from .record.reduce_torch import DeviceEpochStats

    return DeviceEpochStats(n, device)


def _prepare(x: Any, layer: str, argument: str, device: Any,
             shape: tuple[int, ...] | None = None) -> Any:
    """Validate one argument and bring it to the layer's device (None: host)."""
    if x is None:
        if shape is None:
            raise InvalidTypeError(
                f"layer {layer!r}: {argument} must be an array (numpy.ndarray or "
                f"torch.Tensor), got NoneType")
        return None
    a = to_array(x, layer=layer, argument=argument, keep_tensor=device is not None)
    if device is None:
        a = to_host(a)
    else:
        torch = torch_module()
        if isinstance(a, np.ndarray):
            if any(st < 0 for st in a.strides):  # a reversed view: torch takes no such
                a = np.ascontiguousarray(a)
            a = torch.as_tensor(a, device=device)
        else:
            a = a.to(device)
    if shape is not None and tuple(a.shape) != shape:
        raise InvalidInputError(
            f"layer {layer!r}: {argument} has shape {tuple(a.shape)} but spikes has shape "
            f"{shape}; expected the same shape")
    return a


def _host_stats(acc: Any) -> EpochStats:
    return acc if isinstance(acc, EpochStats) else acc.to_host()
