"""SpikingJelly multi-step nodes without ``store_v_seq``: their membrane after the last step.

After a ``step_mode='m'`` forward such a node keeps only ``.v``, ``(batch, ...)``: the
membrane after the last step's reset. ``watch`` records it as the voltages of one time
step (moments and extrema; no spread over time), so a silent layer of SpikingJelly's
usual multi-step nets is told its membrane level, read as "the highest recorded" (at
most the peak within the sequence). A layer that fired is never told its membrane
stays short of the threshold (a post-reset voltage hides the crossing), and nodes
with ``store_v_seq=True`` keep every step's reading. Each figure is checked against an
unwatched copy of the model run with ``store_v_seq=True``.
"""

from __future__ import annotations

import copy

import pytest
import torch
from spikingjelly.activation_based import functional, layer, neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from spikewidget import SpikeProfiler
from spikewidget.core.errors import InvalidInputError
from spikewidget.frameworks import spikingjelly as sj_adapter
from tests.e2e.test_reported_failures import explain, finding, rate_mse10, sparse_spikes, train
from tests.e2e.test_zoo import resnet_nodes
from tests.unit.record.test_torch_nosync import SyncSpy

torch.set_num_threads(1)
T, B, N_IN, N_HID = 12, 6, 16, 24


def mlp(threshold: float, *, store_v_seq: bool = False, node=neuron.LIFNode) -> nn.Sequential:
    """Linear -> node -> Linear -> LIF, multi-step (``functional.set_step_mode``)."""
    torch.manual_seed(0)
    net = nn.Sequential(layer.Linear(N_IN, N_HID),
                        node(v_threshold=threshold, store_v_seq=store_v_seq),
                        layer.Linear(N_HID, 4), neuron.LIFNode(store_v_seq=store_v_seq))
    functional.set_step_mode(net, "m")
    return net


def batches(n: int, rate: float = 0.3) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [(torch.rand((T, B, N_IN), generator=g) < rate).float() for _ in range(n)]


def v_seqs(net: nn.Module, xs: list[torch.Tensor], node: str) -> list[torch.Tensor]:
    """The voltage sequence ``(T, B, ...)`` of ``node`` in an unwatched copy of ``net``
    with ``store_v_seq=True``, per batch (state reset after each, as the runs do)."""
    ref = copy.deepcopy(net)
    module = ref.get_submodule(node)
    module.store_v_seq = True
    out = []
    with torch.no_grad():
        for x in xs:
            ref(x)
            out.append(module.v_seq.clone())
            functional.reset_net(ref)
    return out


def watched(net: nn.Module, xs: list[torch.Tensor], **watch) -> SpikeProfiler:
    prof = SpikeProfiler(**watch.pop("profiler", {}))
    with prof.watch(net, **watch), torch.no_grad():
        for x in xs:
            net(x)
            functional.reset_net(net)
    return prof


def silent_finding(prof: SpikeProfiler, name: str):
    return finding(prof.report(), "silent_network", name)


