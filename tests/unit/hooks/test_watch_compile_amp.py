"""Everyday training set-ups on a watched model: ``torch.compile``, autocast and whole-
model dtype casts, ``torch.inference_mode`` validation, activation checkpointing,
gradient accumulation, channels-last convolutions and ``torch.func.functional_call``.

Each run is checked against what the model itself emitted (its spikes and voltages,
captured by plain hooks or kept by the model, recorded into a reference profiler by
hand) or against the same run unwatched: records exact, outputs bit-for-bit unchanged.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable

import norse.torch as norse
import numpy as np
import pytest
import snntorch as snn
import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn
from torch.utils.checkpoint import checkpoint, set_checkpoint_early_stop

from spikewidget import SpikeProfiler

torch.set_num_threads(1)
T, B, N_IN, N_HID, N_OUT = 6, 5, 12, 32, 4


def spikes(shape: tuple[int, ...], seed: int, rate: float = 0.4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < rate).float()


# ------------------------------------------------------------------ models
def sj_net() -> nn.Sequential:
    """SpikingJelly multi-step LIF layers: one ``(time, batch, n)`` call each."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, N_HID), neuron.LIFNode(step_mode="m"),
                        nn.Linear(N_HID, N_OUT), neuron.LIFNode(step_mode="m"))
    with torch.no_grad():
        net[0].weight.mul_(4.0)
        net[2].weight.mul_(4.0)
    return net


class SnnLoop(nn.Module):
    """snnTorch ``Leaky(init_hidden=True)``, the model looping over time; ``keep``:
    every layer's spikes and membranes per step, as the layers returned them."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.lif1 = nn.Linear(N_IN, N_HID), snn.Leaky(beta=0.9, init_hidden=True)
        self.fc2 = nn.Linear(N_HID, N_OUT)
        self.lif2 = snn.Leaky(beta=0.9, init_hidden=True, output=True)
        with torch.no_grad():
            self.fc1.weight.mul_(4.0)
            self.fc2.weight.mul_(4.0)
        self.keep: dict[str, list[torch.Tensor]] = {"lif1": [], "lif2": []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.lif1.reset_mem()
        self.lif2.reset_mem()
        out = []
        for t in range(x.shape[0]):
            h = self.lif1(self.fc1(x[t]))
            spk, _ = self.lif2(self.fc2(h))
            self.keep["lif1"].append(h)
            self.keep["lif2"].append(spk)
            out.append(spk)
        return torch.stack(out)


class NorseLoop(nn.Module):
    """Norse ``LIFCell`` layers, the model looping over time (state passed along)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.lif1 = nn.Linear(N_IN, N_HID), norse.LIFCell()
        self.fc2, self.lif2 = nn.Linear(N_HID, N_OUT), norse.LIFCell()
        self.keep: dict[str, list[torch.Tensor]] = {"lif1": [], "lif2": []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = s2 = None
        out = []
        for t in range(x.shape[0]):
            z1, s1 = self.lif1(8.0 * self.fc1(x[t]), s1)
            z2, s2 = self.lif2(8.0 * self.fc2(z1), s2)
            self.keep["lif1"].append(z1)
            self.keep["lif2"].append(z2)
            out.append(z2)
        return torch.stack(out)


def capture(modules: dict[str, nn.Module]) -> dict[str, list[torch.Tensor]]:
    """Every output of each module (spikes first in a tuple), as returned."""
    got: dict[str, list[torch.Tensor]] = {name: [] for name in modules}
    for name, m in modules.items():
        m.register_forward_hook(
            lambda mod, a, out, name=name: got[name].append(
                out[0] if isinstance(out, tuple) else out))
    return got


def reference(per_call: dict[str, list[torch.Tensor]], calls_per_record: int,
              neuron_axes: int = 1) -> SpikeProfiler:
    """The records a watch should give: each layer's outputs, ``calls_per_record``
    calls stacked as one ``(time, batch, *neurons)`` step, recorded by hand."""
    ref = SpikeProfiler()
    for name, frames in per_call.items():
        for k in range(0, len(frames), calls_per_record):
            group = [f.detach().float() for f in frames[k:k + calls_per_record]]
            ref.record_step(name, group[0] if calls_per_record == 1 else torch.stack(group),
                            neuron_axes=neuron_axes if group[0].ndim > 3 else 1)
    return ref


def assert_same_spikes(got: SpikeProfiler, ref: SpikeProfiler, layers: list[str]) -> None:
    a, b = got.report().layer_stats, ref.report().layer_stats
    for name in layers:
        assert a[name].n_steps == b[name].n_steps, name
        assert a[name].n_observations == b[name].n_observations, name
        assert np.array_equal(a[name].firing_rates, b[name].firing_rates), name
        assert a[name].nonbinary_count == 0, name


def sequence_norm(frames: list[torch.Tensor]) -> float:
    """The norm of d(loss)/d(spikes) over a sequence's frames (their ``.grad``)."""
    return math.sqrt(sum(float(f.grad.double().pow(2).sum()) for f in frames))


# ------------------------------------------------------------------ torch.compile
MODELS: dict[str, Callable[[], nn.Module]] = {"spikingjelly": sj_net, "snntorch": SnnLoop,
                                              "norse": NorseLoop}
LAYERS = {"spikingjelly": ["1", "3"], "snntorch": ["lif1", "lif2"], "norse": ["lif1", "lif2"]}
T_COMPILED = 3
"""Time steps of the compiled runs: a model looping over time compiles a graph per
step between two watched layers' graph breaks."""


def train_steps(net: nn.Module, run: Callable, n: int, seed: int = 0, t: int = T
                ) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    """``n`` steps of ``t`` time steps; the outputs and the parameters' gradients."""
    outs, grads = [], []
    for k in range(n):
        functional.reset_net(net)
        out = run(spikes((t, B, N_IN), seed + k))
        (out.float().sum(0) - 2.0).pow(2).mean().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in net.parameters()])
        net.zero_grad()
    return outs, grads


