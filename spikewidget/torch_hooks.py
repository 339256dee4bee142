"""Watch a torch model: forward hooks that record every spiking layer, by itself.

:func:`watch` finds the neuron layers (:mod:`adapters` knows each framework's
outputs), hooks them, and on every forward call records their spikes and
membrane potentials under their module path, in the model's order.

Time steps. A sequence module (SpikingJelly ``step_mode='m'``, Norse ``LIF``)
returns ``(time, batch, *neurons)``: one record per call. A per-step layer
returns ``(batch, *neurons)`` once per time step; its frames wait in a
:class:`~spikewidget.sequence.Sequence` (kept, or folded into counts as they come)
and are recorded as one ``(time, batch, *neurons)`` step when the watched model's
forward returns (the model loops over time inside), or every ``time_steps`` calls
when given (the model is called once per time step).
Either way a rate is spikes per time step per sample, and output layers get
per-sample spike counts summed over time.

Gradients (``gradients=True``): a tensor hook on each layer's spikes adds the
norm of d(loss)/d(spikes) over one record (all its time steps) to the layer's
statistics. Hooks never change outputs or gradients, never read tensor values
on the host (no device synchronisation), and a layer whose output cannot be
read is reported in a warning naming it and then left alone, never a crash.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from . import adapters
from .adapters import Neuron, Reading
from .errors import InvalidInputError, InvalidTypeError
from .fan_out import fan_out_after
from .profiler import SpikeProfiler
from .sequence import VOLTAGE_STRIDE, Sequence

Extract = Callable[[Any], Any]
_TENSOR_HOOKS_KEPT = 4096  # recent tensor-hook handles kept to remove on detach
_GROUPS_WAITING = 64  # recorded sequences per layer whose gradients may still come


class _GradGroup:
    """Sums of squared gradients over the frames of one grouped record, per sample
    and neuron (the norm of a record is the root of their total)."""

    __slots__ = ("closed", "hooked", "received", "sq")

    def __init__(self) -> None:
        self.hooked = 0  # frames whose spikes carry a tensor hook
        self.received = 0
        self.closed = False  # the frames are recorded: no more will join
        self.sq: Any = None

    def add(self, g: Any) -> None:
        """Add one frame's gradient: one in-place op per frame (a gradient above
        ~1e19 squares to Inf in float32 and is reported as non-finite)."""
        g = g.detach()
        if g.dtype not in (torch.float32, torch.float64):  # half precision: square in float
            g = g.float()
        if self.sq is None:
            self.sq = g * g
        else:
            self.sq.addcmul_(g, g)
        self.received += 1

    @property
    def complete(self) -> bool:
        return self.closed and self.received >= self.hooked


class _Tap:
    """One watched layer: how to read it and the frames not yet recorded."""

    def __init__(self, handle: WatchHandle, name: str, module: Any, neuron: Neuron) -> None:
        self.handle = handle
        self.name = name
        self.module = module
        self.neuron = neuron
        self.neuron_axes: int | None = None
        self.frames = handle._sequence(name)  # the current sequence's frames
        self.signature: tuple[Any, ...] = ()  # their (shape, dtype, device, voltages?)
        self.steady = False  # frames like the last one take the short path (see hook)
        self.group: _GradGroup | None = None  # gradients of the pending frames
        self.waiting: deque[_GradGroup] = deque()  # recorded, awaiting gradients
        self.failed = False

    # ------------------------------------------------------------ forward
    def hook(self, module: Any, args: Any, output: Any) -> None:
        """The forward hook: runs on every call of the layer (200 times a training
        step of the story's network). A frame like the one before it in the
        sequence (shape, dtype, device, voltages or not), with nothing to copy and
        no gradient to hook, takes the short path: a compare and two appends."""
        if self.failed or not self.handle.recording:
            return
        try:
            spikes, voltages, time_axis = self.neuron.read(self.module, output)
            if spikes is None:
                return
            if self.steady and spikes.__class__ is torch.Tensor and (
                    spikes.shape, spikes.dtype, spikes.device, voltages is None
            ) == self.signature:
                frames = self.frames
                frames.append(spikes, voltages)
                steps = self.handle.time_steps
                if steps is not None and len(frames) >= steps:
                    self.flush()
            else:
                self._take(spikes, voltages, time_axis)
        except Exception as exc:  # never crash training: warn once, stop this layer
            self.fail(exc, "read the output of")

    def _take(self, spikes: Any, voltages: Any, time_axis: bool) -> None:
        handle = self.handle
        if not isinstance(spikes, torch.Tensor):
            raise TypeError(f"its spikes are a {type(spikes).__name__}, not a tensor")
        axes = self.neuron_axes
        if axes is None:
            axes = self.neuron_axes = handle._neuron_axes(self.name, spikes.ndim, time_axis)
        lead = spikes.ndim - axes
        if lead < 0:
            raise ValueError(f"its spikes have shape {tuple(spikes.shape)}, fewer axes than "
                             f"the layer's {axes} neuron axes")
        want_grad = handle.gradients and spikes.requires_grad
        if lead >= 2 or (handle.time_steps is None and handle._depth == 0):
            self.flush()  # a whole sequence, or a call outside the model: record it now
            handle._record(self.name, spikes.detach(),
                           None if voltages is None else voltages.detach(), axes)
            if want_grad:
                handle._hook_tensor(spikes, self._direct_grad)
            return
        # one frame of a sequence (values as of this call, see :mod:`sequence`); a frame
        # unlike the others (e.g. a smaller last batch) starts a new sequence
        signature = (spikes.shape, spikes.dtype, spikes.device, voltages is None)
        if signature != self.signature:
            self.flush()
            self.signature = signature
        frames = self.frames
        frames.add(spikes, voltages, lead == 1)
        # the next frames like this one take the short path (see hook)
        self.steady = not handle.gradients and frames.copying is False
        if want_grad:
            group = self.group = self.group or _GradGroup()
            group.hooked += 1
            handle._hook_tensor(spikes, lambda g: self._grouped_grad(group, g))
        if handle.time_steps is not None and len(frames) >= handle.time_steps:
            self.flush()

    def flush(self) -> None:
        """Record the pending per-step frames as one ``(time, batch, ...)`` step."""
        group, self.group, self.steady = self.group, None, False
        if not len(self.frames) or self.failed:
            return
        try:
            self.frames.record(self.handle.profiler, self.neuron_axes or 1)
        except Exception as exc:
            self.fail(exc, "record")
            return
        if group is not None:
            group.closed = True
            self.waiting.append(group)
            self.settle()

    # ------------------------------------------------------------ backward
    def _direct_grad(self, g: Any) -> None:
        if self.failed or not self.handle.active:
            return
        try:
            self.handle.profiler.record_gradients(self.name, g.detach())
        except Exception as exc:
            self.fail(exc, "record the gradient of")

    def _grouped_grad(self, group: _GradGroup, g: Any) -> None:
        if self.failed or not self.handle.active:
            return
        try:
            if group is self.group:  # backward before the sequence was closed
                self.handle._flush_all()
            group.add(g)
            self.settle()
        except Exception as exc:
            self.fail(exc, "record the gradient of")

    def settle(self, final: bool = False) -> None:
        """Record the norm of every group whose gradients have all arrived; with
        ``final`` (or when too many wait: no backward came) also partial ones."""
        while self.waiting:
            group = self.waiting[0]
            if not (group.complete or final or len(self.waiting) > _GROUPS_WAITING):
                return
            self.waiting.popleft()
            if group.sq is not None:
                self.handle.profiler.record_gradients(self.name, group.sq.sqrt())

    def fail(self, exc: BaseException, what: str) -> None:
        self.failed = True
        self.frames.clear()
        self.group, self.waiting = None, deque()
        hint = ("pass the spikes as the model's first positional argument"
                if self.neuron.framework == "input" else
                f"name it in watch(..., extract={{{self.name!r}: fn}}) with fn(output) -> "
                f"spikes or (spikes, voltages) to say how to read it")
        warnings.warn(
            f"spikewidget.watch: could not {what} layer {self.name!r} "
            f"({type(self.module).__name__}): {type(exc).__name__}: {exc}. This layer is "
            f"no longer recorded; {hint}.", RuntimeWarning, stacklevel=3)


class WatchHandle:
    """The hooks :func:`watch` placed; ``remove()`` (or leaving a ``with`` block)
    records what is pending and detaches every one of them.

    ``layers``: the recorded layer names in model order (``input`` first when the
    input is watched); ``skipped``: layers found but not recorded, with the reason.
    """

    def __init__(self, profiler: SpikeProfiler, model: Any, *, gradients: bool,
                 time_steps: int | None, sample_voltages: bool = True,
                 every: int = 1) -> None:
        self.profiler = profiler
        self.model = model
        self.gradients = gradients
        self.time_steps = time_steps
        self.sample_voltages = sample_voltages
        self.every = every
        self.layers: list[str] = []
        self.skipped: dict[str, str] = {}
        self.active = True
        self.recording = True  # active, and the current forward is one to record
        self._forwards = 0  # forward calls of the model so far
        self._taps: list[_Tap] = []
        self._hooks: list[Any] = []
        self._tensor_hooks: deque[Any] = deque(maxlen=_TENSOR_HOOKS_KEPT)
        self._depth = 0

    # ------------------------------------------------------------ public
    def flush(self) -> None:
        """Record every pending frame and gradient now (rarely needed: a report
        reads what was recorded; frames are pending only mid-sequence)."""
        self._flush_all()
        for tap in self._taps:
            tap.settle(final=True)

    def remove(self) -> None:
        """Record what is pending, then detach every hook this handle placed."""
        if not self.active:
            return
        self.flush()
        self.active = self.recording = False
        for h in self._hooks:
            h.remove()
        for h in self._tensor_hooks:
            h.remove()
        self._hooks.clear()
        self._tensor_hooks.clear()
        for tap in self._taps:
            tap.frames = self._sequence(tap.name)  # free the buffers

    def __enter__(self) -> WatchHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "active" if self.active else "removed"
        every = f", every={self.every}" if self.every != 1 else ""
        return (f"WatchHandle({state}, layers={self.layers}, skipped={list(self.skipped)}"
                f"{every})")

    # ------------------------------------------------------------ internals
    def _neuron_axes(self, name: str, ndim: int, time_axis: bool) -> int:
        """The layer's neuron axes: as recorded or declared, else all but
        ``(time, batch)`` or ``(batch,)``."""
        known = self.profiler.neuron_axes(name)
        if known is not None:
            return known
        return max(ndim - (2 if time_axis else 1), 1)

    def _record(self, name: str, spikes: Any, voltages: Any, axes: int | None) -> None:
        self.profiler.record_step(name, spikes, voltages, neuron_axes=axes)

    def _sequence(self, name: str) -> Sequence:
        # a stand-in profiler (the sweep's) records whole steps only, and a profiler
        # with backend="torch" keeps every statistic as a tensor: no folding
        prof = self.profiler
        return Sequence(name, may_fold=isinstance(prof, SpikeProfiler)
                        and prof.backend != "torch",
                        voltage_stride=VOLTAGE_STRIDE if self.sample_voltages else 1)

    def _hook_tensor(self, t: Any, fn: Callable[[Any], None]) -> None:
        self._tensor_hooks.append(t.register_hook(fn))

    def _flush_all(self) -> None:
        for tap in self._taps:  # model order, so layers are recorded in that order
            tap.flush()

    def _enter(self, module: Any, args: Any) -> None:
        if self._depth == 0 and self.active:  # one of every `every` forwards (sequences
            calls = self._forwards  # of `time_steps` forwards) is recorded
            self._forwards += 1
            self.recording = calls // (self.time_steps or 1) % self.every == 0
        self._depth += 1

    def _exit(self, module: Any, args: Any, output: Any) -> None:
        self._depth = max(self._depth - 1, 0)
        if self._depth == 0 and self.active:
            if self.time_steps is None:
                self._flush_all()
            self.recording = True  # a layer called outside the model is recorded


def watch(profiler: SpikeProfiler, model: Any, *, gradients: bool = False,
          input: bool | str = False, layers: Iterable[str | Any] | None = None,
          extract: Extract | Mapping[str, Extract] | None = None,
          time_steps: int | None = None, sample_voltages: bool = True,
          every: int = 1) -> WatchHandle:
    """Record every spiking layer of ``model`` on each forward call (or one in ``every``).

    Args:
        profiler: where the statistics go.
        model: a ``torch.nn.Module`` (a ``DistributedDataParallel`` or
            ``DataParallel`` wrapper is looked through: names stay those of the model).
        gradients: also record, per layer and record, the norm of the gradient of
            the loss with respect to the layer's spikes (tensor hooks).
        input: watch the model's first input as a layer named ``"input"`` (or this
            name), role ``input``: count-valued frames (tonic ``ToFrame``) are caught.
            Its leading axes are taken as ``(time, batch)`` when it has 3 or more axes,
            else ``(batch,)``; say otherwise with ``profiler.declare_layer("input",
            neuron_axes=k)`` before watching.
        layers: module paths (as in ``model.named_modules()``) or modules to watch;
            default every snnTorch, SpikingJelly and Norse neuron layer. A module of
            no known framework is read with ``extract``, or as spikes if it returns
            a tensor (spikes first in a tuple).
        extract: ``fn(output) -> spikes | (spikes, voltages) | adapters.Reading`` for
            the modules named in ``layers`` that no adapter knows, or a mapping from
            module path to such a function (those modules are watched too).
        time_steps: the model is called once per time step: group this many calls
            into one ``(time, batch, ...)`` record (gives per-sample spike counts over
            time). Default: the calls made within one forward of ``model`` are grouped.
        sample_voltages: on the CPU, per-step layers measure the voltages of every
            ``sequence.VOLTAGE_STRIDE``-th (16th) time step and of the last (spike
            statistics stay exact); False measures every step's voltages, at some
            cost per training step.
        every: record one of every ``every`` forward calls of ``model`` (with
            ``time_steps``: one of every ``every`` sequences of calls), each exactly;
            the others cost only PyTorch's hook dispatch. Like a logger's
            "log every n steps": a report then covers a sample of the training steps.

    Returns a :class:`WatchHandle`; ``with profiler.watch(model): ...`` removes it.
    Leaky integrators (Norse ``LI``/``LICell``, snnTorch ``StateLeaky(output=False)``)
    output voltages, not spikes: they are listed in ``handle.skipped``, never
    recorded as (non-binary) spikes.
    """
    if not isinstance(model, torch.nn.Module):
        raise InvalidTypeError(f"watch expects a torch.nn.Module, got {type(model).__name__}")
    if time_steps is not None and (isinstance(time_steps, bool)
                                   or not isinstance(time_steps, int) or time_steps < 1):
        raise InvalidInputError(f"time_steps must be a whole number >= 1, got {time_steps!r}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise InvalidInputError(f"watch: every must be a whole number >= 1 (record one of "
                                f"every so many forward calls), got {every!r}")
    model = _unwrap(model)
    handle = WatchHandle(profiler, model, gradients=bool(gradients), time_steps=time_steps,
                         sample_voltages=bool(sample_voltages), every=every)
    chosen = _choose(model, layers, extract)

    input_name = input if isinstance(input, str) else ("input" if input else None)
    if input_name is not None:
        profiler.declare_layer(input_name, role="input")
        tap = _Tap(handle, input_name, model, Neuron("input", _read_input))
        handle._taps.append(tap)
        handle.layers.append(input_name)
    # the model's own pre-hook first, so that the input's frames are grouped too
    handle._hooks.append(model.register_forward_pre_hook(handle._enter))
    if input_name is not None:
        handle._hooks.append(model.register_forward_pre_hook(
            _input_hook(handle._taps[0]), with_kwargs=True))
    for name, module, neuron in chosen:
        if neuron.integrator:
            handle.skipped[name] = ("leaky integrator: outputs voltages, not spikes "
                                    "(not recorded as a spike layer)")
            continue
        if neuron.graded:
            profiler.declare_layer(name, graded=True)
        fan_out = fan_out_after(model, module)
        declared = getattr(profiler, "_declared", {}).get(name, {})  # the user's wins
        if fan_out is not None and "fan_out" not in declared:
            profiler.declare_layer(name, fan_out=fan_out)
        tap = _Tap(handle, name, module, neuron)
        handle._taps.append(tap)
        handle.layers.append(name)
        handle._hooks.append(module.register_forward_hook(tap.hook))
    # registered last, so that it runs after the layers' hooks on the model itself
    handle._hooks.append(model.register_forward_hook(handle._exit, always_call=True))
    return handle


# ------------------------------------------------------------------ helpers
def _read_input(module: Any, x: Any) -> Reading:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"the model's first input is a {type(x).__name__}, not a tensor")
    return Reading(x, None, x.ndim >= 3)


def _input_hook(tap: _Tap) -> Callable[..., None]:
    def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        first = args[0] if args else next(iter(kwargs.values()), None)
        tap.hook(module, args, first)

    return hook


def _unwrap(model: Any) -> Any:
    wrappers = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
    while isinstance(model, wrappers):
        model = model.module
    return model


def _choose(model: Any, layers: Iterable[str | Any] | None,
            extract: Extract | Mapping[str, Extract] | None
            ) -> list[tuple[str, Any, Neuron]]:
    """(name, module, how to read it) for every module to watch, in model order."""
    if extract is not None and not callable(extract) and not isinstance(extract, Mapping):
        raise InvalidTypeError(f"extract must be a function or a mapping of module paths to "
                               f"functions, got {type(extract).__name__}")
    per_name = dict(extract) if isinstance(extract, Mapping) else {}
    default_extract = extract if callable(extract) else None
    root = type(model).__name__.lower()
    modules = {(name or root): m for name, m in model.named_modules()}
    by_id = {id(m): n for n, m in modules.items()}
    for name, fn in per_name.items():
        if not callable(fn):
            raise InvalidTypeError(f"extract[{name!r}] must be a function, got "
                                   f"{type(fn).__name__}")
    wanted: set[str] | None = None
    if layers is not None:
        if isinstance(layers, (str, torch.nn.Module)):
            layers = [layers]
        wanted = set()
        for item in layers:
            name = by_id.get(id(item)) if isinstance(item, torch.nn.Module) else item
            if not isinstance(name, str) or name not in modules:
                raise InvalidInputError(
                    f"watch: layer {item if isinstance(item, str) else type(item).__name__!r}"
                    f" is not a module of this model; its modules are "
                    f"{_some(list(modules))}")
            wanted.add(name)
    for name in per_name:
        if name not in modules:
            raise InvalidInputError(f"watch: extract names {name!r}, which is not a module of "
                                    f"this model; its modules are {_some(list(modules))}")
    chosen = []
    for name, module in modules.items():
        if name in per_name:
            chosen.append((name, module, adapters.custom(per_name[name])))
            continue
        if wanted is not None and name not in wanted:
            continue
        neuron = adapters.detect(module)
        if neuron is None and wanted is not None:
            neuron = (adapters.custom(default_extract) if default_extract is not None
                      else adapters.Neuron("custom", adapters.read_generic))
        if neuron is not None:
            chosen.append((name, module, neuron))
    return chosen


def _some(names: list[str], k: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:k])
    return f"[{shown}{', ...' if len(names) > k else ''}]"
