"""What each SNN framework's neurons return, and where their thresholds live.

The one module that knows snnTorch's, SpikingJelly's and Norse's conventions:

- snnTorch (``snntorch.SpikingNeuron``): ``spk``, ``(spk, mem)`` or
  ``(spk, syn, mem)`` (spikes first, membrane last), the state on ``.mem`` when
  ``init_hidden=True``; ``graded_spikes_factor`` != 1 means graded spikes on
  purpose. ``StateLeaky`` and ``LeakyParallel`` take whole sequences
  ``(time, batch, ...)``; ``StateLeaky(output=False)`` returns only voltages.
- SpikingJelly (``BaseNode``, ``SimpleBaseNode``): spikes; ``.v`` (a float until
  the first forward); ``step_mode='m'`` means ``(time, batch, ...)`` with the
  voltage sequence on ``.v_seq`` only when ``store_v_seq=True``.
- Norse (``SNNCell``/``SNN`` and recurrent variants): ``(z, state)`` with
  ``state.v`` (``state.lif.v`` for refractory cells); ``SNN`` modules take
  ``(time, batch, ...)``. Leaky integrators (``LI``, ``LICell``, ...) output
  voltages, not spikes.

Frameworks are never imported here: a framework's classes are looked up only in
``sys.modules`` (a model holding one of its modules has imported it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "Neuron",
    "Reading",
    "custom",
    "detect",
    "get_threshold",
    "read_generic",
    "reset_state",
    "set_threshold",
    "threshold_attribute",
]


class Reading(NamedTuple):
    """What one forward call of a layer produced.

    ``spikes``: ``(batch, *neurons)`` per time step, or ``(time, batch, *neurons)``
    when ``time_axis``; None for a leaky integrator, whose output is ``voltages``.
    ``voltages``: membrane potentials of the same shape as the spikes, or None
    when the layer does not expose them in that shape.
    """

    spikes: Any
    voltages: Any = None
    time_axis: bool = False


Frame = tuple[Any, Any, bool]
"""``(spikes, voltages, time_axis)``, as in a :class:`Reading` (which is one). The
framework readers run on every call of a layer and return plain tuples: a
NamedTuple costs a Python-level ``__new__`` per call."""

Reader = Callable[[Any, Any], Frame]
"""``reader(module, output) -> Reading`` or a plain :data:`Frame` tuple."""


@dataclass(frozen=True)
class Neuron:
    """How to read one module: its framework, whether it is a leaky integrator
    (voltages, no spikes), whether its spikes are graded on purpose, and the
    reader that turns ``(module, output)`` into a :class:`Reading`."""

    framework: str
    read: Reader
    integrator: bool = False
    graded: bool = False


# ------------------------------------------------------------------ helpers
def _torch() -> Any:
    return sys.modules.get("torch")


def _is_tensor(x: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def _classes(module_name: str, *names: str) -> tuple[type, ...]:
    """The named classes of an already imported module (none if not imported)."""
    mod = sys.modules.get(module_name)
    if mod is None:
        return ()
    found = (getattr(mod, n, None) for n in names)
    return tuple(c for c in found if isinstance(c, type))


def _same_shape(v: Any, spikes: Any) -> Any:
    """``v`` if it is a tensor shaped like ``spikes``, else None."""
    return v if _is_tensor(v) and v.shape == spikes.shape else None


def _describe(output: Any) -> str:
    if isinstance(output, (tuple, list)):
        inner = ", ".join(type(o).__name__ for o in output[:4])
        return f"a {type(output).__name__} of ({inner}{', ...' if len(output) > 4 else ''})"
    return f"a {type(output).__name__}"


def read_generic(module: Any, output: Any) -> Reading:
    """A tensor is spikes; in a tuple or list the first item is the spikes and the
    last, if shaped like them, the voltages (snnTorch's ``(spk, ..., mem)``)."""
    if _is_tensor(output):
        return Reading(output)
    if isinstance(output, (tuple, list)) and output and _is_tensor(output[0]):
        spikes = output[0]
        voltages = _same_shape(output[-1], spikes) if len(output) > 1 else None
        return Reading(spikes, voltages)
    raise TypeError(f"its output is {_describe(output)}; expected a tensor of spikes or a "
                    f"tuple whose first item is the spikes")


def custom(extract: Callable[[Any], Any]) -> Neuron:
    """A :class:`Neuron` for any module, from ``extract(output)`` returning spikes,
    ``(spikes, voltages)`` or a :class:`Reading`."""

    def read(module: Any, output: Any) -> Reading:
        got = extract(output)
        if isinstance(got, Reading):
            return got
        if _is_tensor(got):
            return Reading(got)
        if isinstance(got, (tuple, list)) and len(got) == 2 and _is_tensor(got[0]):
            voltages = got[1]
            if voltages is not None and not _is_tensor(voltages):
                raise TypeError(f"extract returned voltages of type "
                                f"{type(voltages).__name__}; expected a tensor or None")
            return Reading(got[0], voltages)
        raise TypeError(f"extract returned {_describe(got)}; expected spikes (a tensor), "
                        f"(spikes, voltages) or a Reading")

    return Neuron("custom", read)


# ------------------------------------------------------------------ snnTorch
def _snntorch_sequence() -> tuple[type, ...]:
    return _classes("snntorch", "StateLeaky", "LeakyParallel")


def _snntorch_reader(sequence: bool, voltages_only: bool) -> Reader:
    tensor = _torch().Tensor

    def read(module: Any, output: Any) -> Frame:
        if isinstance(output, tensor):
            if voltages_only:  # StateLeaky(output=False) returns mem alone
                return (None, output, sequence)
            mem = getattr(module, "mem", None)
        elif isinstance(output, tuple) and output and isinstance(output[0], tensor):
            output, mem = output[0], output[-1]  # (spk, mem) or (spk, syn, mem)
        else:
            raise TypeError(f"its output is {_describe(output)}; expected spk, (spk, mem) "
                            f"or (spk, syn, mem)")
        if not (isinstance(mem, tensor) and mem.shape == output.shape) or mem is output:
            mem = None
        return (output, mem, sequence)

    return read


def _snntorch_graded(module: Any) -> bool:
    if getattr(module, "learn_graded_spikes_factor", False):
        return True
    factor = getattr(module, "graded_spikes_factor", 1.0)
    if _is_tensor(factor):  # read once, when watching starts
        return bool((factor.detach() != 1).any())
    return factor != 1


def _detect_snntorch(module: Any) -> Neuron | None:
    base = _classes("snntorch", "SpikingNeuron") + _snntorch_sequence()
    if not base or not isinstance(module, base):
        return None
    sequence = isinstance(module, _snntorch_sequence())
    integrator = (isinstance(module, _classes("snntorch", "StateLeaky"))
                  and not getattr(module, "output", False))
    return Neuron("snntorch", _snntorch_reader(sequence, integrator), integrator,
                  _snntorch_graded(module))


# ------------------------------------------------------------------ SpikingJelly
_SJ = "spikingjelly.activation_based.neuron"


def _read_spikingjelly(module: Any, output: Any) -> Frame:
    if not _is_tensor(output):
        raise TypeError(f"its output is {_describe(output)}; expected a tensor of spikes")
    multi = getattr(module, "step_mode", "s") == "m"
    voltages = None
    if multi:
        if getattr(module, "store_v_seq", False):
            voltages = _same_shape(getattr(module, "v_seq", None), output)
    else:
        voltages = _same_shape(getattr(module, "v", None), output)  # a float before forward
    return (output, voltages, multi)


def _read_spikingjelly_integrator(module: Any, output: Any) -> Frame:
    if not _is_tensor(output):
        raise TypeError(f"its output is {_describe(output)}; expected a tensor of voltages")
    return (None, output, getattr(module, "step_mode", "m") == "m")


def _detect_spikingjelly(module: Any) -> Neuron | None:
    if isinstance(module, _classes(_SJ, "BaseNode", "SimpleBaseNode", "PSN", "MaskedPSN",
                                   "SlidingPSN")):
        return Neuron("spikingjelly", _read_spikingjelly)
    if isinstance(module, _classes(_SJ, "NonSpikingBaseNode", "NoisyNonSpikingBaseNode")):
        return Neuron("spikingjelly", _read_spikingjelly_integrator, integrator=True)
    return None


# ------------------------------------------------------------------ Norse
_NORSE_SNN = "norse.torch.module.snn"


def _state_voltage(state: Any) -> Any:
    v = getattr(state, "v", None)
    if v is None and hasattr(state, "lif"):
        v = getattr(state.lif, "v", None)
    return v


def _norse_reader(sequence: bool, integrator: bool) -> Reader:
    def read(module: Any, output: Any) -> Frame:
        if not (isinstance(output, (tuple, list)) and output and _is_tensor(output[0])):
            raise TypeError(f"its output is {_describe(output)}; expected (z, state)")
        if integrator:
            return (None, output[0], sequence)
        z = output[0]
        state = output[1] if len(output) > 1 else None
        return (z, _same_shape(_state_voltage(state), z), sequence)

    return read


def _detect_norse(module: Any) -> Neuron | None:
    cells = _classes(_NORSE_SNN, "SNNCell", "SNNRecurrentCell")
    sequences = _classes(_NORSE_SNN, "SNN", "SNNRecurrent")
    integrators = (_classes("norse.torch.module.leaky_integrator", "LICell", "LI",
                            "LILinearCell")
                   + _classes("norse.torch.module.leaky_integrator_box", "LIBoxCell", "LIBox"))
    if not (cells or sequences or integrators):
        return None
    sequence = bool(sequences) and isinstance(module, sequences)
    if integrators and isinstance(module, integrators):
        return Neuron("norse", _norse_reader(sequence, True), integrator=True)
    if sequence or (cells and isinstance(module, cells)):
        return Neuron("norse", _norse_reader(sequence, False))
    return None


_DETECTORS = (_detect_snntorch, _detect_spikingjelly, _detect_norse)


def detect(module: Any) -> Neuron | None:
    """How to read ``module`` if it is a neuron layer of a known framework, else None."""
    for found in (d(module) for d in _DETECTORS):
        if found is not None:
            return found
    return None


# ------------------------------------------------------------------ thresholds
def threshold_attribute(module: Any) -> str | None:
    """Where the firing threshold lives: ``"threshold"`` (snnTorch),
    ``"v_threshold"`` (SpikingJelly), ``"p.v_th"`` or ``"p.lif.v_th"`` (Norse);
    None for a module without one."""
    found = detect(module)
    if found is None or found.integrator:
        return None
    if found.framework == "snntorch":
        return "threshold" if hasattr(module, "threshold") else None
    if found.framework == "spikingjelly":
        return "v_threshold" if hasattr(module, "v_threshold") else None
    p = getattr(module, "p", None)
    if hasattr(p, "v_th"):
        return "p.v_th"
    if hasattr(getattr(p, "lif", None), "v_th"):
        return "p.lif.v_th"
    return None


def _require(module: Any) -> str:
    attr = threshold_attribute(module)
    if attr is None:
        raise TypeError(f"{type(module).__name__} is not a spiking layer with a known "
                        f"threshold (snnTorch threshold, SpikingJelly v_threshold, Norse "
                        f"p.v_th)")
    return attr


def get_threshold(module: Any) -> Any:
    """The layer's firing threshold: a tensor (snnTorch, Norse) or a float
    (SpikingJelly); scalar or per neuron."""
    value = module
    for part in _require(module).split("."):
        value = getattr(value, part)
    return value


def set_threshold(module: Any, value: Any) -> None:
    """Set the layer's firing threshold to ``value`` (a number or a tensor that
    broadcasts to the layer's neurons); keeps the attribute's kind, dtype and device."""
    attr = _require(module)
    torch = _torch()
    if attr == "v_threshold":  # SpikingJelly's kernels expect a Python float
        if _is_tensor(value):
            if value.numel() != 1:
                raise ValueError(f"{type(module).__name__}.v_threshold is one number; got "
                                 f"a tensor of shape {tuple(value.shape)}")
            value = value.item()
        module.v_threshold = float(value)
        return
    if attr == "threshold":
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
        return
    p = module.p
    if attr == "p.v_th":
        module.p = p._replace(v_th=_like(torch, value, p.v_th))
    else:
        module.p = p._replace(lif=p.lif._replace(v_th=_like(torch, value, p.lif.v_th)))


def _like(torch: Any, value: Any, old: Any) -> Any:
    if _is_tensor(old):
        return torch.as_tensor(value, dtype=old.dtype, device=old.device)
    return torch.as_tensor(value)


def reset_state(module: Any) -> None:
    """Put the hidden state a neuron layer keeps between calls back to rest, as
    ``snntorch.utils.reset`` and SpikingJelly's ``functional.reset_net`` do, for this
    one module (snnTorch's class-wide ``reset_hidden`` would reset every instance).
    Norse layers take their state as an argument: nothing to do."""
    if isinstance(module, _classes("snntorch", "SpikingNeuron")):
        if getattr(module, "init_hidden", False) and callable(
                getattr(module, "reset_mem", None)):
            module.reset_mem()
    elif isinstance(module, _classes("spikingjelly.activation_based.base", "MemoryModule")):
        module.reset()