@pytest.fixture(scope="module")
def compiled_runs() -> Callable[[str], dict]:
    """``run(framework)``: 3 training steps (backend='eager'), compiled once per module:
    the model compiled and watched (SpikingJelly: ``watch(torch.compile(net))``; the
    others watched, then compiled); the same model unwatched and uncompiled; the same
    watched but uncompiled; and Dynamo's graph count after steps 2 and 3."""
    import torch._dynamo

    runs: dict[str, dict] = {}

    def run(framework: str) -> dict:
        if framework in runs:
            return runs[framework]
        make = MODELS[framework]
        plain = make()
        outs_plain, grads_plain = train_steps(plain, plain, 3, t=T_COMPILED)
        eager_net, eager_prof = make(), SpikeProfiler()
        with eager_prof.watch(eager_net, gradients=True, input=True):
            train_steps(eager_net, eager_net, 3, t=T_COMPILED)
        net, prof = make(), SpikeProfiler()
        torch._dynamo.reset()
        counters = torch._dynamo.utils.counters
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if framework == "spikingjelly":  # watching the compiled module
                compiled = torch.compile(net, backend="eager")
                handle = prof.watch(compiled, gradients=True, input=True)
            else:
                handle = prof.watch(net, gradients=True, input=True)
                compiled = torch.compile(net, backend="eager")
            outs, grads = train_steps(net, compiled, 2, t=T_COMPILED)
            graphs = counters["stats"]["unique_graphs"]
            more = train_steps(net, compiled, 1, seed=2, t=T_COMPILED)
            handle.remove()
        runs[framework] = {
            "prof": prof, "eager": eager_prof, "outs": outs + more[0],
            "grads": grads + more[1], "plain": (outs_plain, grads_plain),
            "graphs": (graphs, counters["stats"]["unique_graphs"]),
            "warnings": [str(w.message) for w in caught
                         if "spikewidget" in str(w.message)],
            "layers": handle.layers,
        }
        return runs[framework]

    return run


