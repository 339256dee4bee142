"""Threshold sweep: the story's hand-made tuning table, computed from one batch.

For each candidate firing threshold of one spiking layer, the forward pass is
re-run on the same batch, without gradients, on a fresh copy of the model whose
layer has that threshold (the framework's own attribute: snnTorch ``threshold``,
SpikingJelly ``v_threshold``, Norse ``p.v_th``); every layer is recorded by
:meth:`SpikeProfiler.watch`. The user's model is never modified. The result is a
table (largest value per step, share of binary spikes, output spike counts per
sample, dead and saturated fractions per layer, a verdict) and a recommended
interval. The batch is held fixed and nothing is retrained: the table predicts
the first forward passes at each threshold, not where training will go.

The copies. A watched model is swept as it is (its copies are not watched). Every
candidate starts at rest: hidden state a layer keeps from the last forward (snnTorch
``init_hidden=True`` membranes, part of an autograd graph after training;
SpikingJelly's ``v``) is copied detached and then reset, as
``snntorch.utils.reset`` and ``functional.reset_net`` would.
A model called once per time step needs ``time_steps=T``: the batch
``(T, batch, ...)`` is fed one step per call and the calls grouped, so output
spike counts per sample are measured; without it they are not, and the
recommendation says so.

Batched candidates (``batched=True``). Where every swept threshold may be a tensor
(snnTorch ``threshold``, Norse ``p.v_th``; not SpikingJelly, whose kernels want a
float), K candidates run in one forward: the batch is repeated K times along its
batch axis and each swept layer's threshold becomes a per-sample tensor of shape
``(K*B, 1, ...)`` that broadcasts against the membrane. The watch hooks record into
a :class:`_SplitProfiler` that hands each candidate's slice of the batch to its own
profiler, so every statistic is computed exactly as in the sequential path. Anything
unexpected (a layer whose batch is not K*B, a threshold that does not broadcast)
falls back to one forward per candidate.

The scale. Thresholds above 0 are swept on a log scale (the grid geometric, edges
bisected at geometric midpoints, rows matched by ratio). A threshold at or below 0 is
a membrane potential (Norse ``CobaLIFCell``'s ``p.v_thresh``, -10 mV against a reset of
-70 mV): it is swept on a linear scale (grid, midpoints and matching by difference),
as is any layer when ``scale="linear"`` is passed. Layers swept together share each
candidate value, so they must share a scale.
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..core.arguments import is_whole
from ..core.errors import InvalidInputError, InvalidTypeError
from ..diagnose.pathology import Severity
from ..diagnose.report import Report
from ..record.protocol import FullRecording
from .result import BandEdge, SweepResult, SweepRow, distinct
from .scale import SCALES, Scale, midpoint, spaced


class Sweepable(FullRecording, Protocol):
    """What the sweep needs of a profiler: its declarations (through :meth:`fresh`,
    an empty profiler like it that records one candidate) and reports."""

    def fresh(self, **changes: Any) -> Sweepable:
        """An empty profiler with this one's settings and declarations."""

    def report(self) -> Report:
        """The diagnosis of everything recorded."""

_NEVER_FIRES = 1e30  # finite: a reset of 0 spikes times an infinite threshold is NaN


def _check_sweep_arguments(layer: Any, thresholds: Any, n: Any, chunk: Any
                           ) -> tuple[tuple[str, ...], list[Any] | None]:
    """The swept layers' names and the candidate thresholds as a list; a clear error
    for arguments of the wrong kind."""
    swept: Any = (layer,) if isinstance(layer, str) else layer
    if isinstance(swept, Iterable) and not isinstance(swept, (bytes, Mapping)):
        swept = tuple(swept)
    if not isinstance(swept, tuple) or not all(isinstance(x, str) for x in swept):
        raise InvalidTypeError(f"layer must be a module path (str) or a list of them, "
                               f"got {layer!r}")
    grid = None
    if thresholds is not None:
        if isinstance(thresholds, Iterable) and not isinstance(thresholds,
                                                               (str, bytes, Mapping)):
            grid = list(thresholds)
        if grid is None or not all(isinstance(t, (int, float, np.integer, np.floating))
                                   and not isinstance(t, (bool, np.bool_)) for t in grid):
            raise InvalidTypeError(f"thresholds must be an iterable of numbers (neuron "
                                   f"thresholds), got {thresholds!r}")
    if not is_whole(n) or not 1 <= n <= 10_000:
        raise InvalidInputError(f"n must be a whole number of thresholds from 1 to 10000, "
                                f"got {n!r}")
    if chunk is not None and (not is_whole(chunk) or chunk < 1):
        raise InvalidInputError(f"chunk must be a whole number of candidates >= 1, "
                                f"got {chunk!r}")
    return swept, grid


