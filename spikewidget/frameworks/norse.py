"""Norse's neurons (``norse.torch.module.snn`` and the leaky integrators).

``SNNCell``/``SNN`` and their recurrent variants return ``(z, state)`` with
``state.v`` (``state.lif.v``, ``state.lif_adex.v`` for refractory cells); ``SNN``
modules take ``(time, batch, ...)``. ``CobaLIFCell`` (conductance-based, not an
``SNNCell``) returns ``(z, state)`` too, with its threshold at ``p.v_thresh``.
Leaky integrators (``LI``, ``LICell``, ...) output voltages, not spikes. The
threshold is ``p.v_th`` (``p.lif.v_th``, ``p.lif_adex.v_th``) of the parameter
tuple; state is passed as an argument, so there is none to reset.
"""

from __future__ import annotations

from typing import Any

from .base import Frame, Neuron, Reader, classes, describe, is_tensor, same_shape, tensor_like

name = "norse"
tensor_threshold = True
_SNN = "norse.torch.module.snn"


def _state_voltage(state: Any) -> Any:
    """``state.v``, else the ``v`` of a nested state (``state.lif``, ``state.lif_adex``)."""
    v = getattr(state, "v", None)
    if v is None:
        for field in getattr(state, "_fields", ()):
            v = getattr(getattr(state, field), "v", None)
            if v is not None:
                break
    return v


def _reader(sequence: bool, integrator: bool) -> Reader:
    def read(module: Any, output: Any) -> Frame:
        if not (isinstance(output, (tuple, list)) and output and is_tensor(output[0])):
            raise TypeError(f"its output is {describe(output)}; expected (z, state)")
        if integrator:
            return (None, output[0], sequence)
        z = output[0]
        state = output[1] if len(output) > 1 else None
        return (z, same_shape(_state_voltage(state), z), sequence)

    return read


def detect(module: Any) -> Neuron | None:
    cells = (classes(_SNN, "SNNCell", "SNNRecurrentCell")
             + classes("norse.torch.module.coba_lif", "CobaLIFCell"))
    sequences = classes(_SNN, "SNN", "SNNRecurrent")
    integrators = (classes("norse.torch.module.leaky_integrator", "LICell", "LI",
                           "LILinearCell")
                   + classes("norse.torch.module.leaky_integrator_box", "LIBoxCell", "LIBox"))
    if not (cells or sequences or integrators):
        return None
    sequence = bool(sequences) and isinstance(module, sequences)
    if integrators and isinstance(module, integrators):
        return Neuron(name, _reader(sequence, True), integrator=True)
    if sequence or (cells and isinstance(module, cells)):
        return Neuron(name, _reader(sequence, False))
    return None


def threshold_attribute(module: Any) -> str | None:
    """``p.v_th``; ``p.<part>.v_th`` for parameters nesting a LIF's (``p.lif.v_th``,
    ``p.lif_adex.v_th``); ``p.v_thresh`` (``CobaLIFParameters``, in mV)."""
    p = getattr(module, "p", None)
    if p is None:
        return None
    for field in ("v_th", "v_thresh"):
        if hasattr(p, field):
            return f"p.{field}"
    for part in getattr(p, "_fields", ()):
        if hasattr(getattr(p, part), "v_th"):
            return f"p.{part}.v_th"
    return None


def set_threshold(module: Any, attribute: str, value: Any) -> None:
    """Replace the threshold in the (nested) parameter tuple at ``attribute``."""
    _, *parts = attribute.split(".")
    tuples = [module.p]
    for part in parts[:-1]:
        tuples.append(getattr(tuples[-1], part))
    new = tensor_like(value, getattr(tuples[-1], parts[-1]))
    for holder, part in zip(reversed(tuples), reversed(parts), strict=True):
        new = holder._replace(**{part: new})
    module.p = new


def resting_potential(module: Any, attribute: str) -> Any:
    """``v_leak`` beside the threshold (``v_rest`` beside ``CobaLIFParameters``'
    ``v_thresh``), or None when the parameters have neither (Izhikevich)."""
    holder = module
    for part in attribute.split(".")[:-1]:
        holder = getattr(holder, part)
    for field in ("v_leak", "v_rest"):
        if hasattr(holder, field):
            return getattr(holder, field)
    return None


def spike_ceiling(module: Any) -> float | None:
    """None: Norse's neurons emit spikes of 0 and 1 (no graded spikes, no ceiling)."""
    return None


def reset_state(module: Any) -> bool:
    return False
