"""Vanishing gradients in real SpikingJelly networks, trained a few Adam steps: a plain
deep stack whose flat surrogate shrinks the gradient at every layer (depth: skip
connections, normalisation or a better surrogate are the fix), and a residual network
whose branches end in a zero-initialised BatchNorm (the gap is one step, expected at
the start of training: skip connections, which it has, are not the fix)."""

from __future__ import annotations

import itertools
import math

import pytest

from spikewidget import Severity, SpikeProfiler

torch = pytest.importorskip("torch")
sj = pytest.importorskip("spikingjelly.activation_based")
from spikingjelly.activation_based import functional, layer, neuron, surrogate  # noqa: E402

torch.set_num_threads(1)
IN, CLASSES, T, BATCH = 16, 8, 4, 16


def plain_stack(depth: int = 8, width: int = 64) -> torch.nn.Module:
    """Linear -> BatchNorm -> LIF, ``depth`` times; a sigmoid surrogate of slope 0.5
    (its derivative peaks at 0.125) passes on a fraction of the gradient per layer."""
    mods, width_in = [], IN
    for _ in range(depth):
        fc = layer.Linear(width_in, width)
        torch.nn.init.normal_(fc.weight, 0, 1 / math.sqrt(width_in))
        mods += [fc, layer.BatchNorm1d(width),
                 neuron.LIFNode(surrogate_function=surrogate.Sigmoid(alpha=0.5))]
        width_in = width
    return torch.nn.Sequential(*mods)


class Block(torch.nn.Module):
    """x + BN(fc(LIF(BN(fc(LIF(x)))))): a membrane-shortcut (MS-ResNet-like) block."""

    def __init__(self, width: int, zero_init: bool):
        super().__init__()
        self.lif1 = neuron.LIFNode(surrogate_function=surrogate.ATan())
        self.fc1, self.bn1 = layer.Linear(width, width), layer.BatchNorm1d(width)
        self.lif2 = neuron.LIFNode(surrogate_function=surrogate.ATan())
        self.fc2, self.bn2 = layer.Linear(width, width), layer.BatchNorm1d(width)
        if zero_init:  # the branch starts as nothing: the block is the identity
            torch.nn.init.zeros_(self.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.fc2(self.lif2(self.bn1(self.fc1(self.lif1(x))))))


class ResidualNet(torch.nn.Module):
    def __init__(self, zero_init: bool, blocks: int = 3, width: int = 64):
        super().__init__()
        self.stem = torch.nn.Sequential(layer.Linear(IN, width), layer.BatchNorm1d(width))
        self.blocks = torch.nn.Sequential(*[Block(width, zero_init) for _ in range(blocks)])
        self.head_lif = neuron.LIFNode(surrogate_function=surrogate.ATan())
        self.fc = layer.Linear(width, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.head_lif(self.blocks(self.stem(x))))


def train(model: torch.nn.Module, steps: int = 6):
    """``steps`` Adam steps on random binary frames [T, N, IN], gradients recorded."""
    functional.set_step_mode(model, "m")
    torch.manual_seed(1)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    p = SpikeProfiler()
    with p.watch(model, gradients=True):
        for _ in range(steps):
            x = (torch.rand(T, BATCH, IN) < 0.5).float()
            y = torch.randint(0, CLASSES, (BATCH,))
            out = model(x).mean(0)
            out = out if out.shape[-1] == CLASSES else out[:, :CLASSES]  # spike readout
            loss = torch.nn.functional.cross_entropy(5 * out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            functional.reset_net(model)
    return p.report()


def rms(report) -> list[float]:
    return [s.gradient_rms_mean for s in report.layer_stats.values()]


def test_a_plain_deep_stack_vanishes_layer_after_layer_and_gets_the_depth_fix():
    torch.manual_seed(0)
    report = train(plain_stack())
    g = rms(report)
    assert all(a < b for a, b in itertools.pairwise(g))  # smaller toward the input
    assert g[-1] / g[0] > 100
    [f] = report.by_category("gradient_vanishing")
    assert f.layer == next(iter(report.layer_stats)) and f.severity is Severity.CRITICAL
    assert "one step" not in f.message
    assert f.suggestion.startswith("Add skip connections")


def test_zero_init_residual_branches_are_a_one_step_gap_with_a_train_on_fix():
    torch.manual_seed(0)
    report = train(ResidualNet(zero_init=True))
    g = rms(report)
    assert g[-1] / max(g[:-1]) > 100  # the head gets far more than any branch LIF
    [f] = report.by_category("gradient_vanishing")
    assert (f.layer, f.severity) == ("blocks.0.lif1", Severity.WARNING)
    assert "from 'head_lif' to 'blocks.2.lif2'" in f.message
    assert "Add skip" not in f.suggestion and "zero-init" in f.suggestion
    assert "train on" in f.suggestion


def test_the_same_residual_network_at_default_init_has_no_gap():
    torch.manual_seed(0)
    report = train(ResidualNet(zero_init=False))
    assert report.by_category("gradient_vanishing") == []