def threshold_sweep(profiler: Sweepable, model: Any, batch: Any, *,
                    layer: str | Sequence[str],
                    thresholds: Iterable[float] | None = None, n: int = 30,
                    forward: Callable[[Any, Any], Any] | None = None,
                    watch_input: bool = True,
                    progress: Callable[[int, int], None] | None = None,
                    batched: bool = False, chunk: int | None = None,
                    time_steps: int | None = None,
                    refine: int | None = None,
                    scale: Scale | None = None) -> SweepResult:
    """Sweep the firing threshold of ``layer`` over ``thresholds``.

    Args:
        profiler: gives the rule constants and layer declarations; its own
            recordings are not touched.
        model: a ``torch.nn.Module``; never modified (each candidate runs on a copy).
        layer: a module path, or several that share each candidate threshold.
        batch: the input, passed as ``forward(model_copy, batch)``; with
            ``time_steps`` and no ``forward``, ``(time_steps, batch, ...)`` fed as
            ``model_copy(batch[t])`` for each time step ``t``.
        thresholds: candidates; default ``n`` values spaced on ``scale``, found from
            the layer's membrane range when it never fires (:func:`_auto_grid`,
            :func:`_linear_grid`). On a log scale they must be above 0.
        forward: how to run the model (default ``model(batch)``).
        watch_input: also record the input (count-valued frames are named).
        progress: called as ``progress(done, total)`` after each candidate (or
            each chunk of candidates when batched).
        batched: run several candidates per forward pass where the framework allows
            (snnTorch, Norse; the batch a tensor and no custom ``forward``); else, or
            when anything does not fit, one forward per candidate. Same results.
            Off by default: on a 2-core CPU it is not faster
            (``benchmarks/bench_sweep.py``).
        chunk: candidates per batched forward; default as many as keep the repeated
            input under ``2**25`` elements (128 MiB of float32).
        time_steps: the model is called once per time step (as in
            :func:`~spikewidget.hooks.watch.watch`): this many calls make one
            ``(time, batch, ...)`` record, which gives output spike counts per sample.
        refine: bisections of each failing edge of the recommended interval, between
            its last passing and its first failing threshold (midpoints on ``scale``,
            one forward pass each, at most ``2 * refine`` in all, shown by ``progress``
            whose total then grows by that many); each halves how far the edge may
            lie from the thresholds swept. Default 3 on the automatic grid, 0 (the
            thresholds swept as given) when ``thresholds`` is passed. The refined
            rows are marked ``refined``; the best threshold is always a grid point.
            The result's ``edges`` say where each edge lies and what fails beyond.
        scale: ``"log"`` or ``"linear"`` (see the module doc). Default: linear when
            a swept layer's threshold is at or below 0 (a membrane potential), else
            log. Pass ``"linear"`` for a positive threshold that is a potential too
            (one whose reset or rest lies below 0).
    """
    import torch

    from .. import frameworks
    from ..hooks.watch import watch

    if not isinstance(model, torch.nn.Module):
        raise InvalidTypeError(f"threshold_sweep expects a torch.nn.Module, got "
                               f"{type(model).__name__}")
    swept, thresholds = _check_sweep_arguments(layer, thresholds, n, chunk)
    modules = dict(model.named_modules())
    spiking = [k for k, m in modules.items() if frameworks.threshold_attribute(m)]
    if not swept:
        raise InvalidInputError(f"layer: name at least one layer; with a threshold: {spiking}")
    for name in swept:
        if name not in modules:
            raise InvalidInputError(f"layer {name!r} is not a module of the model; layers "
                                    f"with a threshold: {spiking}")
        if frameworks.threshold_attribute(modules[name]) is None:
            raise InvalidInputError(
                f"layer {name!r} ({type(modules[name]).__name__}) has no known firing "
                f"threshold (snnTorch threshold, SpikingJelly v_threshold, Norse p.v_th)")
    run = forward or _default_forward(batch, time_steps)
    if refine is None:
        refine = 3 if thresholds is None else 0
    if not is_whole(refine) or not 0 <= refine <= 20:
        raise InvalidInputError(f"refine must be a whole number from 0 to 20 (bisections "
                                f"per edge), got {refine!r}")
    refine = int(refine)
    current = {name: _as_float(frameworks.get_threshold(modules[name]), name)
               for name in swept}
    kinds = {name: type(modules[name]).__name__ for name in swept}
    scale = _choose_scale(current, kinds, scale)
    original = current[swept[0]]

    def measure(threshold: float) -> Report:
        work = _copy_model(model)
        named = dict(work.named_modules())
        for name in swept:
            frameworks.set_threshold(named[name], threshold)
        prof = _fresh_like(profiler)
        with torch.no_grad(), watch(prof, work, input=watch_input, sample_voltages=False,
                                    time_steps=time_steps, phases=False):
            for name in swept:  # the candidate as swept (watch reads no learnt one)
                prof.declare_layer(name, threshold=threshold)
            run(work, batch)
        return prof.report()

    if thresholds is not None:
        grid = sorted({float(t) for t in thresholds})  # numbers: checked above
        if scale == "log" and (not grid or any(not (math.isfinite(t) and t > 0)
                                               for t in grid)):
            raise InvalidInputError(f"thresholds must be finite numbers > 0 (a log-scale "
                                    f"sweep; pass scale='linear' for potentials at or "
                                    f"below 0), got {grid}")
        if not grid or any(not math.isfinite(t) for t in grid):
            raise InvalidInputError(f"thresholds must be finite numbers (potentials, on a "
                                    f"linear-scale sweep), got {grid}")
    # very low thresholds drive membranes through subnormal floats, which are ~20x
    # slower on CPUs; flushing them changes no spike and no statistic we report
    torch.set_flush_denormal(True)
    used_batches = False
    try:
        probe = None
        if thresholds is None:
            probe = measure(_NEVER_FIRES)
            grid = (_auto_grid(probe, swept, original, n) if scale == "log"
                    else _linear_grid(probe, swept, original, n))
        reports: list[Report] = []
        if batched and len(grid) > 1 and forward is None and _can_batch(modules, swept, batch):
            if probe is None:  # the first candidate, as usual, tells the layers' shapes
                reports.append(measure(grid[0]))
                probe = reports[0]
                if progress is not None:
                    progress(1, len(grid))
            plan = _BatchPlan.make(profiler, swept, batch, probe, chunk, time_steps)
            if plan is not None:
                done = len(reports)  # measured one at a time
                for axis in plan.axes:  # the first chunk finds the batch axis
                    try:
                        while len(reports) < len(grid):
                            todo = grid[len(reports):len(reports) + plan.chunk]
                            got = plan.measure(model, todo, axis, watch_input, profiler,
                                               time_steps)
                            if any(list(r.layer_stats) != list(probe.layer_stats)
                                   for r in got):
                                raise _CannotBatch("the batched forward recorded other layers")
                            reports.extend(got)
                            if progress is not None:
                                progress(len(reports), len(grid))
                        used_batches = True
                        break
                    except _CannotBatch:
                        if len(reports) > done:
                            del reports[done:]  # a later chunk failed: no more tries
                            break
                # else (or after a failure): one forward per candidate from here on
        for th in grid[len(reports):]:
            reports.append(measure(th))
            if progress is not None:
                progress(len(reports), len(grid))
        rows = [_row(th, rep, swept) for th, rep in zip(grid, reports, strict=True)]
        rows = _refine(rows, refine, lambda th: _row(th, measure(th), swept, refined=True),
                       progress, scale)
    finally:
        torch.set_flush_denormal(False)
    recommended, best, reason, edges = _recommend(rows, " + ".join(swept), scale)
    return SweepResult(swept, original, rows, recommended, best, reason, used_batches,
                       edges, scale)


