"""Which watched layers feed which, learnt once from the autograd graph of one forward.

A layer's input current is made from the spikes of the layers before it: a plain
stack feeds each layer from the one before, a residual block also from a layer further
back, a self-attention LIF from its q, k and v LIFs at once. :class:`WiringProbe` hooks
every watched layer for one forward call made with gradients: it tags the autograd
node that made each layer's spikes, and walks back from the node that made each
layer's input (its first argument) to the nearest tagged nodes. That is the layer's
``fed_by``, which :mod:`spikewidget.diagnose.causes` uses to tell a layer silenced by
silent layers before it from one whose input still arrives another way.

The data are not in the graph (they need no gradient), so during that forward a
:class:`_DataTrace` (a ``TorchFunctionMode``) follows the model's inputs through the
operations that need no gradient (scaling, indexing a time step, an encoder) and tags
the first autograd nodes made from them: a layer whose walk passes one is fed by the
data too, named :data:`DATA` (or the input layer's name under ``watch(input=...)``).
So a skip from the input, or a non-spiking stem that feeds a later layer, counts as a
feed that carries signal. Constants and parameters are not followed: a bias alone is
not a signal. Spikes that need no gradient (a layer fed straight by the data) are
followed the same way, as that layer's.

A forward without gradients (``torch.no_grad``, validation) teaches nothing; the
probe waits for one with them, at most :data:`FORWARDS_TRIED` forwards, then gives up
and removes itself. Where some watched layer's spikes carry no autograd node and do
not come from the data (a spike function without a surrogate) the wiring is unknown
and nothing is declared; a layer whose walk exceeds :data:`NODES_WALKED` is left out.
The causes then fall back to the layers' order.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from ..state.layer import DATA
from .eager import eagerly

FORWARDS_TRIED = 16
"""Forward calls of the model the probe waits for one with gradients."""
CALLS_WALKED = 4
"""Calls of one layer walked in the probe's forward (a per-step layer's first steps);
every call's output is tagged, so that no walk passes a watched layer unseen."""
NODES_WALKED = 4096
"""Autograd nodes one walk may visit before the wiring is called unknown."""
TENSORS_TRACED = 65536
"""Tensors made from the data without a gradient, alive at once, that one forward
follows at most."""

Read = Callable[[Any, Any], Any]  # (module, output) -> the spikes tensor or None


