"""Checks of what a training loop passes to a recorder: clear errors naming the
layer, the argument and what was expected, raised before anything is recorded."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.arrays import to_array, to_host, torch_module
from ..core.errors import InvalidInputError, InvalidTypeError
from ..state.layer import LayerRecord
from ..state.limits import RESERVED_NAMES


def check_name(layer: Any) -> None:
    """A layer name: a non-empty string that is not reserved."""
    if not isinstance(layer, str) or not layer:
        raise InvalidTypeError(f"layer must be a non-empty string, got {layer!r}")
    if layer in RESERVED_NAMES:
        raise InvalidInputError(
            f"layer {layer!r}: this name is reserved for the recorded loss's findings; "
            f"name the layer otherwise")


def check_fed_by(layer: str, fed_by: Any) -> list[str]:
    """``fed_by``: a list or tuple of layer names (not one string), other than ``layer``;
    returned as a sorted list without repeats."""
    if isinstance(fed_by, (str, bytes)) or not isinstance(fed_by, (list, tuple)) or not all(
            isinstance(f, str) and f for f in fed_by):
        raise InvalidTypeError(
            f"layer {layer!r}: fed_by must be a list of the names of the layers whose "
            f"spikes feed it (and spikewidget.DATA where the data reach it), got "
            f"{fed_by!r}")
    if layer in fed_by:
        raise InvalidInputError(
            f"layer {layer!r}: fed_by names the layer itself; list only the other layers "
            f"whose spikes make its input (its own recurrence is its state)")
    return sorted(set(fed_by))


def check_neuron_axes(layer: str, axes: Any, ndim: int | None) -> None:
    """``neuron_axes``: a whole number >= 1, at most the array's ``ndim``."""
    if isinstance(axes, bool) or not isinstance(axes, (int, np.integer)) or axes < 1:
        raise InvalidInputError(
            f"layer {layer!r}: neuron_axes must be a whole number >= 1, got {axes!r}")
    if ndim is not None and axes > ndim:
        raise InvalidInputError(
            f"layer {layer!r}: neuron_axes={axes} but spikes has only {ndim} axes")


def check_neuron_shape(layer: str, shape: tuple[int, ...], nshape: tuple[int, ...],
                       info: LayerRecord) -> None:
    """A step's neuron shape ``nshape`` (of ``shape``) is the layer's."""
    if nshape != info.neuron_shape:
        raise InvalidInputError(
            f"layer {layer!r}: spikes has shape {shape}, i.e. neuron shape {nshape} "
            f"({math.prod(nshape)} neurons), but this layer was first recorded with neuron "
            f"shape {info.neuron_shape} ({info.n_neurons} neurons); expected (..., "
            f"{', '.join(map(str, info.neuron_shape))})")


def check_declarations_agree(mine: Mapping[str, Mapping[str, Any]],
                             theirs: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse to merge profiles whose users declared a layer differently (what only
    one of them declared is taken as declared)."""
    for name, decl in theirs.items():
        here = mine.get(name, {})
        for key in ("role", "graded", "neuron_axes", "fan_out", "spike_ceiling"):
            if key in decl and key in here and decl[key] != here[key]:
                raise InvalidInputError(
                    f"layer {name!r}: declared {key}={here[key]!r} here but "
                    f"{key}={decl[key]!r} in the other profiler; declare it the same way "
                    f"in both before merging")


LEVELS = ("threshold", "resting_potential")
"""Declarations that go together: a layer's firing levels."""


def merge_declarations(mine: dict[str, Any], theirs: Mapping[str, Any]) -> None:
    """Add to one layer's declarations ``mine`` those of another profiler
    (:func:`check_declarations_agree` has refused what must agree), the same whichever
    merges which: what one of them declared is taken; ``fed_by`` becomes the feeds
    either knew; firing levels that differ (two runs with other thresholds) are
    dropped, as unknown, rather than one run's levels told of both."""
    levels_differ = any(key in mine and key in theirs and mine[key] != theirs[key]
                        for key in LEVELS)
    for key, value in theirs.items():
        if key == "fed_by" and key in mine:
            mine[key] = sorted(set(mine[key]) | set(value))
        else:
            mine[key] = value
    if levels_differ:
        for key in LEVELS:
            mine.pop(key, None)


def device_of(x: Any) -> Any:
    """The torch device ``x`` lives on (CPU for anything that is not a tensor)."""
    torch = torch_module()
    if torch is None:
        raise InvalidInputError("backend='torch' needs torch, which is not imported")
    return x.device if isinstance(x, torch.Tensor) else torch.device("cpu")


_PLAIN_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
    np.uint64, np.float32, np.float64))
"""Host arrays of these dtypes are recorded as they are (no conversion)."""


def prepare(x: Any, layer: str, argument: str, device: Any,
            shape: tuple[int, ...] | None = None) -> Any:
    """Validate one argument and bring it to the layer's device (None: host);
    ``shape``: the shape it must have (that of the spikes)."""
    if device is None and type(x) is np.ndarray and x.dtype in _PLAIN_DTYPES \
            and x.ndim and x.size and (shape is None or x.shape == shape):
        return x  # the usual case, in one test: what the checks below would return
    if x is None:
        if shape is None:
            raise InvalidTypeError(
                f"layer {layer!r}: {argument} must be an array (numpy.ndarray or "
                f"torch.Tensor), got NoneType")
        return None
    a = to_array(x, layer=layer, argument=argument, keep_tensor=device is not None)
    if device is None:
        a = to_host(a)
    else:
        torch = torch_module()
        if isinstance(a, np.ndarray):
            if any(st < 0 for st in a.strides):  # a reversed view: torch takes no such
                a = np.ascontiguousarray(a)
            a = torch.as_tensor(a, device=device)
        else:
            a = a.to(device)
    if shape is not None and tuple(a.shape) != shape:
        raise InvalidInputError(
            f"layer {layer!r}: {argument} has shape {tuple(a.shape)} but spikes has shape "
            f"{shape}; expected the same shape")
    return a