def _choose_scale(current: dict[str, float], kinds: dict[str, str],
                  scale: Any) -> Scale:
    """The scale of a sweep of layers whose thresholds are ``current`` (by layer name;
    ``kinds``: their classes, for messages): ``scale`` if given, else linear when a
    threshold is at or below 0. A clear error for a threshold that is not finite, for
    ``scale="log"`` with one at or below 0, and for layers that would need different
    scales (they share each candidate value)."""
    if scale is not None and scale not in SCALES:
        raise InvalidInputError(f"scale must be one of {list(SCALES)} or None (chosen "
                                f"from the thresholds), got {scale!r}")
    for name, value in current.items():
        if not math.isfinite(value):
            raise InvalidInputError(
                f"layer {name!r} ({kinds[name]}) has threshold {value:g}; the sweep "
                f"needs a finite threshold (a number above 0, or a potential at or below "
                f"0 swept on a linear scale) to search around")
    at_or_below = [name for name, value in current.items() if value <= 0]
    if scale == "log" and at_or_below:
        name = at_or_below[0]
        raise InvalidInputError(
            f"layer {name!r} ({kinds[name]}) has threshold {current[name]:g}; scale='log' "
            f"searches thresholds above 0: pass scale='linear' (or leave it None) for a "
            f"threshold that is a potential")
    above = [name for name in current if name not in at_or_below]
    if scale is None and at_or_below and above:
        def listed(names: list[str]) -> str:
            return ", ".join(f"{n!r} ({kinds[n]}, {current[n]:g})" for n in names)
        raise InvalidInputError(
            f"layer: the layers swept together share each candidate threshold, but "
            f"{listed(above)} have thresholds above 0 (a log scale) and "
            f"{listed(at_or_below)} at or below 0 (potentials, a linear scale); sweep "
            f"them separately, or pass scale='linear' if one shared value is meant")
    if scale is not None:
        return scale
    return "linear" if at_or_below else "log"