COMPILED = ["spikingjelly", "norse",
            pytest.param("snntorch", marks=pytest.mark.slow)]  # Dynamo traces Leaky slowly


@pytest.mark.parametrize("framework", COMPILED)
def test_a_watched_model_compiled_records_what_it_records_uncompiled(compiled_runs,
                                                                     framework) -> None:
    """Spikes, voltages, input and gradient norms as an uncompiled watched run, under
    the model's own layer names (no ``_orig_mod.`` when the compiled module is
    watched); the compiled model's outputs and gradients bit-for-bit those of the
    plain model."""
    run = compiled_runs(framework)
    got, want = run["prof"].report().layer_stats, run["eager"].report().layer_stats
    assert run["layers"] == list(got) == ["input", *LAYERS[framework]]
    for name in got:
        a, b = got[name], want[name]
        assert a.n_steps == b.n_steps == 3, name
        assert np.array_equal(a.firing_rates, b.firing_rates), name
        assert a.voltage_mean == b.voltage_mean or (
            math.isnan(a.voltage_mean) and math.isnan(b.voltage_mean)), name
        assert a.gradient_steps == b.gradient_steps, name
        if name != "input":
            assert a.gradient_steps == 3
            assert a.gradient_norm_mean == pytest.approx(b.gradient_norm_mean, rel=1e-6)
    outs_plain, grads_plain = run["plain"]
    assert all(torch.equal(a, b) for a, b in zip(run["outs"], outs_plain, strict=True))
    assert all(torch.equal(a, b) for ga, gb in zip(run["grads"], grads_plain, strict=True)
               for a, b in zip(ga, gb, strict=True))
    assert run["warnings"] == []  # backend="eager" keeps autograd's graph: no caveat


@pytest.mark.parametrize("framework", COMPILED)
def test_compiled_training_does_not_recompile_every_step(compiled_runs, framework) -> None:
    """The hooks run outside the graph: a third step compiles nothing new (traced, the
    recorder's changing state recompiled every step up to Dynamo's limit)."""
    before, after = compiled_runs(framework)["graphs"]
    assert before > 0 and after == before


def test_module_compile_in_place_keeps_recording() -> None:
    net = sj_net()
    emitted = capture({"1": net[1], "3": net[3]})
    prof = SpikeProfiler()
    with prof.watch(net):
        net.compile(backend="eager")
        train_steps(net, net, 2, t=T_COMPILED)
    assert_same_spikes(prof, reference(emitted, 1), ["1", "3"])


def test_fullgraph_compile_of_a_watched_model_says_to_compile_without_it() -> None:
    import torch._dynamo

    torch._dynamo.reset()  # not a graph compiled before without fullgraph
    net, prof = sj_net(), SpikeProfiler()
    with prof.watch(net):
        compiled = torch.compile(net, backend="eager", fullgraph=True)
        with pytest.raises(Exception, match="compile_without_fullgraph"):
            compiled(spikes((T, B, N_IN), 0))


@pytest.mark.slow  # AOTAutograd compiles a forward and a backward graph per break
def test_aot_compiled_per_step_cells_say_once_which_gradient_is_recorded() -> None:
    """backend='aot_eager' (AOTAutograd, as the default inductor): Norse's cells use
    their spikes in their own reset inside the graph, a gradient path a hook at the
    graph's output cannot see. Spikes and voltages stay exact; one warning says what
    the gradient norm is and how to get the exact one."""
    net, prof = NorseLoop(), SpikeProfiler()
    compiled = torch.compile(net, backend="aot_eager")
    with pytest.warns(RuntimeWarning, match="backend='eager'") as caught, \
            prof.watch(net, gradients=True):
        train_steps(net, compiled, 2, t=T_COMPILED)
    assert sum("AOTAutograd" in str(w.message) for w in caught) == 1
    assert_same_spikes(prof, reference(net.keep, T_COMPILED), ["lif1", "lif2"])
    assert prof.report().layer_stats["lif1"].gradient_steps == 2