def test_a_silent_multi_step_layer_is_told_the_highest_membrane_recorded_at_the_last_step():
    """LIF at threshold 5 on rate-coded input: it never fires, so ``.v`` is the membrane
    itself (no reset). The finding names the highest last-step membrane of the copy's
    sequences and the gain that lifts it to 5; the voltage mean is the last steps'
    mean; that figure is at most the sequence's peak (here below it: the membrane
    fluctuates), which is why the fix says "the highest recorded"."""
    net, xs = mlp(5.0), batches(3)
    seqs = v_seqs(net, xs, "1")
    assert max(float(s.abs().max()) for s in seqs) > 0 and all(
        float(s.max()) < 5 for s in seqs)
    last = max(float(s[-1].max()) for s in seqs)
    peak = max(float(s.max()) for s in seqs)
    assert last < peak
    prof = watched(net, xs)
    found = silent_finding(prof, "1")
    assert f"peaked at {last:.3g}, below its threshold 5" in found.message, explain(
        prof.report())
    assert found.suggestion.startswith("The membrane rises but stays short of the threshold")
    assert f"toward {last:.3g} (the highest recorded; now 5, rest 0)" in found.suggestion
    assert f"about {5 / last:.3g}x" in found.suggestion
    st = prof.report().layer_stats["1"]
    assert st.has_voltages and st.voltage_max == pytest.approx(last, rel=1e-6)
    assert st.voltage_min == pytest.approx(min(float(s[-1].min()) for s in seqs), rel=1e-6)
    assert st.voltage_mean == pytest.approx(
        float(torch.stack([s[-1] for s in seqs]).double().mean()), rel=1e-6)
    # no spread over time was measured: nothing is said about a frozen membrane
    assert st.voltage_time_std is not None and torch.isnan(
        torch.as_tensor(st.voltage_time_std)).all()
    assert not [p for p in prof.report().pathologies if p.category == "voltage_collapse"]


def test_a_membrane_that_only_rises_is_read_at_its_true_peak():
    """An IF node (no leak) behind non-negative weights charges monotonically until it
    fires; at threshold 50 it never does, so the last step is the sequence's peak and
    the finding's figure equals the copy's ``v_seq.max()``."""
    net = mlp(50.0, node=neuron.IFNode)
    with torch.no_grad():
        net[0].weight.abs_()
        net[0].bias.zero_()
    xs = batches(2)
    seqs = v_seqs(net, xs, "1")
    peak = max(float(s.max()) for s in seqs)
    assert 0 < peak < 50
    found = silent_finding(watched(net, xs), "1")
    assert f"peaked at {peak:.3g}, below its threshold 50" in found.message
    assert f"about {50 / peak:.3g}x" in found.suggestion


@pytest.mark.parametrize("store_v_seq", [False, True])
def test_a_membrane_seen_at_the_last_step_only_is_not_read_as_never_rising(store_v_seq):
    """Behind a Linear whose weights are all negative the LIF membrane sits below rest
    at every step. With every step's voltages (``store_v_seq``) that shows the current
    is zero or negative: "a lower threshold will not help". The last step alone cannot
    show that the membrane never rose during the sequence, so without ``store_v_seq``
    that claim is not made (the finding points at the firing layer before it)."""
    net = mlp(1.0, store_v_seq=store_v_seq)
    with torch.no_grad():
        net[0].weight.copy_(-net[0].weight.abs())
        net[0].bias.fill_(-0.1)
    prof = SpikeProfiler()
    prof.declare_layer("input", role="input")
    with prof.watch(net, input=True), torch.no_grad():
        for x in batches(2):
            net(x)
            functional.reset_net(net)
    report = prof.report()
    st = report.layer_stats["1"]
    assert st.has_voltages and st.voltage_max < 0, explain(report)
    found = finding(report, "silent_network", "1")
    told = found.suggestion.startswith("A lower threshold will not help")
    assert told == store_v_seq, explain(report)
    if not store_v_seq:
        assert "peaked" not in found.message
        assert found.suggestion.startswith("The layer before it ('input') fires")


@pytest.mark.parametrize("store_v_seq", [False, True])
def test_a_layer_that_fired_is_never_told_its_membrane_stays_short(store_v_seq):
    """An IF node fed its current directly: one neuron of one sample gets a pulse above
    the threshold once, every other neuron charges to 0.6 and stays (threshold 1). The
    layer is silent by rate (1 spike in T x B = 1280 observations) and its post-reset
    voltages all lie below 1, yet it did reach its threshold: no "peaked ... below its
    threshold" and no advice to lower it toward a voltage, with or without the
    per-step voltages."""
    t, b, n = 20, 64, 8
    net = nn.Sequential(neuron.IFNode(store_v_seq=store_v_seq, step_mode="m"))
    x = torch.zeros(t, b, n)
    x[:2] = 0.3
    x[10, 0, 3] = 2.0
    prof = watched(net, [x])
    report = prof.report()
    st = report.layer_stats["0"]
    assert st.total_spikes == 1 and st.has_voltages and st.voltage_max < 1, explain(report)
    found = finding(report, "silent_network", "0")
    assert "peaked" not in found.message
    assert not found.suggestion.startswith(("The membrane", "A lower threshold will not"))