# ------------------------------------------------------------- batched candidates
_BATCH_ELEMENTS = 2 ** 25  # the repeated input of one batched forward stays below this


class _CannotBatch(Exception):
    """The batched forward did not record what one forward per candidate would."""


def _can_batch(modules: dict[str, Any], swept: tuple[str, ...], batch: Any) -> bool:
    """Every swept threshold may be a tensor, and the batch is one tensor."""
    from .. import frameworks

    torch = sys.modules["torch"]
    if not isinstance(batch, torch.Tensor) or batch.ndim < 1:
        return False
    return all(frameworks.takes_tensor_threshold(modules[name]) for name in swept)


class _SplitProfiler:
    """What :func:`~spikewidget.hooks.watch.watch` needs of a profiler, handing each candidate's
    slice of the batch axis to that candidate's own profiler."""

    def __init__(self, profilers: list[Sweepable], batch_size: int,
                 swept: Sequence[str] = ()) -> None:
        self.profilers = profilers
        self.batch_size = batch_size
        self.swept = frozenset(swept)
        self.error: BaseException | None = None

    def declare_layer(self, name: str, **kwargs: Any) -> None:
        if name in self.swept:  # the sweep declares each candidate's own threshold
            kwargs.pop("threshold", None)
        for p in self.profilers:
            p.declare_layer(name, **kwargs)

    def neuron_axes(self, name: str) -> int | None:
        return self.profilers[0].neuron_axes(name)

    def record_step(self, layer: str, spikes: Any, voltages: Any = None, *,
                    neuron_axes: int | None = None) -> None:
        try:
            axes = neuron_axes if neuron_axes is not None else 1
            axis = spikes.ndim - axes - 1  # (batch, ...) or (time, batch, ...)
            k, b = len(self.profilers), self.batch_size
            if axis < 0 or spikes.shape[axis] != k * b:
                raise _CannotBatch(f"layer {layer!r}: batch axis of {tuple(spikes.shape)} "
                                   f"is not {k} x {b}")
            for i, p in enumerate(self.profilers):
                # voltages of one time step (the last) lack the time axis
                v = None if voltages is None else voltages.narrow(
                    axis - (spikes.ndim - voltages.ndim), i * b, b)
                p.record_step(layer, spikes.narrow(axis, i * b, b), v,
                              neuron_axes=neuron_axes)
        except BaseException as exc:  # the hooks would only warn: remember it
            self.error = self.error or exc
            raise

    def record_gradients(self, layer: str, gradients: Any) -> None:  # never: no_grad
        self.error = self.error or _CannotBatch("gradients in a sweep")