@pytest.mark.slow
def test_default_inductor_compile_records_what_the_layers_emitted() -> None:
    """Multi-step layers: their output is not used inside them, so the gradient at it
    is exact under AOTAutograd too (no caveat)."""
    net, prof = sj_net(), SpikeProfiler()
    emitted = capture({"1": net[1], "3": net[3]})
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="spikewidget")
        with prof.watch(net, gradients=True):
            compiled = torch.compile(net)
            train_steps(net, compiled, 2, t=T_COMPILED)
    assert_same_spikes(prof, reference(emitted, 1), ["1", "3"])
    assert prof.report().layer_stats["1"].gradient_steps == 2


# ------------------------------------------------------------------ autocast, dtypes
class SJSingle(nn.Module):
    """SpikingJelly single-step LIF layers (voltages on ``.v``, in the input's dtype),
    the model looping over time; ``keep``: spikes and voltages per step."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.lif1 = nn.Linear(N_IN, N_HID), neuron.LIFNode()
        self.fc2, self.lif2 = nn.Linear(N_HID, N_OUT), neuron.LIFNode()
        with torch.no_grad():
            self.fc1.weight.mul_(4.0)
            self.fc2.weight.mul_(4.0)
        self.keep: dict[str, list[torch.Tensor]] = {"lif1": [], "lif2": []}
        self.volts: dict[str, list[torch.Tensor]] = {"lif1": [], "lif2": []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for t in range(x.shape[0]):
            h = self.lif1(self.fc1(x[t]))
            z = self.lif2(self.fc2(h))
            for name, s, m in (("lif1", h, self.lif1), ("lif2", z, self.lif2)):
                self.keep[name].append(s)
                self.volts[name].append(m.v.detach().clone())
            out.append(z)
        return torch.stack(out)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_training_records_its_half_precision_spikes_exactly(dtype) -> None:
    """CPU autocast: the layers emit bf16/fp16 spikes and voltages. Rates, voltages and
    gradient norms are those of the emitted tensors, no non-binary alarm from the dtype,
    and the rates stay near the float32 run's."""
    rates = {}
    for mode in ("fp32", "amp"):
        net, prof = SJSingle(), SpikeProfiler()
        norms: dict[str, list[float]] = {n: [] for n in net.keep}
        last = SpikeProfiler()  # the emitted spikes and voltages, by hand
        with prof.watch(net, gradients=True):
            for k in range(2):
                functional.reset_net(net)
                for frames in (*net.keep.values(), *net.volts.values()):
                    frames.clear()
                with torch.autocast("cpu", dtype=dtype, enabled=mode == "amp"):
                    out = net(spikes((T, B, N_IN), k))
                for frames in net.keep.values():
                    for f in frames:
                        f.retain_grad()
                (out.float().sum(0) - 2.0).pow(2).mean().backward()
                for n, f in net.keep.items():
                    norms[n].append(sequence_norm(f))
                    last.record_step(n, torch.stack(f).detach().float(),
                                     torch.stack(net.volts[n]).float())
        rates[mode] = prof.report().layer_stats
        if mode == "fp32":
            continue
        assert net.keep["lif1"][0].dtype == dtype and net.volts["lif1"][0].dtype == dtype
        report = prof.report()
        assert "non_binary_spikes" not in {p.category for p in report.pathologies}
        for name in net.keep:
            st, want = report.layer_stats[name], last.report().layer_stats[name]
            assert st.n_steps == 2 and st.nonbinary_count == 0
            assert st.max_value == want.max_value  # 1.0 read from bf16/fp16 exactly
            assert st.voltage_max == want.voltage_max and st.voltage_min == want.voltage_min
            assert np.array_equal(st.firing_rates, want.firing_rates)
            assert st.voltage_mean == pytest.approx(want.voltage_mean, rel=1e-6)
            assert st.gradient_steps == 2
            assert st.gradient_norm_mean == pytest.approx(np.mean(norms[name]), rel=1e-3)
            assert np.abs(st.firing_rates - rates["fp32"][name].firing_rates).mean() < 0.05
        assert report.layer_stats["lif1"].max_value == 1.0  # it fires


