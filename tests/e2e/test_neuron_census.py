"""The neuron census: every spiking-neuron class snnTorch, SpikingJelly and Norse
export, watched as a new user would watch it (see :mod:`census_nets`).

For each class (and SpikingJelly step mode) a Linear -> neuron -> Linear -> neuron
network, driven to fire at a healthy rate, trains three Adam steps under
``watch(gradients=True)``. A user relies on: no exception and no "could not
read/record" warning; both neuron layers recorded with their neuron counts and
binary spikes read as binary (a reader that took a voltage or a state would show
as non-binary or the wrong count); no warning or critical finding on the healthy
net; and a threshold raised 100x (or, without a threshold, the input weights
zeroed) found as a dead or silent layer at that layer.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from spikewidget import Severity, SpikeProfiler, frameworks

from . import census_nets as cn

torch.set_num_threads(1)
pytestmark = pytest.mark.slow

CASES = [pytest.param(fw, name, mode, id=f"{fw}-{name}-{mode}")
         for fw, specs in cn.SPECS.items() for name, spec in specs.items()
         for mode in (spec.modes if fw == "spikingjelly" else ("s",))]
INJECTED = [pytest.param(fw, name, mode, id=f"{fw}-{name}-{mode}")
            for fw, specs in cn.SPECS.items() for name, spec in specs.items()
            if not spec.integrator
            for mode in (spec.modes[-1:] if fw == "spikingjelly" else ("s",))]
DEAD = {"dead_neurons", "silent_network", "layer_died"}


def train(net: cn.CensusNet, steps: int = 3) -> tuple[SpikeProfiler, object, list[str]]:
    """Three Adam steps under ``watch(gradients=True)``: output rates pulled to 0.5 on
    the sample's class and 0.1 elsewhere. Returns the profiler, the watch handle and
    spikewidget's warnings."""
    x, labels = cn.spikes_in()
    target = torch.nn.functional.one_hot(labels, cn.N_OUT).float() * 0.4 + 0.1
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    prof = SpikeProfiler()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with prof.watch(net, gradients=True) as handle:
            for _ in range(steps):
                loss = ((net(x).mean(0) - target) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
    ours = [str(w.message) for w in caught
            if issubclass(w.category, RuntimeWarning) and "layer" in str(w.message)]
    return prof, handle, ours


def explain(report) -> str:
    lines = [report.summary(), "findings:"]
    lines += [f"  {p.severity.name} {p.category} @ {p.layer}: {p.suggestion}"
              for p in report.pathologies]
    return "\n".join(lines)


def test_every_exported_class_is_censused() -> None:
    """A class a framework release adds (or renames) must be built or excluded with
    a reason here, never missed."""
    for fw, found in cn.exported().items():
        known = set(cn.SPECS[fw]) | set(cn.EXCLUDED[fw]) | cn.OWN_NET[fw]
        assert set(found) - known == set(), f"{fw}: new neuron classes to census"
        assert all(cn.EXCLUDED[fw].values())


@pytest.mark.parametrize(("fw", "name", "mode"), CASES)
def test_healthy_net_is_read_right_and_reported_clean(fw: str, name: str, mode: str) -> None:
    spec = cn.SPECS[fw][name]
    net = cn.build(fw, name, mode)
    prof, handle, warned = train(net)
    report = prof.report()
    msg = explain(report)
    assert warned == [], warned
    if spec.integrator:  # a readout of voltages: skipped, named with the reason
        assert handle.layers == ["lif1"] and "leaky integrator" in handle.skipped["lif2"]
    else:
        assert handle.layers == ["lif1", "lif2"] and handle.skipped == {}
    for layer, size in (("lif1", cn.HIDDEN), ("lif2", cn.N_OUT)):
        if layer not in handle.layers:
            continue
        st = report.layer_stats[layer]
        assert st.n_neurons == size, msg
        assert st.n_steps == 3 and st.total_spikes > 0, msg
        if not frameworks.detect(getattr(net, layer)).graded:
            assert st.is_binary and st.max_value == 1.0, msg
        assert st.gradient_steps > 0, msg
    serious = [p for p in report.pathologies
               if p.severity in (Severity.WARNING, Severity.CRITICAL)]
    assert serious == [], msg


@pytest.mark.parametrize(("fw", "name", "mode"), INJECTED)
def test_injected_dead_layer_is_named_at_that_layer(fw: str, name: str, mode: str) -> None:
    """Threshold x100 on the first layer (through spikewidget's own
    ``set_threshold``, as a sweep would), or its input weights zeroed or made
    inhibitory where that does not silence it (see ``Spec.inject``): that layer is
    reported dead or silent."""
    spec = cn.SPECS[fw][name]
    net = cn.build(fw, name, mode)
    if spec.inject in ("threshold", "raise_mv"):
        old = frameworks.get_threshold(net.lif1)
        frameworks.set_threshold(net.lif1, old * 100 if spec.inject == "threshold"
                                 else old + 100)
    else:
        inputs = net.fc1 if isinstance(net.fc1, torch.nn.Linear) else net.lif1
        with torch.no_grad():
            for p in inputs.parameters():
                p.copy_(-p.abs() if spec.inject == "inhibit" and p.ndim == 2 else 0 * p)
    prof, _, warned = train(net)
    report = prof.report()
    assert warned == []
    at_layer = {p.category for p in report.pathologies if p.layer == "lif1"
                and p.severity is Severity.CRITICAL}
    assert at_layer & DEAD, explain(report)


@pytest.mark.parametrize("inject", [False, True])
def test_snntorch_conv_lstm_is_read_right_and_its_dead_layer_named(inject: bool) -> None:
    """SConv2dLSTM returns ``(spk, syn, mem)`` per step, ``(batch, 4, 6, 6)``: 144
    neurons, binary spikes, a clean report; its threshold x100 makes it dead."""
    net = cn.ConvLSTMNet()
    if inject:
        frameworks.set_threshold(net.lstm, frameworks.get_threshold(net.lstm) * 100)
    x = cn.frames_in()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    prof = SpikeProfiler()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with prof.watch(net, gradients=True) as handle:
            for _ in range(3):
                loss = ((net(x).mean(0) - 0.3) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    report = prof.report()
    assert handle.layers == ["lstm", "out"], explain(report)
    st = report.layer_stats["lstm"]
    assert st.n_neurons == 4 * 6 * 6 and st.neuron_shape == (4, 6, 6)
    assert st.is_binary and st.has_voltages
    if inject:
        assert {p.category for p in report.pathologies if p.layer == "lstm"} & DEAD
    else:
        assert st.max_value == 1.0 and report.pathologies == [], explain(report)


def test_spikingjelly_ottt_node_is_read_from_its_spike_trace_pair() -> None:
    """OTTTLIFNode returns ``[spike, trace]`` while training: watch used to warn
    "could not read the output" and record nothing. Trained online (a backward per
    time step, as OTTT does), each layer is recorded, binary, and the report clean."""
    from spikingjelly.activation_based import functional

    net = cn.ottt_net()
    x, _ = cn.spikes_in()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    prof = SpikeProfiler()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with prof.watch(net, gradients=True) as handle:
            for _ in range(2):
                functional.reset_net(net)
                for t in range(cn.T):
                    loss = ((net(x[t])[0] - 0.3) ** 2).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    report = prof.report()
    assert handle.layers == ["1", "3"], explain(report)
    for layer, size in (("1", cn.HIDDEN), ("3", cn.N_OUT)):
        st = report.layer_stats[layer]
        assert st.n_neurons == size and st.is_binary and st.total_spikes > 0, explain(report)
        assert st.has_voltages and st.gradient_steps > 0
    assert report.pathologies == [], explain(report)


# ------------------------------------------------------------------ regressions
def test_multi_step_only_psn_is_read_with_its_time_axis() -> None:
    """SpikingJelly's PSN has no ``step_mode`` (multi-step only): its (T, batch, n)
    output used to be read as one step of batch T with batch * n neurons."""
    net = cn.build("spikingjelly", "PSN", "m")
    reading = frameworks.detect(net.lif1).read(net.lif1, net.lif1(torch.ones(cn.T, 2, 16)))
    assert reading[2] is True
    prof, _, _ = train(net)
    assert prof.report().layer_stats["lif1"].n_neurons == cn.HIDDEN


@pytest.mark.parametrize("name", ["ActivationAwareIFNode", "DSRIFNode", "ILCIFNode",
                                  "GatedLIFNode", "FewSpikeNode"])
def test_spikingjelly_nodes_outside_basenode_are_found(name: str) -> None:
    """Nodes built on MemoryModule, MultiStepModule or nn.Module directly (not
    BaseNode) used to be missed by watch: no layer recorded, no warning."""
    from spikingjelly.activation_based import neuron

    cls = getattr(neuron, name)
    found = frameworks.detect(cls.__new__(cls))
    assert found is not None and found.framework == "spikingjelly" and not found.integrator


@pytest.mark.parametrize("name", ["ILIFNode", "LIAFNode"])
def test_spikingjelly_graded_nodes_are_not_called_non_binary(name: str) -> None:
    """Integer (ILIF), analog (LIAF) and weighted (DSR) outputs are by design: the
    fix "raise the threshold so that one spike fits in a step" would be wrong."""
    net = cn.build("spikingjelly", name, "s")
    with torch.no_grad():  # driven 3x harder: several integer spikes per step
        net.fc1.weight.mul_(3)
        net.fc2.weight.mul_(3)
    prof, _, _ = train(net)
    report = prof.report()
    assert report.layer_stats["lif1"].max_value > 1, explain(report)
    assert "non_binary_spikes" not in {p.category for p in report.pathologies}, explain(report)


def test_norse_coba_lif_cell_is_watched_and_its_threshold_set() -> None:
    """CobaLIFCell is not an SNNCell: it used to be missed, and its threshold
    (``p.v_thresh``) unknown to sweeps."""
    import norse.torch as norse

    cell = norse.CobaLIFCell(4, 5)
    assert frameworks.detect(cell) is not None
    assert frameworks.threshold_attribute(cell) == "p.v_thresh"
    frameworks.set_threshold(cell, -5.5)  # its default is an int64 tensor: not truncated
    assert float(frameworks.get_threshold(cell)) == -5.5
    assert cell.p.v_thresh.dtype.is_floating_point


def test_snntorch_delta_leaky_threshold_is_its_delta_threshold() -> None:
    """DeltaLeaky fires when its membrane changes by more than ``delta_threshold``;
    its ``threshold`` is unused: setting that one (a sweep, a fix) did nothing."""
    net = cn.build("snntorch", "DeltaLeaky")
    assert frameworks.threshold_attribute(net.lif1) == "delta_threshold"
    frameworks.set_threshold(net.lif1, 100.0)
    assert net.lif1.delta_threshold == 100.0
    prof, _, _ = train(net)
    assert prof.report().layer_stats["lif1"].total_spikes == 0


def test_snntorch_delta_leaky_voltage_is_read_from_its_state_pair() -> None:
    """DeltaLeaky returns ``(spk, (mem, mem_prev))``: the membrane is the pair's first."""
    import snntorch as snn

    lif = snn.DeltaLeaky(beta=0.8)
    x = torch.full((2, 3), 0.5)
    out = lif(x, (torch.zeros(2, 3), torch.zeros(2, 3)))
    spikes, voltages, _ = frameworks.detect(lif).read(lif, out)
    assert spikes is out[0] and voltages is out[1][0]


@pytest.mark.parametrize("name", ["LIFAdExRefracCell", "LIFAdExRefracRecurrent"])
def test_norse_adex_refrac_threshold_is_found_and_set(name: str) -> None:
    """LIFAdExRefracParameters nest the threshold at ``p.lif_adex.v_th``: it used to
    be unknown (threshold_attribute None, set_threshold a TypeError), and the cell's
    voltage (``state.lif_adex.v``) unread. A sequence module returns its final state
    only: no voltages of the sequence's shape."""
    import norse.torch as norse

    cls = getattr(norse, name)
    layer = cls() if "Cell" in name else cls(4, 5)
    assert frameworks.threshold_attribute(layer) == "p.lif_adex.v_th"
    frameworks.set_threshold(layer, 2.5)
    assert float(layer.p.lif_adex.v_th) == 2.5 and float(layer.p.rho_reset) == 5.0
    z, state = layer(torch.ones(3, 4) if "Cell" in name else torch.ones(2, 3, 4))
    voltages = frameworks.detect(layer).read(layer, (z, state))[1]
    if "Cell" in name:
        assert voltages is state.lif_adex.v
    else:
        assert voltages is None


@pytest.mark.parametrize(("name", "kwargs"), [("ActivationAwareIFNode", {}),
                                              ("DSRIFNode", {"T": 4})])
def test_spikingjelly_tensor_threshold_is_set_in_place(name: str, kwargs: dict) -> None:
    """Nodes keeping ``v_threshold`` as a buffer or Parameter refused a float
    ("cannot assign 'float' as buffer"): now the value is copied in, the kind kept."""
    from spikingjelly.activation_based import neuron

    node = getattr(neuron, name)(**kwargs)
    old = node.v_threshold
    assert torch.is_tensor(old)
    frameworks.set_threshold(node, 3.0)
    assert node.v_threshold is old and bool((old == 3.0).all())
    with pytest.raises(ValueError, match="v_threshold has shape"):
        frameworks.set_threshold(node, torch.ones(7))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("factor", [0.005, 7.0])
def test_a_graded_layer_is_judged_on_how_often_it_fires_not_on_its_values(
        backend: str, factor: float) -> None:
    """snnTorch ``graded_spikes_factor``: summed as values, spikes of 0.005 read as a
    rate of 0.001 (critical "dead", fix "lower the threshold": harmful) and spikes of 7
    as a rate above 1 ("saturated"). A graded neuron fires when it emits any value, so
    the same network reads the same rate whatever the factor, on both backends."""
    rates, reports = {}, {}
    for f in (1.0, factor):
        net = cn.build("snntorch", "Leaky")
        net.lif1.graded_spikes_factor = torch.tensor(f)
        x, _ = cn.spikes_in()
        prof = SpikeProfiler(backend=backend)
        with prof.watch(net):
            for _ in range(3):
                net(x)
        reports[f] = prof.report()
        rates[f] = float(reports[f].layer_stats["lif1"].firing_rates.mean())
    graded = reports[factor]
    lif1 = graded.layer_stats["lif1"]
    assert lif1.graded is True and not lif1.is_binary
    assert rates[factor] == pytest.approx(rates[1.0], rel=1e-9), explain(graded)
    assert 0.05 < rates[factor] < 0.95
    flagged = {p.category for p in graded.pathologies if p.layer == "lif1"}
    assert not flagged & {"dead_neurons", "saturated_neurons", "silent_network",
                          "non_binary_spikes"}, explain(graded)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_an_analog_layer_is_never_saturated_but_found_dead_when_it_stays_zero(
        backend: str) -> None:
    """SpikingJelly ``LIAFNode`` outputs ReLU(v): non-zero at most steps by nature, so
    counted as events it would read saturated ("raise the threshold": wrong). Its
    neurons whose output stays 0 are dead, and are found."""
    net = cn.build("spikingjelly", "LIAFNode", "s")
    with torch.no_grad():  # every output non-zero: what saturation would look like
        net.fc1.bias.add_(5.0)
    prof = SpikeProfiler(backend=backend)
    x, _ = cn.spikes_in()
    with prof.watch(net):
        net(x)
    report = prof.report()
    lif1 = report.layer_stats["lif1"]
    assert lif1.graded == "analog", explain(report)
    busy = lif1.firing_rates > report.thresholds.saturated_rate  # saturated, if 0/1
    assert busy.mean() > 0.9, explain(report)
    assert lif1.saturated_neuron_count == 0, explain(report)
    assert "saturated_neurons" not in {p.category for p in report.pathologies
                                       if p.layer == "lif1"}, explain(report)

    net = cn.build("spikingjelly", "LIAFNode", "s")
    with torch.no_grad():  # half of lif1's neurons get no positive input: ReLU(v) = 0
        half = net.fc1.weight.shape[0] // 2
        net.fc1.weight[:half] = -net.fc1.weight[:half].abs()
        net.fc1.bias[:half] = -1.0
    prof = SpikeProfiler(backend=backend)
    with prof.watch(net):
        net(x)
    report = prof.report()
    dead = [p for p in report.pathologies if p.layer == "lif1" and p.category == "dead_neurons"]
    assert dead and report.layer_stats["lif1"].dead_neuron_fraction >= 0.5, explain(report)


@pytest.mark.parametrize("fw, name, mode", INJECTED)
def test_a_class_whose_spikes_leave_0_and_1_is_watched_as_graded(fw: str, name: str,
                                                                  mode: str) -> None:
    """Driven hard either way (input x3 and x-3), a class whose output takes values
    other than 0 and 1 (ILIF's integers, the ternary nodes' -1, LIAF's activations)
    must be declared graded by ``watch``: else its events are summed as values (-1
    and 1 cancel: "silent", "dead") and it is called non-binary with "raise the
    threshold"."""
    values: set[float] = set()
    for sign in (3.0, -3.0):
        net = cn.build(fw, name, mode)
        seen: list[torch.Tensor] = []
        hook = net.lif1.register_forward_hook(lambda m, i, o, seen=seen: seen.append(
            (o[0] if isinstance(o, (tuple, list)) else o).detach()))
        x, _ = cn.spikes_in()
        with torch.no_grad():
            net(x * sign)
        hook.remove()
        values |= set(torch.unique(torch.cat([s.flatten().float() for s in seen])).tolist())
    found = frameworks.detect(net.lif1)
    assert found is not None
    if values - {0.0, 1.0}:
        assert found.graded, f"{name} emits {sorted(values)[:8]} but is watched as 0/1"
    prof = SpikeProfiler()
    with prof.watch(net), torch.no_grad():
        net(x * -3.0)
    layer = prof.report().layer_stats["lif1"]
    assert layer.graded == found.graded and float(layer.firing_rates.min()) >= 0
