"""More failures users reported on the trackers (snnTorch, SpikingJelly, Norse and a
paper's reference code), each reproduced in a small real model on data made here and
trained a few steps under ``SpikeProfiler().watch(model, gradients=True, input=True)``
with ``record_loss``, as :mod:`test_reported_failures` does (its helpers are reused).

Each test: the broken model's report names the class of failure at the layer where it
starts, from the epoch it starts, with a fix that applies; the model with the fix the
thread arrived at no longer carries that finding. The docstrings cite the threads
(facts only). Small models: T = 8 to 16, batches of 16, at most 4 epochs of 8 steps.
"""

from __future__ import annotations

import norse.torch as norse
import torch
import torch.nn.functional as F
from snntorch import functional as snn_functional
from snntorch import surrogate as snn_surrogate
from spikingjelly.activation_based import functional, layer, neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from .test_reported_failures import (
    TwoLeaky,
    bars,
    explain,
    finding,
    rate_code,
    roots,
    set_weights,
    train,
)

torch.set_num_threads(1)


def eight_bars(t: int):
    """Rate-coded bars over ``t`` steps, ``(t, 16, 256)``, and labels of 8 classes."""
    def batches(g: torch.Generator):
        img, y = bars(g, 16, 8)
        return rate_code(g, img.flatten(1), t), y
    return batches


def rate_mse8(fr: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(fr, F.one_hot(y, 8).float())


def critical(report) -> list[tuple[str, str]]:
    return [(p.category, p.layer) for p in report.pathologies
            if p.severity.value == "critical"]


# -------------------- 1. a learning rate too high: a layer that trained dies mid-run
def sj_net() -> nn.Sequential:
    """SpikingJelly's multi-step MLP (LIF tau 2, ATan), 256 -> 64 -> 8, read as firing
    rates with an MSE loss."""
    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Linear(256, 64), neuron.LIFNode(tau=2.0, surrogate_function=sj_surrogate.ATan()),
        layer.Linear(64, 8), neuron.LIFNode(tau=2.0, surrogate_function=sj_surrogate.ATan()))
    functional.set_step_mode(net, "m")
    g = torch.Generator().manual_seed(4)
    set_weights(net[0], g, 0.02, 0.2, bias=0.3)
    set_weights(net[2], g, 0.05, 0.3)
    return net


def test_a_layer_killed_by_a_too_high_learning_rate_is_named_from_the_epoch_it_died():
    """SpikingJelly #253 (https://github.com/fangwei123456/spikingjelly/issues/253): a
    net that trained normally for eight epochs dropped from 99 % to chance accuracy in
    the ninth, because the input to a neuron layer became 0; the maintainer's advice
    was to monitor every layer's input and output. The thread does not say what
    changed; a learning rate too high is one way there: Adam at 0.5 drives the output
    layer's membranes far below rest after the first epoch. The
    report must say the output layer was alive in epoch 0 and died in epoch 1, and
    point at what changed then (the learning rate, gradient spikes), not at its
    threshold; at a learning rate of 1e-3 the same net reports nothing."""
    net = sj_net()
    prof = train(net, eight_bars(8), lambda x: net(x).mean(0), rate_mse8, 8, epochs=4,
                 lr=0.5, after_step=lambda: functional.reset_net(net))
    broken = prof.report()
    died = finding(broken, "layer_died", "3")
    assert died.cause is None and died.epoch == 1, explain(broken)
    assert "lower learning rate" in died.suggestion, explain(broken)
    assert "threshold" not in died.suggestion, explain(broken)
    assert prof.report(epoch=0).pathologies == [], explain(prof.report(epoch=0))

    net = sj_net()
    fixed = train(net, eight_bars(8), lambda x: net(x).mean(0), rate_mse8, 8, epochs=4,
                  lr=1e-3, after_step=lambda: functional.reset_net(net)).report()
    assert fixed.pathologies == [], explain(fixed)


