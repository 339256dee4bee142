"""Watch a torch model: forward hooks that record every spiking layer, by itself.

:func:`watch` finds the neuron layers (:mod:`~spikewidget.frameworks` knows each framework's
outputs), hooks them, and on every forward call records their spikes and
membrane potentials under their module path, in the model's order.

Time steps. A sequence module (SpikingJelly ``step_mode='m'``, Norse ``LIF``)
returns ``(time, batch, *neurons)``: one record per call. A per-step layer
returns ``(batch, *neurons)`` once per time step; its frames wait in a
:class:`~spikewidget.hooks.sequence.Sequence` (kept, or folded into counts as they come)
and are recorded as one ``(time, batch, *neurons)`` step when the watched model's
forward returns (the model loops over time inside), or every ``time_steps`` calls
when given (the model is called once per time step).
Either way a rate is spikes per time step per sample, and output layers get
per-sample spike counts summed over time. With ``time_steps`` a sequence also ends
when a training batch did (a backward or an optimizer step since the last call), so
padded batches of varying length never share a record.

Phases. At each forward of the model, ``model.training`` says whether the pass is
training or validation; validation passes go to ``profiler.phase("eval")`` and never
into the training statistics (``watch(..., phases=False)``: all together).

Gradients (``gradients=True``): a backward hook on each layer's spikes (a pre-hook
on the autograd node that made them, see :meth:`WatchHandle._hook_tensor`) adds the
norm of d(loss)/d(spikes) over one record (all its time steps) to the layer's
statistics. A second hook, on the tensor passed into the layer (its first
positional argument, when gradients flow to it), counts NaN/Inf in d(loss)/d(input):
a NaN made in the layer's own backward (an overflowing surrogate) shows there
first, before any weight or loss is NaN. Hooks never change outputs or gradients,
never read tensor values on the host (no device synchronisation), and a layer
whose output cannot be read is reported in a warning naming it and then left
alone, never a crash.

Wiring. Which watched layers feed which is learnt once, from the autograd graph of the
first forward with gradients (:mod:`.wiring`), and declared as each layer's ``fed_by``:
the causes tell a layer silenced by silent layers before it from one that its input
still reaches another way (a residual stream, a parallel branch).

Compiled, checkpointed, inference. Under ``torch.compile`` every hook runs as plain
Python outside the graph (see :mod:`.eager`; ``fullgraph=True`` is refused), and
``watch(torch.compile(model))`` names layers as ``watch(model)`` would. A forward run
again inside backward (``torch.utils.checkpoint``) is not recorded again: only its
gradients are taken, when its first run had none (``use_reentrant=True``). Frames made
under ``torch.inference_mode`` are recorded like any (their in-place changes cannot
be seen: inference tensors keep no version counter).

Copies. ``copy.deepcopy``, ``pickle`` and ``torch.save`` of a watched model work as
if it were unwatched: the copy carries inert hooks (loading it needs spikewidget
importable, as the model's own classes are) and is not recorded; the original
stays watched.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

import torch

from .. import frameworks
from ..core.arguments import is_whole
from ..core.arrays import strided
from ..core.errors import InvalidInputError, InvalidTypeError
from ..frameworks import Neuron, Reading
from ..record.protocol import FullRecording, Recording
from .eager import eagerly
from .fan_out import fan_out_after
from .readout import ReadoutProbe
from .sequence import VOLTAGE_STRIDE, Sequence
from .wiring import DATA, WiringProbe

Extract = Callable[[Any], Any]
_graph_task = torch._C._current_graph_task_id
"""-1 outside backward; else the backward pass running (a forward call made then is
a recomputation: ``torch.utils.checkpoint``). A C call, about 0.1 us."""
_TENSOR_HOOKS_KEPT = 4096  # recent tensor-hook handles kept to remove on detach
_GROUPS_WAITING = 64  # recorded sequences per layer whose gradients may still come
INPUT_GRAD_STRIDE = 8
"""Per-step layers: the input gradient is checked for NaN/Inf on every 8th frame (and
the first); a NaN born in the layer's backward at any step shows there too, unless the
state is detached within those steps (truncated BPTT shorter than 8 steps)."""


class _Reach:
    """Where one record's frames whose input is hooked fired, and where the gradient
    at their spikes and at their input was non-zero (shapes ``(..., *neuron_shape)``):
    a neuron that did not fire, whose spikes got a gradient while its input got none,
    has a spike function that passes none where it sits (a Heaviside step, or a
    surrogate of narrow support far from its membrane). Two in-place ops per frame and
    side; :meth:`counts` reduces once per record."""

    __slots__ = ("fired", "inp", "out")

    def __init__(self) -> None:
        self.fired: Any = None  # bool, True where some frame's value was non-zero;
        self.out: Any = None  # False: frames of different shapes, not compared
        self.inp: Any = None

    def add(self, t: Any, *, side: str) -> None:
        """Fold in one frame of ``side`` ("fired": spikes; "out": their gradient;
        "inp": the gradient at the input)."""
        acc = getattr(self, side)
        if acc is False:
            return
        if acc is None:
            acc = t.detach() != 0
        elif acc.shape == t.shape:
            acc.logical_or_(t.detach() != 0)
        else:
            acc = False
        setattr(self, side, acc)

    def counts(self, neuron_axes: int | None) -> tuple[Any, Any] | None:
        """(neurons that did not fire, whose spikes got a gradient and whose input got
        none; neurons whose spikes got one), 0-d tensors on the gradients' device;
        None when the three were not all seen over frames of one shape."""
        sides = (self.fired, self.out, self.inp)
        self.fired = self.out = self.inp = None
        if any(a is None or a is False for a in sides) or not neuron_axes \
                or len({a.shape for a in sides}) > 1 or sides[0].ndim < neuron_axes:
            return None
        shape = sides[0].shape
        n = math.prod(shape[len(shape) - neuron_axes:])
        fired, got, passed = (a.reshape(-1, n).any(0) for a in sides)
        return (got & ~passed & ~fired).sum(), got.sum()


class _GradGroup:
    """Sums of squared gradients over the frames of one grouped record, per sample
    and neuron (the norm of a record is the root of their total), the count of
    NaN/Inf in the gradients at the layer's input over those frames, and where the
    gradients at the spikes and at the input of the frames whose input is hooked
    were non-zero (see :class:`_Reach`)."""

    __slots__ = ("closed", "hooked", "in_hooked", "in_nf", "in_received", "last_input",
                 "profiler", "reach", "received", "recorded", "sq")

    def __init__(self, profiler: Any) -> None:
        self.profiler = profiler  # of the pass the frames came from
        self.hooked = 0  # frames whose spikes carry a tensor hook
        self.received = 0
        self.closed = False  # the frames are recorded: no more will join
        self.sq: Any = None
        self.in_hooked = 0  # distinct input tensors of the frames that carry a hook
        self.in_received = 0
        self.in_nf: Any = None  # NaN where an input gradient was NaN/Inf (see add_input)
        self.reach = _Reach()
        self.last_input: Any = None  # the latest frame's input, while the group is open
        self.recorded = [False, False, False]  # the norm, the input count, the reach

    def add(self, g: Any) -> None:
        """Add one frame's gradient: one in-place op per frame and nothing else (this
        runs inside backward, between the model's own kernels, where every extra
        call into torch costs several times what it costs in a loop). The first
        frame fixes the dtype: float32 for half-precision gradients, which the later
        frames' in-place ``addcmul_`` squares in float32 too (a gradient above ~1e19
        squares to Inf in float32 and is reported as non-finite)."""
        sq = self.sq
        if sq is None:
            if g.dtype not in (torch.float32, torch.float64):
                g = g.float()
            self.sq = g.detach() * g.detach()
        else:  # a double backward's gradient joins sq's graph; recording detaches it
            sq.addcmul_(g, g)
        self.received += 1

    def add_input(self, g: Any) -> None:
        """Fold one frame's gradient at the layer's input into ``in_nf``: NaN where any
        frame so far had NaN/Inf, else 0 (0 * g, one in-place op per frame: cheaper than
        counting each frame; :meth:`input_count` counts once)."""
        if g.requires_grad:
            g = g.detach()
        acc = self.in_nf
        if acc is None:
            self.in_nf = g * 0
        elif acc.shape == g.shape:
            acc.add_(g, alpha=0)
        else:  # frames of different shapes: keep one number
            self.in_nf = (acc * 0).sum() + (g * 0).sum()
        self.reach.add(g, side="inp")
        self.in_received += 1

    def input_count(self) -> Any:
        """How many (sample, neuron) places had NaN/Inf in the input gradient of some
        frame (a tensor on the gradients' device), or None if none came."""
        acc, self.in_nf = self.in_nf, None
        return None if acc is None else torch.isnan(acc).sum()

    @property
    def complete(self) -> bool:
        return self.closed and self.received >= self.hooked

    @property
    def inputs_complete(self) -> bool:
        return self.closed and self.in_received >= self.in_hooked


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

    # A copy of the watched model (deepcopy, pickle, torch.save) copies its hooks,
    # bound methods of this tap: they become methods of a failed tap, which do nothing.
    def __reduce__(self) -> tuple[Any, ...]:
        return (_inert_tap, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> _Tap:
        return _inert_tap()

    # ------------------------------------------------------------ forward
    def hook(self, module: Any, args: Any, output: Any) -> None:
        """The forward hook: runs on every call of the layer (200 times a training
        step of the story's network). A frame like the one before it in the
        sequence (shape, dtype, device, voltages or not), with nothing to copy and
        a gradient hook at most, takes the short path: a compare and two appends."""
        if torch.compiler.is_compiling():  # traced by torch.compile: see .eager
            return eagerly(self._compiled_hook, module, args, output)
        if self.failed or not self.handle.recording:
            return
        if _graph_task() != -1:  # inside backward: a checkpoint's recomputation
            return self._recomputed(args, output)
        try:
            spikes, voltages, time_axis = self.neuron.read(self.module, output)
            if spikes is None:
                return
            if self.steady and spikes.__class__ is torch.Tensor and (
                    spikes.shape, spikes.dtype, spikes.device, voltages is None
            ) == self.signature:
                frames = self.frames
                frames.append(spikes, voltages)
                if self.handle.gradients and spikes.requires_grad:
                    self._hook_frame(spikes, args, len(frames) - 1)
                steps = self.handle.time_steps
                if steps is not None and len(frames) >= steps:
                    self.flush()
            else:
                self._take(spikes, voltages, time_axis, args)
        except Exception as exc:  # never crash training: warn once, stop this layer
            self.fail(exc, "read the output of")

    def _recomputed(self, args: Any, output: Any) -> None:
        """A forward run again inside backward (``torch.utils.checkpoint``): its spikes
        were recorded when it first ran, so only its gradients are taken, when the
        first run had none (``use_reentrant=True`` runs the block without gradients,
        then again, with them, in backward); each call is one gradient record."""
        try:
            spikes = self.neuron.read(self.module, output)[0]
            handle = self.handle
            if not (handle.gradients and isinstance(spikes, torch.Tensor)
                    and spikes.requires_grad):
                return
            prof = handle.profiler
            handle._hook_tensor(spikes, lambda g: self._direct_grad(prof, g))
            x_in = self._grad_input(args)
            if x_in is not None:
                handle._hook_tensor(x_in, lambda g: self._direct_input_grad(prof, g))
        except Exception as exc:
            self.fail(exc, "read the recomputed output of")

    def _compiled_hook(self, module: Any, args: Any, output: Any) -> None:
        """:meth:`hook` for a layer inside a graph compiled by ``torch.compile``."""
        handle = self.handle
        if handle.gradients and not handle._compiled_warned and not self.failed:
            # a sequence layer's output is never used inside it (its frames are):
            # the gradient at it is all there is, compiled or not
            try:
                spikes, _, time_axis = self.neuron.read(self.module, output)
            except Exception:  # unreadable: hook() says so
                spikes, time_axis = None, True
            if not time_axis and self.neuron.framework != "input" and \
                    "CompiledFunction" in type(getattr(spikes, "grad_fn", None)).__name__:
                handle._compiled_warned = True
                warnings.warn(
                    f"spikewidget.watch: per-step layer {self.name!r} runs inside a graph "
                    f"that "
                    f"torch.compile compiled with AOTAutograd (backend 'inductor' or "
                    f"'aot_eager'): the gradient recorded at its spikes is the part that "
                    f"reaches them from outside that graph (from later layers and the "
                    f"loss). A part that stays inside the graph, through a reset that "
                    f"keeps the spikes' gradient (Norse's cells, SpikingJelly nodes with "
                    f"detach_reset=False), is not seen: gradient norms can read lower "
                    f"than in an uncompiled run. Spikes and voltages are exact. For exact "
                    f"gradient norms compile with backend='eager' or train uncompiled "
                    f"while watching. Said once.", RuntimeWarning, stacklevel=2)
        self.hook(module, args, output)

    def input_hook(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """The model's pre-hook for ``input=True``: its first argument is the frame."""
        if torch.compiler.is_compiling():
            return eagerly(self.input_hook, module, args, kwargs)
        if self.failed:
            return
        self.hook(module, args, args[0] if args else next(iter(kwargs.values()), None))

    def _take(self, spikes: Any, voltages: Any, time_axis: bool, args: Any = ()) -> None:
        handle = self.handle
        if not isinstance(spikes, torch.Tensor):
            raise TypeError(f"its spikes are a {type(spikes).__name__}, not a tensor")
        if spikes.is_meta:  # a pass with no values (shape inference): nothing to record
            handle._skip_meta(self.name)
            return
        sparse = spikes.layout != torch.strided
        if sparse or spikes.is_nested:  # dense when it fits, else a clear error
            spikes = strided(spikes, layer=self.name, argument="spikes")
        axes = self.neuron_axes
        if axes is None:
            axes = self.neuron_axes = handle._neuron_axes(self.name, spikes.ndim, time_axis)
        lead = spikes.ndim - axes
        if lead < 0:
            raise ValueError(f"its spikes have shape {tuple(spikes.shape)}, fewer axes than "
                             f"the layer's {axes} neuron axes")
        if lead < 2 and voltages is not None and voltages.shape != spikes.shape:
            voltages = None  # one time step's voltages (see Reading) need a time axis
        want_grad = handle.gradients and spikes.requires_grad
        if lead >= 2 or (handle.time_steps is None and handle._depth == 0):
            # a NaN made in the layer's own backward (its surrogate) shows at its input
            x_in = self._grad_input(args) if want_grad else None
            self.flush()  # a whole sequence, or a call outside the model: record it now
            handle._record(self.name, spikes.detach(),
                           None if voltages is None else voltages.detach(), axes)
            reach = None if x_in is None else _Reach()
            if reach is not None:
                reach.add(spikes, side="fired")
            if want_grad:
                prof = handle.profiler  # the pass's phase, whatever runs before backward
                handle._hook_tensor(spikes, lambda g: self._direct_grad(prof, g, reach))
            if x_in is not None:
                prof = handle.profiler
                handle._hook_tensor(x_in,
                                    lambda g: self._direct_input_grad(prof, g, reach))
            return
        # one frame of a sequence (values as of this call, see :mod:`.sequence`); a frame
        # unlike the others (e.g. a smaller last batch) starts a new sequence
        signature = (spikes.shape, spikes.dtype, spikes.device, voltages is None)
        if signature != self.signature:
            self.flush()
            self.signature = signature
        frames = self.frames
        frames.add(spikes, voltages, lead == 1)
        # the next frames like this one take the short path (see hook)
        self.steady = frames.copying is False and not sparse
        if want_grad:
            self._hook_frame(spikes, args, len(frames) - 1)
        if handle.time_steps is not None and len(frames) >= handle.time_steps:
            self.flush()

    def _hook_frame(self, spikes: Any, args: Any, k: int) -> None:
        """Hook frame ``k`` of the sequence for the gradient at its spikes and, on every
        INPUT_GRAD_STRIDE-th frame, at its input: a NaN made in the layer's backward at a
        later step reaches it through the membrane (NaN * 0 is NaN)."""
        handle = self.handle
        group = self.group
        if group is None:
            group = self.group = _GradGroup(handle.profiler)
        group.hooked += 1
        x_in = self._grad_input(args) if k % INPUT_GRAD_STRIDE == 0 else None
        if x_in is group.last_input:  # one current, many calls
            x_in = None
        handle._hook_tensor(spikes, partial(self._into_group, group, spikes=True,
                                            sampled=x_in is not None))
        if x_in is not None:
            group.last_input = x_in
            group.in_hooked += 1
            group.reach.add(spikes, side="fired")
            handle._hook_tensor(x_in, partial(self._into_group, group, spikes=False))

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
            group.closed, group.last_input = True, None
            self.waiting.append(group)
            self.settle()

    def _grad_input(self, args: Any) -> Any:
        """The layer's first positional input when gradients flow to it, else None."""
        if self.neuron.framework == "input" or not args:
            return None
        x = args[0]
        return x if isinstance(x, torch.Tensor) and x.requires_grad else None

    # ------------------------------------------------------------ backward
    def _direct_grad(self, profiler: Any, g: Any, reach: _Reach | None = None) -> None:
        if self.failed or not self.handle.active:
            return
        try:
            profiler.record_gradients(self.name, g.detach())
            if reach is not None:  # backward reaches the spikes before the input
                reach.add(g, side="out")
        except Exception as exc:
            self.fail(exc, "record the gradient of")

    def _direct_input_grad(self, profiler: Any, g: Any,
                           reach: _Reach | None = None) -> None:
        if self.failed or not self.handle.active:
            return
        try:
            profiler.record_input_nonfinite(self.name, _nonfinite_count(g))
            if reach is not None:
                reach.add(g, side="inp")
                self._record_reach(profiler, reach)
        except Exception as exc:
            self.fail(exc, "record the input gradient of")

    def _into_group(self, group: _GradGroup, g: Any, *, spikes: bool,
                    sampled: bool = False) -> None:
        """One frame's d(loss)/d(spikes) (``spikes``; ``sampled``: a frame whose input
        is hooked too) or d(loss)/d(input) into its group; records what of the group
        is complete once this part of it is."""
        if self.failed or not self.handle.active:
            return
        try:
            if group is self.group and not self.handle.online:  # backward before the
                self.handle._flush_all()  # sequence was closed: the batch ended
            if spikes:
                group.add(g)
                if sampled:
                    group.reach.add(g, side="out")
                complete = group.received >= group.hooked
            else:
                group.add_input(g)
                complete = group.in_received >= group.in_hooked
            if complete:
                self.settle()
        except Exception as exc:
            self.fail(exc, "record the gradient of" if spikes else
                      "record the input gradient of")

    def settle(self, final: bool = False) -> None:
        """Record the norm of every group whose gradients at the spikes have all
        arrived, and the NaN/Inf count of every group whose gradients at the input
        have; with ``final`` (or when too many wait: no backward came) partial ones."""
        waiting = self.waiting
        while waiting and (final or len(waiting) > _GROUPS_WAITING):
            self._record_group(waiting.popleft(), force=True)
        if waiting:
            left = [g for g in waiting if not self._record_group(g)]
            if len(left) < len(waiting):
                self.waiting = deque(left)

    def _record_group(self, group: _GradGroup, force: bool = False) -> bool:
        """Record what of ``group`` is complete (all of it with ``force``); True when
        nothing of it is left to record."""
        done = group.recorded
        if not done[0] and (force or group.complete):
            done[0] = True
            if group.sq is not None:
                sq, group.sq = group.sq, None
                group.profiler.record_gradients(self.name, sq.detach().sqrt())
        if not done[1] and (force or group.inputs_complete):
            done[1] = True
            nf = group.input_count()
            if nf is not None:
                group.profiler.record_input_nonfinite(self.name, nf)
        if not done[2] and (force or (group.complete and group.inputs_complete)):
            done[2] = True  # both sides of every hooked frame, or what came of them
            if group.complete and group.inputs_complete:
                self._record_reach(group.profiler, group.reach)
        return done[0] and done[1]

    def _record_reach(self, profiler: Any, reach: _Reach) -> None:
        counts = reach.counts(self.neuron_axes)
        if counts is not None:
            profiler.record_input_reach(self.name, *counts)

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
    input is watched); ``skipped``: layers found but not recorded, with the reason;
    ``profiler``: where the current pass is recorded (with ``phases``, the given
    profiler's ``phase("eval")`` while the model is in eval mode).
    """

    def __init__(self, profiler: Recording, model: Any, *, gradients: bool,
                 time_steps: int | None, sample_voltages: bool = True,
                 every: int = 1, phases: bool = False) -> None:
        self.profiler = profiler
        # a stand-in (the sweep's) takes whole steps only: no folded sequences, no
        # phases, nothing told about the model's output
        self._full = isinstance(profiler, FullRecording)
        self.phases = phases
        self._train_profiler = profiler
        self._training = True  # the phase of the passes being recorded
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
        self._probe: ReadoutProbe | None = None  # until the first forward returns
        self._wiring: WiringProbe | None = None  # until a forward with gradients
        self.online = False  # online-trained neurons: a backward every time step
        # with time_steps: a trained parameter whose version counter and gradient tell,
        # at the next forward, that a batch ended (an optimizer step or a backward)
        self._param = next((p for p in model.parameters() if p.requires_grad), None) \
            if time_steps is not None else None
        self._param_mark = self._mark()
        self._update_calls = 0  # calls of the model when the batch began
        self._cut_warned = False
        self._meta_warned = False
        self._eval_warned = False
        self._compiled_warned = False

    # see _Tap.__reduce__: a copy of the watched model is not watched
    def __reduce__(self) -> tuple[Any, ...]:
        return (_inert_handle, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> WatchHandle:
        return _inert_handle()

    # ------------------------------------------------------------ public
    def flush(self) -> None:
        """Record every pending frame and gradient now: ends the current sequence
        (with ``time_steps``, the next call starts a new one). Needed after each
        batch of a per-step model whose batches vary in length when no optimizer step
        follows (see :func:`watch`); a report reads only what was recorded."""
        self._flush_all()
        for tap in self._taps:
            tap.settle(final=True)
        self._align()

    def remove(self) -> None:
        """Record what is pending, then detach every hook this handle placed."""
        if not self.active:
            return
        self.flush()
        self.active = self.recording = False
        for probe in (self._probe, self._wiring):
            if probe is not None:
                probe.remove()
        self._probe = self._wiring = None
        self.profiler = self._train_profiler
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
        return Sequence(name, may_fold=self._full and self.profiler.backend != "torch",
                        voltage_stride=VOLTAGE_STRIDE if self.sample_voltages else 1)

    def _skip_meta(self, name: str) -> None:
        if not self._meta_warned:
            self._meta_warned = True
            warnings.warn(
                f"spikewidget.watch: layer {name!r} returned a meta tensor (a forward pass "
                f"with no values, e.g. shape inference): such passes are not recorded; "
                f"recording goes on with the next real one. Said once.",
                RuntimeWarning, stacklevel=5)

    def _hook_tensor(self, t: Any, fn: Callable[[Any], None]) -> None:
        """Call ``fn(d(loss)/dt)`` in backward. A pre-hook on the node that made ``t``
        sees the same gradient as a tensor hook (it runs where ``t``'s gradient is
        complete) and costs PyTorch about a third less per tensor to register (no
        per-tensor hook dict, no dispatch check); a leaf (no node) takes a tensor hook."""
        node = t.grad_fn
        if node is None:
            self._tensor_hooks.append(t.register_hook(fn))
            return
        nr = t.output_nr
        self._tensor_hooks.append(node.register_prehook(
            lambda grads: None if grads[nr] is None else fn(grads[nr])))

    def _flush_all(self) -> None:
        for tap in self._taps:  # model order, so layers are recorded in that order
            tap.flush()

    def _align(self) -> None:
        """Count the calls so far as whole sequences of ``time_steps`` (for ``every``)."""
        steps = self.time_steps
        if steps is not None and self._forwards % steps:
            self._forwards += steps - self._forwards % steps

    def _mark(self) -> tuple[int, int, int]:
        """(version of the parameter, its gradient's id and version): changed by an
        optimizer step (fused ones leave the version) and by a backward pass; with
        online-trained neurons (a backward every time step) the version alone."""
        p = self._param
        if p is None:
            return (0, 0, 0)
        if self.online:
            return (p._version, 0, 0)
        g = p.grad
        return (p._version, id(g), -1 if g is None else g._version)

    def _cut(self) -> None:
        """A batch ended (optimizer step or backward) mid-sequence: the pending
        frames are that batch's; record them as its own, shorter record."""
        calls = self._forwards - self._update_calls
        self._flush_all()
        self._align()
        if not self._cut_warned:
            self._cut_warned = True
            warnings.warn(
                f"spikewidget.watch: the model was called {calls} times in one training "
                f"batch (between two backward passes or optimizer steps), not a multiple "
                f"of time_steps={self.time_steps}: the time steps per batch vary (padded "
                f"batches, e.g. "
                f"tonic's PadTensors) or time_steps is not the number of calls per "
                f"batch. "
                f"Each batch's pending calls are recorded as their own record when the "
                f"next batch begins, so no record straddles two training batches; in "
                f"passes without a backward (validation) call handle.flush() after each "
                f"batch. Said once.", RuntimeWarning, stacklevel=4)

    def _switch(self, training: bool) -> None:
        """The model changed mode: record what is pending into the phase it came
        from; record from now on into the other (``profiler.phase("eval")``)."""
        self._flush_all()
        self._align()
        self._training = training
        train = self._train_profiler
        self.profiler = train if training else train.phase("eval")
        if not training and not self._eval_warned and not train.layers:
            self._eval_warned = True
            warnings.warn(
                "spikewidget.watch: the model is in eval mode (model.training is False): "
                "its passes are recorded as phase 'eval', apart from the training "
                "statistics; read them with profiler.report(phase='eval') or "
                "profiler.widget(phase='eval'), or watch(..., phases=False) to record "
                "every pass together. Said once.", RuntimeWarning, stacklevel=4)

    def _enter(self, module: Any, args: Any) -> None:
        if torch.compiler.is_compiling():
            return eagerly(self._enter, module, args)
        if _graph_task() != -1:  # recomputed in backward (checkpoint): not a new call
            return
        if self._depth == 0 and self.active:
            if self.phases and self.model.training is not self._training:
                self._switch(self.model.training)
            if self._param is not None and (  # a batch ended: see _cut
                    mark := self._mark()) != self._param_mark:
                self._param_mark = mark
                if self._forwards % self.time_steps:
                    self._cut()
                self._update_calls = self._forwards
            # one of every `every` forwards (sequences of `time_steps` forwards) is
            calls = self._forwards  # recorded
            self._forwards += 1
            if self._wiring is not None:
                self._wiring.forward_started(args)
            self.recording = calls // (self.time_steps or 1) % self.every == 0
        self._depth += 1

    def _exit(self, module: Any, args: Any, output: Any) -> None:
        if torch.compiler.is_compiling():
            return eagerly(self._exit, module, args, output)
        if _graph_task() != -1:
            return
        self._depth = max(self._depth - 1, 0)
        if self._depth == 0 and self.active:
            if self._probe is not None:
                self._note_output(self._probe.finish())
            if self._wiring is not None and (fed := self._wiring.forward_done()) is not None:
                self._note_wiring(fed)
            if self.time_steps is None:
                self._flush_all()
            self.recording = True  # a layer called outside the model is recorded

    def _note_wiring(self, fed: dict[str, tuple[str, ...]]) -> None:
        """Declare which watched layers feed each (learnt once; the user's wins)."""
        self._wiring = None
        declared = getattr(self._train_profiler, "_declared", {})
        for name, feeds in fed.items():
            if "fed_by" not in declared.get(name, {}):
                self._train_profiler.declare_layer(name, fed_by=feeds)

    def _note_output(self, output: str | None) -> None:
        """Tell the profiler which watched layer is the model's output (None: a
        non-spiking readout follows them all); its declarations still win."""
        self._probe = None
        if self._full:
            self._train_profiler.note_model_output(
                [t.name for t in self._taps if t.neuron.framework != "input"], output)


def watch(profiler: Recording, model: Any, *, gradients: bool = False,
          input: bool | str = False, layers: Iterable[str | Any] | None = None,
          extract: Extract | Mapping[str, Extract] | None = None,
          time_steps: int | None = None, sample_voltages: bool = True,
          every: int = 1, phases: bool = True) -> WatchHandle:
    """Record every spiking layer of ``model`` on each forward call (or one in ``every``).

    Args:
        profiler: where the statistics go.
        model: a ``torch.nn.Module`` (a ``DistributedDataParallel`` or
            ``DataParallel`` wrapper and ``torch.compile``'s module are looked through:
            names stay those of the model). The model may be compiled before or after
            watching, but not with ``fullgraph=True``: each watched layer's hook runs
            outside the compiled graph (a graph break, see :mod:`.eager`).
        gradients: also record, per layer and record, the norm of the gradient of
            the loss with respect to the layer's spikes, and count NaN/Inf in the
            gradient with respect to its input (tensor hooks).
        input: watch the model's first input as a layer named ``"input"`` (or this
            name), role ``input``: count-valued frames (tonic ``ToFrame``) are caught.
            Its leading axes are taken as ``(time, batch)`` when it has 3 or more axes,
            else ``(batch,)``; with ``time_steps`` each call's input is one time step,
            ``(batch, *features)`` (e.g. ``(batch, C, H, W)`` frames), grouped like the
            layers. Say otherwise with ``profiler.declare_layer("input",
            neuron_axes=k)`` before watching.
        layers: module paths (as in ``model.named_modules()``) or modules to watch;
            default every snnTorch, SpikingJelly and Norse neuron layer. A module of
            no known framework is read with ``extract``, or as spikes if it returns
            a tensor (spikes first in a tuple).
        extract: ``fn(output) -> spikes | (spikes, voltages) | frameworks.Reading`` for
            the modules named in ``layers`` that no adapter knows, or a mapping from
            module path to such a function (those modules are watched too).
        time_steps: the model is called once per time step: group this many calls
            into one ``(time, batch, ...)`` record (gives per-sample spike counts over
            time). Default: the calls made within one forward of ``model`` are grouped.
            A record never straddles two training batches: when a batch ended (a
            backward pass or an optimizer step since the last call) with calls
            pending, those make a shorter record of their own, with a warning (once).
            Online-trained neurons (SpikingJelly's OTTT and SLTT nodes) back up
            after every time step: there only an optimizer step ends a batch.
            Batches of varying length (tonic's ``PadTensors``): pass the longest;
            where no backward follows a batch (validation) call ``handle.flush()``
            after each one.
        sample_voltages: on the CPU, per-step layers measure the voltages of every
            ``sequence.VOLTAGE_STRIDE``-th (16th) time step and of the last (spike
            statistics stay exact); False measures every step's voltages, at some
            cost per training step.
        every: record one of every ``every`` forward calls of ``model`` (with
            ``time_steps``: one of every ``every`` sequences of calls), each exactly;
            the others cost only PyTorch's hook dispatch. Like a logger's
            "log every n steps": a report then covers a sample of the training steps.
        phases: follow ``model.training`` at each forward: passes in eval mode
            (validation) are recorded into ``profiler.phase("eval")``, never mixed
            into the training statistics that ``profiler.report()`` and the widget
            show (``report(phase="eval")``, ``widget(phase="eval")`` show them).
            False: every pass into ``profiler``.

    Returns a :class:`WatchHandle`; ``with profiler.watch(model): ...`` removes it.
    Leaky integrators (Norse ``LI``/``LICell``, snnTorch ``StateLeaky(output=False)``)
    output voltages, not spikes: they are listed in ``handle.skipped``, never
    recorded as (non-binary) spikes.
    """
    if not isinstance(model, torch.nn.Module):
        raise InvalidTypeError(f"watch expects a torch.nn.Module, got {type(model).__name__}")
    if time_steps is not None and (not is_whole(time_steps) or time_steps < 1):
        raise InvalidInputError(f"time_steps must be a whole number >= 1, got {time_steps!r}")
    if not is_whole(every) or every < 1:
        raise InvalidInputError(f"watch: every must be a whole number >= 1 (record one of "
                                f"every so many forward calls), got {every!r}")
    time_steps, every = (None if time_steps is None else int(time_steps)), int(every)
    model = _unwrap(model)
    handle = WatchHandle(profiler, model, gradients=bool(gradients), time_steps=time_steps,
                         sample_voltages=bool(sample_voltages), every=every,
                         phases=bool(phases) and callable(getattr(profiler, "phase", None)))
    chosen = _choose(model, layers, extract)

    input_name = input if isinstance(input, str) else ("input" if input else None)
    if input_name is not None:
        profiler.declare_layer(input_name, role="input")
        reader = _read_input if time_steps is None else _read_input_step
        tap = _Tap(handle, input_name, model, Neuron("input", reader))
        handle._taps.append(tap)
        handle.layers.append(input_name)
    # the model's own pre-hook first, so that the input's frames are grouped too
    handle._hooks.append(model.register_forward_pre_hook(handle._enter))
    if input_name is not None:
        handle._hooks.append(model.register_forward_pre_hook(
            handle._taps[0].input_hook, with_kwargs=True))
    for name, module, neuron in chosen:
        if neuron.integrator:
            handle.skipped[name] = ("leaky integrator: outputs voltages, not spikes "
                                    "(not recorded as a spike layer)")
            continue
        declared = getattr(profiler, "_declared", {}).get(name, {})  # the user's wins
        if neuron.graded and "graded" not in declared:
            profiler.declare_layer(name, graded=neuron.graded)
        ceiling = frameworks.spike_ceiling(module) if neuron.graded is True else None
        if ceiling is not None and "spike_ceiling" not in declared:
            profiler.declare_layer(name, spike_ceiling=ceiling)
        fan_out = fan_out_after(model, module)
        if fan_out is not None and "fan_out" not in declared:
            profiler.declare_layer(name, fan_out=fan_out)
        threshold, rest = frameworks.firing_levels(module)  # once, here: never per step
        if threshold is not None:  # what the module holds now
            profiler.declare_layer(name, threshold=threshold, resting_potential=rest)
        tap = _Tap(handle, name, module, neuron)
        handle._taps.append(tap)
        handle.layers.append(name)
        handle._hooks.append(module.register_forward_hook(tap.hook))
    handle.online = any(neuron.online for _, _, neuron in chosen)
    handle._param_mark = handle._mark()
    taps = {id(t.module): t.name for t in handle._taps if t.neuron.framework != "input"}
    integrators = {id(module) for _, module, neuron in chosen if neuron.integrator}
    handle._probe = ReadoutProbe(model, taps, integrators)
    handle._wiring = WiringProbe([(t.name, t.module, partial(_spikes_of, t.neuron))
                                  for t in handle._taps if t.neuron.framework != "input"],
                                 DATA if input_name is None else input_name)
    # registered last, so that it runs after the layers' hooks on the model itself
    handle._hooks.append(model.register_forward_hook(handle._exit, always_call=True))
    return handle


# ------------------------------------------------------------------ helpers
def _spikes_of(neuron: Neuron, module: Any, output: Any) -> Any:
    """The spikes in a layer's output, as its tap reads them."""
    return neuron.read(module, output)[0]


def _nonfinite_count(g: Any) -> Any:
    """How many values of ``g`` are NaN or Inf: a tensor on ``g``'s device (no sync)."""
    return torch.isnan(g.detach() * 0).sum()


def _read_input(module: Any, x: Any) -> Reading:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"the model's first input is a {type(x).__name__}, not a tensor")
    return Reading(x, None, x.ndim >= 3)


def _read_input_step(module: Any, x: Any) -> Reading:
    """With ``time_steps``: each call's input is one time step, ``(batch, *features)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"the model's first input is a {type(x).__name__}, not a tensor")
    return Reading(x, None, False)


def _inert_handle() -> WatchHandle:
    """A removed handle without a profiler: the hooks of a copied model, bound to
    it, do nothing (module-level, so that pickles of the model can name it)."""
    handle = WatchHandle.__new__(WatchHandle)
    handle.profiler = handle.model = None
    handle.gradients, handle.time_steps, handle.sample_voltages, handle.every = (
        False, None, True, 1)
    handle.layers, handle.skipped, handle._taps, handle._hooks = [], {}, [], []
    handle.active = handle.recording = False
    handle._forwards = handle._depth = 0
    handle._param = None
    handle.phases, handle._training = False, True
    handle._tensor_hooks = deque()
    return handle


def _inert_tap() -> _Tap:
    """A failed tap: its hooks return at once (see :func:`_inert_handle`)."""
    tap = _Tap.__new__(_Tap)
    tap.handle, tap.failed = _inert_handle(), True
    return tap


def _unwrap(model: Any) -> Any:
    """The model inside data-parallel wrappers and ``torch.compile``'s
    ``OptimizedModule`` (its ``_orig_mod``, whose hooks the compiled calls run):
    layer names are the model's own, without ``module.`` or ``_orig_mod.``."""
    wrappers = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
    compiled = getattr(sys.modules.get("torch._dynamo.eval_frame"), "OptimizedModule", ())
    while isinstance(model, wrappers) or (compiled and isinstance(model, compiled)):
        model = model._orig_mod if compiled and isinstance(model, compiled) else model.module
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
        if not isinstance(layers, Iterable):
            raise InvalidTypeError(f"watch: layers must be module paths or modules (a "
                                   f"list), got {layers!r}")
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
            chosen.append((name, module, frameworks.custom(per_name[name])))
            continue
        if wanted is not None and name not in wanted:
            continue
        neuron = frameworks.detect(module)
        if neuron is None and wanted is not None:
            neuron = (frameworks.custom(default_extract) if default_extract is not None
                      else frameworks.Neuron("custom", frameworks.read_generic))
        if neuron is not None:
            chosen.append((name, module, neuron))
    return chosen


def _some(names: list[str], k: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:k])
    return f"[{shown}{', ...' if len(names) > k else ''}]"
