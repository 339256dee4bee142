"""Input adapter: turn what a user passes into an array the reducers can use.

NumPy arrays and CPU torch tensors become NumPy arrays without a copy; tensors on
another device (CUDA, MPS) stay torch tensors so that they are reduced where they
live. torch is never imported here: a tensor can only exist if the user imported it.

Sparse tensors (COO, CSR, ...; tonic's ``ToSparseTensor``) are made dense when that
holds at most :data:`DENSE_LIMIT` values; nested (ragged) and meta tensors (no
values) are refused with an error naming the layer and the argument.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from .errors import InvalidInputError, InvalidTypeError

if TYPE_CHECKING:
    import torch

ArrayLike: TypeAlias = "np.ndarray | torch.Tensor"
"""What recording takes: a NumPy array or a torch tensor on any device (torch is
never imported by spikewidget for it)."""

_REAL_KINDS = frozenset("biuf")
DENSE_LIMIT = 2 ** 26
"""Most values a sparse tensor may hold once dense (256 MiB of float32)."""


def torch_module() -> Any:
    """The torch module if the user already imported it, else None."""
    return sys.modules.get("torch")


def is_device_tensor(x: Any) -> bool:
    """True for a torch tensor that lives off the host (its reductions stay there)."""
    torch = torch_module()
    return torch is not None and isinstance(x, torch.Tensor) and x.device.type != "cpu"


def to_array(x: Any, *, layer: str, argument: str, keep_tensor: bool = False) -> Any:
    """Validate ``x`` and return a NumPy array, or a detached tensor for device data.

    Raises :class:`InvalidTypeError` for objects that are not arrays or whose dtype
    is not real numbers, and :class:`InvalidInputError` for 0-d or empty arrays.
    ``keep_tensor`` keeps CPU tensors as tensors (the device code path on CPU).
    """
    torch = torch_module()
    if isinstance(x, np.ma.MaskedArray):
        raise InvalidTypeError(
            f"layer {layer!r}: {argument} is a masked array; its masked values would be "
            f"recorded as if valid: pass x.filled(0) (or the unmasked part)")
    if isinstance(x, np.ndarray):
        arr: Any = x if type(x) is np.ndarray else np.asarray(x)  # np.matrix: 2-D as is
    elif torch is not None and isinstance(x, torch.Tensor):
        arr = _from_tensor(torch, x, layer, argument, keep_tensor)
    elif isinstance(x, (list, tuple, str, bytes, dict, set)) or x is None \
            or isinstance(x, (int, float, bool, complex)) \
            or not hasattr(x, "__array__"):
        raise InvalidTypeError(
            f"layer {layer!r}: {argument} must be an array (numpy.ndarray or "
            f"torch.Tensor), got {type(x).__name__}")
    else:
        arr = np.asarray(x)
    if isinstance(arr, np.ndarray):
        if arr.dtype.kind not in _REAL_KINDS:
            raise InvalidTypeError(
                f"layer {layer!r}: {argument} must hold real numbers (bool, int or "
                f"float), got dtype {arr.dtype}")
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
    if arr.ndim == 0:
        raise InvalidInputError(
            f"layer {layer!r}: {argument} must have at least one axis (neurons), "
            f"got a 0-d array")
    if _size(arr) == 0:
        raise InvalidInputError(
            f"layer {layer!r}: {argument} is empty (shape {tuple(arr.shape)}); "
            f"expected at least one neuron and one observation")
    return arr


def _size(arr: Any) -> int:
    return int(arr.size) if isinstance(arr, np.ndarray) else int(arr.numel())


def strided(x: Any, *, layer: str, argument: str) -> Any:
    """``x`` as an ordinary (strided) tensor: a sparse one made dense (up to
    :data:`DENSE_LIMIT` values); raises for nested and meta tensors."""
    torch = torch_module()
    if x.is_nested:
        raise InvalidTypeError(
            f"layer {layer!r}: {argument} is a nested (ragged) tensor; expected one "
            f"tensor of a single shape: pad it (torch.nested.to_padded_tensor(x, 0.0)) "
            f"or record each sequence by itself")
    if x.is_meta:
        raise InvalidInputError(
            f"layer {layer!r}: {argument} is a meta tensor (device 'meta'): it has a "
            f"shape but no values; record the tensors of a forward pass on real data")
    if x.layout == torch.strided:
        return x
    n = 1
    for d in x.shape:
        n *= int(d)
    if n > DENSE_LIMIT:
        raise InvalidInputError(
            f"layer {layer!r}: {argument} is a sparse tensor ({x.layout}) of shape "
            f"{tuple(x.shape)}: {n:,} values once dense, more than the {DENSE_LIMIT:,} "
            f"taken; record it in smaller pieces (fewer time steps or samples a step)")
    return x.to_dense()


def _from_tensor(torch: Any, x: Any, layer: str, argument: str, keep_tensor: bool) -> Any:
    x = strided(x, layer=layer, argument=argument)
    allowed = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
               torch.float16, torch.bfloat16, torch.float32, torch.float64)
    if x.dtype not in allowed:
        raise InvalidTypeError(
            f"layer {layer!r}: {argument} must hold real numbers (bool, int or "
            f"float), got dtype {x.dtype}")
    x = x.detach()
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    if x.device.type != "cpu" or keep_tensor:
        return x
    if x.is_conj() or x.is_neg():
        x = x.resolve_conj().resolve_neg()
    return x.numpy()


def to_host(x: Any) -> np.ndarray:
    """NumPy copy of an array or tensor (this is where a device sync happens)."""
    if isinstance(x, np.ndarray):
        return x
    return x.detach().cpu().numpy()
