"""A spike function that passes no gradient where a neuron does not fire (a Heaviside
step in place of a surrogate) is measured by ``watch(gradients=True)``: per record, of
the neurons whose spikes got a gradient, those that did not fire and whose input got
none. ``gradient_blocked`` names a layer mostly made of them; a surrogate that is
non-zero everywhere (atan) measures 0, and so does a neuron that fires far from a
narrow surrogate's window (it fires: it is not stuck).
"""

from __future__ import annotations

import numpy as np
import pytest
import snntorch as snn
import torch
from snntorch import surrogate as snn_surrogate
from spikingjelly.activation_based import functional, neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from spikewidget import SpikeProfiler
from spikewidget.core.errors import InvalidInputError

torch.set_num_threads(1)
T, B, N_IN, N = 12, 8, 32, 16


def spikes_in(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, N_IN, generator=g) < 0.3).float()


def quiet_linear(seed: int = 1) -> nn.Linear:
    """Drive that keeps three quarters of the N neurons below a threshold of 1."""
    fc = nn.Linear(N_IN, N)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        fc.weight.copy_(0.05 * torch.randn(N, N_IN, generator=g))
        fc.bias.fill_(-1.0)  # these never reach the threshold
        fc.bias[: N // 4] = 2.0  # these fire at every step
    return fc


def sj_net(surrogate) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(quiet_linear(), neuron.IFNode(surrogate_function=surrogate),
                        nn.Linear(N, 4), neuron.IFNode(surrogate_function=sj_surrogate.ATan()))
    functional.set_step_mode(net, "m")
    with torch.no_grad():
        net[2].bias.fill_(2.0)  # the output fires: its input always gets a gradient
    return net


def run_sj(surrogate, steps: int = 3) -> SpikeProfiler:
    net = sj_net(surrogate)
    prof = SpikeProfiler()
    with prof.watch(net, gradients=True):
        for k in range(steps):
            net(spikes_in(k)).sum().backward()
            functional.reset_net(net)
    return prof


@pytest.mark.parametrize(("surrogate", "blocked"), [
    (snn_surrogate.heaviside(), True),  # any callable of v - v_th is a surrogate here
    (sj_surrogate.ATan(), False),
])
def test_a_multi_step_layer_measures_neurons_that_get_no_gradient(surrogate, blocked):
    report = run_sj(surrogate).report()
    hidden = report.layer_stats["1"]
    assert hidden.gradient_checked == 3 * N
    if blocked:  # the quarter that fires gets its gradient; the rest none
        assert hidden.gradient_blocked_fraction == pytest.approx(0.75)
    else:
        assert hidden.gradient_blocked_fraction == 0.0
    assert report.layer_stats["3"].gradient_blocked_fraction == 0.0
    found = [(p.category, p.layer) for p in report.pathologies
             if p.category == "gradient_blocked"]
    assert found == ([("gradient_blocked", "1")] if blocked else [])


def test_a_neuron_that_fires_outside_a_narrow_surrogate_is_not_counted():
    """SpikingJelly's ``Rect`` is 0 far from the threshold on both sides: the neurons
    driven far above it get no gradient at their input either, but they fire."""
    net = sj_net(sj_surrogate.Rect(alpha=1.0))
    with torch.no_grad():
        net[0].bias.fill_(5.0)  # every neuron far above the threshold at every step
    prof = SpikeProfiler()
    with prof.watch(net, gradients=True):
        net(spikes_in()).sum().backward()
    assert prof.report().layer_stats["1"].gradient_blocked_fraction == 0.0


def per_step_net(grad) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(quiet_linear(), snn.Leaky(beta=0.9, spike_grad=grad, init_hidden=True),
                         nn.Linear(N, 4), snn.Leaky(beta=0.9, init_hidden=True, output=True))


@pytest.mark.parametrize(("grad", "blocked"), [(snn_surrogate.heaviside(), True),
                                               (snn_surrogate.atan(), False)])
def test_a_per_step_layer_measures_them_on_its_hooked_frames(grad, blocked):
    net = per_step_net(grad)
    with torch.no_grad():
        net[2].bias.fill_(2.0)
    prof = SpikeProfiler()
    with prof.watch(net, gradients=True, time_steps=T):
        for k in range(2):
            for m in net.modules():
                if isinstance(m, snn.Leaky):
                    m.reset_hidden()
            x = spikes_in(k)
            torch.stack([net(x[t])[0] for t in range(T)]).sum().backward()
    hidden = prof.report().layer_stats["1"]
    assert hidden.gradient_checked == 2 * N
    assert (hidden.gradient_blocked_fraction > 0.5) is blocked, hidden.gradient_blocked_fraction


def test_the_rule_judges_a_majority_and_survives_a_save():
    rng = np.random.default_rng(0)

    def recorded(blocked: int) -> SpikeProfiler:
        p = SpikeProfiler()
        for _ in range(2):
            p.record_step("h", (rng.random((T, B, N)) < 0.2).astype(np.float32))
            p.record_gradients("h", rng.standard_normal((T, B, N)))
            p.record_input_reach("h", blocked, N)
        return p

    at_half = recorded(N // 2).report()
    assert at_half.layer_stats["h"].gradient_blocked_fraction == 0.5
    assert not [p for p in at_half.pathologies if p.category == "gradient_blocked"]
    above = recorded(N // 2 + 1)
    p = [q for q in above.report().pathologies if q.category == "gradient_blocked"]
    assert [(q.layer, q.severity.value) for q in p] == [("h", "critical")]
    assert "56%" in p[0].message and "32 neuron-records" in p[0].message
    again = SpikeProfiler.from_bytes(above.to_bytes()).report()
    assert [q.message for q in again.pathologies] == [q.message for q in above.report().pathologies]


def test_bad_counts_are_refused_and_change_nothing():
    p = SpikeProfiler()
    p.record_step("h", np.zeros((T, B, N), np.float32))
    before = p.to_bytes()
    with pytest.raises(InvalidInputError, match="'h'.*blocked"):
        p.record_input_reach("h", N + 1, N)
    assert p.to_bytes() == before


@pytest.mark.parametrize(("peak", "named"), [(0.9, True), (0.3, False)])
def test_a_layer_far_below_its_threshold_is_left_to_its_silence(peak, named):
    """A membrane that stays far below the threshold (0.3 of the way there) gets no
    gradient from any surrogate that decays: the silence is the cause and its own
    finding the fix; one that comes near it (0.9) and still gets none is blocked."""
    rng = np.random.default_rng(1)
    p = SpikeProfiler()
    p.declare_layer("h", threshold=10.0, resting_potential=0.0)
    for _ in range(2):
        p.record_step("h", np.zeros((T, B, N), np.float32),
                      10.0 * peak * rng.random((T, B, N)).astype(np.float32))
        p.record_gradients("h", rng.standard_normal((T, B, N)))
        p.record_input_reach("h", N, N)
    report = p.report()
    assert bool(report.by_category("gradient_blocked")) is named
    assert report.by_category("silent_network")