@dataclass(frozen=True)
class _BatchPlan:
    """How to run candidates K at a time: the input's possible batch axes (the one
    ``watch`` assumes for the input, then 0), the number of neuron axes of each swept
    layer (from a forward of one candidate) and K."""

    swept: tuple[str, ...]
    batch: Any
    axes: tuple[int, ...]
    neuron_axes: dict[str, int]
    chunk: int

    @classmethod
    def make(cls, profiler: Sweepable, swept: tuple[str, ...], batch: Any,
             probe: Report, chunk: int | None,
             time_steps: int | None = None) -> _BatchPlan | None:
        declared = profiler.neuron_axes("input")
        axes = declared if declared is not None else (batch.ndim - 2 if batch.ndim >= 3
                                                      else batch.ndim - 1)
        guess = batch.ndim - axes - 1  # the input's batch axis, as watch reads it
        first = 0 if time_steps is None else 1  # axis 0 is time when fed per step
        tries = tuple(dict.fromkeys(a for a in (guess, first) if first <= a < batch.ndim))
        shapes = {}
        for name in swept:
            st = probe.layer_stats.get(name)
            if st is None:
                return None
            shapes[name] = len(st.neuron_shape)
        per = max(int(batch.numel()), 1)
        k = chunk if chunk is not None else max(1, _BATCH_ELEMENTS // per)
        if k < 2 or not tries:
            return None
        return cls(swept, batch, tries, shapes, int(k))

    def measure(self, model: Any, thresholds: list[float], axis: int, watch_input: bool,
                profiler: Sweepable, time_steps: int | None = None) -> list[Report]:
        """Reports of ``thresholds``, all from one forward pass of the batch repeated
        along ``axis``; raises :class:`_CannotBatch` if that is not what the model
        and every recorded layer take as the batch axis."""
        import warnings

        import torch

        from .. import frameworks
        from ..hooks.watch import watch

        k, b = len(thresholds), int(self.batch.shape[axis])
        work = _copy_model(model)
        named = dict(work.named_modules())
        values = torch.tensor(thresholds, dtype=torch.float64).repeat_interleave(b)
        try:
            for name in self.swept:
                frameworks.set_threshold(
                    named[name], values.reshape((k * b,) + (1,) * self.neuron_axes[name]))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise _CannotBatch(str(exc)) from exc
        repeated = torch.cat([self.batch] * k, dim=axis) if k > 1 else self.batch
        profs = [_fresh_like(profiler) for _ in thresholds]
        for prof, threshold in zip(profs, thresholds, strict=True):
            for name in self.swept:
                prof.declare_layer(name, threshold=float(threshold))
        split = _SplitProfiler(profs, b, self.swept)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with torch.no_grad(), watch(split, work, input=watch_input,
                                            time_steps=time_steps, phases=False):
                    _default_forward(repeated, time_steps)(work, repeated)
        except Exception as exc:  # e.g. a threshold that does not broadcast
            raise _CannotBatch(str(exc)) from exc
        if split.error is not None or any("spikewidget.watch" in str(w.message)
                                          for w in caught):
            raise _CannotBatch(str(split.error or caught[0].message))
        return [p.report() for p in profs]


def _default_forward(batch: Any, time_steps: int | None) -> Callable[[Any, Any], Any]:
    """``model(batch)``, or with ``time_steps`` one call per time step."""
    if time_steps is None:
        return lambda m, b: m(b)
    if not is_whole(time_steps) or time_steps < 1:
        raise InvalidInputError(f"time_steps must be a whole number >= 1, got {time_steps!r}")
    time_steps = int(time_steps)
    shape = tuple(getattr(batch, "shape", ()))
    if not shape or shape[0] != time_steps:
        raise InvalidInputError(
            f"threshold_sweep: with time_steps={time_steps} and no forward, batch must "
            f"be (time_steps, batch, ...), fed one time step per call; got shape {shape}. "
            f"Pass forward=fn(model, batch) to feed it otherwise.")

    def per_step(m: Any, b: Any) -> list[Any]:
        return [m(b[t]) for t in range(time_steps)]

    return per_step


def _copy_model(model: Any) -> Any:
    """A deep copy of ``model`` with its neurons' hidden state at rest. Tensors that
    are part of an autograd graph (snnTorch ``init_hidden`` state after a forward
    with gradients), which ``deepcopy`` refuses, are copied as detached clones."""
    from .. import frameworks

    memo: dict[int, Any] = {}
    for module in model.modules():
        for value in vars(module).values():
            for t in _tensors(value):
                if not t.is_leaf:
                    memo[id(t)] = t.detach().clone()
    work = copy.deepcopy(model, memo)
    for module in work.modules():
        frameworks.reset_state(module)
    return work


def _tensors(value: Any, depth: int = 2) -> Iterable[Any]:
    """The tensors in ``value`` and in the tuples, lists and dicts it holds."""
    torch = sys.modules["torch"]
    if isinstance(value, torch.Tensor):
        yield value
    elif depth and isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v, depth - 1)
    elif depth and isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v, depth - 1)