@pytest.mark.parametrize("framework", ["spikingjelly", "snntorch"])
def test_autocast_bf16_multi_step_and_snntorch_records_the_emitted_spikes(framework) -> None:
    net = MODELS[framework]()
    layers = LAYERS[framework]
    emitted = (capture({"1": net[1], "3": net[3]}) if framework == "spikingjelly"
               else net.keep)
    prof = SpikeProfiler()
    with prof.watch(net, gradients=True), torch.autocast("cpu", dtype=torch.bfloat16):
        train_steps(net, net, 2)
    per_record = 1 if framework == "spikingjelly" else T
    assert_same_spikes(prof, reference(emitted, per_record), layers)
    assert all(prof.report().layer_stats[n].gradient_steps == 2 for n in layers)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_whole_model_dtype_casts_record_exact_statistics(dtype) -> None:
    """``model.half()`` / ``model.to(torch.float64)``: spikes, voltages and gradient
    norms in that dtype, recorded as the layers emitted them."""
    net = SJSingle().to(dtype)
    prof = SpikeProfiler()
    with prof.watch(net, gradients=True, sample_voltages=False):  # every step's voltages
        functional.reset_net(net)
        out = net(spikes((T, B, N_IN), 3).to(dtype))
        for f in net.keep["lif1"]:
            f.retain_grad()
        out.float().sum().backward()
    assert net.keep["lif1"][0].dtype == dtype
    want = SpikeProfiler()
    for name in net.keep:
        want.record_step(name, torch.stack(net.keep[name]).detach().double(),
                         torch.stack(net.volts[name]).double())
    for name in net.keep:
        st, ref = prof.report().layer_stats[name], want.report().layer_stats[name]
        assert np.array_equal(st.firing_rates, ref.firing_rates) and st.nonbinary_count == 0
        assert st.voltage_mean == pytest.approx(ref.voltage_mean, rel=1e-9, abs=1e-12)
        assert st.voltage_max == ref.voltage_max
    got = prof.report().layer_stats["lif1"].gradient_norm_mean
    assert got == pytest.approx(sequence_norm(net.keep["lif1"]), rel=1e-3)


def test_channels_last_conv_net_records_what_the_layers_emitted() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(layer.Conv2d(2, 6, 3, padding=1, step_mode="m"),
                        neuron.LIFNode(step_mode="m"), layer.Flatten(step_mode="m"),
                        layer.Linear(6 * 8 * 8, N_OUT, step_mode="m"),
                        neuron.LIFNode(step_mode="m"))
    with torch.no_grad():
        net[0].weight.mul_(6.0)
    plain = copy.deepcopy(net).to(memory_format=torch.channels_last)
    net = net.to(memory_format=torch.channels_last)
    x = spikes((T, B, 2, 8, 8), 4, rate=0.5)
    emitted = capture({"1": net[1], "4": net[4]})
    prof = SpikeProfiler()
    with prof.watch(net, gradients=True):
        out = net(x)
        out.sum().backward()
    assert emitted["1"][0].ndim == 5
    assert_same_spikes(prof, reference(emitted, 1, neuron_axes=3), ["1", "4"])
    assert prof.report().layer_stats["1"].neuron_shape == (6, 8, 8)
    assert prof.report().layer_stats["1"].firing_rates.mean() > 0
    assert torch.equal(out, plain(x))  # watching changes nothing


