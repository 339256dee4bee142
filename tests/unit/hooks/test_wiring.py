"""watch learns which layer feeds which from the autograd graph of one forward with
gradients: real snnTorch, SpikingJelly and Norse layers, in stacks, residual blocks,
parallel branches and per-step loops; the learnt wiring is saved, a declaration wins,
and a forward without gradients teaches nothing."""

from __future__ import annotations

import copy

import norse.torch as norse
import pytest
import snntorch as snn
import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from spikewidget import SpikeProfiler
from spikewidget.core.errors import InvalidInputError, InvalidTypeError
from spikewidget.hooks.wiring import FORWARDS_TRIED

torch.set_num_threads(1)


class Branches(nn.Module):
    """SpikingJelly multi-step: ``h = sn1(x)``; two parallel branches ``a = sn2(h)``,
    ``b = sn3(h)``; ``c = sn4(a)``; ``d = sn5(b + c)``; a residual ``e = sn6(d + h)``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.ModuleList(nn.Linear(16, 16) for _ in range(6))
        self.sn = nn.ModuleList(neuron.LIFNode(step_mode="m") for _ in range(6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fc, sn = self.fc, self.sn
        h = sn[0](fc[0](x))
        a, b = sn[1](fc[1](h)), sn[2](fc[2](h))
        c = sn[3](fc[3](a))
        d = sn[4](fc[4](b + c))
        return sn[5](fc[5](d) + h)


BRANCH_WIRING = {"sn.0": (), "sn.1": ("sn.0",), "sn.2": ("sn.0",), "sn.3": ("sn.1",),
                 "sn.4": ("sn.2", "sn.3"), "sn.5": ("sn.0", "sn.4")}


def fed_by(p: SpikeProfiler) -> dict[str, tuple[str, ...] | None]:
    return {name: st.fed_by for name, st in p.report().layer_stats.items()}


def train_step(model: nn.Module, x: torch.Tensor) -> None:
    model(x).sum().backward()
    functional.reset_net(model)


def test_branches_and_a_residual_are_learnt_from_one_training_forward():
    torch.manual_seed(0)
    model, p = Branches(), SpikeProfiler()
    with p.watch(model):
        train_step(model, torch.rand(4, 2, 16))
    assert fed_by(p) == BRANCH_WIRING


def test_a_forward_without_gradients_teaches_nothing_and_the_next_one_does():
    """Validation first (no_grad), then training: learnt at the training forward."""
    torch.manual_seed(0)
    model, p = Branches(), SpikeProfiler()
    with p.watch(model, phases=False):
        with torch.no_grad():
            model(torch.rand(4, 2, 16))
            functional.reset_net(model)
        assert set(fed_by(p).values()) == {None}
        train_step(model, torch.rand(4, 2, 16))
    assert fed_by(p) == BRANCH_WIRING


def test_only_forwards_without_gradients_leave_the_wiring_unknown_and_unhooked():
    torch.manual_seed(0)
    model, p = Branches(), SpikeProfiler()
    hooks = lambda: sum(len(m._forward_pre_hooks) for m in model.modules())  # noqa: E731
    with p.watch(model) as handle, torch.no_grad():
        with_probe = hooks()
        for _ in range(FORWARDS_TRIED):
            model(torch.rand(4, 2, 16))
            functional.reset_net(model)
        assert handle._wiring is None and hooks() == with_probe - 6
    assert set(fed_by(p).values()) == {None}


def test_snntorch_per_step_loop_with_a_skip_connection():
    """Per-step Leaky layers looped over time inside forward: lif3 gets lif2's spikes
    and lif1's through a skip; walked in the first steps only."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(10, 12), nn.Linear(12, 12), nn.Linear(12, 4)
            self.skip = nn.Linear(12, 4)
            self.lif1 = snn.Leaky(beta=0.9, init_hidden=True)
            self.lif2 = snn.Leaky(beta=0.9, init_hidden=True)
            self.lif3 = snn.Leaky(beta=0.9, init_hidden=True, output=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = []
            for t in range(x.shape[0]):
                s1 = self.lif1(self.fc1(x[t]))
                s2 = self.lif2(self.fc2(s1))
                out.append(self.lif3(self.fc3(s2) + self.skip(s1))[0])
            return torch.stack(out)

    torch.manual_seed(0)
    model, p = Net(), SpikeProfiler()
    with p.watch(model):
        model(torch.rand(12, 3, 10)).sum().backward()
    assert fed_by(p) == {"lif1": (), "lif2": ("lif1",), "lif3": ("lif1", "lif2")}


def test_norse_sequential_state_stack_is_a_chain():
    torch.manual_seed(0)
    model = norse.SequentialState(nn.Linear(8, 16), norse.LIF(), nn.Linear(16, 16),
                                  norse.LIF(), nn.Linear(16, 4), norse.LI())
    p = SpikeProfiler()
    with p.watch(model):
        out, _ = model(torch.rand(10, 2, 8))
        out.sum().backward()
    assert fed_by(p) == {"1": (), "3": ("1",)}


def test_a_declaration_wins_and_the_wiring_is_saved(tmp_path):
    torch.manual_seed(0)
    model, p = Branches(), SpikeProfiler()
    p.declare_layer("sn.4", fed_by=["sn.3"])  # the user knows better
    with p.watch(model):
        train_step(model, torch.rand(4, 2, 16))
    want = {**BRANCH_WIRING, "sn.4": ("sn.3",)}
    assert fed_by(p) == want
    p.save(tmp_path / "run.swp")
    assert fed_by(SpikeProfiler.load(tmp_path / "run.swp")) == want


def test_a_copy_of_a_watched_model_before_its_first_forward_works_unwatched():
    torch.manual_seed(0)
    model, p = Branches(), SpikeProfiler()
    with p.watch(model):
        twin = copy.deepcopy(model)
        train_step(twin, torch.rand(4, 2, 16))
        train_step(model, torch.rand(4, 2, 16))
    assert fed_by(p) == BRANCH_WIRING


def test_spikes_without_an_autograd_node_leave_the_wiring_unknown():
    """A hard step without a surrogate: its spikes carry no graph, so what it feeds
    cannot be told; nothing is declared (the causes fall back to the layers' order)."""

    model = nn.Sequential(nn.Linear(8, 8), snn.Leaky(beta=0.9, init_hidden=True),
                          nn.Linear(8, 8), snn.Leaky(beta=0.9, init_hidden=True))
    model[1].spike_grad = lambda mem: (mem > 0).float()  # a spike function without a graph
    p = SpikeProfiler()
    with p.watch(model, time_steps=4):
        sum(model(torch.rand(2, 8)).sum() for _ in range(4)).backward()
    assert set(fed_by(p).values()) == {None}


@pytest.mark.parametrize(("fed", "error", "words"), [
    ("a", InvalidTypeError, "fed_by must be a list"),
    ([3], InvalidTypeError, "fed_by must be a list"),
    (["b"], InvalidInputError, "names the layer itself"),
])
def test_a_bad_declaration_is_refused_naming_the_layer_and_nothing_changes(fed, error, words):
    p = SpikeProfiler()
    p.declare_layer("b", fed_by=["a"])
    p.record_step("b", torch.zeros(2, 3, 4))
    with pytest.raises(error, match=words) as exc:
        p.declare_layer("b", fed_by=fed)
    assert "'b'" in str(exc.value)
    assert p.report().layer_stats["b"].fed_by == ("a",)


def test_a_layer_called_outside_the_model_keeps_the_probe_bounded():
    """Calls of a watched layer by itself, outside a forward of the model, are not
    watched: nothing is kept, and the model's next forward is learnt whole."""
    torch.manual_seed(0)
    model, p = Branches(), SpikeProfiler()
    with p.watch(model) as handle:
        for _ in range(50):
            model.sn[1](torch.rand(4, 2, 16, requires_grad=True))
            functional.reset_net(model)
        assert len(handle._wiring._made_by) == 0
        train_step(model, torch.rand(4, 2, 16))
    assert fed_by(p) == BRANCH_WIRING


def test_the_wiring_learnt_in_training_reaches_the_eval_phase_made_before_it():
    """Validation first (an eval phase exists before any forward with gradients), then
    training: the eval phase's report uses the wiring and the firing levels too."""
    torch.manual_seed(0)
    model, p = Branches(), SpikeProfiler()
    with p.watch(model):
        model.eval()
        with torch.no_grad():
            model(torch.rand(4, 2, 16))
            functional.reset_net(model)
        model.train()
        train_step(model, torch.rand(4, 2, 16))
    eval_stats = p.phase("eval").report().layer_stats
    assert {name: st.fed_by for name, st in eval_stats.items()} == BRANCH_WIRING
    assert eval_stats["sn.1"].threshold == 1.0
