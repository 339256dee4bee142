"""Further failures users reported on the trackers (SpikingJelly, Norse), reproduced in
small real models on data made here, as :mod:`test_reported_failures` does (its helpers
are reused): the broken model's report names the class of failure where it starts,
with a fix that applies; the model with the fix gets no false alarm. The docstrings
cite the threads (facts only). Small models: T = 8 to 32, batches of 16, at most 3
epochs of 8 steps.
"""

from __future__ import annotations

from collections.abc import Callable

import norse.torch as norse
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional, layer, neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from spikewidget import SpikeProfiler

from .test_reported_failures import bars, explain, finding, rate_code, roots, train
from .test_reported_failures_2 import eight_bars, readout

torch.set_num_threads(1)


def critical(report) -> list[tuple[str, str]]:
    return [(p.category, p.layer) for p in report.pathologies
            if p.severity.value == "critical"]


# ------------- 1. SpikingJelly #559: a net that trains, whose spikes die in eval mode
def bn_net() -> nn.Sequential:
    """SpikingJelly's multi-step MLP with batch norm before each hidden LIF (tau 2,
    ATan), 256 -> 96 -> 64 -> 8, read as firing rates into a cross-entropy."""
    torch.manual_seed(0)

    def lif() -> neuron.LIFNode:
        return neuron.LIFNode(tau=2.0, surrogate_function=sj_surrogate.ATan(),
                              store_v_seq=True)
    net = nn.Sequential(layer.Linear(256, 96), layer.BatchNorm1d(96), lif(),
                        layer.Linear(96, 64), layer.BatchNorm1d(64), lif(),
                        layer.Linear(64, 8), lif())
    functional.set_step_mode(net, "m")
    return net