# ------------ 2. a firing threshold too high for the drive: the first layer never fires
def deep_net(threshold: float) -> nn.Sequential:
    """Three SpikingJelly LIF layers (tau 2, ATan) of the given threshold, 256 -> 96 ->
    96 -> 8, PyTorch's default initialisation, read as rates into a cross-entropy."""
    torch.manual_seed(0)

    def node() -> neuron.LIFNode:
        return neuron.LIFNode(tau=2.0, v_threshold=threshold,
                              surrogate_function=sj_surrogate.ATan(), store_v_seq=True)
    net = nn.Sequential(layer.Linear(256, 96), node(), layer.Linear(96, 96), node(),
                        layer.Linear(96, 8), node())
    functional.set_step_mode(net, "m")
    return net


def rate_ce(fr: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(10 * fr, y)


def test_a_threshold_too_high_names_the_first_layer_as_the_one_root():
    """STBP-for-training-SpikingNN #6 (https://github.com/yjwu17/STBP-for-training-SpikingNN/
    issues/6): the CIFAR-10 code's loss stayed unchanged at low accuracy; a user fixed
    it by setting the firing threshold much lower (around 0.25), the neurons having
    died early (asking whether 0.75 was a good choice). With thresholds of 0.75 and
    PyTorch's default weights almost all of the
    first layer never fires, so nothing after it can. The report must name that first
    layer as the one root, told to lower its threshold, with every later silent or
    dead layer, the starved gradients and the loss at chance following from it (their
    own fixes would mislead: the later layers' membranes stay short because nothing
    reaches them); at 0.25 the net trains (the loss falls far below ln 8) and nothing
    critical remains."""
    net = deep_net(0.75)
    broken = train(net, eight_bars(8), lambda x: net(x).mean(0), rate_ce, 8,
                   after_step=lambda: functional.reset_net(net)).report()
    dead = finding(broken, "dead_neurons", "1")
    assert dead.severity.value == "critical" and dead.epoch == 0, explain(broken)
    assert roots(broken) == [("dead_neurons", "1")], explain(broken)
    assert dead.suggestion.startswith("Lower the firing threshold"), explain(broken)
    for later in ("3", "5"):
        assert finding(broken, "silent_network", later).cause == "dead_neurons @ 1"
    chance = finding(broken, "loss_at_chance", "loss")
    assert chance.cause == "dead_neurons @ 1", explain(broken)

    net = deep_net(0.25)
    fixed = train(net, eight_bars(8), lambda x: net(x).mean(0), rate_ce, 8,
                  after_step=lambda: functional.reset_net(net)).report()
    assert critical(fixed) == [], explain(fixed)  # a few dead neurons deeper: a warning
    assert not [p for p in fixed.pathologies if p.layer == "1" or p.layer == "loss"], \
        explain(fixed)
    assert fixed.loss.last < 0.5, explain(fixed)


# ------------ 3. Norse, default initialisation: too little current for dt / tau_mem
def norse_net(weight_scale: float) -> norse.SequentialState:
    """Norse's Linear-LIF-Linear-LI (default parameters: dt 1 ms, tau_mem 10 ms, tau_syn
    5 ms, threshold 1), the LIF's states recorded so that its voltages are watched;
    ``weight_scale`` multiplies PyTorch's default initialisation."""
    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(256, 64), norse.LIF(record_states=True),
                                nn.Linear(64, 8), norse.LI())
    with torch.no_grad():
        net[0].weight.mul_(weight_scale)
        net[2].weight.mul_(weight_scale)
    return net


def readout(net: norse.SequentialState):
    def forward(x: torch.Tensor) -> torch.Tensor:
        voltages, _ = net(x)
        return voltages.max(0)[0]  # the LI readout's peak voltage per class
    return forward