def _fresh_like(profiler: Sweepable) -> Sweepable:
    """An empty profiler for one candidate: the declarations, and what watch saw of
    the model's output, carry over; no raster is kept."""
    return profiler.fresh(raster_window=0)


def _as_float(value: Any, layer: str) -> float:
    torch = sys.modules["torch"]
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise InvalidInputError(f"layer {layer!r} has a per-neuron threshold of shape "
                                    f"{tuple(value.shape)}; the sweep sets one value")
        return float(value.detach().cpu())
    return float(value)


def _auto_grid(report: Report, layers: tuple[str, ...], original: float,
               n: int) -> list[float]:
    """Log-spaced from below the current threshold to just above the membrane
    potentials the swept layers reach when they never fire."""
    tops = [st.voltage_mean + 6 * st.voltage_std  # membrane range without spiking
            for name in layers if (st := report.layer_stats.get(name)) is not None
            and st.has_voltages]
    top = max(tops, default=math.nan)
    if not (math.isfinite(top) and top > 0):
        top = original * 100
    hi = max(top * 1.5, original * 2)
    lo = min(original, hi / 1000)
    return spaced(lo, hi, max(n, 2), "log")


def _linear_grid(report: Report, layers: tuple[str, ...], original: float,
                 n: int) -> list[float]:
    """Evenly spaced over the swept layers' membrane range when they never fire
    (``voltage_mean -/+ 6 voltage_std``, the reach :func:`_auto_grid` uses) joined
    with the current threshold, widened by half its width on each side: the top lies
    beyond anything the membrane reaches (the layers stop firing there) and the
    bottom below both the current threshold and the membrane's low end (they fire
    more). Without recorded voltages (or with a membrane that never moves and the
    threshold at 0) the span is ``max(|original|, 1)`` on each side of the current
    threshold, a range that keeps the potential's own size: -10 mV gives -20 to 0 mV,
    0 gives -1 to 1."""
    reach = [(st.voltage_mean - 6 * st.voltage_std, st.voltage_mean + 6 * st.voltage_std)
             for name in layers if (st := report.layer_stats.get(name)) is not None
             and st.has_voltages]
    bottom = min([b for b, _ in reach] + [original])
    top = max([t for _, t in reach] + [original])
    width = top - bottom
    if not reach or not (math.isfinite(width) and width > 0):
        span = max(abs(original), 1.0)
        return spaced(original - span, original + span, max(n, 2), "linear")
    return spaced(bottom - width / 2, top + width / 2, max(n, 2), "linear")


def _row(threshold: float, report: Report, layers: tuple[str, ...],
         refined: bool = False) -> SweepRow:
    from ..diagnose.roles import output_layers

    stats = report.layer_stats
    swept = [stats[n] for n in layers if n in stats]
    outputs = output_layers(list(stats.values()))
    counts = outputs[-1].spike_count_range if outputs else None
    cats = {p.category for p in report.pathologies}
    if "non_binary_spikes" in cats:
        verdict = "non-binary"
    elif "output_overflow" in cats or "non_finite_values" in cats:
        verdict = "overflow"
    elif "silent_network" in cats or (counts is not None and counts[1] == 0):
        verdict = "silent"
    elif any(p.category == "dead_neurons" and p.severity is Severity.CRITICAL
             for p in report.pathologies):
        verdict = "too sparse"
    else:
        verdict = "ok"
    spiking = {n: s for n, s in stats.items() if s.role != "input"}
    judged = [s for s in spiking.values() if not s.graded] or swept  # what the verdict reads
    return SweepRow(
        threshold=threshold,
        max_per_step=max((s.max_value for s in judged), default=math.nan),
        binary_fraction=min((s.binary_fraction for s in judged), default=math.nan),
        output_count_range=counts,
        dead_fraction={n: s.dead_neuron_fraction for n, s in spiking.items()},
        saturated_fraction={n: s.saturated_neuron_fraction for n, s in spiking.items()},
        verdict=verdict, report=report, refined=refined)