def batch(g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    img, y = bars(g, 16, 8)
    return rate_code(g, img.flatten(1), 8), y


def recalibrate(net: nn.Module, g: torch.Generator, batches: int = 4) -> None:
    """The offered fix: recompute every batch norm's running statistics from a few
    training batches in train mode under ``torch.no_grad()`` (a plain average:
    ``momentum=None``), resetting the neurons after each."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    net.train()
    with torch.no_grad():
        for _ in range(batches):
            net(batch(g)[0])
            functional.reset_net(net)
    for bn in bns:
        bn.momentum = 0.1


def train_and_validate(net: nn.Module, before_validation: Callable[[torch.Generator], None]
                       | None = None) -> tuple[SpikeProfiler, float]:
    """Adam for 3 epochs of 8 batches, each epoch followed by 4 validation batches in
    eval mode under ``torch.no_grad()`` (recorded by the same watch, as phase "eval",
    the validation loss with it); returns the profiler and the last validation
    accuracy."""
    prof = SpikeProfiler()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    with prof.watch(net, input=True, gradients=True):
        for epoch in range(3):
            if epoch:
                prof.next_epoch()
            g = torch.Generator().manual_seed(epoch)
            net.train()
            for _ in range(8):
                x, y = batch(g)
                loss = F.cross_entropy(10 * net(x).mean(0), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                functional.reset_net(net)
                prof.record_loss(loss, n_classes=8)
            if before_validation is not None:
                before_validation(g)
            net.eval()
            hits = 0
            with torch.no_grad():
                for _ in range(4):
                    x, y = batch(g)
                    out = net(x).mean(0)
                    functional.reset_net(net)
                    hits += int((out.argmax(1) == y).sum())
                    prof.phase("eval").record_loss(F.cross_entropy(10 * out, y),
                                                   n_classes=8)
    return prof, hits / 64


def test_spikes_that_die_in_eval_mode_are_named_where_eval_departs_from_training():
    """SpikingJelly #559 (https://github.com/fangwei123456/spikingjelly/issues/559): a
    multi-step LIF net learned in training mode, but after ``net.eval()`` its accuracy
    was very low (good without ``eval()``), with ``reset_net`` after every batch; the
    thread has no answer. One way there: batch norm before the LIF layers, whose
    running variance, started at 1, still lags the small variance of the batches (3
    epochs of 8 steps), so that in eval mode the LIF layers get a fraction of the
    drive. The eval report used to call the second hidden layer dead and say "lower
    the firing threshold", which would change training too. It must name the first
    layer that fires far less in eval mode than in training while its input does not,
    with the batch norm's running statistics as the fix, and the dead layers after it following
    from it; the training report stays clean. With the running statistics recomputed
    before validating, the eval report has none of it and the accuracy recovers."""
    prof, accuracy = train_and_validate(bn_net())
    ev = prof.report(phase="eval")
    # in the last epoch '2' fires 3.5x less, '5' (after the second batch norm) 12x less
    shift = finding(ev, "eval_mode_shift", "5")
    assert shift.severity.value == "critical" and shift.metric_value > 4, explain(ev)
    assert "epoch 2" in shift.message and "'2', which feeds it, changes" in shift.message
    assert "running_var" in shift.suggestion and "Not the threshold" in shift.suggestion
    assert roots(ev)[0] == ("eval_mode_shift", "5"), explain(ev)
    assert prof.report(phase="eval", epoch=0).pathologies[0].layer == "2"  # '2' at first
    for name in ("5", "7"):
        assert finding(ev, "dead_neurons", name).cause == "eval_mode_shift @ 5", explain(ev)
    assert not [p for p in ev.pathologies if p.cause is None
                and "Lower the firing threshold" in p.suggestion], explain(ev)
    assert critical(prof.report()) == [], explain(prof.report())
    assert accuracy < 0.25

    net = bn_net()
    prof, fixed_accuracy = train_and_validate(net, lambda g: recalibrate(net, g))
    ev = prof.report(phase="eval")
    assert not [p for p in ev.pathologies if p.category == "eval_mode_shift"], explain(ev)
    assert critical(ev) == [], explain(ev)
    assert fixed_accuracy > accuracy + 0.2, (accuracy, fixed_accuracy)


# --------- 2. Norse #325: each LIF layer starts firing steps after the one before it
def norse_stack(weight_scale: float, *, depth: int = 4, record: bool = True
                ) -> norse.SequentialState:
    """``depth`` Linear-LIF layers of Norse (default parameters: dt 1 ms, tau_mem 10 ms,
    so a membrane moves a tenth of the way to its input per step), 256 -> 64 -> ... ->
    8 into an LI readout; ``weight_scale`` multiplies PyTorch's default init;
    ``record``: the LIFs' ``record_states`` (their voltages watched)."""
    torch.manual_seed(0)
    mods: list[nn.Module] = [nn.Linear(256, 64), norse.LIF(record_states=record)]
    for _ in range(depth - 1):
        mods += [nn.Linear(64, 64), norse.LIF(record_states=record)]
    net = norse.SequentialState(*mods, nn.Linear(64, 8), norse.LI())
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(weight_scale)
    return net


def onsets(net: norse.SequentialState, t: int) -> list[int]:
    """Per LIF layer, the first time step at which any of its neurons fires (t: never)
    on one batch."""
    x, _ = eight_bars(t)(torch.Generator().manual_seed(9))
    out = []
    with torch.no_grad():
        for m in net:
            x = m(x)
            x = x[0] if isinstance(x, tuple) else x
            if isinstance(m, norse.LIF):
                steps = torch.nonzero(x.sum((1, 2)))
                out.append(int(steps[0]) if len(steps) else t)
    return out


def test_a_deep_norse_stack_starting_late_over_short_sequences_gets_a_fix_that_applies():
    """Norse #325 (https://github.com/norse/norse/issues/325, from discussion #318): in a
    stack of LIF layers each layer began to fire only time steps after the one before
    (then one step from the input current's integration order, changed by PR #326; and
    the membrane needs steps to charge at dt / tau_mem = 0.1), so a net of 5 LIF layers
    needs 6 steps or more before any output. Four layers over 8 steps: each starts
    about 2 steps after the one before and the last never fires. The report calls it
    a rate that fades with depth, the one root, and its fix (scale up the weights, or
    normalise) is one that applies: the deep layers' own thresholds are not blamed.
    With the weights scaled up as it says the net trains; with 32 steps as well. (What
    is not measured: when in the sequence each layer first fires.)"""
    net = norse_stack(8.0)
    assert onsets(net, 8) == [2, 4, 7, 8]  # the lag, layer after layer
    broken = train(net, eight_bars(8), readout(net), F.cross_entropy, 8).report()
    fade = finding(broken, "rate_fades_with_depth", "5")
    assert fade.severity.value == "critical" and fade.cause is None, explain(broken)
    assert "scale up the weight initialisation" in fade.suggestion, explain(broken)
    for p in broken.pathologies:
        if p.layer in ("5", "7") and p is not fade:
            assert p.cause == "rate_fades_with_depth @ 5", explain(broken)

    for scale, t in ((16.0, 8), (8.0, 32)):
        net = norse_stack(scale)
        fixed = train(net, eight_bars(t), readout(net), F.cross_entropy, 8).report()
        assert critical(fixed) == [], explain(fixed)
        assert fixed.loss.last < 1.5, explain(fixed)


# ------- 3. Norse without record_states: no voltage fact it did not measure is claimed
def norse_negative(record: bool) -> norse.SequentialState:
    """Norse Linear-LIF-Linear-LIF-Linear-LI, weights scaled 8x, the second Linear's
    weights all negative and its bias -0.5: the second LIF gets no positive current."""
    net = norse_stack(8.0, depth=2, record=record)
    with torch.no_grad():
        net[2].weight.copy_(-net[2].weight.abs())
        net[2].bias.fill_(-0.5)
    return net


def test_norse_without_record_states_does_not_offer_a_fix_that_needs_the_membrane():
    """Norse's ``LIF`` returns its state only with ``record_states=True`` (the Norse
    #180 test records them); without it the watch sees spikes only. A layer whose
    current is negative stays silent: with its voltages the report says a lower
    threshold will not help (the membrane never rose); without them it used to say
    "lower this layer's firing threshold or raise the weight scale into it", both
    useless here (scaling negative weights up drives it further down). It must now
    say the membrane was not recorded, how to record it, and what either outcome
    means, and no finding may speak of a membrane or voltage it did not see."""
    net = norse_negative(record=True)
    seen = train(net, eight_bars(16), readout(net), F.cross_entropy, 8).report()
    assert finding(seen, "silent_network", "3").suggestion.startswith(
        "A lower threshold will not help"), explain(seen)

    net = norse_negative(record=False)
    blind = train(net, eight_bars(16), readout(net), F.cross_entropy, 8).report()
    silent = finding(blind, "silent_network", "3")
    assert silent.cause is None and silent.epoch == 0, explain(blind)
    assert "membrane potential was not recorded" in silent.suggestion, explain(blind)
    assert "record_states=True" in silent.suggestion, explain(blind)
    assert "if it never rises" in silent.suggestion, explain(blind)
    assert all(not st.has_voltages for st in blind.layer_stats.values())
    for p in blind.pathologies:
        assert "peaked" not in p.message and "voltage" not in p.message.lower(), p
        assert not p.category.startswith("voltage_"), p
    assert "V=" not in blind.summary(), blind.summary()
