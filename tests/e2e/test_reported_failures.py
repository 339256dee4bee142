"""Failures real users reported on the frameworks' trackers, reproduced in small real
models (snnTorch, SpikingJelly) on data made here, trained a few steps under
``SpikeProfiler().watch(model, gradients=True, input=True)`` with ``record_loss``.

For each class of failure: the broken model's report names the pathology, at the layer
where it starts, from the epoch it starts, with a fix that applies to that setup; the
same model with the fix the thread arrived at reports nothing. Each test's docstring
cites the thread it follows (facts only). The models are small (T = 6 to 16, batches of
8 to 16, at most 3 epochs of 8 steps).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import snntorch as snn
import torch
import torch.nn.functional as F
from snntorch import functional as snn_functional
from snntorch import surrogate as snn_surrogate
from snntorch import utils as snn_utils
from spikingjelly.activation_based import functional, layer, neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from spikewidget import SpikeProfiler

torch.set_num_threads(1)

Batches = Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]


# ------------------------------------------------------------------ shared helpers
def explain(report) -> str:
    """The summary and every finding with its epoch, cause and fix (assertion text)."""
    lines = [report.summary(), "", "findings (category @ layer, epoch, cause | fix):"]
    lines += [f"  {p.category} @ {p.layer}, epoch {p.epoch}, cause {p.cause} | {p.suggestion}"
              for p in report.pathologies]
    return "\n".join(lines)


def finding(report, category: str, layer: str):
    hits = [p for p in report.pathologies if p.category == category and p.layer == layer]
    assert len(hits) == 1, explain(report)
    return hits[0]


def roots(report) -> list[tuple[str, str]]:
    """(category, layer) of the findings no other finding explains."""
    return [(p.category, p.layer) for p in report.pathologies if p.cause is None]


def train(model: nn.Module, batches: Batches, forward: Callable[[torch.Tensor], torch.Tensor],
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], n_classes: int, *,
          epochs: int = 3, steps: int = 8, lr: float = 2e-3,
          after_step: Callable[[], None] | None = None, **watch) -> SpikeProfiler:
    """Adam for ``epochs`` x ``steps`` batches (epoch ``e`` draws from seed ``e``), every
    layer watched with its gradients and the input; ``forward`` maps a batch to what
    the loss reads."""
    prof = SpikeProfiler()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with prof.watch(model, input=True, gradients=True, **watch):
        for epoch in range(epochs):
            if epoch:
                prof.next_epoch()
            g = torch.Generator().manual_seed(epoch)
            for _ in range(steps):
                x, y = batches(g)
                loss = loss_fn(forward(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if after_step is not None:
                    after_step()
                prof.record_loss(loss, n_classes=n_classes)
    return prof


def bars(g: torch.Generator, b: int, classes: int, size: int = 16) -> tuple[torch.Tensor,
                                                                           torch.Tensor]:
    """Grey images ``(b, 1, size, size)`` in [0, 1]: a bar whose row gives the class,
    its grey level 0.5 to 1, on a faint noisy background; labels ``(b,)``."""
    y = torch.randint(0, classes, (b,), generator=g)
    img = 0.1 * torch.rand(b, 1, size, size, generator=g)
    rows = max(1, (size - 2) // classes)
    for i in range(b):
        top = 1 + rows * int(y[i])
        img[i, 0, top:top + rows, 2:size - 2] = 0.5 + 0.5 * torch.rand(
            rows, size - 4, generator=g)
    return img, y


def rate_code(g: torch.Generator, img: torch.Tensor, t: int) -> torch.Tensor:
    """Bernoulli spikes ``(t, *img.shape)`` at the pixel values (snnTorch's rate code)."""
    return (torch.rand((t, *img.shape), generator=g) < img).float()


class TwoLeaky(nn.Module):
    """snnTorch tutorial 5's net: Linear-Leaky twice, the membranes passed explicitly and
    the time loop inside ``forward``; input ``(T, B, n_in)``, output spikes ``(T, B, C)``."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, **leaky) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.lif1 = snn.Leaky(beta=0.9, **leaky)
        self.fc2 = nn.Linear(n_hidden, n_out)
        self.lif2 = snn.Leaky(beta=0.9, **leaky)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for step in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[step]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def set_weights(fc: nn.Linear, g: torch.Generator, mean: float, std: float,
                bias: float = 0.0) -> None:
    with torch.no_grad():
        fc.weight.copy_(mean + std * torch.randn(fc.weight.shape, generator=g))
        fc.bias.fill_(bias)


# ------------------------------------------- 1. images fed as 0..255 instead of [0, 1]
def pixel_batches(scale: float) -> Batches:
    """Flattened bar images repeated over 8 steps (direct encoding), ``(8, 16, 256)``,
    as 8-bit values (``scale`` 255, rounded) or in [0, 1] (``scale`` 1)."""
    def batches(g: torch.Generator):
        img, y = bars(g, 16, 8)
        img = (img * 255).round() / 255 * scale
        return img.flatten(1).expand(8, -1, -1).contiguous(), y
    return batches


def pixel_net() -> TwoLeaky:
    torch.manual_seed(0)
    net = TwoLeaky(256, 64, 8)
    g = torch.Generator().manual_seed(1)
    set_weights(net.fc1, g, 0.02, 0.15)
    set_weights(net.fc2, g, 0.04, 0.2)
    return net


def test_images_fed_as_0_to_255_are_told_to_be_scaled_not_binarised():
    """SpikingJelly #196 (https://github.com/fangwei123456/spikingjelly/issues/196): the
    maintainer's first question on images turned into odd spikes was whether the pixels
    had been put in [0, 1]; snnTorch #66 (https://github.com/jeshraghian/snntorch/issues/66)
    trained only once the input was the plain MNIST image. An 8-bit image is whole
    numbers up to 255: the report used to call it count frames and say
    ``x = (x > 0).float()``, which keeps only the mask of the digit. It must say x / 255;
    the scaled image gets no finding."""
    lf = snn_functional.ce_rate_loss()
    net = pixel_net()
    broken = train(net, pixel_batches(255.0), net, lf, 8, epochs=1).report()
    p = finding(broken, "count_valued_input", "input")
    assert "8-bit pixel" in p.message and p.epoch == 0, explain(broken)
    assert "x = x / 255" in p.suggestion and "(x > 0)" not in p.suggestion, explain(broken)
    assert not any("(x > 0)" in q.suggestion for q in broken.pathologies), explain(broken)

    net = pixel_net()
    fixed = train(net, pixel_batches(1.0), net, lf, 8, epochs=1).report()
    assert fixed.pathologies == [], explain(fixed)


def test_event_counts_that_reach_255_are_still_count_frames():
    """The other side of the line: tonic-style count frames, mostly 1s with a few busy
    pixels that reach 255 events in a bin, keep the binarise fix."""
    g = torch.Generator().manual_seed(3)
    prof = SpikeProfiler()
    for _ in range(4):
        counts = torch.poisson(0.3 * torch.ones(8, 4, 2, 16, 16), generator=g)
        counts[0, 0, 0, 0, :2] = 255.0  # two hot pixels of one bin
        prof.declare_layer("input", role="input", neuron_axes=3)
        prof.record_step("input", counts)
    p = finding(prof.report(), "count_valued_input", "input")
    assert "x = (x > 0).float()" in p.suggestion and "/ 255" not in p.suggestion


# ---------------------------------- 2. snnTorch's sigmoid surrogate overflows to NaN
def surrogate_batches(g: torch.Generator):
    """Rate-coded bars ``(12, 16, 256)`` and their labels."""
    img, y = bars(g, 16, 8)
    return rate_code(g, img.flatten(1), 12), y


def surrogate_net(grad) -> TwoLeaky:
    """Hidden currents spread widely around zero, so that some membranes sit more than
    3.6 below the threshold (25 x 3.6 > 88: exp() overflows float32)."""
    torch.manual_seed(0)
    net = TwoLeaky(256, 64, 8, spike_grad=grad)
    g = torch.Generator().manual_seed(2)
    set_weights(net.fc1, g, 0.005, 0.25)
    set_weights(net.fc2, g, 0.05, 0.3)
    return net


def test_sigmoid_surrogate_overflow_is_named_in_the_layer_whose_backward_made_it():
    """snnTorch #427 (https://github.com/jeshraghian/snntorch/issues/427): in the installed
    snnTorch (1.0.0; PR #433 rewrites it in a stable form) ``surrogate.sigmoid()``
    (slope 25) computes exp(-slope x (U - threshold)) in its backward, which is inf for
    a membrane 3.6 or more below threshold, and the gradient becomes NaN; the user saw
    only odd loss behaviour. The report must say where the NaN
    was made (the input gradients of the layer, before its spikes' gradient) and tell
    the user to change the surrogate, not to lower the learning rate, and point the
    layers the NaN reached there. With ``surrogate.atan()`` the same net is clean."""
    lf = snn_functional.ce_rate_loss()
    net = surrogate_net(snn_surrogate.sigmoid())
    broken = train(net, surrogate_batches, net, lf, 8, epochs=2).report()
    born = [p for p in broken.pathologies if p.category == "non_finite_values"
            and "first in input gradients" in p.message]
    assert born and born[0].epoch == 0 and born[0].step == 0, explain(broken)
    assert "surrogate" in born[0].suggestion and "atan" in born[0].suggestion, explain(broken)
    assert "learning rate" not in born[0].suggestion.replace(
        "lowering the learning rate or clipping gradients will not stop it", ""), \
        explain(broken)
    for p in broken.pathologies:
        if p.category == "non_finite_values" and p is not born[0]:
            assert f"'{born[0].layer}'" in p.suggestion, explain(broken)

    net = surrogate_net(snn_surrogate.atan())
    fixed = train(net, surrogate_batches, net, lf, 8, epochs=2).report()
    assert fixed.pathologies == [], explain(fixed)


# ------------------------- 3. a conv SNN whose output never fires: the loss sits at ln C
def conv_net(out_threshold: float) -> nn.Sequential:
    """snnTorch's conv net as #219 writes it (fast_sigmoid slope 25, beta 0.95, hidden
    thresholds 0.3, init_hidden), shrunk: two conv-pool-Leaky blocks, a linear readout
    Leaky over 4 classes; the model is called once per time step."""
    torch.manual_seed(0)
    grad = snn_surrogate.fast_sigmoid(slope=25)

    def leaky(threshold: float, **kw) -> snn.Leaky:
        return snn.Leaky(beta=0.95, spike_grad=grad, init_hidden=True, threshold=threshold,
                         **kw)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.MaxPool2d(2), leaky(0.3),
        nn.Conv2d(8, 8, 3, padding=1), nn.MaxPool2d(2), leaky(0.3),
        nn.Flatten(), nn.Linear(8 * 4 * 4, 4), leaky(out_threshold, output=True))
    with torch.no_grad():
        net[3].bias.add_(0.1)
        net[7].weight.mul_(3.0)
        net[7].bias.fill_(1.0)
    return net


def per_step(net: nn.Module, t: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor) -> torch.Tensor:
        snn_utils.reset(net)
        return torch.stack([net(x)[0] for _ in range(t)])
    return forward


def four_bars(g: torch.Generator):
    img, y = bars(g, 8, 4)
    return img + 0.2 * torch.rand(img.shape, generator=g), y


def test_conv_snn_whose_output_never_fires_names_the_output_as_the_root():
    """snnTorch #219 (https://github.com/jeshraghian/snntorch/issues/219): a four-conv SNN
    whose loss stayed at 1.386 (ln 4) with accuracy 25 %, and whose output layer fired no
    spike at any step. The report must name the silent output layer (its inputs fire, so
    its own threshold or weights are to change), from epoch 0, with the loss at chance
    following from it; with the output threshold at 1 the report is clean."""
    lf = snn_functional.ce_count_loss()
    net = conv_net(20.0)
    broken = train(net, four_bars, per_step(net, 6), lf, 4, lr=3e-4,
                   time_steps=6).report()
    silent = finding(broken, "silent_network", "8")
    assert silent.cause is None and silent.epoch == 0, explain(broken)
    # its membrane rises but stays short of the threshold of 20: lower it, or more drive
    assert silent.suggestion.startswith("The membrane rises but stays short of the "
                                        "threshold: lower the threshold toward"), explain(broken)
    assert "now 20" in silent.suggestion, explain(broken)
    chance = finding(broken, "loss_at_chance", "loss")
    assert chance.cause == "silent_network @ 8", explain(broken)
    assert roots(broken)[0] == ("silent_network", "8"), explain(broken)

    net = conv_net(1.0)
    fixed = train(net, four_bars, per_step(net, 6), lf, 4, lr=3e-4, time_steps=6).report()
    assert fixed.pathologies == [], explain(fixed)


# ----------------- 4. SpikingJelly, MSE on firing rates: the loss frozen at exactly 1/C
def sj_mlp(out_bias: float) -> nn.Sequential:
    """SpikingJelly's multi-step MLP as its tutorials train it (LIF tau 2, ATan), 256 ->
    64 -> 11, read as firing rates with an MSE loss against one-hot labels."""
    torch.manual_seed(0)
    net = nn.Sequential(layer.Linear(256, 64), neuron.LIFNode(tau=2.0, surrogate_function=
                                                              sj_surrogate.ATan()),
                        layer.Linear(64, 11), neuron.LIFNode(tau=2.0, surrogate_function=
                                                             sj_surrogate.ATan()))
    functional.set_step_mode(net, "m")
    g = torch.Generator().manual_seed(4)
    set_weights(net[0], g, 0.02, 0.2, bias=0.3)
    set_weights(net[2], g, 0.05, 0.3, bias=out_bias)
    return net


def eleven_bars(g: torch.Generator):
    img, y = bars(g, 16, 11, size=24)
    img = nn.functional.avg_pool2d(img, 3, stride=1, padding=0)[:, :, :16, :16]
    return rate_code(g, img.flatten(1), 8), y


def rate_mse(fr: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(fr, F.one_hot(y, 11).float())


def test_spikingjelly_mse_loss_frozen_at_one_over_c_names_the_silent_output():
    """SpikingJelly #216 (https://github.com/fangwei123456/spikingjelly/issues/216):
    classify_dvsg's train and test loss stayed at 0.0909 = 1/11 for every epoch, with
    accuracy at chance: an MSE between firing rates and one-hot labels is exactly 1/C
    when the 11 output neurons never fire. ``loss_at_chance`` (ln C) does not apply to
    this loss, so the silent output layer itself must be named, from epoch 0, with the
    layer before it firing; the driven output reports nothing."""
    net = sj_mlp(-20.0)
    prof = train(net, eleven_bars, lambda x: net(x).mean(0), rate_mse, 11,
                 after_step=lambda: functional.reset_net(net))
    broken = prof.report()
    assert broken.loss.last == pytest.approx(1 / 11), explain(broken)
    silent = finding(broken, "silent_network", "3")
    assert silent.cause is None and silent.epoch == 0, explain(broken)
    assert "'1', which feeds it, fires" in silent.suggestion, explain(broken)
    assert not [p for p in broken.pathologies if p.category == "loss_at_chance"]

    net = sj_mlp(0.0)
    fixed = train(net, eleven_bars, lambda x: net(x).mean(0), rate_mse, 11,
                  after_step=lambda: functional.reset_net(net)).report()
    assert fixed.pathologies == [], explain(fixed)


# ------------- 5. SpikingJelly, reset_net forgotten: the membrane runs away batch by batch
def if_mlp() -> nn.Sequential:
    """SpikingJelly's multi-step IF MLP (no leak, ATan), 100 -> 64 -> 10, its voltages
    kept (``store_v_seq``) so that the watch records them."""
    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Linear(100, 64), neuron.IFNode(surrogate_function=sj_surrogate.ATan(),
                                             store_v_seq=True),
        layer.Linear(64, 10), neuron.IFNode(surrogate_function=sj_surrogate.ATan(),
                                            store_v_seq=True))
    functional.set_step_mode(net, "m")
    return net


def sparse_spikes(g: torch.Generator):
    """Random input spikes at rate 0.2, ``(8, 16, 100)``, and labels."""
    return (torch.rand(8, 16, 100, generator=g) < 0.2).float(), torch.randint(
        0, 10, (16,), generator=g)


def rate_mse10(fr: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(fr, F.one_hot(y, 10).float())


def test_state_not_reset_between_batches_is_named_as_a_runaway_membrane():
    """SpikingJelly #420 (https://github.com/fangwei123456/spikingjelly/issues/420), SEW
    ResNet #19 (https://github.com/fangwei123456/Spike-Element-Wise-ResNet/issues/19) and
    SpikingJelly #310 (https://github.com/fangwei123456/spikingjelly/issues/310): a net
    whose ``functional.reset_net`` was forgotten carries every neuron's membrane from one
    batch into the next (backward errors, memory that grows; the maintainers' answer is
    to reset after ``optimizer.step()``). Here the state is detached instead
    (``functional.detach_net``), so training runs: an IF neuron driven below zero then
    sinks further with every batch. The report must name that runaway at each layer
    from epoch 0, tell the user to reset the state, and explain the dead neurons by it
    (lowering their threshold would not help); with ``reset_net`` the membrane stays
    bounded and nothing runs away. The verdict survives a save and load."""
    net = if_mlp()
    prof = train(net, sparse_spikes, lambda x: net(x).mean(0), rate_mse10, 10, lr=1e-3,
                 after_step=lambda: functional.detach_net(net))
    broken = prof.report()
    for name in ("1", "3"):
        p = finding(broken, "voltage_runaway", name)
        assert p.cause is None and p.epoch == 0, explain(broken)
        assert "functional.reset_net(net) after optimizer.step()" in p.suggestion
    dead = finding(broken, "dead_neurons", "1")
    assert dead.cause == "voltage_runaway @ 1", explain(broken)
    loaded = SpikeProfiler.from_bytes(prof.to_bytes()).report()
    assert [(p.category, p.layer, p.message) for p in loaded.pathologies] == [
        (p.category, p.layer, p.message) for p in broken.pathologies]

    net = if_mlp()
    fixed = train(net, sparse_spikes, lambda x: net(x).mean(0), rate_mse10, 10, lr=1e-3,
                  after_step=lambda: functional.reset_net(net)).report()
    assert not [p for p in fixed.pathologies if p.category == "voltage_runaway"], \
        explain(fixed)
    assert all(p.severity.value != "critical" for p in fixed.pathologies), explain(fixed)


def test_snntorch_init_hidden_net_without_utils_reset_is_named_too():
    """The same class in snnTorch (#340, https://github.com/jeshraghian/snntorch/issues/340:
    an ``init_hidden`` net whose hidden state must be reset, ``utils.reset``, before
    each forward): a Leaky of ``beta=1`` (snnTorch clamps any beta above 1 to 1: no
    leak) carried across batches with ``detach_hidden`` runs away; reset per batch, the
    same net is clean of it."""
    def net_of() -> nn.Sequential:
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(100, 64), snn.Leaky(beta=1.0, init_hidden=True),
                            nn.Linear(64, 10), snn.Leaky(beta=1.0, init_hidden=True,
                                                         output=True))
        g = torch.Generator().manual_seed(5)
        set_weights(net[0], g, -0.01, 0.1)
        set_weights(net[2], g, 0.0, 0.2)
        return net

    def forward(net: nn.Sequential, reset: bool) -> Callable[[torch.Tensor], torch.Tensor]:
        def run(x: torch.Tensor) -> torch.Tensor:
            if reset:
                snn_utils.reset(net)
            else:
                for m in net.modules():
                    if isinstance(m, snn.Leaky):
                        m.detach_hidden()
            return torch.stack([net(x[t])[0] for t in range(x.shape[0])])
        return run

    lf = snn_functional.ce_rate_loss()
    net = net_of()
    broken = train(net, sparse_spikes, forward(net, False), lf, 10, lr=1e-3,
                   time_steps=8).report()
    p = finding(broken, "voltage_runaway", "1")
    assert p.epoch == 0 and "utils.reset(net)" in p.suggestion, explain(broken)

    net = net_of()
    fixed = train(net, sparse_spikes, forward(net, True), lf, 10, lr=1e-3,
                  time_steps=8).report()
    assert not [p for p in fixed.pathologies if p.category == "voltage_runaway"], \
        explain(fixed)


# ------------- 6. snnTorch Synaptic on positive weights: the membrane far above threshold
class SynapticNet(nn.Module):
    """Two Linear-Synaptic (``alpha`` 0.9, ``beta`` 0.95) layers, as #66 builds them,
    or Leaky (``beta`` 0.8) ones, the fix the thread suggests first; ``(T, B, C)``."""

    def __init__(self, synaptic: bool) -> None:
        super().__init__()
        self.synaptic = synaptic
        self.fc1, self.fc2 = nn.Linear(100, 64), nn.Linear(64, 10)
        make = (lambda: snn.Synaptic(alpha=0.9, beta=0.95)) if synaptic else (
            lambda: snn.Leaky(beta=0.8))
        self.lif1, self.lif2 = make(), make()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.synaptic:
            (syn1, mem1), (syn2, mem2) = self.lif1.init_synaptic(), self.lif2.init_synaptic()
        else:
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for step in range(x.shape[0]):
            if self.synaptic:
                spk1, syn1, mem1 = self.lif1(self.fc1(x[step]), syn1, mem1)
                spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
            else:
                spk1, mem1 = self.lif1(self.fc1(x[step]), mem1)
                spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def synaptic_net(synaptic: bool, positive: bool) -> SynapticNet:
    torch.manual_seed(0)
    net = SynapticNet(synaptic)
    g = torch.Generator().manual_seed(6)
    if positive:  # "device weights", all positive
        set_weights(net.fc1, g, 0.25, 0.1)
        set_weights(net.fc2, g, 0.25, 0.1)
    else:
        set_weights(net.fc1, g, 0.02, 0.15)
        set_weights(net.fc2, g, 0.05, 0.3)
    return net


def spike_trains(g: torch.Generator):
    return (torch.rand(16, 16, 100, generator=g) < 0.2).float(), torch.randint(
        0, 10, (16,), generator=g)


def test_synaptic_membrane_far_above_threshold_is_saturation_and_explains_the_chance_loss():
    """snnTorch #66 (https://github.com/jeshraghian/snntorch/issues/66): with positively
    distributed weights the output membranes of a ``Synaptic`` net went past 100 (the
    threshold is 1) and accuracy stayed low; the maintainer suggested lower alpha/beta
    or ``Leaky``. Every neuron then fires at every step: the report must call both
    layers saturated (raise the threshold or reduce the input), with the loss at
    chance (all outputs alike) following from it; the ``Leaky`` net on centred weights
    is clean."""
    lf = snn_functional.ce_rate_loss()
    net = synaptic_net(True, True)
    broken = train(net, spike_trains, net, lf, 10, lr=1e-3).report()
    for name in ("lif1", "lif2"):
        p = finding(broken, "saturated_neurons", name)
        assert p.cause is None and p.epoch == 0, explain(broken)
        assert "Raise the threshold or reduce the input gain" in p.suggestion
    assert broken.layer_stats["lif2"].voltage_max > 50, explain(broken)
    chance = finding(broken, "loss_at_chance", "loss")
    assert chance.cause is not None and chance.cause.startswith("saturated_neurons"), \
        explain(broken)

    net = synaptic_net(False, False)
    fixed = train(net, spike_trains, net, lf, 10, lr=1e-3).report()
    assert fixed.pathologies == [], explain(fixed)


def membrane_epochs(low: list[float], high: list[float], epochs_without: int = 0
                    ) -> SpikeProfiler:
    """Epochs of one layer's recorded voltages spanning [low[e], high[e]] (spikes at rate
    0.2, 4 steps of (8, 4, 16) per epoch); first ``epochs_without`` epochs record none."""
    g = torch.Generator().manual_seed(7)
    prof = SpikeProfiler()
    for e in range(epochs_without + len(low)):
        if e:
            prof.next_epoch()
        for _ in range(4):
            spikes = (torch.rand(8, 4, 16, generator=g) < 0.2).float()
            if e < epochs_without:
                prof.record_step("lif", spikes)
                continue
            lo, hi = low[e - epochs_without], high[e - epochs_without]
            prof.record_step("lif", spikes, lo + (hi - lo) * torch.rand(8, 4, 16, generator=g))
    return prof


@pytest.mark.parametrize(("low", "high", "runaway"), [
    ([-30, -56, -82], [1, 1, 1], True),           # sinks by about as much every epoch
    ([-30, -56, -82, -107], [1, 1, 1, 1], True),
    ([-1, -230, -460], [30, 40, 45], True),       # far past the bounded side
    ([-6, -5, -5.5], [1, 1, 1], False),           # reset every batch: bounded
    ([-30, -56, -60], [1, 1, 1], False),          # settles
    ([-0.01, -0.4, -0.8], [0.01, 0.9, 1.0], False),  # a layer waking up: both sides widen
    ([-30, -56], [1, 1], False),                  # two epochs are not a trend
    ([-70.5, -71, -72], [-50, -50, -50], False),  # mV: far from 0 but not moving
])
def test_a_runaway_is_a_steady_one_sided_drift_over_epochs(low, high, runaway):
    """The rule's boundary, on recorded voltages: what voltage_runaway takes for a state
    that integrates without bound, and what it leaves alone."""
    report = membrane_epochs(low, high).report()
    hits = [p for p in report.pathologies if p.category == "voltage_runaway"]
    assert bool(hits) is runaway, explain(report)
    if runaway:
        assert hits[0].layer == "lif" and hits[0].epoch == 0, explain(report)


def test_epochs_without_voltages_are_left_out_of_a_runaway():
    report = membrane_epochs([-30, -56, -82], [1, 1, 1], epochs_without=2).report()
    assert [p.epoch for p in report.pathologies if p.category == "voltage_runaway"] == [2]


# -------- 7. spike counts over a long sequence used as logits (the loss for a rate code)
def long_batches(g: torch.Generator):
    """Rate-coded bars over 120 steps, ``(120, 16, 256)``, and labels."""
    img, y = bars(g, 16, 10)
    return rate_code(g, img.flatten(1), 120), y


def long_net() -> TwoLeaky:
    torch.manual_seed(0)
    net = TwoLeaky(256, 64, 10)
    g = torch.Generator().manual_seed(1)
    set_weights(net.fc1, g, 0.02, 0.15)
    set_weights(net.fc2, g, 0.0, 0.4, bias=0.1)
    return net


def test_counts_over_a_long_sequence_fed_as_logits_are_told_to_become_rates():
    """slayerPytorch #60 (https://github.com/bamsumit/slayerPytorch/issues/60): spike-count
    targets tuned for one sample length fail for another, and the maintainer advised
    scaling them with the length or using a rate (mean over time) loss. With snnTorch's
    ``ce_count_loss`` over 120 steps the counts of binary spikes reach 120 and the
    softmax over them saturates (the loss is tens): ``output_overflow`` must say the
    counts are large because the sequence is long and offer rates or a per-step loss,
    not "binarise the input" (it is binary). The same net under ``ce_rate_loss`` fires
    as much but its loss reads no counts (it stays near ln 10): no overflow is reported
    (it used to be a critical one)."""
    net = long_net()
    broken = train(net, long_batches, net, snn_functional.ce_count_loss(), 10, lr=1e-3,
                   epochs=1, steps=6).report()
    p = finding(broken, "output_overflow", "lif2")
    assert p.severity.value == "critical" and p.cause is None, explain(broken)
    assert "120 steps per sample" in p.suggestion and "ce_rate_loss" in p.suggestion
    assert "binarise" not in p.suggestion.lower(), explain(broken)

    net = long_net()
    fixed = train(net, long_batches, net, snn_functional.ce_rate_loss(), 10, lr=1e-3,
                  epochs=1, steps=6).report()
    assert fixed.layer_stats["lif2"].spike_count_range[1] > 88, explain(fixed)
    assert fixed.pathologies == [], explain(fixed)
