"""SpikingJelly's neurons (``activation_based.neuron``).

``BaseNode`` and ``SimpleBaseNode`` return spikes, with the voltage on ``.v`` (a
float until the first forward); ``step_mode='m'`` means ``(time, batch, ...)``,
with the voltage sequence on ``.v_seq`` only when ``store_v_seq=True``.
Non-spiking nodes output voltages. The threshold is the float ``v_threshold``;
state is reset by ``MemoryModule.reset`` (as ``functional.reset_net`` does).
"""

from __future__ import annotations

from typing import Any

from .base import Frame, Neuron, classes, describe, is_tensor, same_shape

name = "spikingjelly"
tensor_threshold = False  # its kernels take a Python float
_NEURONS = "spikingjelly.activation_based.neuron"


def _read(module: Any, output: Any) -> Frame:
    if not is_tensor(output):
        raise TypeError(f"its output is {describe(output)}; expected a tensor of spikes")
    multi = getattr(module, "step_mode", "s") == "m"
    voltages = None
    if multi:
        if getattr(module, "store_v_seq", False):
            voltages = same_shape(getattr(module, "v_seq", None), output)
    else:
        voltages = same_shape(getattr(module, "v", None), output)  # a float before forward
    return (output, voltages, multi)


def _read_integrator(module: Any, output: Any) -> Frame:
    if not is_tensor(output):
        raise TypeError(f"its output is {describe(output)}; expected a tensor of voltages")
    return (None, output, getattr(module, "step_mode", "m") == "m")


def detect(module: Any) -> Neuron | None:
    if isinstance(module, classes(_NEURONS, "BaseNode", "SimpleBaseNode", "PSN",
                                  "MaskedPSN", "SlidingPSN")):
        return Neuron(name, _read)
    if isinstance(module, classes(_NEURONS, "NonSpikingBaseNode", "NoisyNonSpikingBaseNode")):
        return Neuron(name, _read_integrator, integrator=True)
    return None


def threshold_attribute(module: Any) -> str | None:
    return "v_threshold" if hasattr(module, "v_threshold") else None


def set_threshold(module: Any, attribute: str, value: Any) -> None:
    """SpikingJelly's kernels expect a Python float: a one-element tensor is read."""
    if is_tensor(value):
        if value.numel() != 1:
            raise ValueError(f"{type(module).__name__}.v_threshold is one number; got "
                             f"a tensor of shape {tuple(value.shape)}")
        value = value.item()
    module.v_threshold = float(value)


def reset_state(module: Any) -> bool:
    if not isinstance(module, classes("spikingjelly.activation_based.base", "MemoryModule")):
        return False
    module.reset()
    return True
