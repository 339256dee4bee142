"""Which watched layers feed which, learnt once from the autograd graph of one forward.

A layer's input current is made from the spikes of the layers before it: a plain
stack feeds each layer from the one before, a residual block also from a layer further
back, a self-attention LIF from its q, k and v LIFs at once. :class:`WiringProbe` hooks
every watched layer for one forward call made with gradients: it tags the autograd
node that made each layer's spikes, and walks back from the node that made each
layer's input (its first argument) to the nearest tagged nodes. That is the layer's
``fed_by``, which :mod:`spikewidget.diagnose.causes` uses to tell a layer silenced by
silent layers before it from one whose input still arrives another way.

Data, constants and parameters are not in the graph (they need no gradient), so
``fed_by`` names watched layers only: a first layer is fed by none. A forward without
gradients (``torch.no_grad``, validation) teaches nothing; the probe waits for one
with them, at most :data:`FORWARDS_TRIED` forwards, then gives up and removes itself.
Where some watched layer's spikes carry no autograd node (a spike function without a
surrogate) the wiring is unknown and nothing is declared; a layer whose walk exceeds
:data:`NODES_WALKED` is left out. The causes then fall back to the layers' order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .eager import eagerly

FORWARDS_TRIED = 16
"""Forward calls of the model the probe waits for one with gradients."""
CALLS_WALKED = 4
"""Calls of one layer walked in the probe's forward (a per-step layer's first steps);
every call's output is tagged, so that no walk passes a watched layer unseen."""
NODES_WALKED = 4096
"""Autograd nodes one walk may visit before the wiring is called unknown."""

Read = Callable[[Any, Any], Any]  # (module, output) -> the spikes tensor or None


class WiringProbe:
    """Hooks for the watched layers until one forward with gradients completes.

    ``layers``: ``(name, module, read)`` for each watched neuron layer, in model order.
    Call :meth:`forward_started` when each forward of the model begins and
    :meth:`forward_done` when it returns: that gives ``{layer: fed_by}`` once learnt,
    ``{}`` when given up, ``None`` while waiting.
    """

    def __init__(self, layers: list[tuple[str, Any, Read]]) -> None:
        self._hooks: list[Any] = []
        self._made_by: dict[Any, str] = {}  # autograd node -> the layer whose spikes
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
        if node is None:
            return  # data or a constant: fed by no watched layer
        seen, stack = {node}, [node]
        while stack:
            n = stack.pop()
            layer = self._made_by.get(n)
            if layer is not None:
                if layer != name:  # its own earlier steps are its state, not a feed
                    fed.add(layer)
                continue
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
        if node is None:
            self._unknown = True
        else:
            self._made_by[node] = name

    def forward_started(self) -> None:
        """A forward of the model begins: its layers' calls are watched (calls made
        outside a forward of the model are not: they would leave outputs untagged)."""
        self._active = True

    def forward_done(self) -> dict[str, tuple[str, ...]] | None:
        """After each forward of the model: the wiring once learnt (then the hooks are
        removed), ``{}`` when it cannot be, ``None`` to wait for the next forward."""
        self._active = False
        self._forwards += 1
        learnt = bool(self._calls) and not self._unknown
        fed = {name: tuple(sorted(self._fed.get(name, ()))) for name in self._calls
               if name not in self._lost}
        self._made_by.clear()
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
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        self._made_by.clear()


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
