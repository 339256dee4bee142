"""Norse's neurons (``norse.torch.module.snn`` and the leaky integrators).

``SNNCell``/``SNN`` and their recurrent variants return ``(z, state)`` with
``state.v`` (``state.lif.v`` for refractory cells); ``SNN`` modules take
``(time, batch, ...)``. Leaky integrators (``LI``, ``LICell``, ...) output
voltages, not spikes. The threshold is ``p.v_th`` (``p.lif.v_th``) of the
parameter tuple; state is passed as an argument, so there is none to reset.
"""

from __future__ import annotations

from typing import Any

from .base import Frame, Neuron, Reader, classes, describe, is_tensor, same_shape, tensor_like

name = "norse"
tensor_threshold = True
_SNN = "norse.torch.module.snn"


def _state_voltage(state: Any) -> Any:
    v = getattr(state, "v", None)
    if v is None and hasattr(state, "lif"):
        v = getattr(state.lif, "v", None)
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
    cells = classes(_SNN, "SNNCell", "SNNRecurrentCell")
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
    p = getattr(module, "p", None)
    if hasattr(p, "v_th"):
        return "p.v_th"
    if hasattr(getattr(p, "lif", None), "v_th"):
        return "p.lif.v_th"
    return None


def set_threshold(module: Any, attribute: str, value: Any) -> None:
    p = module.p
    if attribute == "p.v_th":
        module.p = p._replace(v_th=tensor_like(value, p.v_th))
    else:
        module.p = p._replace(lif=p.lif._replace(v_th=tensor_like(value, p.lif.v_th)))


def reset_state(module: Any) -> bool:
    return False