# ------------------------------------------------------------------ inference_mode
def per_step_net() -> nn.Sequential:
    """snnTorch tutorial style: hidden state inside the neurons, one call per step."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, N_HID), snn.Leaky(beta=0.9, init_hidden=True),
                        nn.Linear(N_HID, N_OUT),
                        snn.Leaky(beta=0.9, init_hidden=True, output=True))
    with torch.no_grad():
        net[0].weight.mul_(4.0)
    return net


def per_step(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron):
            m.reset_mem()
    return torch.stack([net(x[t])[0] for t in range(x.shape[0])])


@pytest.mark.parametrize("no_grad", [torch.inference_mode, torch.no_grad])
def test_eval_passes_in_inference_mode_are_recorded_apart_and_training_goes_on(
        no_grad) -> None:
    """Per-step frames made in inference mode have no version counter (reading it
    failed the layer); validation goes to phase 'eval', with no gradient records, and
    training afterwards is recorded with its gradients as before."""
    net = per_step_net()
    emitted = capture({"1": net[1], "3": net[3]})
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    prof = SpikeProfiler()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with prof.watch(net, gradients=True, time_steps=T):
            for epoch in range(2):
                net.train()
                per_step(net, spikes((T, B, N_IN), epoch)).sum().backward()
                opt.step()
                opt.zero_grad()
                net.eval()
                with no_grad():
                    for k in range(2):
                        per_step(net, spikes((T, B, N_IN), 10 + k))
    train, val = prof.report().layer_stats, prof.report(phase="eval").layer_stats
    assert train["1"].n_steps == 2 and train["1"].gradient_steps == 2
    assert val["1"].n_steps == 4 and val["1"].gradient_steps == 0
    frames = {n: [f for k, f in enumerate(v) if (k // T) % 3 == 0] for n, v in emitted.items()}
    assert_same_spikes(prof, reference(frames, T), ["1", "3"])
    held = {n: [f for k, f in enumerate(v) if (k // T) % 3] for n, v in emitted.items()}
    want = reference(held, T).report().layer_stats
    assert np.array_equal(val["1"].firing_rates, want["1"].firing_rates)


def test_inference_mode_passes_of_sequence_layers_and_eval_no_grad_with_gradients() -> None:
    """Multi-step SpikingJelly and Norse ``LIF``: inference-mode passes are recorded
    into 'eval', model.eval() + no_grad() with gradients=True leaves no gradient
    waiting, and a training step after them records its gradient."""
    nets = {"spikingjelly": sj_net(),
            "norse": norse.SequentialState(nn.Linear(N_IN, N_HID), norse.LIF(),
                                           nn.Linear(N_HID, N_OUT), norse.LIF())}
    for framework, net in nets.items():
        prof = SpikeProfiler()
        with prof.watch(net, gradients=True) as handle:
            for ctx in (torch.inference_mode, torch.no_grad, torch.enable_grad):
                net.train(ctx is torch.enable_grad)
                with ctx():
                    functional.reset_net(net)
                    out = net(spikes((T, B, N_IN), 5))
                out = out[0] if isinstance(out, tuple) else out
                if out.requires_grad:
                    out.sum().backward()
            assert all(not t.waiting for t in handle._taps), framework
        train, val = prof.report().layer_stats["1"], prof.report(phase="eval").layer_stats["1"]
        assert (train.n_steps, train.gradient_steps) == (1, 1), framework
        assert (val.n_steps, val.gradient_steps) == (2, 0), framework


# ------------------------------------------------------------------ checkpointing
class Checkpointed(nn.Module):
    """A Linear, then a checkpointed block (Linear + a multi-step neuron layer, reset
    at its start: a recomputation must see the state the first run saw), then a
    readout neuron layer; ``reentrant`` None: no checkpoint."""

    def __init__(self, block_neuron: nn.Module, reentrant: bool | None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc0 = nn.Linear(N_IN, N_IN)
        self.block = norse.SequentialState(nn.Linear(N_IN, N_HID), block_neuron)
        self.fc, self.out = nn.Linear(N_HID, N_OUT), neuron.LIFNode(step_mode="m")
        with torch.no_grad():
            self.block[0].weight.mul_(5.0)
            self.fc.weight.mul_(3.0)
        self.reentrant = reentrant

    def run_block(self, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self.block)  # a recomputation starts at rest too
        return self.block(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc0(x)
        if self.reentrant is None:
            h = self.run_block(x)
        else:
            h = checkpoint(self.run_block, x, use_reentrant=self.reentrant)
        return self.out(self.fc(h))


@pytest.mark.parametrize("early_stop", [True, False])
@pytest.mark.parametrize("reentrant", [False, True])
@pytest.mark.parametrize("framework", ["norse", "spikingjelly"])
def test_checkpointed_blocks_are_recorded_once_with_their_gradients(
        framework, reentrant, early_stop) -> None:
    """The block runs again in backward: its spikes are counted once and its gradient
    norm recorded once per step, as without checkpointing (use_reentrant=True runs the
    first pass without gradients: they come from the recomputation)."""
    def block_neuron() -> nn.Module:
        return norse.LIF() if framework == "norse" else neuron.LIFNode(step_mode="m")

    profs = {}
    for mode in (None, reentrant):
        net, prof = Checkpointed(block_neuron(), mode), SpikeProfiler()
        with set_checkpoint_early_stop(early_stop), warnings.catch_warnings():
            warnings.simplefilter("error")
            with prof.watch(net, gradients=True, input=True):
                grads = []
                for k in range(3):
                    functional.reset_net(net)
                    net(spikes((T, B, N_IN), k)).sum().backward()
                    grads.append(net.fc0.weight.grad.clone())
                    net.zero_grad()
        profs[mode] = (prof.report().layer_stats, grads)
    (got, g_got), (want, g_want) = profs[reentrant], profs[None]
    assert all(torch.allclose(a, b) for a, b in zip(g_got, g_want, strict=True))
    assert list(got) == list(want) == ["input", "block.1", "out"]
    for name in got:
        assert got[name].n_steps == want[name].n_steps == 3, name
        assert np.array_equal(got[name].firing_rates, want[name].firing_rates), name
        assert got[name].gradient_steps == want[name].gradient_steps, name
        assert got[name].gradient_norm_mean == pytest.approx(
            want[name].gradient_norm_mean, rel=1e-5, nan_ok=True), name
    assert got["block.1"].gradient_steps == 3 and got["block.1"].firing_rates.mean() > 0


# ------------------------------------------------------------------ accumulation
def test_gradient_accumulation_gives_one_record_and_norm_per_micro_batch() -> None:
    """Three forward/backward passes per optimizer step, the model called once per
    time step: each micro-batch is its own record with its own gradient norm, and no
    'time steps per batch vary' warning."""
    net = per_step_net()
    kept: list[torch.Tensor] = []

    def keep(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        out.retain_grad()
        kept.append(out)

    net[1].register_forward_hook(keep)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    prof, norms = SpikeProfiler(), []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with prof.watch(net, gradients=True, time_steps=T):
            for step in range(2):
                for micro in range(3):
                    kept.clear()
                    out = per_step(net, spikes((T, B, N_IN), 3 * step + micro))
                    (out.sum(0) - 2.0).pow(2).mean().div(3).backward()
                    norms.append(sequence_norm(kept))
                opt.step()
                opt.zero_grad()
    st = prof.report().layer_stats["1"]
    assert st.n_steps == 6 and st.gradient_steps == 6
    assert st.n_observations == 6 * T * B
    assert st.gradient_norm_mean == pytest.approx(np.mean(norms), rel=1e-5)
    assert st.gradient_norm_max == pytest.approx(max(norms), rel=1e-5)


# ------------------------------------------------------------------ torch.func
def test_functional_call_with_other_parameters_records_that_call() -> None:
    """``torch.func.functional_call`` with scaled weights (a meta-learning inner step):
    the record is of the call's spikes, its gradient flows to the given parameters."""
    net = sj_net()
    emitted = capture({"1": net[1], "3": net[3]})
    params = {k: (v * 1.5).detach().requires_grad_() for k, v in net.named_parameters()}
    prof = SpikeProfiler()
    with prof.watch(net, gradients=True):
        functional.reset_net(net)
        out = torch.func.functional_call(net, params, (spikes((T, B, N_IN), 6),))
        out.sum().backward()
    assert_same_spikes(prof, reference(emitted, 1), ["1", "3"])
    assert prof.report().layer_stats["1"].gradient_steps == 1
    assert params["0.weight"].grad is not None and net[0].weight.grad is None