def test_norse_layer_left_dead_by_default_weights_is_told_to_scale_them():
    """Norse #180 (https://github.com/norse/norse/issues/180): a Norse LIF's largest
    membrane response to a spike depends on its membrane and synapse time constants,
    so weights initialised without that factor give LIF layers too little drive; the
    maintainers proposed scaling the initial weights by it. With PyTorch's default
    ``nn.Linear`` init most of the hidden layer barely fires. The report must call that
    layer critically dead and say to raise the weight scale or lower the threshold
    (the LI readout is not a spiking layer and is not judged); with the weights scaled
    up 8x the report is clean."""
    net = norse_net(1.0)
    broken = train(net, eight_bars(16), readout(net), F.cross_entropy, 8).report()
    dead = finding(broken, "dead_neurons", "1")
    assert dead.severity.value == "critical" and dead.cause is None, explain(broken)
    assert dead.epoch == 0 and "weight scale" in dead.suggestion, explain(broken)
    assert "3" not in broken.layer_stats, explain(broken)

    net = norse_net(8.0)
    fixed = train(net, eight_bars(16), readout(net), F.cross_entropy, 8).report()
    assert fixed.pathologies == [], explain(fixed)


# ---------- 4. snnTorch's Heaviside "surrogate": no gradient reaches a silent neuron
def heaviside_net(grad) -> TwoLeaky:
    """Tutorial 5's two Leaky layers with the given ``spike_grad``; the hidden layer's
    weights start slightly negative, so that most of its neurons are silent at first."""
    torch.manual_seed(0)
    net = TwoLeaky(256, 64, 8, spike_grad=grad)
    g = torch.Generator().manual_seed(1)
    set_weights(net.fc1, g, -0.01, 0.05)
    set_weights(net.fc2, g, 0.05, 0.3, bias=0.5)
    return net


def test_heaviside_spike_gradient_is_named_as_the_reason_the_dead_layer_cannot_wake():
    """snnTorch #33 (https://github.com/jeshraghian/snntorch/issues/33): a network built
    as the early tutorials did, without ``spike_grad``, learned nothing; the default was
    then ``Heaviside`` (PR #239, https://github.com/jeshraghian/snntorch/pull/239: it
    is ATan now), whose backward passes a gradient only to neurons that fired, so a
    silent neuron can never learn to fire. With ``surrogate.heaviside()`` the hidden
    layer stays dead and the loss at ln 8. The report used to say only "lower the
    threshold or raise the gain" for the dead layer, which leaves the trap in place: it
    must also say that this layer's spike function passes no gradient to its silent
    neurons and to use a surrogate such as atan (``gradient_blocked``, with the measured
    share), the one root the dead layer and the chance loss follow from; with
    ``surrogate.atan()`` the same net wakes, and the report holds neither
    that, nor anything critical, nor the loss at chance."""
    lf = snn_functional.ce_rate_loss()
    net = heaviside_net(snn_surrogate.heaviside())
    broken = train(net, eight_bars(10), net, lf, 8).report()
    blocked = finding(broken, "gradient_blocked", "lif1")
    assert blocked.cause is None and blocked.epoch == 0, explain(broken)
    assert blocked.metric_value > 0.8, explain(broken)
    assert "surrogate.atan()" in blocked.suggestion, explain(broken)
    assert "heaviside" in blocked.suggestion, explain(broken)
    # the dead neurons, and the loss at chance behind them, follow from it: one fix
    dead = finding(broken, "dead_neurons", "lif1")
    assert dead.severity.value == "critical", explain(broken)
    assert dead.cause == "gradient_blocked @ lif1", explain(broken)
    chance = finding(broken, "loss_at_chance", "loss")
    assert chance.cause == "gradient_blocked @ lif1", explain(broken)
    assert broken.pathologies[0] is blocked, explain(broken)
    # the output layer fires: its gradient passes, whatever its spike function
    assert not [p for p in broken.pathologies if p.layer == "lif2"], explain(broken)

    net = heaviside_net(snn_surrogate.atan())
    fixed = train(net, eight_bars(10), net, lf, 8).report()
    assert fixed.layer_stats["lif1"].gradient_blocked_fraction == 0.0, explain(fixed)
    assert critical(fixed) == [], explain(fixed)
    assert not [p for p in fixed.pathologies if p.category == "loss_at_chance"], \
        explain(fixed)
