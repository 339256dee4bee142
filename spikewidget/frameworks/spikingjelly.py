"""SpikingJelly's neurons (``activation_based.neuron``).

Every module class defined in that package is a neuron: ``BaseNode``,
``SimpleBaseNode`` and the nodes built on ``MemoryModule`` or ``MultiStepModule``
directly (``ActivationAwareIFNode``, ``DSRIFNode``, the PSN and ILC families, ...).
They return spikes, with the voltage on ``.v`` (a float until the first forward);
``step_mode='m'`` means ``(time, batch, ...)``, with the voltage sequence on
``.v_seq`` only when ``store_v_seq=True`` (without it, ``.v`` is the membrane after
the last step, see :func:`_read`); a multi-step-only module (``PSN``,
``MaskedPSN``, the ILC and noisy nodes) has no ``step_mode`` and always takes
``(time, batch, ...)``. ``OTTTLIFNode`` returns ``[spike, trace]`` while training
(for ``layer.OTTTSequential``). ``ILIFNode`` (integer spikes), the DSR nodes
(weighted spikes) and the ternary nodes (-1, 0, 1) are graded on purpose;
``LIAFNode``'s output is analog. ``OTTTLIFNode`` and ``SLTTLIFNode`` are trained
online (a backward pass after every time step). Non-spiking nodes output voltages. The threshold
is ``v_threshold``: a float, or a tensor (a Parameter or buffer) in a few nodes;
state is reset by ``MemoryModule.reset`` (as ``functional.reset_net`` does).
"""

from __future__ import annotations

import sys
from typing import Any

from .base import Frame, Neuron, classes, describe, is_tensor, same_shape, torch_or_none

name = "spikingjelly"
tensor_threshold = False  # its kernels take a Python float
_NEURONS = "spikingjelly.activation_based.neuron"


_GRADED = ("ILIFNode", "DSRIFNode", "DSRLIFNode", "TernaryIFNode", "TernaryLIFNode")
"""Nodes whose spikes are not 0/1 by design (integer, weighted or -1/0/1 spikes)."""
_ANALOG = ("LIAFNode",)
"""Nodes whose output is an analog activation of the membrane, seldom exactly 0."""
_ONLINE = ("OTTTLIFNode", "SLTTLIFNode")
"""Nodes trained online: the state is detached between steps while training, and
the loss is backpropagated after every time step (online training through time,
spatial learning through time)."""


def _multi_step(module: Any) -> bool:
    """Whether the module's calls take ``(time, batch, ...)``: ``step_mode='m'``, or a
    multi-step-only module, which has no ``step_mode``."""
    mode = getattr(module, "step_mode", None)
    if mode is None:
        return isinstance(module, classes("spikingjelly.activation_based.base",
                                          "MultiStepModule"))
    return mode == "m"


def _read(module: Any, output: Any) -> Frame:
    if not is_tensor(output):
        if isinstance(output, (list, tuple)) and output and is_tensor(output[0]):
            output = output[0]  # OTTTLIFNode while training: [spike, trace]
        else:
            raise TypeError(f"its output is {describe(output)}; expected a tensor of "
                            f"spikes (or [spike, trace])")
    multi = _multi_step(module)
    v = getattr(module, "v", None)  # a float (or None) before the first forward
    if not multi:
        return (output, same_shape(v, output), False)
    voltages = None
    if getattr(module, "store_v_seq", False):
        voltages = same_shape(getattr(module, "v_seq", None), output)
    if voltages is None:
        voltages = last_step(v, output)
    return (output, voltages, True)


