"""The model zoo: real framework models, watched as a user would watch them.

SpikingJelly's PLIF nets (MNIST, DVS-Gesture), ``sew_resnet18`` and
``spiking_resnet18`` in step modes ``'s'`` and ``'m'``; snnTorch networks as its
tutorials write them (per step with explicit state, ``init_hidden`` conv nets,
recurrent neurons); Norse's ``ConvNet4`` and the MNIST task's ``LIFConvNet``, and
``SequentialState`` stacks of LIF, LIFRecurrent, LSNN, LIFAdEx and Izhikevich in
front of a non-spiking ``LI`` readout; tonic's transforms on synthetic events.

Healthy models must report nothing. Planted failures (a threshold too high, count
frames with a threshold too low, a layer whose input is zeroed from epoch k on)
must be named on the right layer and epoch, with a fix a user should apply.
Inputs are small (T = 4-8, batch 2-4, frames of 28x28 to 128x128).
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Callable, Iterator

import norse.torch as norse
import numpy as np
import pytest
import snntorch as snn
import torch
import torch.nn.functional as F
from snntorch import functional as snn_functional
from snntorch import spikegen
from snntorch import surrogate as snn_surrogate
from snntorch import utils as snn_utils
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from tonic import transforms as tonic_transforms
from torch import nn

from spikewidget import Severity, SpikeProfiler

torch.set_num_threads(1)


def _import_sj_resnets() -> tuple[types.ModuleType, types.ModuleType]:
    """SpikingJelly's resnet modules import torchvision only for downloading
    pretrained weights (``load_state_dict_from_url``); torchvision is not installed
    (it would pull a CUDA torch), so torch.hub's function of that name stands in for
    the import and is removed again afterwards."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        shim = types.ModuleType("torchvision")
        utils = types.ModuleType("torchvision._internally_replaced_utils")
        utils.load_state_dict_from_url = torch.hub.load_state_dict_from_url  # type: ignore[attr-defined]
        sys.modules["torchvision"] = shim
        sys.modules["torchvision._internally_replaced_utils"] = utils
        try:
            from spikingjelly.activation_based.model import sew_resnet, spiking_resnet
        finally:
            del sys.modules["torchvision"], sys.modules["torchvision._internally_replaced_utils"]
        return sew_resnet, spiking_resnet
    from spikingjelly.activation_based.model import sew_resnet, spiking_resnet
    return sew_resnet, spiking_resnet


# ------------------------------------------------------------------ shared helpers
def explain(report) -> str:
    """The summary and every finding with its cause and fix: assertion messages."""
    lines = [report.summary(), "", "findings (category @ layer, epoch, cause | fix):"]
    lines += [f"  {p.category} @ {p.layer}, epoch {p.epoch}, cause {p.cause} | {p.suggestion}"
              for p in report.pathologies]
    return "\n".join(lines)


def found(report, layer: str | None = None) -> list[tuple[str, str]]:
    return [(p.category, p.layer) for p in report.pathologies
            if layer is None or p.layer == layer]


def assert_clean(report) -> None:
    assert report.pathologies == [], explain(report)


def assert_fixes_are_sensible(report, *, analog_input: bool) -> None:
    """Every fix offered is one a user should apply: a finding that follows from
    another points at it; nobody is told to binarise analog input; nobody is told to
    add skip connections where a silent or dead layer is found (it explains the
    gradients, or a route around it shows the network has them)."""
    msg = explain(report)
    dead_or_silent = any(p.category in ("silent_network", "layer_died") or (
        p.category == "dead_neurons" and p.severity is Severity.CRITICAL)
        for p in report.pathologies)
    for p in report.pathologies:
        if p.cause is not None:
            assert p.suggestion.startswith("Follows from"), msg
        if analog_input:
            assert "binar" not in p.suggestion.lower(), msg
            assert p.category != "count_valued_input", msg
        if dead_or_silent:
            assert "add skip connection" not in p.suggestion.lower(), msg


