"""Which finding follows from which: a quiet layer explains the layers behind it only
through a chain of layers that pass nothing on; a layer that fires in between (a
residual stream, a parallel branch) carries the signal past it.

Real SpikingJelly multi-step LIF layers, data made here."""

from __future__ import annotations

import numpy as np
import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from spikewidget import DATA, SpikeProfiler
from spikewidget.diagnose.causes import link_causes
from spikewidget.diagnose.pathology import Pathology, Severity

torch.set_num_threads(1)
T, B, N = 8, 16, 32


def lif(threshold: float = 1.0) -> neuron.LIFNode:
    return neuron.LIFNode(tau=2.0, v_threshold=threshold, step_mode="m")


class Residual(nn.Module):
    """``h = lif1(x)``; a branch ``a = lif2(W2 h)`` beside the stream; ``b = lif3(W3 a +
    h)`` (the stream carries h past the branch); ``c = lif4(W4 b)``."""

    def __init__(self, branch_threshold: float, last_threshold: float) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(N, N), nn.Linear(N, N)
        self.fc3, self.fc4 = nn.Linear(N, N), nn.Linear(N, N)
        self.lif1, self.lif2 = lif(1.5), lif(branch_threshold)
        self.lif3, self.lif4 = lif(0.8), lif(last_threshold)
        for fc in (self.fc1, self.fc2, self.fc3, self.fc4):
            nn.init.uniform_(fc.weight, 0.0, 0.2)
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lif1(self.fc1(x))
        a = self.lif2(self.fc2(h))
        b = self.lif3(self.fc3(a) + 2.0 * h)
        return self.lif4(self.fc4(b))


def stack(thresholds: list[float]) -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for th in thresholds:
        fc = nn.Linear(N, N)
        nn.init.uniform_(fc.weight, 0.0, 0.2)
        nn.init.zeros_(fc.bias)
        layers += [fc, lif(th)]
    return nn.Sequential(*layers)


def watched_report(model: nn.Module):
    torch.manual_seed(1)
    p = SpikeProfiler()
    with p.watch(model):
        for _ in range(4):
            model((torch.rand(T, B, N) < 0.5).float())
            functional.reset_net(model)
    return p.report()


def silent(report, layer: str) -> Pathology:
    [finding] = [p for p in report.pathologies
                 if (p.category, p.layer) == ("silent_network", layer)]
    return finding


def rates(report, layer: str) -> float:
    return float(torch.as_tensor(report.layer_stats[layer].firing_rates).max())


def test_layers_behind_a_silent_one_in_a_plain_stack_follow_from_it():
    """A threshold of 100 in the second of four layers: the two behind it get nothing,
    are silent, and point at it; it leads with its own threshold fix."""
    report = watched_report(stack([0.5, 100.0, 0.5, 0.5]))
    lead = report.pathologies[0]
    assert (lead.category, lead.layer, lead.cause) == ("silent_network", "3", None)
    assert "threshold" in lead.suggestion
    for layer in ("5", "7"):
        assert rates(report, layer) == 0
        assert silent(report, layer).cause == "silent_network @ 3"


def test_a_silent_layer_past_a_firing_residual_stream_has_its_own_fix():
    """The branch LIF is silent, but the stream carries h on and lif3 fires; lif4, with
    a threshold far too high, is silent on its own account: it gets its own threshold
    fix (toward the highest membrane recorded), and is not told to fix the branch."""
    torch.manual_seed(0)
    report = watched_report(Residual(branch_threshold=100.0, last_threshold=100.0))
    assert rates(report, "lif2") == 0 and rates(report, "lif3") > 0.05
    assert silent(report, "lif2").cause is None
    last = silent(report, "lif4")
    assert last.cause is None, last
    assert "lower the threshold toward" in last.suggestion, last.suggestion
    assert not [p for p in report.pathologies if p.layer == "lif3"]


def test_a_silent_branch_does_not_explain_the_stream_it_sits_beside():
    """Only the branch is silent: nothing after it is flagged or blamed on it."""
    torch.manual_seed(0)
    report = watched_report(Residual(branch_threshold=100.0, last_threshold=0.5))
    assert rates(report, "lif4") > 0.05
    assert {p.layer for p in report.pathologies if p.category != "too_few_observations"} \
        == {"lif2"}, report.pathologies