def last_step(v: Any, spikes: Any) -> Any:
    """``v`` if it is a tensor of one time step of ``spikes`` ``(time, batch, ...)``,
    that is of shape ``spikes.shape[1:]``, else None.

    After a multi-step forward without ``store_v_seq`` a node keeps only ``.v``, the
    membrane after the last step, after that step's reset (where a neuron fired it
    holds the reset value, not the potential that crossed the threshold). It is
    recorded as such (``record_step`` takes voltages of one time step): it adds to the
    voltage moments and extrema (values the membrane did take, so its largest is at
    most the peak over the sequence) and not to the spread over time, which needs
    every step. Nothing is copied or stored over time: the reference is the node's
    own tensor, reduced when the call is recorded."""
    if is_tensor(v) and v.ndim == spikes.ndim - 1 and v.shape == spikes.shape[1:]:
        return v
    return None


def _read_integrator(module: Any, output: Any) -> Frame:
    if not is_tensor(output):
        raise TypeError(f"its output is {describe(output)}; expected a tensor of voltages")
    return (None, output, _multi_step(module))


def _is_neuron(module: Any) -> bool:
    """A module whose class (or a base class) is defined in SpikingJelly's neuron
    package: a node a future release adds is found too."""
    if sys.modules.get(_NEURONS) is None:
        return False
    return any(c.__module__.startswith(_NEURONS) for c in type(module).__mro__)


def detect(module: Any) -> Neuron | None:
    if not _is_neuron(module):
        return None
    if isinstance(module, classes(_NEURONS, "NonSpikingBaseNode", "NoisyNonSpikingBaseNode")):
        return Neuron(name, _read_integrator, integrator=True)
    graded = ("analog" if isinstance(module, classes(_NEURONS, *_ANALOG))
              else isinstance(module, classes(_NEURONS, *_GRADED)))
    return Neuron(name, _read, graded=graded,
                  online=isinstance(module, classes(_NEURONS, *_ONLINE)))


def threshold_attribute(module: Any) -> str | None:
    return "v_threshold" if hasattr(module, "v_threshold") else None


def set_threshold(module: Any, attribute: str, value: Any) -> None:
    """SpikingJelly's kernels expect a Python float: a one-element tensor is read. A
    node that keeps ``v_threshold`` as a tensor (a learnable Parameter: DSR nodes,
    ``KLIFNode``-like variants; a buffer: ``ActivationAwareIFNode``) gets ``value``
    copied into it, broadcast to its shape, dtype and device kept."""
    old = getattr(module, "v_threshold", None)
    if is_tensor(old):
        torch = torch_or_none()
        new = torch.as_tensor(value).to(dtype=old.dtype, device=old.device)
        if new.numel() != 1 and new.shape != old.shape:
            raise ValueError(f"{type(module).__name__}.v_threshold has shape "
                             f"{tuple(old.shape)}; got a value of shape {tuple(new.shape)}")
        with torch.no_grad():
            old.copy_(new.expand_as(old) if new.numel() == 1 else new)
        return
    if is_tensor(value):
        if value.numel() != 1:
            raise ValueError(f"{type(module).__name__}.v_threshold is one number; got "
                             f"a tensor of shape {tuple(value.shape)}")
        value = value.item()
    module.v_threshold = float(value)


def resting_potential(module: Any, attribute: str) -> Any:
    """``v_reset``, where a node starts; 0 for a soft reset (``v_reset=None``)."""
    rest = getattr(module, "v_reset", None)
    return 0.0 if rest is None else rest


def spike_ceiling(module: Any) -> float | None:
    """The most a node emits in one step, where it has a ceiling: the surrogate's
    ``max_spike_count`` (``ILIFNode``'s ``MultiLevelSpikeCount(D)`` clips its integer
    spikes to 0..D, in spiking mode or not); None for other nodes."""
    count = getattr(getattr(module, "surrogate_function", None), "max_spike_count", None)
    if isinstance(count, bool) or not isinstance(count, (int, float)) or not count > 0:
        return None
    return float(count)


def reset_state(module: Any) -> bool:
    if not isinstance(module, classes("spikingjelly.activation_based.base", "MemoryModule")):
        return False
    module.reset()
    return True