def test_store_v_seq_users_keep_every_steps_reading():
    """``store_v_seq=True``: the voltages of every step, as before: extrema, mean and
    the spread over time are those of the whole sequences, and the silent fix names
    the sequence's peak."""
    net, xs = mlp(5.0, store_v_seq=True), batches(3)
    seqs = v_seqs(net, xs, "1")
    peak = max(float(s.max()) for s in seqs)
    prof = watched(net, xs, sample_voltages=False)
    st = prof.report().layer_stats["1"]
    assert st.voltage_max == pytest.approx(peak, rel=1e-6)
    assert st.voltage_mean == pytest.approx(float(torch.stack(seqs).double().mean()),
                                            rel=1e-6)
    assert not torch.isnan(torch.as_tensor(st.voltage_time_std)).any()
    assert f"peaked at {peak:.3g}" in silent_finding(prof, "1").message


def test_the_reader_takes_only_a_tensor_of_one_time_step():
    """Before the first forward and after ``reset()`` ``.v`` is a float; a node whose
    ``.v`` is None, or of another shape (a stale state), gives no voltages; after a
    forward ``.v`` is the last step's, by reference (nothing copied)."""
    node = neuron.LIFNode(step_mode="m")
    read = sj_adapter.detect(node).read
    x = torch.rand(T, B, N_HID)
    spikes = torch.zeros(T, B, N_HID)
    assert isinstance(node.v, float) and read(node, spikes) == (spikes, None, True)
    out = node(x)
    got = read(node, out)
    assert got[1] is node.v and got[1].shape == (B, N_HID) and got[2] is True
    assert read(node, torch.zeros(T, B + 1, N_HID))[1] is None  # not this output's step
    node.reset()
    assert isinstance(node.v, float) and read(node, out)[1] is None
    node.v = None
    assert read(node, out)[1] is None
    single = neuron.LIFNode()  # single-step: .v is the frame's own voltages
    y = single(x[0])
    assert read(single, y)[1] is single.v


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_record_step_takes_the_voltages_of_one_time_step(backend):
    """``record_step(spikes (T, B, N), voltages (B, N))``: the moments and extrema are
    those of the given step, on the host and on the device path alike; no spread over
    time is made up; a shape that is neither is refused naming the layer and the
    argument, and what was recorded stays."""
    g = torch.Generator().manual_seed(3)
    spikes = (torch.rand(T, B, N_HID, generator=g) < 0.2).float()
    v = torch.randn(B, N_HID, generator=g)
    prof = SpikeProfiler(backend=backend)
    prof.record_step("hidden", spikes, v)
    st = prof.report().layer_stats["hidden"]
    assert (st.voltage_min, st.voltage_max) == pytest.approx(
        (float(v.min()), float(v.max())), rel=1e-6)
    assert st.voltage_mean == pytest.approx(float(v.double().mean()), rel=1e-6)
    assert st.voltage_std == pytest.approx(float(v.double().std(unbiased=False)), rel=1e-6)
    assert torch.isnan(torch.as_tensor(st.voltage_time_std)).all()
    assert st.n_observations == T * B
    with pytest.raises(InvalidInputError, match=r"layer 'hidden': voltages has shape"):
        prof.record_step("hidden", spikes, torch.randn(B + 1, N_HID))
    assert prof.report().layer_stats["hidden"].n_steps == 1


