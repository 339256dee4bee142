"""watch learns which layer feeds which from the autograd graph of one forward with
gradients: real snnTorch, SpikingJelly and Norse layers, in stacks, residual blocks,
parallel branches and per-step loops; the learnt wiring is saved, a declaration wins,
and a forward without gradients teaches nothing."""

from __future__ import annotations

import copy

import norse.torch as norse
import pytest
import snntorch as snn
import snntorch.utils
import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from spikewidget import SpikeProfiler
from spikewidget.core.errors import InvalidInputError, InvalidTypeError
from spikewidget.hooks.wiring import DATA, FORWARDS_TRIED

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


BRANCH_WIRING = {"sn.0": (DATA,), "sn.1": ("sn.0",), "sn.2": ("sn.0",), "sn.3": ("sn.1",),
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
    assert fed_by(p) == {"lif1": (DATA,), "lif2": ("lif1",), "lif3": ("lif1", "lif2")}


def test_norse_sequential_state_stack_is_a_chain():
    torch.manual_seed(0)
    model = norse.SequentialState(nn.Linear(8, 16), norse.LIF(), nn.Linear(16, 16),
                                  norse.LIF(), nn.Linear(16, 4), norse.LI())
    p = SpikeProfiler()
    with p.watch(model):
        out, _ = model(torch.rand(10, 2, 8))
        out.sum().backward()
    assert fed_by(p) == {"1": (DATA,), "3": ("1",)}


class InputSkip(nn.Module):
    """snnTorch per step, on 8-bit frames scaled inside forward: ``lif1 <- fc1(x)``,
    ``lif2 <- fc2(lif1)``, ``lif3 <- fc3(lif2)`` plus, with ``skip``, a projection
    of the data themselves (a skip from the input past lif2)."""

    def __init__(self, skip: bool) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(10, 16), nn.Linear(16, 16), nn.Linear(16, 8)
        nn.init.uniform_(self.fc1.weight, 0, 0.4)  # lif1 and lif2 fire when let
        nn.init.uniform_(self.fc2.weight, 0, 0.3)
        self.skip = nn.Linear(10, 8) if skip else None
        self.lif1, self.lif2, self.lif3 = (snn.Leaky(beta=0.9, init_hidden=True)
                                           for _ in range(3))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x, out = frames.float() / 255, []
        for t in range(x.shape[0]):
            s2 = self.lif2(self.fc2(self.lif1(self.fc1(x[t]))))
            current = self.fc3(s2)
            if self.skip is not None:
                current = current + self.skip(x[t])
            out.append(self.lif3(current))
        return torch.stack(out)


def run_input_skip(skip: bool, silence: tuple[str, ...] = ()) -> SpikeProfiler:
    """Two training steps on uint8 frames [T=8, batch 6, 10]; the layers in
    ``silence`` get a threshold no input reaches."""
    torch.manual_seed(0)
    model, p = InputSkip(skip), SpikeProfiler()
    for name in silence:
        getattr(model, name).threshold = torch.tensor(1e6)
    frames = torch.randint(0, 256, (8, 6, 10), dtype=torch.uint8)
    with p.watch(model):
        for _ in range(2):
            model(frames).sum().backward()
            snn.utils.reset(model)
    return p


def test_a_skip_from_the_data_is_a_feed_and_what_it_feeds_is_not_cut_off():
    """The data, scaled and indexed per step inside forward, feed lif1 and (through
    the skip) lif3. With lif2 and lif3 silenced, lif3's silence has a cause of its
    own (its threshold: the data still arrive); without the skip it follows lif2."""
    assert fed_by(run_input_skip(True)) == {
        "lif1": (DATA,), "lif2": ("lif1",), "lif3": (DATA, "lif2")}
    assert fed_by(run_input_skip(False))["lif3"] == ("lif2",)

    def cause_of_lif3(skip: bool) -> str | None:
        report = run_input_skip(skip, silence=("lif2", "lif3")).report()
        [silent] = [f for f in report.pathologies
                    if f.category == "silent_network" and f.layer == "lif3"]
        return silent.cause

    assert cause_of_lif3(False) == "silent_network @ lif2"
    assert cause_of_lif3(True) is None


def test_a_layer_fed_straight_by_the_data_is_followed_without_a_gradient():
    """The first Leaky gets the data with no weight before it: its spikes need no
    gradient and carry no autograd node, yet they are its own and feed the next."""
    torch.manual_seed(0)
    model = nn.Sequential(snn.Leaky(beta=0.9, init_hidden=True), nn.Linear(8, 8),
                          snn.Leaky(beta=0.9, init_hidden=True), nn.Linear(8, 4),
                          snn.Leaky(beta=0.9, init_hidden=True))
    p = SpikeProfiler()
    with p.watch(model, time_steps=4):
        sum(model(torch.rand(2, 8) * 3).sum() for _ in range(4)).backward()
    assert fed_by(p) == {"0": (DATA,), "2": ("0",), "4": ("2",)}


def test_the_watched_input_is_the_feed_it_names():
    """Under ``watch(input=...)`` the data go by the input layer's name, so a layer fed
    by a silent input follows from it."""
    torch.manual_seed(0)
    model = norse.SequentialState(nn.Linear(8, 16), norse.LIF(), nn.Linear(16, 4),
                                  norse.LIF())
    p = SpikeProfiler()
    with p.watch(model, input="frames"):
        out, _ = model(torch.zeros(10, 2, 8))
        out.sum().backward()
    assert fed_by(p) == {"frames": None, "1": ("frames",), "3": ("1",)}
    causes = {(f.category, f.layer): f.cause for f in p.report().pathologies}
    assert causes[("silent_network", "frames")] is None
    assert causes[("silent_network", "1")] == "silent_network @ frames"


def test_a_forward_that_raises_leaves_no_trace_behind():
    """The data are followed only inside the forward: one that raises leaves no
    torch-function mode on the stack, and the next forward is learnt."""

    class Flaky(Branches):
        calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise ValueError("a bad batch")
            return super().forward(x)

    torch.manual_seed(0)
    model, p = Flaky(), SpikeProfiler()
    depth = torch._C._len_torch_function_stack()
    with p.watch(model):
        with pytest.raises(ValueError, match="a bad batch"):
            model(torch.rand(4, 2, 16))
        assert torch._C._len_torch_function_stack() == depth
        train_step(model, torch.rand(4, 2, 16))
        assert torch._C._len_torch_function_stack() == depth
    assert fed_by(p) == BRANCH_WIRING


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
