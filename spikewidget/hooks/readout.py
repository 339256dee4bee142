"""Which watched layer's spikes a model outputs, learnt from its first forward call.

A spiking layer is the model's output layer when nothing that transforms its spikes
runs after it: in ``Linear -> LIF -> Linear -> LIF`` the last LIF is the output, while
in Norse's ``LIF -> Linear -> LI`` or a ResNet's ``sn -> avgpool -> fc`` a non-spiking
readout follows every spiking layer, so none of them is (their spikes never reach the
loss as counts). :class:`ReadoutProbe` hooks every leaf module for one forward call
and then removes itself: the rest of training pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .eager import eagerly

_SHAPE_ONLY = ("Flatten", "Unflatten", "Identity", "Dropout", "MaxPool", "Reshape",
               "Permute", "Squeeze")
"""Module type names (prefixes) that move or pick spikes without changing them."""


def transforms_spikes(module: Any) -> bool:
    """Whether a module that runs after a spiking layer turns its spikes into
    something else: it has weights of its own, or it averages (``AvgPool``)."""
    kind = type(module).__name__
    if any(kind.startswith(p) or kind.startswith("MultiStep" + p)
           or kind.startswith("SeqToANN" + p) for p in _SHAPE_ONLY):
        return False
    if "AvgPool" in kind:
        return True
    return any(True for _ in module.parameters(recurse=False))


class ReadoutProbe:
    """Forward hooks for one call of the model: the last watched layer to run, and
    whether a module that transforms spikes ran after it.

    ``taps`` maps each watched neuron module to its layer name; ``integrators`` are
    non-spiking neuron modules (leaky integrators), always a readout.
    """

    def __init__(self, model: Any, taps: dict[int, str], integrators: set[int]) -> None:
        self.last: str | None = None
        self.readout_after = False
        self._hooks = []
        for module in model.modules():
            tap = taps.get(id(module))
            if tap is not None:
                self._hooks.append(module.register_forward_hook(self._tap_hook(tap)))
            elif id(module) in integrators or (
                    next(iter(module.children()), None) is None and transforms_spikes(module)):
                self._hooks.append(module.register_forward_hook(self._readout_hook))

    def _tap_hook(self, name: str) -> Callable[..., None]:
        return _ProbeHook(self, name)

    def _readout_hook(self, module: Any, args: Any, output: Any) -> None:
        if torch.compiler.is_compiling():  # see .eager
            return eagerly(self._readout_hook, module, args, output)
        if self.last is not None:
            self.readout_after = True

    # a copy of the model (deepcopy, pickle, torch.save) carries inert hooks
    def __reduce__(self) -> tuple[Any, ...]:
        return (_inert_probe, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> ReadoutProbe:
        return _inert_probe()

    def finish(self) -> str | None:
        """Remove the hooks; the output layer's name, or None (a non-spiking readout
        follows, or no watched layer ran)."""
        self.remove()
        return None if self.readout_after else self.last

    def remove(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()


class _ProbeHook:
    """The forward hook of a watched layer: it was the last to run, so far."""

    __slots__ = ("name", "probe")

    def __init__(self, probe: ReadoutProbe, name: str) -> None:
        self.probe, self.name = probe, name

    def __call__(self, module: Any, args: Any, output: Any) -> None:
        if torch.compiler.is_compiling():
            return eagerly(self, module, args, output)
        self.probe.last, self.probe.readout_after = self.name, False

    def __reduce__(self) -> tuple[Any, ...]:
        return (_inert_probe_hook, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> _ProbeHook:
        return _inert_probe_hook()


def _inert_probe() -> ReadoutProbe:
    """A probe that hooks nothing (module-level, so that pickles can name it)."""
    probe = ReadoutProbe.__new__(ReadoutProbe)
    probe.last, probe.readout_after, probe._hooks = None, False, []
    return probe


def _inert_probe_hook() -> _ProbeHook:
    return _ProbeHook(_inert_probe(), "")
