"""What each SNN framework's neurons return, where their thresholds live, and how
their state is reset: one module per framework behind one interface
(:class:`~.base.Framework`), dispatched here.

Add a framework by writing a module like :mod:`.snntorch` and listing it in
:data:`FRAMEWORKS`; nothing outside this package knows any framework.
"""

from __future__ import annotations

import math
from typing import Any

from . import norse, snntorch, spikingjelly
from .base import Frame, Framework, Neuron, Reader, Reading, custom, is_tensor, read_generic

FRAMEWORKS: tuple[Framework, ...] = (snntorch, spikingjelly, norse)  # type: ignore[assignment]
"""Every framework spikewidget reads, in the order they are tried."""

_BY_NAME: dict[str, Framework] = {f.name: f for f in FRAMEWORKS}

__all__ = [
    "FRAMEWORKS",
    "Frame",
    "Framework",
    "Neuron",
    "Reader",
    "Reading",
    "custom",
    "detect",
    "firing_levels",
    "get_threshold",
    "read_generic",
    "reset_state",
    "set_threshold",
    "spike_ceiling",
    "takes_tensor_threshold",
    "threshold_attribute",
]


def detect(module: Any) -> Neuron | None:
    """How to read ``module`` if it is a neuron layer of a known framework, else None."""
    for framework in FRAMEWORKS:
        found = framework.detect(module)
        if found is not None:
            return found
    return None


def threshold_attribute(module: Any) -> str | None:
    """Where the firing threshold lives: ``"threshold"`` (snnTorch; ``DeltaLeaky``:
    ``"delta_threshold"``), ``"v_threshold"`` (SpikingJelly), ``"p.v_th"``,
    ``"p.lif.v_th"``, ``"p.lif_adex.v_th"`` or ``"p.v_thresh"`` (Norse; the last for
    ``CobaLIFCell``);
    None for a module without one."""
    found = detect(module)
    if found is None or found.integrator:
        return None
    return _BY_NAME[found.framework].threshold_attribute(module)


def takes_tensor_threshold(module: Any) -> bool:
    """Whether ``module``'s threshold may be set to a tensor broadcasting over the
    batch (snnTorch, Norse), so one forward can try one threshold per sample."""
    found = detect(module)
    return (threshold_attribute(module) is not None
            and _BY_NAME[found.framework].tensor_threshold)


def _require(module: Any) -> str:
    attr = threshold_attribute(module)
    if attr is None:
        raise TypeError(f"{type(module).__name__} is not a spiking layer with a known "
                        f"threshold (snnTorch threshold, SpikingJelly v_threshold, Norse "
                        f"p.v_th)")
    return attr


def get_threshold(module: Any) -> Any:
    """The layer's firing threshold: a tensor (snnTorch, Norse) or a float
    (SpikingJelly, a tensor in the few nodes that keep it as one); scalar or per
    neuron."""
    value = module
    for part in _require(module).split("."):
        value = getattr(value, part)
    return value


def firing_levels(module: Any) -> tuple[float | None, float | None]:
    """``(threshold, resting potential)`` of a neuron layer as numbers, to tell a
    layer whose membrane stays short of its threshold from one that gets no input.

    A per-neuron threshold gives its lowest value (the easiest to reach). None where
    a level is unknown, not finite, or learnt (a tensor that requires grad moves as
    training runs: the value read now would go stale). Reading a tensor on a device
    waits for it once: call this when watching starts, never per step.
    """
    attr = threshold_attribute(module)
    if attr is None:
        return None, None
    threshold = _level(get_threshold(module))
    rest = _BY_NAME[detect(module).framework].resting_potential(module, attr)
    return threshold, (None if threshold is None else _level(rest))


def _level(value: Any) -> float | None:
    """``value`` (a number or a tensor, its lowest element) as a finite float."""
    if is_tensor(value):
        if value.requires_grad or value.numel() == 0:
            return None
        value = value.detach().min().item()
    try:
        level = float(value)
    except (TypeError, ValueError):
        return None
    return level if math.isfinite(level) else None


def spike_ceiling(module: Any) -> float | None:
    """The most one neuron of a graded neuron layer emits in one step (SpikingJelly
    ILIF: ``max_spike_count``; snnTorch: a fixed ``graded_spikes_factor``), or None
    when unknown. Reading a tensor waits for it once: call it when watching starts."""
    found = detect(module)
    if found is None or found.integrator:
        return None
    return _BY_NAME[found.framework].spike_ceiling(module)


def set_threshold(module: Any, value: Any) -> None:
    """Set the layer's firing threshold to ``value`` (a number or a tensor that
    broadcasts to the layer's neurons); keeps the attribute's kind, dtype and device."""
    attr = _require(module)
    _BY_NAME[detect(module).framework].set_threshold(module, attr, value)


def reset_state(module: Any) -> None:
    """Put the hidden state a neuron layer keeps between calls back to rest, as
    ``snntorch.utils.reset`` and SpikingJelly's ``functional.reset_net`` do, for this
    one module. Norse layers take their state as an argument: nothing to do."""
    for framework in FRAMEWORKS:
        if framework.reset_state(module):
            return