def _band(rows: list[SweepRow]) -> tuple[int, int, SweepRow] | None:
    """The recommended run of ``rows`` (sorted by threshold): the grid row with
    verdict "ok", the fewest dead neurons and then the smallest output counts, and
    the contiguous "ok" rows around it, as (first index, last index, best row).
    Refined rows locate the edges; the best is always a grid point."""
    ok = [r for r in rows if r.verdict == "ok" and not r.refined]
    if not ok:
        return None
    best = min(ok, key=lambda r: (sum(r.dead_fraction.values()),
                                  r.output_count_range[1] if r.output_count_range else 0))
    i = rows.index(best)
    lo = hi = i
    while lo > 0 and rows[lo - 1].verdict == "ok":
        lo -= 1
    while hi < len(rows) - 1 and rows[hi + 1].verdict == "ok":
        hi += 1
    return lo, hi, best


def _edges(rows: list[SweepRow], lo: int, hi: int, scale: Scale = "log"
           ) -> tuple[BandEdge | None, BandEdge | None]:
    below = (BandEdge(rows[lo].threshold, rows[lo - 1].threshold, rows[lo - 1].verdict,
                      scale) if lo > 0 else None)
    above = (BandEdge(rows[hi].threshold, rows[hi + 1].threshold, rows[hi + 1].verdict,
                      scale) if hi < len(rows) - 1 else None)
    return below, above


def _refine(rows: list[SweepRow], steps: int, run: Callable[[float], SweepRow],
            progress: Callable[[int, int], None] | None,
            scale: Scale = "log") -> list[SweepRow]:
    """``rows`` plus ``steps`` bisections (midpoints on ``scale``) of each failing edge
    of the recommended interval, between its last passing and first failing
    threshold: each halves the edge's uncertainty (on that scale) for one forward
    pass."""
    band = _band(rows)
    if band is None or steps <= 0:
        return rows
    edges = [e for e in _edges(rows, band[0], band[1], scale) if e is not None]
    done, total = len(rows), len(rows) + steps * len(edges)
    added: list[SweepRow] = []
    for edge in edges:
        inside, outside = edge.inside, edge.outside
        for _ in range(steps):
            row = run(midpoint(inside, outside, scale))
            added.append(row)
            done += 1
            if progress is not None:
                progress(done, total)
            if row.verdict == "ok":
                inside = row.threshold
            else:
                outside = row.threshold
    return sorted(rows + added, key=lambda r: r.threshold)


def _recommend(rows: list[SweepRow], layer: str, scale: Scale = "log"
               ) -> tuple[tuple[float, float] | None, float | None, str,
                          tuple[BandEdge | None, BandEdge | None]]:
    band = _band(rows)
    if band is None:
        seen = ", ".join(sorted({r.verdict for r in rows}))
        return None, None, (f"No threshold gave binary spikes with output counts the loss "
                            f"handles and few dead neurons (verdicts seen: {seen}); widen "
                            f"the range or fix the input first."), (None, None)
    lo, hi, best = band
    interval = (rows[lo].threshold, rows[hi].threshold)
    below, above = _edges(rows, lo, hi, scale)
    counts = best.output_count_range
    counted = (f"output counts per sample stay within [{counts[0]:g}, {counts[1]:g}]"
               if counts else
               "output counts per sample were not measured (no output layer was recorded "
               "over whole sequences: for a model called once per time step, pass "
               "time_steps=T)")
    low, high = distinct(*interval)
    reason = (f"Recommended threshold for '{layer}': {low} to {high} "
              f"(best {best.threshold:.3g}): spikes are binary, {counted}, and the fewest "
              f"neurons are dead "
              f"({sum(best.dead_fraction.values()) / max(len(best.dead_fraction), 1):.0%} "
              f"on average). Below it: {below.describe() if below else 'not swept'}; "
              f"above it: {above.describe() if above else 'not swept'}.")
    if lo == hi and (below or above) and not any(r.refined for r in rows):
        reason += (" Only one grid point passed: the interval is narrower than the grid; "
                   "pass refine=3 to bisect its edges.")
    return interval, best.threshold, reason, (below, above)