def blobs(g: torch.Generator, shape: tuple[int, ...], static: bool = True) -> torch.Tensor:
    """Smooth random images in [0, 1], ``(T, B, C, H, W)``: each sample a different
    low-frequency pattern (direct encoding: the same frame every step if static)."""
    t, b, c, h, w = shape
    lo = torch.rand((1 if static else t) * b, c, max(h // 4, 1), max(w // 4, 1), generator=g)
    img = F.interpolate(lo, size=(h, w), mode="bilinear", align_corners=False)
    img = img.reshape((1 if static else t), b, c, h, w)
    return img.expand(t, b, c, h, w).contiguous()


def synthetic_events(rng: np.random.Generator, n: int, size: tuple[int, int],
                     duration_us: int = 100_000) -> np.ndarray:
    """Events as tonic's datasets give them (structured x, y, t in us, p): a gesture
    in small, a cloud of events moving across the sensor from a random start in a
    random direction, with one event in five uniform background noise."""
    w, h = size
    ev = np.zeros(n, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    ev["t"] = np.sort(rng.integers(0, duration_us, n))
    start, velocity = rng.random(2) * (w, h), (rng.random(2) - 0.5) * (w, h)
    centre = start + np.outer(ev["t"] / duration_us, velocity)
    xy = centre + rng.normal(0, w / 8, (n, 2))
    noise = rng.random(n) < 0.2
    xy[noise] = rng.random((int(noise.sum()), 2)) * (w, h)
    ev["x"], ev["y"] = xy[:, 0].astype(np.int64), xy[:, 1].astype(np.int64)
    ev["p"] = rng.integers(0, 2, n)
    on_sensor = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    return ev[on_sensor]


def tonic_frames(rng: np.random.Generator, batch: int, size: tuple[int, int], t: int,
                 n_events: int) -> torch.Tensor:
    """A batch of tonic ``ToFrame`` count frames, ``(T, B, 2, H, W)`` (whole counts)."""
    to_frame = tonic_transforms.ToFrame(sensor_size=(*size, 2), n_time_bins=t)
    frames = [to_frame(synthetic_events(rng, n_events, size)) for _ in range(batch)]
    return torch.from_numpy(np.stack(frames, axis=1)).float()


def fire_ready(model: nn.Module, bn_bias: float = 0.5, linear_gain: float = 4.0) -> nn.Module:
    """A sensible start for the PLIF nets: BatchNorm biased so a conv neuron's
    current crosses the threshold on some samples, and linear layers scaled for
    sparse spike input (PyTorch's default init, made for dense input, leaves the
    first fully connected spiking layer silent: see the default-init test)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.bias.fill_(bn_bias)
            elif isinstance(m, nn.Linear):
                m.weight.mul_(linear_gain)
    return model


def drive(model: nn.Module, input_rate: float, current: float = 0.3,
          spread: float = 0.1) -> nn.Module:
    """A spiking start for dense or conv layers fed non-negative input at about
    ``input_rate`` per input: each neuron's mean input current is about
    ``current`` +/- ``spread`` (threshold 1), so every neuron fires at some rate and
    none every step. PyTorch's zero-mean default gives half the neurons a negative
    current for positive input: with static input they never fire (a true finding,
    see the threshold and default-init tests)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                drive_weights(m.weight, input_rate, current, spread)
                if m.bias is not None:
                    m.bias.zero_()
    return model


def drive_weights(weight: torch.Tensor, input_rate: float, current: float = 0.3,
                  spread: float = 0.1) -> None:
    """:func:`drive` for one weight tensor, ``(out, *fan_in)``."""
    fan = weight[0].numel()
    with torch.no_grad():
        weight.normal_(current / (input_rate * fan), spread / (input_rate * math.sqrt(fan)))


def sj_train(prof: SpikeProfiler, model: nn.Module, batches: Callable[[int], Iterator],
             *, epochs: int, mode: str, lr: float = 0.05, scale: float = 10.0,
             n_classes: int = 10, input: bool = True, gradients: bool = True,
             time_steps: int | None = None) -> None:
    """Train a SpikingJelly model a few steps under ``watch``: cross-entropy on the
    time-averaged output; ``mode`` 'm' is one call per sequence, 's' one per step."""
    functional.set_step_mode(model, mode)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    if mode == "s" and input:  # the model sees one (batch, C, H, W) frame per call
        prof.declare_layer("input", neuron_axes=3)
    with prof.watch(model, input=input, gradients=gradients,
                    time_steps=time_steps if mode == "s" else None):
        for epoch in range(epochs):
            if epoch:
                prof.next_epoch()
            for x, y in batches(epoch):
                if mode == "s":
                    out = torch.stack([model(x[t]) for t in range(x.shape[0])]).mean(0)
                else:
                    out = model(x).mean(0)
                loss = F.cross_entropy(out * scale, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                functional.reset_net(model)
                prof.record_loss(loss, n_classes=n_classes)


# --------------------------------------------------------- SpikingJelly PLIF nets
def plif_mnist(**neuron_kwargs) -> nn.Module:
    from spikingjelly.activation_based.model import parametric_lif_net
    torch.manual_seed(0)
    return parametric_lif_net.MNISTNet(
        channels=16, spiking_neuron=neuron.ParametricLIFNode,
        surrogate_function=surrogate.ATan(), detach_reset=True, **neuron_kwargs)


PLIF_MNIST_LAYERS = ["input", "conv_fc.2", "conv_fc.6", "conv_fc.11", "conv_fc.14"]


def pixel_batches(t: int = 4, b: int = 4, n: int = 6, size: int = 28, channels: int = 1):
    """Direct encoding: real-valued pixels, the same frame every step."""
    def batches(epoch: int):
        g = torch.Generator().manual_seed(100 + epoch)
        for _ in range(n):
            yield blobs(g, (t, b, channels, size, size)), torch.randint(0, 10, (b,), generator=g)
    return batches


@pytest.mark.parametrize("mode", ["m", "s"])
def test_plif_mnist_net_trains_clean_in_both_step_modes(mode):
    """A fire-ready PLIF MNIST net on pixels: every layer fires, analog input is not
    called counts, gradients reach every layer: no finding at all."""
    model = fire_ready(plif_mnist())
    prof = SpikeProfiler()
    sj_train(prof, model, pixel_batches(), epochs=1, mode=mode, time_steps=4)
    report = prof.report()
    assert list(report.layer_stats) == PLIF_MNIST_LAYERS, explain(report)
    for name in PLIF_MNIST_LAYERS[1:]:
        st = report.layer_stats[name]
        assert 0.01 < float(st.firing_rates.mean()) < 0.5, explain(report)
        assert st.gradient_steps > 0, explain(report)
    assert_clean(report)


def default_init_plif_report():
    model = plif_mnist()
    prof = SpikeProfiler()
    sj_train(prof, model, pixel_batches(), epochs=1, mode="m")
    return prof.report()


def test_plif_mnist_net_at_default_init_is_led_by_its_first_linear_layer():
    """PyTorch's default init on sparse conv spikes: the 2048-neuron layer gets too
    little current and is all but silent (a true finding: 100% dead, critical). It
    leads, with a fix of its own; no second remedy such as skip connections."""
    report = default_init_plif_report()
    lead = report.pathologies[0]
    assert lead.layer == "conv_fc.11" and lead.severity is Severity.CRITICAL, explain(report)
    assert lead.category in ("silent_network", "dead_neurons") and lead.cause is None
    assert "threshold" in lead.suggestion.lower(), explain(report)
    assert ("silent_network", "conv_fc.14") in found(report), explain(report)
    assert found(report, "input") == [], explain(report)
    assert_fixes_are_sensible(report, analog_input=True)


def test_plif_default_init_silent_readout_follows_from_the_dead_layer_before_it():
    report = default_init_plif_report()
    for p in report.pathologies:
        if p.layer in ("conv_fc.14", "loss") or p.category == "gradient_vanishing":
            assert p.cause is not None and "conv_fc.11" in p.cause, explain(report)


def test_plif_threshold_too_high_silences_a_layer_that_leads_what_follows():
    """v_threshold 50 on the second conv layer only: it is silent, every layer
    behind it follows from it, the layers before it stay healthy."""
    model = fire_ready(plif_mnist())
    model.conv_fc[6].v_threshold = 50.0
    prof = SpikeProfiler()
    sj_train(prof, model, pixel_batches(), epochs=1, mode="m")
    report = prof.report()
    lead = report.pathologies[0]
    assert (lead.category, lead.layer, lead.cause) == ("silent_network", "conv_fc.6", None), \
        explain(report)
    assert found(report, "input") == [], explain(report)
    for p in report.pathologies:  # the vanishing gradient before it follows from it too
        if p.layer == "conv_fc.2":
            assert p.cause == "silent_network @ conv_fc.6", explain(report)
    for p in report.pathologies[1:]:
        assert p.cause is not None, explain(report)
    assert {"conv_fc.11", "conv_fc.14"} <= {p.layer for p in report.pathologies}, explain(report)
    assert_fixes_are_sensible(report, analog_input=True)


def test_a_silent_layer_behind_a_firing_one_is_told_to_fix_itself_not_the_input():
    model = fire_ready(plif_mnist())
    model.conv_fc[6].v_threshold = 50.0
    prof = SpikeProfiler()
    sj_train(prof, model, pixel_batches(), epochs=1, mode="m")
    report = prof.report()
    assert float(np.asarray(report.layer_stats["conv_fc.2"].firing_rates).mean()) > 0.05
    lead = report.pathologies[0]
    assert (lead.category, lead.layer) == ("silent_network", "conv_fc.6"), explain(report)
    fix = lead.suggestion.lower()
    assert "threshold" in fix, explain(report)
    assert "all thresholds" not in fix and "input data" not in fix, explain(report)


def plif_dvs_gesture(**neuron_kwargs) -> nn.Module:
    from spikingjelly.activation_based.model import parametric_lif_net
    torch.manual_seed(0)
    return parametric_lif_net.DVSGestureNet(
        channels=8, spiking_neuron=neuron.ParametricLIFNode,
        surrogate_function=surrogate.ATan(), detach_reset=True, **neuron_kwargs)


def gesture_batches(binarise: bool, t: int = 4, b: int = 4, n: int = 6):
    """DVS128-sized tonic ToFrame frames of synthetic events, (T, B, 2, 128, 128)."""
    def batches(epoch: int):
        rng = np.random.default_rng(7 + epoch)
        for _ in range(n):
            x = tonic_frames(rng, b, (128, 128), t, n_events=40_000)
            yield ((x > 0).float() if binarise else x), torch.randint(0, 10, (b,))
    return batches


def test_dvs_gesture_net_on_binarised_tonic_frames_is_clean():
    model = fire_ready(plif_dvs_gesture())
    prof = SpikeProfiler()
    sj_train(prof, model, gesture_batches(binarise=True), epochs=1, mode="m")
    report = prof.report()
    assert report.layer_stats["input"].is_binary, explain(report)
    assert len(report.layer_stats) == 8, explain(report)  # input, 5 conv, 2 fc nodes
    assert_clean(report)


def test_dvs_gesture_net_after_six_samples_does_not_call_quiet_neurons_dead():
    model = fire_ready(plif_dvs_gesture())
    prof = SpikeProfiler()
    sj_train(prof, model, gesture_batches(binarise=True, b=2, n=3), epochs=1, mode="m")
    report = prof.report()
    assert "dead_neurons" not in {c for c, _ in found(report)}, explain(report)


def test_dvs_gesture_net_on_count_frames_with_a_low_threshold():
    """tonic's ToFrame counts straight into the net and v_threshold 0.05: the input
    is named as count-valued with the binarising fix; SpikingJelly's spikes stay
    0/1 (calling them non-binary would be false); saturation is named where the
    recorded rates show it and nowhere else (BatchNorm keeps most PLIF neurons
    below 0.95 here: the snnTorch count-frame test has a saturated layer)."""
    model = fire_ready(plif_dvs_gesture(v_threshold=0.05))
    prof = SpikeProfiler()
    sj_train(prof, model, gesture_batches(binarise=False), epochs=1, mode="m")
    report = prof.report()
    [counts] = [p for p in report.pathologies if p.category == "count_valued_input"]
    assert counts.layer == "input" and "(x > 0).float()" in counts.suggestion, explain(report)
    assert "non_binary_spikes" not in {c for c, _ in found(report)}, explain(report)
    sat_rate = report.thresholds.saturated_rate
    sat_share = report.thresholds.saturated_warning_fraction
    for name, st in report.layer_stats.items():
        if name == "input":
            continue
        saturated = float(np.mean(np.asarray(st.firing_rates) > sat_rate)) > sat_share
        assert (("saturated_neurons", name) in found(report)) == saturated, (name, explain(report))
    assert any(float(np.mean(np.asarray(st.firing_rates))) > 0.5  # the low threshold shows
               for st in report.layer_stats.values()), explain(report)
    assert_fixes_are_sensible(report, analog_input=False)


# ------------------------------------------------- SpikingJelly sew / spiking resnet18
def resnet18(arch: str) -> nn.Module:
    sew_resnet, spiking_resnet = _import_sj_resnets()
    torch.manual_seed(0)
    common = dict(spiking_neuron=neuron.IFNode, surrogate_function=surrogate.ATan(),
                  detach_reset=True, num_classes=10)
    if arch == "sew_resnet18":
        return sew_resnet.sew_resnet18(cnf="ADD", **common)
    return spiking_resnet.spiking_resnet18(**common)


def resnet_nodes(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, neuron.BaseNode)]


@pytest.mark.parametrize("mode", ["m", "s"])
@pytest.mark.parametrize("arch", ["sew_resnet18", "spiking_resnet18"])
def test_resnet18_on_small_images_is_clean_in_both_step_modes(arch, mode):
    """IF neurons behind BatchNorm on 32x32 direct-encoded images: every node is
    watched under its module path, in the model's order, and nothing is flagged. The
    wiring watch learns is the architecture's: the spiking ResNet adds the shortcut
    before a block's sn2, SEW-ResNet adds spikes after it (the next block's sn1 gets
    both)."""
    model = resnet18(arch)
    prof = SpikeProfiler()
    sj_train(prof, model, pixel_batches(t=4, b=4, n=6, size=32, channels=3), epochs=1,
             mode=mode, time_steps=4, scale=1.0, lr=0.01)
    report = prof.report()
    assert list(report.layer_stats) == ["input", *resnet_nodes(model)], explain(report)
    fed = {name: st.fed_by for name, st in report.layer_stats.items()}
    assert fed["sn1"] == ("input",) and fed["layer1.0.sn1"] == ("sn1",), fed
    if arch == "spiking_resnet18":
        assert fed["layer1.0.sn2"] == ("layer1.0.sn1", "sn1"), fed
        assert fed["layer1.1.sn1"] == ("layer1.0.sn2",), fed
    else:
        assert fed["layer1.0.sn2"] == ("layer1.0.sn1",), fed
        assert fed["layer1.1.sn1"] == ("layer1.0.sn2", "sn1"), fed
    assert all(st.gradient_steps > 0 for name, st in report.layer_stats.items()
               if name != "input"), explain(report)
    assert_clean(report)


@pytest.mark.parametrize("arch", ["sew_resnet18", "spiking_resnet18"])
def test_resnet18_block_whose_input_is_zeroed_from_epoch_2_died_then(arch):
    """The first IF node of layer3's first block gets zero current from epoch 2 on
    (a forward pre-hook, as if the conv before it had collapsed): layer_died at that
    node with epoch 2 leads; what dies with it names it; the shortcut keeps the
    blocks after it alive, so nothing there is flagged and no one is told to add
    skip connections."""
    model = resnet18(arch)
    epoch = {"now": 0}

    def zero_from_epoch_2(module, args):
        return (torch.zeros_like(args[0]),) if epoch["now"] >= 2 else None

    model.layer3[0].sn1.register_forward_pre_hook(zero_from_epoch_2)
    data = pixel_batches(t=4, b=4, n=3, size=32, channels=3)

    def batches(e: int):
        epoch["now"] = e
        return data(e)

    prof = SpikeProfiler()
    sj_train(prof, model, batches, epochs=4, mode="m", scale=1.0, lr=0.01)
    report = prof.report()
    lead = report.pathologies[0]
    assert (lead.category, lead.layer, lead.epoch, lead.cause) == (
        "layer_died", "layer3.0.sn1", 2, None), explain(report)
    assert "epoch 2" in lead.message and "epoch 1" in lead.suggestion, explain(report)
    for p in report.pathologies[1:]:
        assert p.cause is not None, explain(report)
    flagged = {p.layer for p in report.pathologies}
    assert not flagged & {"layer4.0.sn1", "layer4.1.sn2"}, explain(report)
    before = prof.report(epoch=1)
    assert not {c for c, _ in found(before)} & {"layer_died", "silent_network"}, explain(before)
    assert ("layer_died", "layer3.0.sn1") in found(prof.report(epoch=3)), explain(report)
    assert_fixes_are_sensible(report, analog_input=True)


# ------------------------------------------------------------ snnTorch tutorial nets
class ExplicitStateNet(nn.Module):
    """snnTorch tutorial 5: two Leaky layers, the membrane passed explicitly, the
    time loop inside forward; returns the output spikes and membrane, (T, B, 10)."""

    def __init__(self, n_in: int, n_hidden: int = 100, threshold: float = 1.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.lif1 = snn.Leaky(beta=0.9, threshold=threshold)
        self.fc2 = nn.Linear(n_hidden, 10)
        self.lif2 = snn.Leaky(beta=0.9, threshold=threshold)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        spikes, mems = [], []
        for step in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[step]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            spikes.append(spk2)
            mems.append(mem2)
        return torch.stack(spikes), torch.stack(mems)


class RecurrentNet(nn.Module):
    """snnTorch's recurrent neurons as their docstrings use them: an all-to-all
    RLeaky hidden layer and an RSynaptic output with one recurrent weight each."""

    def __init__(self, n_in: int, n_hidden: int = 64) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.rlif = snn.RLeaky(beta=0.9, linear_features=n_hidden)
        self.fc2 = nn.Linear(n_hidden, 10)
        self.rsyn = snn.RSynaptic(alpha=0.8, beta=0.9, all_to_all=False, V=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spk1, mem1 = self.rlif.init_rleaky()
        spk2, syn2, mem2 = self.rsyn.init_rsynaptic()
        out = []
        for step in range(x.shape[0]):
            spk1, mem1 = self.rlif(self.fc1(x[step]), spk1, mem1)
            spk2, syn2, mem2 = self.rsyn(self.fc2(spk1), spk2, syn2, mem2)
            out.append(spk2)
        return torch.stack(out)


def conv_init_hidden_net(threshold: float = 1.0, hidden_threshold: float | None = None):
    """snnTorch tutorial 7 for N-MNIST (2x34x34): conv-pool-Leaky twice, a linear
    readout Leaky with ``output=True``; the hidden state lives in the neurons."""
    grad = snn_surrogate.atan()
    second = threshold if hidden_threshold is None else hidden_threshold
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 12, 5), nn.MaxPool2d(2),
        snn.Leaky(beta=0.5, spike_grad=grad, init_hidden=True, threshold=threshold),
        nn.Conv2d(12, 32, 5), nn.MaxPool2d(2),
        snn.Leaky(beta=0.5, spike_grad=grad, init_hidden=True, threshold=second),
        nn.Flatten(), nn.Linear(32 * 5 * 5, 10),
        snn.Leaky(beta=0.5, spike_grad=grad, init_hidden=True, threshold=threshold,
                  output=True))
    for index, rate in ((0, 0.1), (3, 0.3), (7, 0.3)):  # the rates that reach them
        drive(net[index], rate, current=0.6, spread=0.2)
    return net


def snn_train(prof: SpikeProfiler, model: nn.Module, data, *, epochs: int = 1,
              lr: float = 5e-3, input: bool = True, per_step: bool = False) -> None:
    """Adam on snnTorch's rate cross-entropy over the output spikes; ``per_step``
    calls the model once per time step (init_hidden nets, reset between batches)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = snn_functional.ce_rate_loss()
    kwargs = {}
    if per_step:
        first_x, _ = next(iter(data(0)))
        if input:
            prof.declare_layer("input", neuron_axes=first_x.ndim - 2 + 1)
        kwargs["time_steps"] = first_x.shape[0]
    with prof.watch(model, input=input, gradients=True, **kwargs):
        for epoch in range(epochs):
            if epoch:
                prof.next_epoch()
            for x, y in data(epoch):
                if per_step:
                    snn_utils.reset(model)
                    spk = torch.stack([model(x[t])[0] for t in range(x.shape[0])])
                else:
                    out = model(x)
                    spk = out[0] if isinstance(out, tuple) else out
                loss = loss_fn(spk, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                prof.record_loss(loss, n_classes=10)


def digit_batches(encoding: str, t: int = 8, b: int = 8, n: int = 6):
    """784 inputs per step: real-valued pixels ('direct') or their rate code."""
    def batches(epoch: int):
        g = torch.Generator().manual_seed(200 + epoch)
        for _ in range(n):
            x = blobs(g, (t, b, 1, 28, 28)).flatten(2)
            if encoding == "rate":
                x = spikegen.rate(x[0], num_steps=t)
            yield x, torch.randint(0, 10, (b,), generator=g)
    return batches


def nmnist_batches(binarise: bool, t: int = 8, b: int = 4, n: int = 6, flat: bool = False):
    """N-MNIST-sized (2x34x34) tonic ToFrame frames of synthetic events."""
    def batches(epoch: int):
        rng = np.random.default_rng(300 + epoch)
        for _ in range(n):
            x = tonic_frames(rng, b, (34, 34), t, n_events=3000)
            x = (x > 0).float() if binarise else x
            yield (x.flatten(2) if flat else x), torch.randint(0, 10, (b,))
    return batches


@pytest.mark.parametrize("encoding", ["direct", "rate"])
def test_snntorch_explicit_state_net_is_clean_and_direct_pixels_are_not_counts(encoding):
    torch.manual_seed(0)
    model = ExplicitStateNet(784)
    drive(model.fc1, 0.5)
    drive(model.fc2, 0.3)
    prof = SpikeProfiler()
    snn_train(prof, model, digit_batches(encoding))
    report = prof.report()
    assert list(report.layer_stats) == ["input", "lif1", "lif2"], explain(report)
    assert report.layer_stats["lif2"].role == "output", explain(report)
    assert report.layer_stats["input"].is_binary == (encoding == "rate"), explain(report)
    assert_clean(report)


def test_snntorch_explicit_state_net_on_count_frames_with_a_low_threshold():
    """N-MNIST count frames (flattened) and threshold 0.05: count_valued_input at
    the input with the binarising fix; Leaky spikes are 0/1, so no non-binary
    finding; no overflow of the few counts per sample; saturation where true."""
    torch.manual_seed(0)
    model = ExplicitStateNet(2 * 34 * 34, threshold=0.05)
    drive(model.fc1, 0.13, current=1.0)  # 0.13: the frames' share of non-zero bins
    drive(model.fc2, 0.5)
    prof = SpikeProfiler()
    snn_train(prof, model, nmnist_batches(binarise=False, flat=True))
    report = prof.report()
    cats = found(report)
    assert ("count_valued_input", "input") in cats, explain(report)
    fix = next(p.suggestion for p in report.pathologies if p.category == "count_valued_input")
    assert "(x > 0).float()" in fix, explain(report)
    assert not {c for c, _ in cats} & {"non_binary_spikes", "output_overflow"}, explain(report)
    for name in ("lif1", "lif2"):
        rates = np.asarray(report.layer_stats[name].firing_rates)
        saturated = float(np.mean(rates > report.thresholds.saturated_rate)) > \
            report.thresholds.saturated_warning_fraction
        assert (("saturated_neurons", name) in cats) == saturated, (name, explain(report))
    assert ("saturated_neurons", "lif1") in cats, explain(report)
    assert_fixes_are_sensible(report, analog_input=False)


def test_snntorch_init_hidden_conv_net_per_step_is_clean():
    model = conv_init_hidden_net()
    prof = SpikeProfiler()
    snn_train(prof, model, nmnist_batches(binarise=True), per_step=True)
    report = prof.report()
    assert list(report.layer_stats) == ["input", "2", "5", "8"], explain(report)
    assert report.layer_stats["8"].role == "output", explain(report)
    assert_clean(report)


def test_snntorch_init_hidden_conv_net_with_a_threshold_too_high_in_the_middle():
    model = conv_init_hidden_net(hidden_threshold=100.0)
    prof = SpikeProfiler()
    snn_train(prof, model, nmnist_batches(binarise=True), per_step=True)
    report = prof.report()
    lead = report.pathologies[0]
    assert (lead.category, lead.layer, lead.cause) == ("silent_network", "5", None), \
        explain(report)
    assert found(report, "2") == [] or all(
        p.cause == "silent_network @ 5" for p in report.pathologies if p.layer == "2"), \
        explain(report)
    assert ("silent_network", "8") in found(report), explain(report)
    for p in report.pathologies[1:]:
        assert p.cause is not None, explain(report)
    assert_fixes_are_sensible(report, analog_input=False)


def test_snntorch_recurrent_neurons_are_watched_and_clean():
    torch.manual_seed(0)
    model = RecurrentNet(784)
    drive(model.fc1, 0.5)
    drive(model.fc2, 0.3)
    prof = SpikeProfiler()
    snn_train(prof, model, digit_batches("rate"))
    report = prof.report()
    assert list(report.layer_stats) == ["input", "rlif", "rsyn"], explain(report)
    assert_clean(report)


# ----------------------------------------------------- Norse stacks with LI readouts
N_IN, N_HIDDEN = 100, 64


def spike_batches(t: int = 16, b: int = 8, n: int = 6, rate: float = 0.2):
    """Poisson-like input spikes, (T, B, 100)."""
    def batches(epoch: int):
        g = torch.Generator().manual_seed(400 + epoch)
        for _ in range(n):
            yield ((torch.rand(t, b, N_IN, generator=g) < rate).float(),
                   torch.randint(0, 10, (b,), generator=g))
    return batches


def norse_train(prof: SpikeProfiler, model: nn.Module, data, *, epochs: int = 1,
                on_epoch: Callable[[int], None] | None = None) -> None:
    """Adam on cross-entropy of the readout's largest voltage over time."""
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    with prof.watch(model, input=True, gradients=True):
        for epoch in range(epochs):
            if epoch:
                prof.next_epoch()
            if on_epoch is not None:
                on_epoch(epoch)
            for x, y in data(epoch):
                out = model(x)
                voltages = out[0] if isinstance(out, tuple) else out
                loss = F.cross_entropy(voltages.max(0).values, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                prof.record_loss(loss, n_classes=10)


def feed_forward(cell: nn.Module, current: float) -> nn.Module:
    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(N_IN, N_HIDDEN), cell, nn.Linear(N_HIDDEN, 10),
                                norse.LI())
    drive(net[0], 0.2, current=current, spread=current / 3)
    return net


def recurrent(cell: nn.Module, current: float) -> nn.Module:
    torch.manual_seed(0)
    drive_weights(cell.input_weights, 0.2, current=current, spread=current / 3)
    with torch.no_grad():
        cell.recurrent_weights.mul_(0.3)
    return norse.SequentialState(cell, nn.Linear(N_HIDDEN, 10), norse.LI())


# (the current that makes each neuron model fire at sane rates: Izhikevich's
# membrane is in mV, its input in tens)
NORSE_STACKS = {
    "LIF": lambda: feed_forward(norse.LIF(), 1.0),
    "LSNN": lambda: feed_forward(norse.LSNN(), 3.0),
    "LIFAdEx": lambda: feed_forward(norse.LIFAdEx(), 1.0),
    "Izhikevich": lambda: feed_forward(norse.Izhikevich(norse.tonic_spiking), 30.0),
    "LIFRecurrent": lambda: recurrent(norse.LIFRecurrent(N_IN, N_HIDDEN), 1.0),
    "LSNNRecurrent": lambda: recurrent(norse.LSNNRecurrent(N_IN, N_HIDDEN), 3.0),
}


@pytest.mark.parametrize("kind", list(NORSE_STACKS))
def test_norse_stack_before_an_li_readout_is_clean(kind):
    """The spiking layer is hidden (its spikes never reach the loss: the LI readout
    integrates them), the readout is skipped, never called non-binary: clean."""
    torch.manual_seed(0)
    model = NORSE_STACKS[kind]()
    spiking = "0" if "Recurrent" in kind else "1"
    prof = SpikeProfiler()
    norse_train(prof, model, spike_batches())
    report = prof.report()
    assert list(report.layer_stats) == ["input", spiking], explain(report)
    st = report.layer_stats[spiking]
    assert st.role == "hidden" and 0.02 < float(st.firing_rates.mean()) < 0.8, explain(report)
    assert st.gradient_steps > 0, explain(report)
    assert_clean(report)


def two_lif_stack(v_th: float = 1.0) -> nn.Module:
    torch.manual_seed(0)
    net = norse.SequentialState(
        nn.Linear(N_IN, N_HIDDEN), norse.LIF(p=norse.LIFParameters(v_th=torch.tensor(v_th))),
        nn.Linear(N_HIDDEN, N_HIDDEN), norse.LIF(), nn.Linear(N_HIDDEN, 10), norse.LI())
    drive(net[0], 0.2, current=1.0, spread=0.3)
    drive(net[2], 0.25, current=1.0, spread=0.3)
    return net


def test_norse_two_lif_stack_is_clean():
    prof = SpikeProfiler()
    norse_train(prof, two_lif_stack(), spike_batches())
    assert_clean(prof.report())


def test_norse_first_lif_with_a_threshold_too_high_leads_the_silence_behind_it():
    prof = SpikeProfiler()
    norse_train(prof, two_lif_stack(v_th=100.0), spike_batches())
    report = prof.report()
    lead = report.pathologies[0]
    assert (lead.category, lead.layer, lead.cause) == ("silent_network", "1", None), \
        explain(report)
    assert ("silent_network", "3") in found(report), explain(report)
    for p in report.pathologies[1:]:
        assert p.cause is not None, explain(report)
    assert found(report, "input") == [], explain(report)
    assert_fixes_are_sensible(report, analog_input=False)


def test_norse_lif_whose_input_is_zeroed_from_epoch_2_died_then():
    model = two_lif_stack()
    epoch = {"now": 0}

    def zero_from_epoch_2(module, args):
        if epoch["now"] < 2:
            return None
        return (torch.zeros_like(args[0]), *args[1:])

    model[3].register_forward_pre_hook(zero_from_epoch_2)
    prof = SpikeProfiler()
    norse_train(prof, model, spike_batches(n=3), epochs=4,
                on_epoch=lambda e: epoch.update(now=e))
    report = prof.report()
    lead = report.pathologies[0]
    assert (lead.category, lead.layer, lead.epoch, lead.cause) == (
        "layer_died", "3", 2, None), explain(report)
    assert found(report, "1") == [], explain(report)
    for p in report.pathologies[1:]:
        assert p.cause is not None, explain(report)
    assert "layer_died" not in {c for c, _ in found(prof.report(epoch=1))}
    assert_fixes_are_sensible(report, analog_input=False)


class LIFConvNet(nn.Module):
    """Norse's MNIST task model (norse.task.mnist, which needs torchvision to
    import): pixels as constant currents into a LIF encoder, then ``ConvNet4``,
    the largest readout voltage over time as log-probabilities."""

    def __init__(self, seq_length: int, input_scale: float = 1.0) -> None:
        super().__init__()
        from norse.torch.models.conv import ConvNet4
        self.constant_current_encoder = norse.ConstantCurrentLIFEncoder(seq_length)
        self.rsnn = ConvNet4()
        self.seq_length, self.input_scale = seq_length, input_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        spikes = self.constant_current_encoder(x.reshape(batch, 784) * self.input_scale)
        voltages = self.rsnn(spikes.reshape(self.seq_length, batch, 1, 28, 28))
        return F.log_softmax(voltages.max(0).values, dim=1)


def normalised_digits(b: int = 4, n: int = 4):
    """MNIST-normalised pixels ((x - 0.1307) / 0.3081), (B, 1, 28, 28)."""
    def batches(epoch: int):
        g = torch.Generator().manual_seed(500 + epoch)
        for _ in range(n):
            x = blobs(g, (1, b, 1, 28, 28))[0]
            yield (x - 0.1307) / 0.3081, torch.randint(0, 10, (b,), generator=g)
    return batches


def lif_conv_net_run(driven: bool):
    """Four Adam steps of LIFConvNet (T=16, input scale 3) on normalised digits;
    ``driven``: conv and linear weights set so each LIF layer gets a sane current
    (the encoder fires at ~0.3, ConvNet4 multiplies conv2's output by 10)."""
    torch.manual_seed(0)
    model = LIFConvNet(seq_length=16, input_scale=3.0)
    if driven:
        drive(model.rsnn.conv1, 0.3, current=1.0, spread=0.3)
        drive(model.rsnn.conv2, 0.5, current=0.1, spread=0.03)
        drive(model.rsnn.fc1, 0.5, current=1.0, spread=0.3)
    prof = SpikeProfiler()
    prof.declare_layer("input", neuron_axes=3)  # (batch, 1, 28, 28) pixels, no time axis
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    with prof.watch(model, input=True, gradients=True) as handle:
        for x, y in normalised_digits()(0):
            loss = F.nll_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            prof.record_loss(loss, n_classes=10)
    return prof.report(), handle


def test_norse_lif_conv_net_from_the_mnist_task_is_clean_when_driven():
    """ConvNet4's LIF cells are watched per step inside its time loop, its
    LILinearCell readout is skipped, the layer before it is hidden; normalised
    pixels (real-valued, negative too) are not counts: no finding."""
    report, handle = lif_conv_net_run(driven=True)
    assert list(report.layer_stats) == ["input", "rsnn.lif0", "rsnn.lif1", "rsnn.lif2"], \
        explain(report)
    assert "rsnn.out" in handle.skipped, explain(report)
    assert report.layer_stats["rsnn.lif2"].role == "hidden", explain(report)
    assert all(report.layer_stats[n].gradient_steps > 0
               for n in ("rsnn.lif0", "rsnn.lif1", "rsnn.lif2")), explain(report)
    assert_clean(report)


def test_norse_conv_net4_at_default_init_names_its_dead_layers():
    """PyTorch's zero-mean init under ConvNet4: most lif0 and lif2 neurons never
    fire (true). Each is named with the fix to lower the threshold or raise the
    gain; the analog input is left alone."""
    report, _ = lif_conv_net_run(driven=False)
    dead = {p.layer for p in report.pathologies
            if p.category == "dead_neurons" and p.severity is Severity.CRITICAL}
    assert {"rsnn.lif0", "rsnn.lif2"} <= dead, explain(report)
    lead = report.pathologies[0]
    assert lead.layer == "rsnn.lif0" and "threshold" in lead.suggestion, explain(report)
    assert found(report, "input") == [], explain(report)
    assert_fixes_are_sensible(report, analog_input=True)


def test_summary_of_analog_input_does_not_point_at_a_missing_non_binary_finding():
    report, _ = lif_conv_net_run(driven=True)
    assert "non_binary_spikes" not in {c for c, _ in found(report)}
    line = next(x for x in report.summary().splitlines() if x.strip().startswith("input"))
    assert "non_binary_spikes" not in line and "sat=" not in line, line
    assert "analog values (direct encoding)" in line, line


# ------------------------------------------------ tonic's transforms, into a real model
SMALL = (17, 17, 2)  # N-MNIST's 34x34 sensor, downsampled by 2


def tonic_pipeline(last: str) -> Callable[[np.ndarray], np.ndarray]:
    """Denoise and Downsample as tonic's tutorials chain them, then a representation:
    count frames, binarised frames, a signed voxel grid or time surfaces in [0, 1)."""
    steps = [tonic_transforms.Denoise(filter_time=10_000),
             tonic_transforms.Downsample(spatial_factor=0.5)]
    if last in ("frames", "binary_frames"):
        steps.append(tonic_transforms.ToFrame(sensor_size=SMALL, n_time_bins=8))
    elif last == "voxel_grid":
        steps.append(tonic_transforms.ToVoxelGrid(sensor_size=SMALL, n_time_bins=8))
    else:
        steps.append(tonic_transforms.ToTimesurface(sensor_size=SMALL, dt=12_500, tau=10_000))
    pipeline = tonic_transforms.Compose(steps)
    if last == "binary_frames":
        return lambda ev: (pipeline(ev) > 0).astype(np.float32)
    return lambda ev: pipeline(ev).astype(np.float32)


@pytest.mark.parametrize("last", ["frames", "binary_frames", "voxel_grid", "time_surface"])
def test_tonic_representations_into_a_spikingjelly_net(last):
    """Only ToFrame's whole counts are named (at 'input', with the binarising fix);
    binarised frames, a signed voxel grid and time surfaces are legitimate."""
    transform = tonic_pipeline(last)
    rng = np.random.default_rng(11)
    x = torch.from_numpy(np.stack([transform(synthetic_events(rng, 6000, (34, 34)))
                                   for _ in range(4)], axis=1))  # (T, 4, C, 17, 17)
    assert x.ndim == 5 and x.shape[1] == 4 and x.shape[-2:] == (17, 17), x.shape
    torch.manual_seed(0)
    model = nn.Sequential(layer.Flatten(), layer.Linear(x[0, 0].numel(), 32),
                          neuron.LIFNode(surrogate_function=surrogate.ATan()),
                          layer.Linear(32, 10), neuron.LIFNode(surrogate_function=surrogate.ATan()))
    functional.set_step_mode(model, "m")
    prof = SpikeProfiler()
    with prof.watch(model, input=True):
        for _ in range(3):
            model(x)
            functional.reset_net(model)
    report = prof.report()
    counts = [p for p in report.pathologies if p.category == "count_valued_input"]
    if last == "frames":
        assert [p.layer for p in counts] == ["input"], explain(report)
        assert "(x > 0).float()" in counts[0].suggestion
    else:
        assert counts == [], explain(report)
        assert_fixes_are_sensible(report, analog_input=True)
    if last == "voxel_grid":
        assert float(x.min()) < 0, "a voxel grid is signed"
