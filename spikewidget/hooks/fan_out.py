"""How many synapses each neuron of a watched layer drives, read from the model.

The fan-out of a neuron layer is read from the module that follows it in its
``nn.Sequential`` (layers that pass spikes on unchanged, such as dropout and
flatten, are looked through):

- ``nn.Linear``: ``out_features``;
- ``nn.Conv1d/2d/3d``: ``out_channels / groups`` times the kernel volume over the
  stride volume (the average number of output positions that read one input
  position, borders and padding ignored).

Anything else (a pooling layer, a custom block, a layer outside an ``nn.Sequential``,
the last layer) leaves it unknown: then declare it with
``profiler.declare_layer(name, fan_out=k)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

_PASS_THROUGH = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.Flatten,
                 nn.Unflatten, nn.Identity)


def fan_out_after(model: nn.Module, module: nn.Module) -> float | None:
    """Synapses per neuron of ``module`` (a neuron layer of ``model``), or None."""
    for parent in model.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        children = list(parent.children())
        if not any(c is module for c in children):
            continue
        after = children[next(i for i, c in enumerate(children) if c is module) + 1:]
        for nxt in after:
            if not isinstance(nxt, _PASS_THROUGH):
                return synapses_per_input(nxt)
        return None
    return None


def synapses_per_input(layer: Any) -> float | None:
    """How many outputs of ``layer`` each of its input values feeds (see the module
    docstring), or None for a layer of another kind."""
    if isinstance(layer, nn.Linear):
        return float(layer.out_features)
    if isinstance(layer, torch.nn.modules.conv._ConvNd) and not layer.transposed:
        window = math.prod(layer.kernel_size) / math.prod(layer.stride)
        return layer.out_channels / layer.groups * window
    return None