class WiringProbe:
    """Hooks for the watched layers until one forward with gradients completes.

    ``layers``: ``(name, module, read)`` for each watched neuron layer, in model order;
    ``data``: the name the data (the model's first argument) go by among the feeds.
    Call :meth:`forward_started` with the model's arguments when each forward begins and
    :meth:`forward_done` when it returns (also when it raises): that gives
    ``{layer: fed_by}`` once learnt, ``{}`` when given up, ``None`` while waiting.
    """

    def __init__(self, layers: list[tuple[str, Any, Read]], data: str = DATA) -> None:
        self._hooks: list[Any] = []
        self._data = data
        self._trace: _DataTrace | None = None  # during a forward with gradients
        self._made_by: dict[Any, str] = {}  # autograd node -> the layer whose spikes
        self._from_data: dict[Any, frozenset[str]] = {}  # node -> made from (no gradient)
        self._fed: dict[str, set[str]] = {}
        self._calls: dict[str, int] = {}  # calls walked, per layer
        self._active = False  # inside a forward of the model
        self._unknown = False  # this forward: some layer's spikes were unreadable
        self._lost: set[str] = set()  # layers whose walk ran too far
        self._forwards = 0
        for name, module, read in layers:
            self._hooks.append(module.register_forward_pre_hook(_Hook(self, name, read, True)))
            self._hooks.append(module.register_forward_hook(_Hook(self, name, read, False)))

    # a copy of the model (deepcopy, pickle, torch.save) carries inert hooks
    def __reduce__(self) -> tuple[Any, ...]:
        return (_inert_probe, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> WiringProbe:
        return _inert_probe()

    def before(self, name: str, args: Any) -> None:
        """A layer is called: walk back from its input to the layers that made it."""
        calls = self._calls.get(name, 0)
        if not self._active or self._unknown or calls >= CALLS_WALKED \
                or not torch.is_grad_enabled():
            return
        self._calls[name] = calls + 1
        x = args[0] if isinstance(args, tuple) and args else None
        node = getattr(x, "grad_fn", None)
        fed = self._fed.setdefault(name, set())
        if node is None:  # the data (or made from them without a gradient), a constant
            if self._trace is not None:
                fed |= self._trace.sources(x) - {name}
            return
        seen, stack = {node}, [node]
        while stack:
            n = stack.pop()
            layer = self._made_by.get(n)
            if layer is not None:
                if layer != name:  # its own earlier steps are its state, not a feed
                    fed.add(layer)
                continue
            made_from = self._from_data.get(n)
            if made_from is not None:  # made from the data: and from what else?
                fed |= made_from - {name}
            for nxt, _ in n.next_functions:
                if nxt is not None and nxt not in seen:
                    if len(seen) >= NODES_WALKED:
                        self._lost.add(name)
                        return
                    seen.add(nxt)
                    stack.append(nxt)

    def after(self, name: str, spikes: Any) -> None:
        """A layer returned: tag the node that made its spikes."""
        if not self._active or self._unknown or not torch.is_grad_enabled():
            return
        node = getattr(spikes, "grad_fn", None)
        if node is not None:
            self._made_by[node] = name
        elif self._trace is None or not self._trace.rename(spikes, name):
            self._unknown = True  # no autograd node, not from the data: unknown

    def forward_started(self, args: Any = ()) -> None:
        """A forward of the model begins: its layers' calls are watched (calls made
        outside a forward of the model are not: they would leave outputs untagged),
        and with gradients the model's arguments ``args`` are followed as the data."""
        self._active = True
        if self._hooks and self._trace is None and torch.is_grad_enabled():
            self._trace = _DataTrace(self._from_data, args, self._data)
            self._trace.__enter__()

    def forward_done(self) -> dict[str, tuple[str, ...]] | None:
        """After each forward of the model: the wiring once learnt (then the hooks are
        removed), ``{}`` when it cannot be, ``None`` to wait for the next forward."""
        self._active = False
        self._end_trace()
        self._forwards += 1
        learnt = bool(self._calls) and not self._unknown
        fed = {name: tuple(sorted(self._fed.get(name, ()))) for name in self._calls
               if name not in self._lost}
        self._made_by.clear()
        self._from_data.clear()
        self._fed.clear()
        self._calls.clear()
        self._lost.clear()
        self._unknown = False
        if learnt:
            self.remove()
            return fed
        if self._forwards >= FORWARDS_TRIED:
            self.remove()
            return {}
        return None

    def remove(self) -> None:
        self._end_trace()
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        self._made_by.clear()
        self._from_data.clear()

    def _end_trace(self) -> None:
        trace, self._trace = self._trace, None
        if trace is not None:
            trace.end()


class _DataTrace(TorchFunctionMode):
    """Follows the data through one forward: every tensor made without a gradient
    from a followed one is followed too, with the names of what it was made from (the
    data, or a layer whose spikes need no gradient); the autograd node of a result
    that needs a gradient is entered in ``made_from`` with those names."""

    def __init__(self, made_from: dict[Any, frozenset[str]], args: Any, data: str) -> None:
        super().__init__()
        self._made_from = made_from
        # id -> (a weak reference, what it was made from): nothing is kept alive
        self._followed: dict[int, tuple[weakref.ref[torch.Tensor], frozenset[str]]] = {}
        self._entered = False
        seed = frozenset((data,))
        for x in _tensors(args[0] if isinstance(args, tuple) and args else ()):
            if x.grad_fn is None:  # the data: the first argument (not a state or mask)
                self._follow(x, seed)

    def __enter__(self) -> _DataTrace:
        super().__enter__()
        self._entered = True
        return self

    def end(self) -> None:
        """Stop following (leave the mode if it is still entered) and forget."""
        if self._entered:
            self._entered = False
            with contextlib.suppress(Exception):  # the stack was changed under it
                self.__exit__(None, None, None)
        self._followed.clear()

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if self._followed:
            try:
                self._made(args, kwargs, out)
            except Exception:  # never crash training: the data are then not followed
                self._followed.clear()
        return out

    def _made(self, args: Any, kwargs: Any, out: Any) -> None:
        """``out`` was made from ``args`` and ``kwargs``: follow it, or note its node."""
        made_from = frozenset().union(*(self.sources(x) for x in _tensors((args, kwargs))))
        if made_from:
            for y in _tensors(out):
                self._note(y, made_from)
            if out is None and args and isinstance(args[0], torch.Tensor):
                self._note(args[0], made_from)  # written in place (x[i] = ...)

    def sources(self, x: Any) -> frozenset[str]:
        """What ``x`` was made from, if it was made from the data without a gradient."""
        entry = self._followed.get(id(x))
        return entry[1] if entry is not None and entry[0]() is x else frozenset()

    def rename(self, spikes: Any, layer: str) -> bool:
        """Spikes without a gradient, made from the data: from here on they are
        ``layer``'s. False when they were not made from the data."""
        if not self.sources(spikes):
            return False
        self._followed[id(spikes)] = (weakref.ref(spikes), frozenset((layer,)))
        return True

    def _note(self, y: torch.Tensor, made_from: frozenset[str]) -> None:
        node = y.grad_fn
        if node is not None:
            self._made_from.setdefault(node, made_from)
        else:
            self._follow(y, made_from | self.sources(y))

    def _follow(self, x: torch.Tensor, made_from: frozenset[str]) -> None:
        followed = self._followed
        if len(followed) >= TENSORS_TRACED and id(x) not in followed:
            for key in [k for k, (ref, _) in followed.items() if ref() is None]:
                del followed[key]  # forget the tensors that are gone
            if len(followed) >= TENSORS_TRACED:
                return
        followed[id(x)] = (weakref.ref(x), made_from)


def _tensors(value: Any, depth: int = 0) -> Iterator[torch.Tensor]:
    """The tensors in ``value`` and in the tuples, lists and dicts in it (3 deep)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif depth < 3 and isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v, depth + 1)


class _Hook:
    """A pre-hook (``before``) or a forward hook of one watched layer."""

    __slots__ = ("before", "name", "probe", "read")

    def __init__(self, probe: WiringProbe, name: str, read: Read, before: bool) -> None:
        self.probe, self.name, self.read, self.before = probe, name, read, before

    def __call__(self, module: Any, args: Any, output: Any = None) -> None:
        if torch.compiler.is_compiling():
            return eagerly(self, module, args, output)
        if torch._C._current_graph_task_id() != -1:  # a checkpoint's recomputation
            return None
        try:
            if self.before:
                self.probe.before(self.name, args)
            else:
                self.probe.after(self.name, self.read(module, output))
        except Exception:  # never crash training: the wiring is then unknown
            self.probe._unknown = True
        return None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_inert_hook, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> _Hook:
        return _inert_hook()


def _inert_probe() -> WiringProbe:
    """A probe that hooks nothing (module-level, so that pickles can name it)."""
    return WiringProbe([])


def _inert_hook() -> _Hook:
    return _Hook(_inert_probe(), "", lambda module, output: None, False)
