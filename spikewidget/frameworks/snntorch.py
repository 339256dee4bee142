"""snnTorch's neurons (``snntorch.SpikingNeuron`` and the sequence layers).

They return ``spk``, ``(spk, mem)`` or ``(spk, syn, mem)`` (spikes first, membrane
last; ``DeltaLeaky``: ``(spk, (mem, mem_prev))``), with the state on ``.mem`` when
``init_hidden=True``;
``graded_spikes_factor`` != 1 means graded spikes on purpose. ``StateLeaky`` and
``LeakyParallel`` take whole sequences ``(time, batch, ...)``;
``StateLeaky(output=False)`` returns only voltages. The threshold is the
``threshold`` buffer (a Parameter with ``learn_threshold=True``); ``DeltaLeaky``'s
is ``delta_threshold``, on the change of the membrane per step.
"""

from __future__ import annotations

from typing import Any

from .base import Frame, Neuron, Reader, classes, describe, is_tensor, torch_or_none

name = "snntorch"
tensor_threshold = True


def _sequence_classes() -> tuple[type, ...]:
    return classes("snntorch", "StateLeaky", "LeakyParallel")


def _reader(sequence: bool, voltages_only: bool) -> Reader:
    tensor = torch_or_none().Tensor

    def read(module: Any, output: Any) -> Frame:
        if isinstance(output, tensor):
            if voltages_only:  # StateLeaky(output=False) returns mem alone
                return (None, output, sequence)
            mem = getattr(module, "mem", None)
        elif isinstance(output, tuple) and output and isinstance(output[0], tensor):
            output, mem = output[0], output[-1]  # (spk, mem) or (spk, syn, mem)
            if isinstance(mem, tuple) and mem:  # DeltaLeaky: (spk, (mem, mem_prev))
                mem = mem[0]
        else:
            raise TypeError(f"its output is {describe(output)}; expected spk, (spk, mem) "
                            f"or (spk, syn, mem)")
        if not (isinstance(mem, tensor) and mem.shape == output.shape) or mem is output:
            mem = None
        return (output, mem, sequence)

    return read


def _graded(module: Any) -> bool:
    if getattr(module, "learn_graded_spikes_factor", False):
        return True
    factor = getattr(module, "graded_spikes_factor", 1.0)
    if is_tensor(factor):  # read once, when watching starts
        return bool((factor.detach() != 1).any())
    return factor != 1


def detect(module: Any) -> Neuron | None:
    base = classes("snntorch", "SpikingNeuron") + _sequence_classes()
    if not base or not isinstance(module, base):
        return None
    sequence = isinstance(module, _sequence_classes())
    integrator = (isinstance(module, classes("snntorch", "StateLeaky"))
                  and not getattr(module, "output", False))
    return Neuron(name, _reader(sequence, integrator), integrator, _graded(module))


def threshold_attribute(module: Any) -> str | None:
    """``threshold``; ``delta_threshold`` for ``DeltaLeaky``, which fires when its
    membrane changes by more than that in a step (its ``threshold`` is unused)."""
    if isinstance(module, classes("snntorch", "DeltaLeaky")):
        return "delta_threshold"
    return "threshold" if hasattr(module, "threshold") else None


def set_threshold(module: Any, attribute: str, value: Any) -> None:
    torch = torch_or_none()
    if attribute == "delta_threshold":  # a plain attribute: a number or a tensor
        old = module.delta_threshold
        module.delta_threshold = (torch.as_tensor(value, dtype=old.dtype, device=old.device)
                                  if is_tensor(old) else
                                  value if not is_tensor(value) or value.numel() != 1
                                  else value.item())
        return
    old = module.threshold
    new = torch.as_tensor(value, dtype=old.dtype, device=old.device)
    if isinstance(old, torch.nn.Parameter):  # learn_threshold=True: keep the Parameter
        with torch.no_grad():
            if new.shape == old.shape:
                old.copy_(new)
            else:
                module.threshold = torch.nn.Parameter(new.clone(), old.requires_grad)
    else:
        module.threshold = new.clone()  # a registered buffer: replaced in place


def resting_potential(module: Any, attribute: str) -> float | None:
    """0: snnTorch's membranes start at 0 and leak toward it. None for ``DeltaLeaky``,
    which fires on a change of its membrane, not on a level."""
    return None if attribute == "delta_threshold" else 0.0


def spike_ceiling(module: Any) -> float | None:
    """A graded layer's ``graded_spikes_factor``: each spike is 0 or that one value,
    so firing at every step is its ceiling. None when it is learnt (it moves as
    training runs), per neuron, or not positive. Read once, when watching starts."""
    if getattr(module, "learn_graded_spikes_factor", False):
        return None
    factor = getattr(module, "graded_spikes_factor", None)
    if is_tensor(factor):
        if factor.requires_grad or factor.numel() != 1:
            return None
        factor = factor.item()
    if isinstance(factor, bool) or not isinstance(factor, (int, float)):
        return None
    return float(factor) if 0 < factor < float("inf") else None


def reset_state(module: Any) -> bool:
    """``reset_mem`` of this one module (snnTorch's class-wide ``reset_hidden``
    would reset every instance)."""
    if not isinstance(module, classes("snntorch", "SpikingNeuron")):
        return False
    if getattr(module, "init_hidden", False) and callable(getattr(module, "reset_mem", None)):
        module.reset_mem()
    return True
