"""The adapter interface every framework module implements, and what it returns.

A framework module (:mod:`.snntorch`, :mod:`.spikingjelly`, :mod:`.norse`) knows
how that framework's neuron layers return spikes and voltages, where their firing
threshold lives and how their hidden state is reset. Frameworks are never
imported here: their classes are looked up only in ``sys.modules`` (a model
holding one of their modules has imported them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from ..state.layer import Graded


class Reading(NamedTuple):
    """What one forward call of a layer produced.

    ``spikes``: ``(batch, *neurons)`` per time step, or ``(time, batch, *neurons)``
    when ``time_axis``; None for a leaky integrator, whose output is ``voltages``.
    ``voltages``: membrane potentials of the same shape as the spikes; with
    ``time_axis``, possibly of one time step (``spikes.shape[1:]``: the membrane
    after the last step, all a node that keeps only its final state shows); None
    when the layer exposes neither.
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
    (voltages, no spikes), whether its spikes are graded on purpose (``"analog"``:
    a continuous output, see :data:`spikewidget.state.layer.Graded`), the reader
    that turns ``(module, output)`` into a :class:`Reading`, and whether it is
    trained online (``online``: its state is detached between time steps and the
    loss is backpropagated after every step, so a backward pass does not end a
    sequence of calls; SpikingJelly's OTTT and SLTT nodes)."""

    framework: str
    read: Reader
    integrator: bool = False
    graded: Graded = False
    online: bool = False


class Framework(Protocol):
    """One SNN framework's conventions (a module of this package implements it)."""

    name: str
    tensor_threshold: bool
    """Whether the threshold may be a tensor that broadcasts over the batch (one
    threshold per sample: how a sweep runs many candidates in one forward)."""

    def detect(self, module: Any) -> Neuron | None:
        """How to read ``module`` if it is one of this framework's neuron layers."""

    def threshold_attribute(self, module: Any) -> str | None:
        """The dotted attribute holding the firing threshold of a detected,
        non-integrator layer, or None when it has none."""

    def set_threshold(self, module: Any, attribute: str, value: Any) -> None:
        """Set the threshold at ``attribute`` (from :meth:`threshold_attribute`)."""

    def resting_potential(self, module: Any, attribute: str) -> Any:
        """The potential the membrane of a layer with its threshold at ``attribute``
        starts from and leaks toward without input (a number or a tensor), or None
        when unknown or when the threshold is not a level the membrane crosses."""

    def spike_ceiling(self, module: Any) -> float | None:
        """The most one neuron of a graded layer emits in one step (a number read
        once, when watching starts), or None when it has no such ceiling."""

    def reset_state(self, module: Any) -> bool:
        """Put the hidden state this module keeps between calls back to rest;
        False when the module is not this framework's."""


# ------------------------------------------------------------------ helpers
def torch_or_none() -> Any:
    """torch if it is imported (a model's tensors mean it is), else None."""
    return sys.modules.get("torch")


def is_tensor(x: Any) -> bool:
    torch = torch_or_none()
    return torch is not None and isinstance(x, torch.Tensor)


def classes(module_name: str, *names: str) -> tuple[type, ...]:
    """The named classes of an already imported module (none if not imported)."""
    mod = sys.modules.get(module_name)
    if mod is None:
        return ()
    found = (getattr(mod, n, None) for n in names)
    return tuple(c for c in found if isinstance(c, type))


def same_shape(v: Any, spikes: Any) -> Any:
    """``v`` if it is a tensor shaped like ``spikes``, else None."""
    return v if is_tensor(v) and v.shape == spikes.shape else None


def describe(output: Any) -> str:
    """A short description of a layer's output for an error message."""
    if isinstance(output, (tuple, list)):
        inner = ", ".join(type(o).__name__ for o in output[:4])
        return f"a {type(output).__name__} of ({inner}{', ...' if len(output) > 4 else ''})"
    return f"a {type(output).__name__}"


def tensor_like(value: Any, old: Any) -> Any:
    """``value`` as a tensor with ``old``'s dtype and device (when ``old`` is one); an
    integer ``old`` (Norse's ``CobaLIFParameters`` default to int64 tensors) gives the
    default float dtype, so that 0.5 is never truncated to 0."""
    torch = torch_or_none()
    if is_tensor(old):
        dtype = old.dtype if old.dtype.is_floating_point else torch.get_default_dtype()
        return torch.as_tensor(value, dtype=dtype, device=old.device)
    return torch.as_tensor(value)


def read_generic(module: Any, output: Any) -> Reading:
    """A tensor is spikes; in a tuple or list the first item is the spikes and the
    last, if shaped like them, the voltages (snnTorch's ``(spk, ..., mem)``)."""
    if is_tensor(output):
        return Reading(output)
    if isinstance(output, (tuple, list)) and output and is_tensor(output[0]):
        spikes = output[0]
        voltages = same_shape(output[-1], spikes) if len(output) > 1 else None
        return Reading(spikes, voltages)
    raise TypeError(f"its output is {describe(output)}; expected a tensor of spikes or a "
                    f"tuple whose first item is the spikes")


def custom(extract: Callable[[Any], Any]) -> Neuron:
    """A :class:`Neuron` for any module, from ``extract(output)`` returning spikes,
    ``(spikes, voltages)`` or a :class:`Reading`."""

    def read(module: Any, output: Any) -> Reading:
        got = extract(output)
        if isinstance(got, Reading):
            return got
        if is_tensor(got):
            return Reading(got)
        if isinstance(got, (tuple, list)) and len(got) == 2 and is_tensor(got[0]):
            voltages = got[1]
            if voltages is not None and not is_tensor(voltages):
                raise TypeError(f"extract returned voltages of type "
                                f"{type(voltages).__name__}; expected a tensor or None")
            return Reading(got[0], voltages)
        raise TypeError(f"extract returned {describe(got)}; expected spikes (a tensor), "
                        f"(spikes, voltages) or a Reading")

    return Neuron("custom", read)
