"""Recorder: record what every layer does, step by step, in fixed memory.

Data flows one way: :meth:`Recorder.record_step` validates the input
(:mod:`~spikewidget.record.checks`), folds it into fixed-size per-layer, per-epoch
statistics (:mod:`~spikewidget.record.reduce_numpy` on the host,
:mod:`~spikewidget.record.reduce_torch` on a device) and a bounded raster window.
Reductions of host data run without the lock, so readers are never kept waiting for
long. Reading the state for a report, a save or a merge goes through
:meth:`Recorder.snapshot`; :class:`~spikewidget.profiler.SpikeProfiler` adds the
diagnosis and the integrations.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

import numpy as np

from ..core.arguments import is_one_of, is_whole
from ..core.arrays import ArrayLike, is_device_tensor, torch_module
from ..core.errors import InvalidInputError, InvalidTypeError, UnknownLayerError
from ..diagnose.roles import ROLES, resolve_role
from ..diagnose.stats import DeviceSummary, EpochSummary
from ..state.epoch_stats import EpochStats
from ..state.layer import ANALOG, Graded, LayerRecord, host_stats, is_graded
from ..state.limits import MAX_RASTER_NEURONS, MAX_RASTER_WINDOW, PHASES, check_epoch
from ..state.loss import LossTracker
from ..state.raster import RASTER_NEURONS, RasterSnapshot
from ..state.snapshot import ProfileSnapshot
from .checks import (
    check_declarations_agree,
    check_fed_by,
    check_name,
    check_neuron_axes,
    check_neuron_shape,
    device_of,
    merge_declarations,
    prepare,
)
from .reduce_numpy import (
    StepResult,
    add_gradients,
    add_input_nonfinite,
    add_input_reach,
    apply_step,
    compute_step,
)

Backend = Literal["auto", "numpy", "torch"]
R = TypeVar("R", bound="Recorder")


class Recorder:
    """Records spikes, voltages and gradients per layer per step, and losses.

    ``raster_window`` is how many recent time steps per layer are kept for rasters,
    of at most ``raster_neurons`` neurons per layer (a strided sample of bigger
    layers), as bits: at most :func:`~spikewidget.state.raster.raster_bytes` per
    layer (396 KiB with the defaults, epoch snapshots included), whatever the
    layer's size. ``max_epochs``: keep the statistics of at most this many epochs
    per layer (the newest; older ones are dropped, and reports and the widget say
    so). Each layer holds 56 bytes per neuron per epoch (seven float64 per-neuron
    sums; 64 once it emits a value other than 0 and 1, or on a device), whatever
    the number of steps: None (the default) keeps every epoch.
    ``backend``: ``"auto"`` reduces device tensors on their device and everything
    else with NumPy; ``"torch"`` always uses torch ops; ``"numpy"`` always copies
    to the host.
    """

    def __init__(self, *, raster_window: int = 256, raster_neurons: int = RASTER_NEURONS,
                 max_epochs: int | None = None, backend: Backend = "auto") -> None:
        if not is_whole(raster_window) or not 0 <= raster_window <= MAX_RASTER_WINDOW:
            raise InvalidInputError(
                f"raster_window must be a whole number of time steps from 0 to "
                f"{MAX_RASTER_WINDOW}, got {raster_window!r}")
        if not is_whole(raster_neurons) or not 0 <= raster_neurons <= MAX_RASTER_NEURONS:
            raise InvalidInputError(
                f"raster_neurons must be a whole number of neurons from 0 to "
                f"{MAX_RASTER_NEURONS}, got {raster_neurons!r}")
        if max_epochs is not None and (not is_whole(max_epochs) or max_epochs < 1):
            raise InvalidInputError(
                f"max_epochs must be None (keep every epoch) or a whole number of epochs "
                f">= 1, got {max_epochs!r}")
        if not is_one_of(backend, ("auto", "numpy", "torch")):
            raise InvalidInputError(
                f"backend must be 'auto', 'numpy' or 'torch', got {backend!r}")
        self.raster_window = int(raster_window)
        self.raster_neurons = int(raster_neurons)
        self.max_epochs = None if max_epochs is None else int(max_epochs)
        self.backend = backend
        self._lock = threading.RLock()
        self._layers: dict[str, LayerRecord] = {}
        self._declared: dict[str, dict[str, Any]] = {}
        self._loss = LossTracker()
        self._epoch = 0
        self._dropped: set[int] = set()  # epochs whose layer statistics were dropped
        self._version = 0
        self._phases: dict[str, Recorder] = {}  # see phase()

    def _settings(self) -> dict[str, Any]:
        """The keyword arguments that make an empty recorder like this one."""
        return {"raster_window": self.raster_window, "raster_neurons": self.raster_neurons,
                "max_epochs": self.max_epochs, "backend": self.backend}

    def fresh(self: R, **changes: Any) -> R:
        """An empty recorder of this class with this one's settings (``changes``
        override them) and declarations, what :func:`watch` saw of the model
        included: nothing recorded."""
        other = type(self)(**{**self._settings(), **changes})
        with self._lock:
            other._declared = {k: dict(v) for k, v in self._declared.items()}
        return other


    @property
    def version(self) -> int:
        """A counter that grows whenever anything recorded or declared changes (for
        readers such as the widget that poll for changes without building reports)."""
        return self._version

    def _touch(self) -> None:
        """Mark a change readers should see (the :attr:`version` grows)."""
        with self._lock:
            self._version += 1

    def declare_layer(self, name: str, *, role: str | None = None,
                      graded: Graded | None = None, neuron_axes: int | None = None,
                      fan_out: float | None = None, threshold: float | None = None,
                      resting_potential: float | None = None,
                      fed_by: Sequence[str] | None = None,
                      spike_ceiling: float | None = None) -> None:
        """Say what a layer is, before or after it is recorded.

        ``role``: ``"input"`` (its values are checked for counts), ``"output"`` (its
        per-sample spike counts are checked for overflow) or ``"hidden"``; by default
        inferred from the name. ``graded=True`` means non-binary spikes are intended
        (snnTorch ``graded_spikes_factor``, SEW-ResNet ADD): dead and saturated are
        then judged on spike events (finite non-zero values), not on their sizes.
        ``graded="analog"``: a continuous output, seldom exactly 0 (SpikingJelly's
        ``LIAFNode``); judged dead when it stays 0, never saturated. ``neuron_axes``: how many
        trailing axes index neurons (3 for ``(time, batch, channels, height, width)``).
        ``fan_out``: how many synapses each of its neurons drives (a following
        ``nn.Linear``: its ``out_features``), for ``LayerStats.estimated_syn_ops``
        (spikes x fan-out); ``watch`` sets it where it can read it from the model.
        ``threshold`` and ``resting_potential``: the firing threshold and the potential
        the membrane starts from, in the units of the recorded voltages; with them a
        silent layer is told whether its membrane falls short of the threshold or never
        rises at all (``watch`` reads both from snnTorch, SpikingJelly and Norse layers
        whose threshold is not learnt). ``fed_by``: the recorded layers whose spikes make
        this layer's input current, and ``spikewidget.DATA`` where the data reach it
        too (a name that is not a recorded layer counts as a feed that carries
        signal); with it a silent layer is said to follow from silent layers before it
        only when every feed is silent too (``watch`` learns it from the autograd
        graph of its first forward with gradients, following the data through it).
        ``spike_ceiling``: the most one neuron of a graded layer can emit in one step
        (integer spikes 0..D: D); a graded layer is saturated when its mean output per
        step nears it, and not judged saturated without it (``watch`` reads
        SpikingJelly's ILIF ``max_spike_count`` and snnTorch's fixed
        ``graded_spikes_factor``).
        """
        check_name(name)
        if fed_by is not None:
            fed_by = check_fed_by(name, fed_by)
        for key, level in (("threshold", threshold), ("resting_potential",
                                                      resting_potential)):
            if level is not None and (isinstance(level, bool) or not isinstance(
                    level, (int, float, np.number)) or not math.isfinite(level)):
                raise InvalidInputError(
                    f"layer {name!r}: {key} must be a finite number (a potential in the "
                    f"units of the recorded voltages), got {level!r}")
        if spike_ceiling is not None and (
                isinstance(spike_ceiling, bool)
                or not isinstance(spike_ceiling, (int, float, np.number))
                or not math.isfinite(spike_ceiling) or spike_ceiling <= 0):
            raise InvalidInputError(
                f"layer {name!r}: spike_ceiling must be a positive finite number (the "
                f"most one neuron can emit in one step), got {spike_ceiling!r}")
        if fan_out is not None and (isinstance(fan_out, bool)
                                    or not isinstance(fan_out, (int, float, np.number))
                                    or not math.isfinite(fan_out) or fan_out <= 0):
            raise InvalidInputError(
                f"layer {name!r}: fan_out must be a positive number of synapses per "
                f"neuron, got {fan_out!r}")
        if role is not None and not is_one_of(role, ROLES):
            raise InvalidInputError(
                f"layer {name!r}: role must be one of {ROLES}, got {role!r}")
        if graded is not None and not is_graded(graded):
            raise InvalidTypeError(f"layer {name!r}: graded must be True, False or "
                                   f"{ANALOG!r}, got {graded!r}")
        if neuron_axes is not None:
            check_neuron_axes(name, neuron_axes, None)
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
            for key, number in (("fan_out", fan_out), ("threshold", threshold),
                                ("resting_potential", resting_potential),
                                ("spike_ceiling", spike_ceiling)):
                if number is not None:
                    decl[key] = float(number)
            if fed_by is not None:
                decl["fed_by"] = fed_by
            for key, value in (("role", role), ("graded", graded),
                               ("neuron_axes", neuron_axes)):
                if value is not None:
                    decl[key] = value
                    if info is not None and key != "neuron_axes":
                        setattr(info, key, value)
            phases = list(self._phases.values())
        for other in phases:
            other.declare_layer(name, role=role, graded=graded, neuron_axes=neuron_axes,
                                spike_ceiling=spike_ceiling, threshold=threshold,
                                resting_potential=resting_potential, fed_by=fed_by)

    def note_model_output(self, watched: list[str], output: str | None) -> None:
        """What :func:`watch` saw: ``output`` is the watched layer whose spikes the
        model returns, or None when a non-spiking readout (``nn.Linear``, a leaky
        integrator) follows every watched layer. Declarations still win."""
        if not isinstance(watched, (list, tuple)) or not all(
                isinstance(n, str) for n in watched):
            raise InvalidTypeError(f"note_model_output: watched must be a list of layer "
                                   f"names, got {watched!r}")
        if output is not None and output not in watched:
            raise InvalidInputError(f"note_model_output: output must be one of the watched "
                                    f"layers or None, got {output!r}")
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
            other.note_model_output(watched, output)

    def neuron_axes(self, name: str) -> int | None:
        """How many trailing axes index neurons in layer ``name``: as recorded, else as
        declared, else None."""
        check_name(name)
        with self._lock:
            info = self._layers.get(name)
            if info is not None:
                return info.neuron_axes
            return self._declared.get(name, {}).get("neuron_axes")

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

    def record_step(self, layer: str, spikes: ArrayLike, voltages: ArrayLike | None = None,
                    gradients: ArrayLike | None = None, *, epoch: int | None = None,
                    neuron_axes: int | None = None) -> None:
        """Record one step of one layer.

        Args:
            layer: the layer's name; layers are reported in order of first recording.
            spikes: ``(n_neurons,)``, ``(batch, n_neurons)``, ``(time, batch, n_neurons)``
                or with several trailing neuron axes (see ``neuron_axes``); NumPy or
                torch on any device. A neuron's rate is its spikes per observation
                (per time step per sample).
            voltages: membrane potentials, same shape as ``spikes``; or, when
                ``spikes`` has a time axis, the shape of one time step
                (``spikes.shape[1:]``): the membrane after the last step only (all a
                framework that keeps just its final state shows, e.g. a SpikingJelly
                multi-step node without ``store_v_seq``). Such a reading adds to the
                voltage moments and extrema, not to the spread over time.
            gradients: gradients of the loss with respect to the spikes, same shape.
            epoch: record into this epoch (and make it the current one).
            neuron_axes: how many trailing axes index neurons (default 1, or what
                the layer was first recorded or declared with).

        Raises :class:`InvalidTypeError` / :class:`InvalidInputError` for bad input,
        leaving everything recorded so far unchanged. NaN, Inf and huge values are
        recorded and reported, never rejected.
        """
        check_name(layer)
        ep = self._epoch if epoch is None else check_epoch(epoch)
        info, decl, last = self._peek(layer)
        axes = neuron_axes if neuron_axes is not None else (
            info.neuron_axes if info is not None else decl.get("neuron_axes", 1))
        if info is not None:
            device = info.device
        elif self.backend == "torch" or (self.backend == "auto" and is_device_tensor(spikes)):
            device = device_of(spikes)
        else:
            device = None
        x = prepare(spikes, layer, "spikes", device)
        shape = tuple(x.shape)
        check_neuron_axes(layer, axes, len(shape))
        axes = int(axes)
        split = len(shape) - axes
        lead, nshape = shape[:split], shape[split:]
        if info is not None:
            check_neuron_shape(layer, shape, nshape, info)
        time_steps = lead[0] if len(lead) >= 2 else None
        one_step = time_steps is not None and _shape_of(voltages) == shape[1:]
        v = prepare(voltages, layer, "voltages", device, shape[1:] if one_step else shape)
        g = prepare(gradients, layer, "gradients", device, shape)
        n, m = math.prod(nshape), math.prod(lead)
        x2 = x.reshape(m, n)
        v2 = None if v is None else v.reshape(m // time_steps if one_step else m, n)
        g2 = None if g is None else g.reshape(m, n)
        role = info.role if info is not None else resolve_role(layer, decl)
        want_counts = _wants_counts(layer, role, info, last, time_steps is not None)
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

    def record_reduced(self, layer: str, shape: tuple[int, ...], neuron_axes: int,
                        compute: Callable[[bool], StepResult], frames: Any) -> None:
        """Record one host step whose reductions were made elsewhere (the folded
        sequences of :mod:`~spikewidget.hooks.sequence`). ``shape``: the step's ``(time, batch,
        *neurons)``; ``compute(want_counts)`` gives its :class:`StepResult`;
        ``frames``: ``(time, n_neurons)`` of the first sample, for the raster."""
        check_name(layer)
        if not isinstance(shape, tuple) or not all(is_whole(d) and d >= 0 for d in shape):
            raise InvalidTypeError(f"layer {layer!r}: shape must be a tuple of sizes, "
                                   f"got {shape!r}")
        check_neuron_axes(layer, neuron_axes, len(shape))
        if not callable(compute):
            raise InvalidTypeError(f"layer {layer!r}: compute must be callable, got "
                                   f"{type(compute).__name__}")
        ep = self._epoch
        info, decl, _ = self._peek(layer)
        nshape = shape[len(shape) - neuron_axes:]
        if info is not None:
            check_neuron_shape(layer, shape, nshape, info)
            if info.device is not None:
                raise InvalidInputError(f"layer {layer!r} is recorded on {info.device}; "
                                        f"record each layer from one device")
        role = info.role if info is not None else resolve_role(layer, decl)
        result = compute(_wants_counts(layer, role, info, None))

        def fold(acc: Any, step: int) -> None:
            apply_step(acc, result, step=step)

        self._file(layer, info, ep, decl, role, neuron_axes, shape, None, fold, frames)

    def _peek(self, layer: str) -> tuple[LayerRecord | None, dict[str, Any], str | None]:
        """What validating a step of ``layer`` needs: the layer as recorded so far (or
        None), its declarations and the latest recorded layer (reductions run unlocked)."""
        with self._lock:
            return (self._layers.get(layer), dict(self._declared.get(layer, {})),
                    next(reversed(self._layers), None))

    def _file(self, layer: str, info: LayerRecord | None, ep: int, decl: dict[str, Any],
              role: str, axes: int, shape: tuple[int, ...], device: Any,
              fold: Callable[[Any, int], None], frames: Any) -> None:
        """Fold a validated step into its layer's epoch statistics and raster (``info``
        is the layer as seen before validation, None if it was new then)."""
        nshape = shape[len(shape) - axes:]
        with self._lock:
            now = self._layers.get(layer)
            if now is not None and now is not info:  # created by another thread meanwhile
                check_neuron_shape(layer, shape, nshape, now)
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
                    else device_stats(math.prod(nshape), device)
                for other in (info.epochs.values() if info is not None else ()):
                    other.open = None  # a new epoch starts new sequences (temporal)
            step = info.steps if info is not None else 0
            fold(acc, step)
            # ---- commit: the step is in; now file it ----
            if info is None:
                info = LayerRecord(layer, role, decl.get("graded", False), axes, nshape,
                                   device, self.raster_window, self.raster_neurons)
                self._layers[layer] = info
            info.epochs[ep] = acc
            self._drop_old_epochs(info)
            info.raster.push(frames, step, ep)
            info.steps += 1
            info.last_epoch = ep
            self._epoch = ep
            self._version += 1

    def _check_keeps(self, layer: str, info: LayerRecord, ep: int) -> None:
        """Refuse a step into an epoch that ``max_epochs`` dropped or would drop at once."""
        k = self.max_epochs
        if k is None:
            return
        if len(info.epochs) >= k and ep < min(info.epochs):
            raise InvalidInputError(
                f"layer {layer!r}: epoch {ep} is older than the {k} newest epochs "
                f"kept (max_epochs={k}; kept: {sorted(info.epochs)}); its statistics "
                f"are dropped")

    def _drop_old_epochs(self, info: LayerRecord) -> None:
        """Keep the newest ``max_epochs`` epochs of a layer (call under the lock)."""
        k = self.max_epochs
        if k is None or len(info.epochs) <= k:
            return
        for e in sorted(info.epochs)[:-k]:
            acc = info.epochs.pop(e)
            info.summaries[e] = (EpochSummary.of(e, acc, info.graded)
                                 if isinstance(acc, EpochStats)
                                 else DeviceSummary(e, acc, info.graded))  # no sync
            info.memo.pop(e, None)
            self._dropped.add(e)

    @property
    def dropped_epochs(self) -> list[int]:
        """Epochs whose layer statistics ``max_epochs`` dropped (their loss is kept)."""
        with self._lock:
            return sorted(self._dropped)

    def record_gradients(self, layer: str, gradients: ArrayLike, *,
                         epoch: int | None = None) -> None:
        """Record the gradient of the loss w.r.t. a layer's spikes for one step.

        ``gradients`` has any leading axes and the layer's neuron shape as trailing
        axes; the layer must already be recorded. Adds one gradient-norm sample
        to the epoch of the layer's latest step (or ``epoch``); not a new step.
        Used by backward hooks, which see gradients after the forward was recorded.
        """
        check_name(layer)
        with self._lock:
            info = self._layer(layer)
            ep = info.last_epoch if epoch is None else check_epoch(epoch)
            if ep not in info.epochs:
                raise InvalidInputError(
                    f"layer {layer!r}: no step was recorded in epoch {ep}; gradients "
                    f"belong to a recorded step (epochs: {sorted(info.epochs)})")
            g = prepare(gradients, layer, "gradients", info.device)
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

    def record_input_reach(self, layer: str, blocked: Any, checked: Any) -> None:
        """Add one record of the gradient at ``layer``'s input to its latest step:
        ``checked`` neurons got a gradient at their spikes, and ``blocked`` of them did
        not fire and got none at their input (exactly 0 everywhere: their spike function
        passed none).
        Whole numbers with ``0 <= blocked <= checked``, or 0-d tensors (kept on their
        device on the device path)."""
        torch = torch_module()
        values = {"blocked": blocked, "checked": checked}
        for arg, v in values.items():
            if not ((torch is not None and isinstance(v, torch.Tensor) and v.ndim == 0)
                    or (is_whole(v) and v >= 0)):
                raise InvalidTypeError(f"layer {layer!r}: {arg} must be a whole number of "
                                       f"neurons >= 0 or a 0-d tensor, got {v!r}")
        if is_whole(blocked) and is_whole(checked) and blocked > checked:
            raise InvalidInputError(f"layer {layer!r}: blocked ({blocked}) counts some of "
                                    f"the checked neurons ({checked}): it cannot exceed it")
        with self._lock:
            info = self._layer(layer)
            acc = info.epochs.get(info.last_epoch)
            if acc is None:
                return
            if info.device is None:
                add_input_reach(acc, int(blocked), int(checked))
            else:
                acc.add_input_reach(blocked, checked)
            self._version += 1

    def record_input_nonfinite(self, layer: str, count: Any) -> None:
        """Add ``count`` NaN/Inf values found in the gradient at ``layer``'s input
        (a tensor count stays on its device on the device path) to its latest step."""
        torch = torch_module()
        counted = torch is not None and isinstance(count, torch.Tensor) and count.ndim == 0
        if not (counted or (is_whole(count) and count >= 0)):
            raise InvalidTypeError(f"layer {layer!r}: count must be a whole number of "
                                   f"NaN/Inf values >= 0 or a 0-d tensor, got {count!r}")
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

    def record_loss(self, loss: float | ArrayLike, n_classes: int | None = None, *,
                    epoch: int | None = None) -> None:
        """Record the training loss (a number or a one-element tensor, any device).

        ``n_classes`` (C) enables the chance-level check against ln C.
        """
        with self._lock:
            ep = self._epoch if epoch is None else check_epoch(epoch)
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

    @contextlib.contextmanager
    def consistent(self: R) -> Iterator[R]:
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
            return self.snapshot().recorded_epochs()

    def raster(self, layer: str, epoch: int | None = None) -> RasterSnapshot:
        """The recent frames of one layer (first sample of each batch), oldest first;
        with ``epoch``, that epoch's frames: those still in the window, or its kept
        snapshot (its last frames) when that holds more. Of at most
        ``raster_neurons`` neurons: ``snapshot.neurons`` says which."""
        with self._lock:
            store = self._layer(layer).raster
            if epoch is None:
                return store.snapshot()
            ep = check_epoch(epoch)
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

    def phase(self: R, name: str = "eval") -> R:
        """The recorder that holds the passes of phase ``name``.

        ``"train"`` is this one. ``"eval"``: validation passes, kept apart so they
        never mix into the training statistics; :meth:`watch` records a forward
        there when the model is in eval mode (``model.training`` False). Record into
        it by hand (``profiler.phase("eval").record_loss(val_loss)``), read it with
        ``report(phase="eval")`` or ``widget(phase="eval")``, save it with its own
        ``save()``. It shares this recorder's settings, declarations and epoch.
        """
        if not is_one_of(name, PHASES):
            raise InvalidInputError(f"phase must be one of {PHASES}, got {name!r}")
        if name == "train":
            return self
        with self._lock:
            other = self._phases.get(name)
            if other is None:
                other = self._phases[name] = self.fresh()
                self._version += 1
            self._share_with(other)
            other._epoch = max(other._epoch, self._epoch)
            return other

    def _share_with(self: R, phase: R) -> None:
        """Pass on to a phase what every phase shares beyond declarations and epoch
        (nothing here; a subclass adds its own)."""

    def phase_recorders(self: R) -> dict[str, R]:
        """The phases other than ``"train"`` made so far, by name."""
        with self._lock:
            return dict(self._phases)

    @property
    def phases(self) -> list[str]:
        """The phases with anything recorded: ``"train"`` (this recorder), ``"eval"``."""
        with self._lock:
            others = list(self._phases.items())
            mine = bool(self._layers or self._loss.count)
        return (["train"] if mine else []) + [n for n, p in others if p._has_data()]

    def _has_data(self) -> bool:
        """Whether any layer step or loss was recorded."""
        with self._lock:
            return bool(self._layers or self._loss.count)

    def _layer(self, name: str) -> LayerRecord:
        if not isinstance(name, str) or name not in self._layers:
            raise UnknownLayerError(
                f"no layer {name!r} was recorded; recorded layers: {list(self._layers)}")
        return self._layers[name]

    def merge(self, other: Recorder) -> None:
        """Fold ``other``'s statistics into this recorder.

        The result equals one recorder that recorded both (rates, counts, extrema,
        voltage moments, gradient norms, non-finite findings, losses). Layers new
        to this recorder are appended in ``other``'s order. Both keep running.
        """
        if not isinstance(other, Recorder):
            raise InvalidTypeError(f"merge expects a {type(self).__name__}, got "
                                   f"{type(other).__name__}")
        if other is self:
            raise InvalidInputError("cannot merge a profiler into itself")
        with other.consistent():  # what merging reads of it: its snapshot, copied
            snap = other.snapshot()
            snap.loss.flush()
            theirs = [(info, {e: host_stats(a).copy() for e, a in info.epochs.items()},
                       (info.raster.snapshot(), info.raster.epoch_snapshots()))
                      for info in snap.layers.values()]
            their_loss, their_epoch, their_dropped = snap.loss, snap.epoch, set(snap.dropped)
            their_declared = {k: dict(v) for k, v in snap.declared.items()}
            their_phases = list(other.phase_recorders().items())
        with self._lock:
            for info, _, _ in theirs:
                mine = self._layers.get(info.name)
                if mine is not None and mine.neuron_shape != info.neuron_shape:
                    raise InvalidInputError(
                        f"layer {info.name!r}: neuron shape {info.neuron_shape} in the "
                        f"other profiler, {mine.neuron_shape} here; cannot merge")
            check_declarations_agree(self._declared, their_declared)
            for info, epochs, raster in theirs:
                mine = self._layers.get(info.name)
                if mine is None:
                    mine = LayerRecord(info.name, info.role, info.graded, info.neuron_axes,
                                       info.neuron_shape, None, self.raster_window,
                                       self.raster_neurons)
                    mine.raster.restore_epochs(raster[1])
                    mine.raster.restore(raster[0])
                    self._layers[info.name] = mine
                elif mine.device is not None:
                    mine.epochs = {e: host_stats(a) for e, a in mine.epochs.items()}
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
            self._dropped |= their_dropped
            self._loss.flush()
            self._loss.merge(their_loss)
            for name, decl in their_declared.items():  # the same whichever merges which
                mine_decl = self._declared.setdefault(name, {})
                merge_declarations(mine_decl, decl)
                info = self._layers.get(name)
                if info is not None:
                    info.role = resolve_role(name, mine_decl)
                    info.graded = mine_decl.get("graded", info.graded)
            self._epoch = max(self._epoch, their_epoch)
            self._version += 1
        for name, phase in their_phases:
            self.phase(name).merge(phase)

    def snapshot(self) -> ProfileSnapshot:
        """Everything recorded, as one value that shares this recorder's objects (no
        copy): read it while holding :meth:`consistent`."""
        with self._lock:
            return ProfileSnapshot(self.raster_window, self.raster_neurons, self.max_epochs,
                                   self._layers, self._declared, self._loss, self._epoch,
                                   self._dropped)

    def restore(self: R, snap: ProfileSnapshot, phases: Mapping[str, R] | None = None
                ) -> None:
        """Replace everything recorded by ``snap`` (a loaded profile) and the phases
        by ``phases``; ``snap`` must have this recorder's raster settings."""
        if not isinstance(snap, ProfileSnapshot):
            raise InvalidTypeError(f"restore expects a ProfileSnapshot, got "
                                   f"{type(snap).__name__}")
        mine = (self.raster_window, self.raster_neurons, self.max_epochs)
        if (snap.raster_window, snap.raster_neurons, snap.max_epochs) != mine:
            raise InvalidInputError(
                f"restore: the snapshot was recorded with raster_window="
                f"{snap.raster_window}, raster_neurons={snap.raster_neurons}, max_epochs="
                f"{snap.max_epochs}; this recorder has {mine}")
        with self._lock:
            self._layers = dict(snap.layers)
            self._declared = {k: dict(v) for k, v in snap.declared.items()}
            self._loss = snap.loss
            self._epoch = snap.epoch
            self._dropped = set(snap.dropped)
            self._phases = dict(phases or {})
            self._version += 1



def _wants_counts(layer: str, role: str, info: LayerRecord | None, last: str | None,
                  timed: bool = True) -> bool:
    """Measure per-sample counts (in how many samples each neuron fired, and the
    counts per sample) for every layer but the input whose record has a time axis
    (``timed``): the dead rule reads a hidden neuron of a long sequence by the samples
    it fires in, and any layer may turn out to be the output. Cheap: a sum over time of
    the step's spikes (per-step models fold them anyway), then a count over
    ``(samples, neurons)``. A record without a time axis (one step) says nothing of a
    hidden layer's samples: counted only for an output, and for a new or the latest
    layer while roles may still change (the last layer reads as the output)."""
    if role == "input":
        return False
    return timed or role == "output" or info is None or last == layer


def device_stats(n: int, device: Any) -> Any:
    """A device accumulator of ``n`` neurons (torch is imported only here)."""
    from .reduce_torch import DeviceEpochStats

    return DeviceEpochStats(n, device)


def _shape_of(x: Any) -> tuple[int, ...] | None:
    """An array's shape (read from its metadata: no device synchronisation), or None."""
    shape = getattr(x, "shape", None)
    return None if shape is None else tuple(shape)
