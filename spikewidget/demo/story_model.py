"""The debugging story's network, in snnTorch: 700 inputs -> 256 LIF -> 20 LIF.

The story's LIF emitted several spikes per time step ("unique values 0, 2, 5, 6,
7"; 2821 in one step) when its input was large and its threshold 1.0. snnTorch's
``Leaky`` emits at most one; :class:`MultiSpikeLeaky` is a ``snntorch.Leaky`` whose
``fire`` emits ``floor(mem / threshold)`` spikes (reset by subtraction removes them
all), with the usual surrogate gradient. With a sensible threshold it behaves like
``Leaky``; with threshold 1.0 on count-valued input it reproduces the story.
Needs torch and snnTorch.
"""

from __future__ import annotations

import snntorch as snn
import torch
from torch import nn


class MultiSpikeLeaky(snn.Leaky):
    """``snntorch.Leaky`` emitting ``floor(mem / threshold)`` spikes per step.

    The forward value is the spike count; the gradient is the surrogate's, as if
    one spike had been emitted (straight-through).
    """

    def fire(self, mem: torch.Tensor) -> torch.Tensor:
        surrogate = self.spike_grad(mem - self.threshold)
        count = torch.floor(torch.relu(mem) / self.threshold)
        return surrogate + (count - surrogate).detach()


class StoryNet(nn.Module):
    """``x`` ``(time, batch, 700)`` -> output spikes ``(time, batch, 20)``.

    The model is called once per sample sequence and loops over time inside, as
    snnTorch tutorials do; ``lif1`` and ``lif2`` are called once per time step.
    """

    def __init__(self, threshold: float = 1.0, *, n_in: int = 700, n_hidden: int = 256,
                 n_out: int = 20, beta: float = 0.9, weight_mean: float = 0.05,
                 weight_std: float = 0.3, seed: int = 0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.lif1 = MultiSpikeLeaky(beta=beta, threshold=threshold)
        self.fc2 = nn.Linear(n_hidden, n_out)
        self.lif2 = MultiSpikeLeaky(beta=beta, threshold=threshold)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():  # deterministic, independent of the global RNG; weights
            for fc in (self.fc1, self.fc2):  # large enough that inputs drive spiking
                fc.weight.normal_(weight_mean, weight_std, generator=gen)
                fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def spike_count_loss(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The story's loss: cross-entropy over output spike counts summed over time."""
    return nn.functional.cross_entropy(out.sum(dim=0), labels)