class Parallel(nn.Module):
    """``h = lif1(x)``; parallel ``a = lif2(W2 h)`` and ``b = lif3(W3 h)``; ``c =
    lif4(W4 a)``: in model order lif3 (firing) runs between lif2 and the lif4 it feeds."""

    def __init__(self, branch_threshold: float, last_threshold: float = 0.5) -> None:
        super().__init__()
        self.fc = nn.ModuleList(nn.Linear(N, N) for _ in range(4))
        for fc in self.fc:
            nn.init.uniform_(fc.weight, 0.0, 0.2)
            nn.init.zeros_(fc.bias)
        self.lif1, self.lif2, self.lif3 = lif(1.5), lif(branch_threshold), lif(0.5)
        self.lif4 = lif(last_threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lif1(self.fc[0](x))
        a, b = self.lif2(self.fc[1](h)), self.lif3(self.fc[2](h))
        return self.lif4(self.fc[3](a)) + b


def test_a_layer_fed_only_by_a_silent_branch_follows_from_it_across_a_firing_one():
    """The wiring watch learnt says lif4 is fed by lif2 alone: lif4 follows from it,
    though the firing lif3 runs between them in model order."""
    torch.manual_seed(0)
    report = watched_report(Parallel(branch_threshold=100.0))
    assert report.layer_stats["lif4"].fed_by == ("lif2",)
    assert rates(report, "lif3") > 0.05 and rates(report, "lif4") == 0
    assert silent(report, "lif2").cause is None
    assert silent(report, "lif4").cause == "silent_network @ lif2"


def test_a_silent_layers_own_fix_names_the_layer_that_feeds_it_not_the_one_before():
    """lif4's threshold is too high while lif2, which feeds it, fires: without voltages
    its fix names lif2, not lif3 (the layer before it in model order, on the other
    branch); with them, it is the membrane-aware threshold fix."""
    torch.manual_seed(0)
    model = Parallel(branch_threshold=0.5, last_threshold=100.0)
    report = watched_report(model)
    assert rates(report, "lif2") > 0.05
    last = silent(report, "lif4")
    assert last.cause is None and "lower the threshold toward" in last.suggestion
    p = SpikeProfiler()  # the same spikes, recorded bare: no voltages
    for name, st in report.layer_stats.items():
        p.declare_layer(name, fed_by=list(st.fed_by))
        p.record_step(name, np.asarray(st.per_neuron_spikes)[None, None] > 0)
    last = silent(p.report(), "lif4")
    assert last.suggestion.startswith("'lif2', which feeds it, fires"), last.suggestion


def finding(category: str, layer: str, severity: Severity = Severity.CRITICAL) -> Pathology:
    return Pathology(category=category, layer=layer, severity=severity, message="m",
                     suggestion=f"own fix of {layer}")


def test_the_chain_runs_through_died_and_critically_dead_layers_but_not_a_warning():
    """Layers that pass nothing on (silent, died, critically dead) carry the chain; a
    layer with a warning share of dead neurons still fires and breaks it."""
    order = {name: i for i, name in enumerate(["a", "b", "c", "d", "e", "f"])}
    categories = ("dead_neurons", "silent_network", "layer_died")
    found = [finding("silent_network", "a"), finding("layer_died", "b"),
             finding("dead_neurons", "c"), finding("silent_network", "d"),
             finding("dead_neurons", "e", Severity.WARNING), finding("silent_network", "f")]
    linked = {p.layer: p.cause for p in link_causes(found, order, categories)}
    assert linked == {"a": None, "b": None, "c": "silent_network @ a",
                      "d": "silent_network @ a", "e": "silent_network @ a", "f": None}


def test_a_vanishing_gradient_follows_only_from_a_quiet_layer_at_or_after_it():
    """The gradient reaching a layer comes from the layers after it: a silent layer
    there (or the layer itself) explains it, one before it does not."""
    order = {name: i for i, name in enumerate(["a", "b", "c"])}
    categories = ("silent_network", "gradient_vanishing")
    early = [finding("silent_network", "a"), finding("gradient_vanishing", "b")]
    late = [finding("gradient_vanishing", "a"), finding("silent_network", "c")]
    assert [p.cause for p in link_causes(early, order, categories)] == [None, None]
    linked = {p.category: p.cause for p in link_causes(late, order, categories)}
    assert linked == {"silent_network": None, "gradient_vanishing": "silent_network @ c"}


def test_a_feed_that_is_not_a_recorded_layer_carries_signal():
    """A layer fed by the data (``DATA``, or any feed not recorded) and by a silent
    layer still gets input: its silence is its own. Fed by the silent layer alone, it
    follows from it; a declared feed from a later layer is recurrence, not a feed."""
    order = {name: i for i, name in enumerate(["a", "b", "c"])}
    categories = ("silent_network",)
    found = [finding("silent_network", name) for name in ("a", "b", "c")]

    def causes(wiring: dict[str, list[str]]) -> dict[str, str | None]:
        return {p.layer: p.cause for p in link_causes(found, order, categories, wiring)}

    assert causes({"a": [DATA], "b": [DATA, "a"], "c": ["b"]}) == {
        "a": None, "b": None, "c": "silent_network @ b"}
    assert causes({"a": [DATA], "b": ["a", "stem"], "c": ["a", "c_next"]}) == {
        "a": None, "b": None, "c": None}
    assert causes({"a": [DATA], "b": ["a", "c"], "c": ["b"]}) == {
        "a": None, "b": "silent_network @ a", "c": "silent_network @ a"}