def test_reading_the_last_step_never_syncs_and_keeps_nothing():
    """On the device code path (``backend="torch"``) the last-step reading adds no host
    read; each call is recorded at once, so nothing waits between calls."""
    net, xs = mlp(5.0), batches(2)
    prof = SpikeProfiler(backend="torch")
    spy = SyncSpy()
    with prof.watch(net, gradients=True) as handle, spy:
        for x in xs:
            net(x.requires_grad_()).sum().backward()
            functional.reset_net(net)
            assert all(not len(tap.frames) for tap in handle._taps)
    assert spy.calls == [] and spy.total > 0
    st = prof.report().layer_stats["1"]
    assert st.has_voltages and st.voltage_time_std is not None


def test_sew_resnet18_nodes_all_get_voltages_and_the_first_silent_one_its_level():
    """SpikingJelly's ``sew_resnet18`` (multi-step IF nodes, none storing ``v_seq``) on
    two 32x32 images: every node records voltages. At threshold 1000 the net is
    silent and its first node is told the highest membrane of the last step, as the
    copy with ``store_v_seq`` reads it; at the default threshold nodes fire and no
    finding says a membrane peaked below its threshold."""
    from tests.e2e.test_zoo import _import_sj_resnets

    sew_resnet, _ = _import_sj_resnets()
    g = torch.Generator().manual_seed(0)
    xs = [torch.rand(2, 2, 3, 32, 32, generator=g)]
    for threshold in (1000.0, 1.0):
        torch.manual_seed(0)
        model = sew_resnet.sew_resnet18(cnf="ADD", spiking_neuron=neuron.IFNode,
                                        surrogate_function=sj_surrogate.ATan(),
                                        detach_reset=True, num_classes=10,
                                        v_threshold=threshold)
        functional.set_step_mode(model, "m")
        nodes = resnet_nodes(model)
        seqs = v_seqs(model, xs, nodes[0]) if threshold > 1 else None
        report = watched(model, xs).report()
        assert all(report.layer_stats[n].has_voltages for n in nodes), explain(report)
        membrane = [p for p in report.pathologies if "peaked" in p.message]
        if threshold == 1.0:
            assert not membrane, explain(report)
            continue
        last = float(seqs[0][-1].max())
        assert 0 < last <= float(seqs[0].max()) < 1000
        found = finding(report, "silent_network", nodes[0])
        assert f"peaked at {last:.3g}, below its threshold 1e+03" in found.message, \
            explain(report)
        assert f"toward {last:.3g} (the highest recorded" in found.suggestion


def if_mlp() -> nn.Sequential:
    """The reported-failures multi-step IF MLP (100 -> 64 -> 10, ATan), without
    ``store_v_seq``: as SpikingJelly's examples build it."""
    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Linear(100, 64), neuron.IFNode(surrogate_function=sj_surrogate.ATan()),
        layer.Linear(64, 10), neuron.IFNode(surrogate_function=sj_surrogate.ATan()))
    functional.set_step_mode(net, "m")
    return net


def test_a_multi_step_state_not_reset_between_batches_is_named_a_runaway():
    """``functional.reset_net`` forgotten (``detach_net`` keeps training running): the
    IF membranes driven below zero sink further in every epoch, which the last step
    shows as well as every step would; reset after each step, nothing runs away."""
    net = if_mlp()
    broken = train(net, sparse_spikes, lambda x: net(x).mean(0), rate_mse10, 10, lr=1e-3,
                   after_step=lambda: functional.detach_net(net)).report()
    p = finding(broken, "voltage_runaway", "1")
    assert p.epoch == 0 and "functional.reset_net(net) after optimizer.step()" in \
        p.suggestion, explain(broken)
    net = if_mlp()
    fixed = train(net, sparse_spikes, lambda x: net(x).mean(0), rate_mse10, 10, lr=1e-3,
                  after_step=lambda: functional.reset_net(net)).report()
    assert not [p for p in fixed.pathologies if p.category == "voltage_runaway"], \
        explain(fixed)
