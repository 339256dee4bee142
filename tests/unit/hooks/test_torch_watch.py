"""profiler.watch(model) on snnTorch models and plain torch modules.

The story: a user wraps a training loop in ``profiler.watch(model)`` and gets the
same statistics they would have got from hand-written ``record_step`` calls.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import snntorch as snn
import snntorch.utils as snn_utils
import tonic
import torch
from spikingjelly.activation_based import neuron as sj_neuron
from torch import nn

from spikewidget import SpikeProfiler

T, B, N_IN, N_HID, N_OUT = 12, 6, 40, 24, 5


class LoopNet(nn.Module):
    """The snnTorch tutorial shape: the model loops over time inside forward, keeping
    every step's ``(spk1, mem1, spk2, mem2)`` in ``keep``."""

    def __init__(self, gain: float = 1.0, graded: float = 1.0, *, n_in: int = N_IN,
                 n_hidden: int = N_HID, lif1: nn.Module | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.lif1 = snn.Leaky(beta=0.9) if lif1 is None else lif1
        self.fc2 = nn.Linear(n_hidden, N_OUT)
        self.lif2 = snn.Leaky(beta=0.9, graded_spikes_factor=graded)
        with torch.no_grad():
            self.fc1.weight.mul_(gain)
        self.keep: list[tuple[torch.Tensor, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            self.keep.append((spk1, mem1, spk2, mem2))
            out.append(spk2)
        return torch.stack(out)


def step_net() -> nn.Sequential:
    """A model called once per time step (init_hidden=True keeps the state)."""
    return nn.Sequential(nn.Linear(N_IN, N_HID), snn.Leaky(beta=0.9, init_hidden=True),
                         nn.Linear(N_HID, N_OUT),
                         snn.Leaky(beta=0.9, init_hidden=True, output=True))


def spikes_in(seed: int, rate: float = 0.3, shape: tuple[int, ...] = (T, B, N_IN)
              ) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < rate).float()


def keep_stacked(net: LoopNet, i: int) -> np.ndarray:
    return torch.stack([k[i] for k in net.keep]).detach().numpy()


# --------------------------------------------------------------------- finding layers
def test_watch_names_layers_by_module_path_in_model_order() -> None:
    torch.manual_seed(0)
    net, prof = LoopNet(gain=3.0), SpikeProfiler()
    with prof.watch(net, input=True) as handle:
        net(spikes_in(1))
    assert handle.layers == ["input", "lif1", "lif2"]
    assert prof.layers == ["input", "lif1", "lif2"]
    assert prof.report().layer_stats["input"].role == "input"


def test_tutorial_loop_rates_voltages_and_counts_match_hand_computed() -> None:
    torch.manual_seed(0)
    net, prof = LoopNet(gain=3.0), SpikeProfiler()
    x = [spikes_in(s) for s in (1, 2)]
    with prof.watch(net, input=True, sample_voltages=False):  # every step's mem (default:
        for xb in x:  # sampled on the CPU, see test_watch_sequences)
            net(xb)
    rep = prof.report()
    spk1, mem1, spk2 = keep_stacked(net, 0), keep_stacked(net, 1), keep_stacked(net, 2)
    hid, out = rep.layer_stats["lif1"], rep.layer_stats["lif2"]
    assert hid.n_steps == 2  # one record per forward of the model: (T, batch, neurons)
    assert hid.n_observations == 2 * T * B
    np.testing.assert_allclose(hid.firing_rates, spk1.reshape(-1, N_HID).mean(0))
    np.testing.assert_allclose(hid.voltage_mean, mem1.mean(dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(hid.voltage_std, mem1.std(dtype=np.float64), rtol=1e-5)
    counts = np.concatenate([spk2[:T].sum(0), spk2[T:].sum(0)])  # per sample, over time
    assert out.spike_count_range == (counts.min(), counts.max())
    inp = np.concatenate([xb.numpy() for xb in x], axis=1).reshape(-1, N_IN)
    np.testing.assert_allclose(rep.layer_stats["input"].firing_rates, inp.mean(0))


def test_model_called_once_per_time_step_gives_the_same_rates() -> None:
    torch.manual_seed(0)
    net, prof = step_net(), SpikeProfiler()
    x = spikes_in(3)
    seen = []
    with prof.watch(net):
        for t in range(T):
            spk, _ = net(x[t])
            seen.append(spk.detach().numpy())
    st = prof.report().layer_stats["3"]
    assert prof.layers == ["1", "3"]
    assert st.n_steps == T  # one record per call
    np.testing.assert_allclose(st.firing_rates, np.stack(seen).reshape(-1, N_OUT).mean(0))
    assert st.spike_count_range is None  # a single step has no time axis to sum over


def run_samples_per_step(prof: SpikeProfiler, seeds: list[int], **watch) -> np.ndarray:
    """Feed one sample of T steps per seed to a model called once per time step
    (reset between samples), watched; returns the output spikes ``(steps, B, N_OUT)``."""
    torch.manual_seed(0)
    net = step_net()
    x = torch.cat([spikes_in(s, rate=0.6) for s in seeds])
    seen = []
    with prof.watch(net, time_steps=T, **watch):
        for t in range(len(x)):
            if t % T == 0:
                snn_utils.reset(net)
            seen.append(net(x[t])[0].detach().numpy())
    return np.stack(seen)


def test_time_steps_groups_per_step_calls_into_sequences_with_counts() -> None:
    prof = SpikeProfiler()
    spk = run_samples_per_step(prof, [4, 5])  # two samples of T steps
    st = prof.report().layer_stats["3"]
    assert st.n_steps == 2 and st.n_observations == 2 * T * B
    np.testing.assert_allclose(st.firing_rates, spk.reshape(-1, N_OUT).mean(0))
    counts = np.concatenate([spk[:T].sum(0), spk[T:].sum(0)])
    assert st.spike_count_range == (counts.min(), counts.max())


def test_every_records_one_forward_in_n_exactly_and_the_rest_not_at_all() -> None:
    torch.manual_seed(0)
    net, prof = LoopNet(gain=3.0), SpikeProfiler()
    xs = [spikes_in(seed) for seed in range(6)]
    recorded = []
    with prof.watch(net, every=3, gradients=True, input=True) as h:
        for i, x in enumerate(xs):
            net.keep.clear()
            net(x).sum().backward()
            if i % 3 == 0:
                recorded.append(keep_stacked(net, 0))
        assert h.every == 3 and "every=3" in repr(h)
    st = prof.report().layer_stats["lif1"]
    assert st.n_steps == 2 and st.gradient_steps == 2  # forwards 0 and 3
    np.testing.assert_array_equal(prof.report().layer_stats["input"].per_neuron_spikes,
                                  (xs[0] + xs[3]).sum((0, 1)).numpy())
    np.testing.assert_array_equal(st.per_neuron_spikes,
                                  sum(r.reshape(-1, N_HID).sum(0) for r in recorded))
    direct = SpikeProfiler()
    with direct.watch(net, every=5):
        net(xs[0])  # recorded
        net(xs[1])  # not
        net.lif1(torch.ones(B, N_HID), torch.zeros(B, N_HID))  # outside the model: recorded
    assert direct.report().layer_stats["lif1"].n_steps == 2


def test_every_counts_sequences_when_the_model_is_called_per_time_step() -> None:
    prof = SpikeProfiler()
    spk = run_samples_per_step(prof, [0, 1, 2, 3], every=2)  # four samples of T steps
    st = prof.report().layer_stats["3"]
    kept = np.concatenate([spk[:T], spk[2 * T:3 * T]])  # sequences 0 and 2
    assert st.n_steps == 2
    np.testing.assert_allclose(st.firing_rates, kept.reshape(-1, N_OUT).mean(0))


@pytest.mark.parametrize("every", [0, -2, 1.5, True, "2"])
def test_every_must_be_a_whole_number_of_at_least_one(every) -> None:
    prof = SpikeProfiler()
    with pytest.raises(ValueError, match=r"every must be a whole number >= 1.*got"):
        prof.watch(LoopNet(), every=every)
    assert prof.layers == []


def test_synaptic_and_init_hidden_outputs_give_spikes_and_membrane() -> None:
    torch.manual_seed(0)
    syn = snn.Synaptic(alpha=0.8, beta=0.9)  # (spk, syn, mem)
    hid = snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True, output=True)  # ditto
    lea = snn.Leaky(beta=0.9, init_hidden=True)  # spk only; mem on .mem
    model = nn.ModuleDict({"syn": syn, "hid": hid, "lea": lea})
    prof = SpikeProfiler()
    x = torch.randn(B, N_HID) * 2
    with prof.watch(model):
        s_syn, _, m_syn = syn(x, *syn.init_synaptic())
        s_hid, _, m_hid = hid(x)
        s_lea = lea(x)
    stats = prof.report().layer_stats
    for name, s, m in (("syn", s_syn, m_syn), ("hid", s_hid, m_hid), ("lea", s_lea, lea.mem)):
        np.testing.assert_allclose(stats[name].firing_rates, s.detach().numpy().mean(0))
        np.testing.assert_allclose(stats[name].voltage_mean,
                                   m.detach().double().mean().item(), rtol=1e-6)


def test_graded_spikes_factor_is_graded_on_purpose_not_non_binary() -> None:
    torch.manual_seed(0)
    net, prof = LoopNet(gain=3.0, graded=2.0), SpikeProfiler()
    with torch.no_grad():
        net.fc2.bias.fill_(2.0)  # make lif2 fire: its spikes are 2.0
    with prof.watch(net):
        net(spikes_in(1))
    rep = prof.report()
    assert rep.layer_stats["lif2"].graded and rep.layer_stats["lif2"].max_value == 2.0
    assert rep.by_category("non_binary_spikes") == []


def test_count_valued_tonic_frames_are_caught_at_the_input() -> None:
    dtype = np.dtype([("x", int), ("t", int), ("p", int)])
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(B):
        ev = np.zeros(4000, dtype=dtype)
        ev["x"] = rng.integers(0, N_IN, ev.size)
        ev["t"] = np.sort(rng.integers(0, 100_000, ev.size))
        to_frame = tonic.transforms.ToFrame(sensor_size=(N_IN, 1, 1), n_time_bins=T)
        frames.append(to_frame(ev))  # (T, 1, N_IN) counts per bin
    x = torch.as_tensor(np.stack(frames, axis=1), dtype=torch.float32)  # (T, B, 1, N_IN)
    assert x.max() > 1
    found = {}
    for name, frames_in in (("counts", x), ("binarised", (x > 0).float())):
        torch.manual_seed(0)
        net, prof = LoopNet(), SpikeProfiler()
        prof.declare_layer("input", neuron_axes=2)  # neurons are (1, N_IN)
        with prof.watch(net, input=True):
            net(frames_in)
        found[name] = [p.layer for p in prof.report().by_category("count_valued_input")]
        assert prof.report().layer_stats["input"].neuron_shape == (1, N_IN)
    assert found == {"counts": ["input"], "binarised": []}


def test_record_loss_takes_a_tensor_and_sees_chance() -> None:
    prof = SpikeProfiler()
    logits = torch.zeros(B, N_OUT, requires_grad=True)
    target = torch.arange(B) % N_OUT
    for _ in range(25):
        loss = nn.functional.cross_entropy(logits, target)
        prof.record_loss(loss, n_classes=N_OUT)
    rep = prof.report()
    assert rep.loss.count == 25 and rep.loss.last == pytest.approx(math.log(N_OUT))
    assert [p.category for p in rep.pathologies] == ["loss_at_chance"]


# --------------------------------------------------------------------- gradients
def test_gradient_norm_is_the_norm_of_dloss_dspikes_over_the_sequence() -> None:
    torch.manual_seed(0)
    net, prof = LoopNet(gain=3.0), SpikeProfiler()
    x = spikes_in(1)
    with prof.watch(net, gradients=True):
        out = net(x)
        for k in net.keep:
            k[0].retain_grad()
        loss = (out.sum(0) - 2.0).pow(2).mean()
        loss.backward()
    st = prof.report().layer_stats["lif1"]
    want = math.sqrt(sum(float(k[0].grad.double().pow(2).sum()) for k in net.keep))
    assert want > 0
    assert st.gradient_steps == 1
    assert st.gradient_norm_mean == pytest.approx(want, rel=1e-6)


class HalfLoop(nn.Module):
    """SpikingJelly single-step LIF layers (their spikes keep the input's dtype), the
    model looping over time; ``keep``: the first layer's spikes per time step."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(N_IN, N_HID), sj_neuron.LIFNode()
        self.fc2, self.lif2 = nn.Linear(N_HID, N_OUT), sj_neuron.LIFNode()
        self.keep: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for t in range(x.shape[0]):
            self.keep.append(self.lif1(self.fc1(x[t])))
            out.append(self.lif2(self.fc2(self.keep[-1])))
        return torch.stack(out)


def test_half_precision_gradients_are_squared_in_float32() -> None:
    """A float16 model's gradients above 256 square to Inf in float16 (max 65504): the
    norm must come out finite and right, the first frame and every later one alike."""
    torch.manual_seed(0)
    net, prof = HalfLoop(), SpikeProfiler()
    with torch.no_grad():
        net.fc1.weight.mul_(4.0)
    net = net.half()
    x = spikes_in(1).half()
    with prof.watch(net, gradients=True):
        out = net(x)
        for s in net.keep:
            s.retain_grad()
        (30000.0 * out.float().sum()).backward()
    grads = [s.grad for s in net.keep]
    assert all(g.dtype == torch.float16 for g in grads)
    assert max(float(g.abs().max()) for g in grads) > 256  # its square overflows float16
    want = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads))
    st = prof.report().layer_stats["lif1"]
    assert st.nonfinite == [] and st.gradient_steps == 1
    assert st.gradient_norm_mean == pytest.approx(want, rel=1e-3)


def test_a_double_backward_records_the_first_order_norm_and_no_warning() -> None:
    """``create_graph=True`` (a gradient penalty): the gradients that reach the hooks
    carry a graph of their own; the record is the same norm as a plain backward's."""
    torch.manual_seed(0)
    net, prof = LoopNet(gain=3.0), SpikeProfiler()
    plain = copy.deepcopy(net)
    x = spikes_in(1)
    out = plain(x)
    for k in plain.keep:
        k[0].retain_grad()
    (out.sum(0) - 2.0).pow(2).mean().backward()
    want = math.sqrt(sum(float(k[0].grad.double().pow(2).sum()) for k in plain.keep))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failed layer warns: make it fail the test
        with prof.watch(net, gradients=True):
            loss = (net(x).sum(0) - 2.0).pow(2).mean()
            (grad_w,) = torch.autograd.grad(loss, net.fc1.weight, create_graph=True)
            assert grad_w.requires_grad
            grad_w.pow(2).sum().backward()  # second order, through the first backward
    st = prof.report().layer_stats["lif1"]
    assert st.nonfinite == [] and st.gradient_steps == 1
    assert st.gradient_norm_mean == pytest.approx(want, rel=1e-5)


def test_backward_before_a_sequence_closes_records_it_with_its_gradient() -> None:
    """Truncated BPTT: the loss is taken before ``time_steps`` calls have come."""
    torch.manual_seed(0)
    net, prof = step_net(), SpikeProfiler()
    x = spikes_in(6, rate=0.6)
    with prof.watch(net, gradients=True, time_steps=10 * T):
        spikes = [net(x[t])[0] for t in range(T)]
        for s in spikes:
            s.retain_grad()
        (torch.stack(spikes).sum(0) - 3.0).pow(2).mean().backward()
        st = prof.report().layer_stats["3"]  # recorded when the gradients came
    assert st.n_steps == 1 and st.n_observations == T * B
    want = math.sqrt(sum(float(s.grad.double().pow(2).sum()) for s in spikes))
    assert st.gradient_steps == 1 and st.gradient_norm_mean == pytest.approx(want, rel=1e-6)


def test_exploding_and_vanishing_gradients_are_named_from_watched_hooks() -> None:
    torch.manual_seed(0)
    # 8 records: max/mean of 8 norms is at most 8 (the tutorial's 100x could never
    # fire); the median of the first records and the geometric mean are robust to it
    net, prof = LoopNet(gain=3.0), SpikeProfiler()
    with torch.no_grad():
        net.fc2.weight.mul_(1e-4)  # almost nothing flows back to lif1
        net.fc2.bias.fill_(0.5)
    with prof.watch(net, gradients=True):
        for i in range(8):
            out = net(spikes_in(i))
            scale = 1e5 if i == 5 else 1.0  # one step's loss blows up
            (scale * (out.sum(0) - 2.0).pow(2).mean()).backward()
    rep = prof.report()
    assert {p.layer for p in rep.by_category("gradient_explosion")} >= {"lif2"}
    assert [p.layer for p in rep.by_category("gradient_vanishing")] == ["lif1"]


# --------------------------------------------------------------------- explicit layers
class Custom(nn.Module):
    """Not a framework neuron: returns a dict."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        v = x.cumsum(-1) / x.shape[-1]
        return {"s": (v > 0.2).float(), "v": v}


def test_any_module_can_be_named_with_an_extract_function() -> None:
    model = nn.Sequential(nn.Linear(N_IN, N_HID), Custom())
    prof = SpikeProfiler()
    x = torch.rand(B, N_IN)
    with prof.watch(model, extract={"1": lambda out: (out["s"], out["v"])}) as h:
        out = model(x)
    assert h.layers == ["1"]
    st = prof.report().layer_stats["1"]
    np.testing.assert_allclose(st.firing_rates, out["s"].numpy().mean(0))
    assert st.has_voltages


class Mutating(nn.Module):
    """Thresholds; while ``mutate``, zeroes its previous output in place once the caller
    has it (the previous step's tensor, reused)."""

    def __init__(self, mutate: bool = True) -> None:
        super().__init__()
        self.mutate = mutate
        self.last: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mutate and self.last is not None:
            self.last.zero_()
        self.last = (x > 0.5).float()
        return self.last


class TimeLoop(nn.Module):
    """Calls ``body`` once per time step of ``x`` ``(time, ...)``; its layers are
    ``body.<name>``."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> None:
        for t in range(x.shape[0]):
            self.body(x[t])


def test_frames_are_recorded_as_they_were_when_the_layer_returned_them() -> None:
    loop, prof = TimeLoop(nn.Sequential(Mutating())), SpikeProfiler()
    x = torch.rand(T, B, N_IN)
    with torch.no_grad(), prof.watch(loop, layers=["body.0"]):
        loop(x)
    np.testing.assert_allclose(prof.report().layer_stats["body.0"].firing_rates,
                               (x > 0.5).float().numpy().reshape(-1, N_IN).mean(0))


def test_layers_selects_modules_and_unknown_names_are_refused() -> None:
    net, prof = LoopNet(), SpikeProfiler()
    with prof.watch(net, layers=["lif2", net.fc1]) as h:
        net(spikes_in(0))
    assert h.layers == ["fc1", "lif2"]  # fc1 read as a tensor of "spikes"
    with pytest.raises(ValueError, match=r"'lif9'.*'lif1'"):
        prof.watch(net, layers=["lif9"])
    custom = SpikeProfiler()
    with custom.watch(net, layers=["fc2"], extract=lambda out: (out > 0).float()):
        net(spikes_in(0))
    assert custom.report().layer_stats["fc2"].is_binary
    with pytest.raises(TypeError, match="torch.nn.Module"):
        prof.watch(lambda x: x)


def test_an_unreadable_output_warns_naming_the_module_and_training_goes_on() -> None:
    model = nn.Sequential(nn.Linear(N_IN, N_HID), Custom())
    prof = SpikeProfiler()
    with pytest.warns(RuntimeWarning, match=r"layer '1' \(Custom\).*dict"):
        h = prof.watch(model, layers=["1"])
        model(torch.rand(B, N_IN))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, then left alone
        model(torch.rand(B, N_IN))
    h.remove()
    assert prof.layers == []


# --------------------------------------------------------------------- robustness
def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               for m in model.modules())


def test_remove_detaches_every_hook_and_records_nothing_after() -> None:
    torch.manual_seed(0)
    net, prof = LoopNet(gain=3.0), SpikeProfiler()
    before = _hook_count(net)
    handle = prof.watch(net, gradients=True, input=True)
    assert _hook_count(net) > before
    out = net(spikes_in(1))
    handle.remove()
    assert _hook_count(net) == before
    out.sum().backward()  # tensor hooks of a graph built while watching: inert now
    steps = {n: s.n_steps for n, s in prof.report().layer_stats.items()}
    grads = prof.report().layer_stats["lif1"].gradient_steps
    net(spikes_in(2)).sum().backward()
    assert {n: s.n_steps for n, s in prof.report().layer_stats.items()} == steps
    assert prof.report().layer_stats["lif1"].gradient_steps == grads == 0
    handle.remove()  # twice is harmless


def _train_step(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    out = net(x)
    loss = nn.functional.cross_entropy(out.sum(0), torch.arange(B) % N_OUT)
    opt.zero_grad()
    loss.backward()
    grads = [p.grad.clone() for p in net.parameters()]
    opt.step()
    return out, grads


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_watched_training_step_is_bit_for_bit_the_unwatched_one(backend: str) -> None:
    torch.manual_seed(0)
    plain = LoopNet(gain=3.0)
    watched = copy.deepcopy(plain)
    x = spikes_in(7)
    out_a, grads_a = _train_step(plain, x)
    prof = SpikeProfiler(backend=backend)
    with prof.watch(watched, gradients=True, input=True):
        out_b, grads_b = _train_step(watched, x)
    assert prof.report().layer_stats["lif1"].gradient_steps == 1
    assert torch.equal(out_a, out_b)
    assert all(torch.equal(a, b) for a, b in zip(grads_a, grads_b, strict=True))
    assert all(torch.equal(a, b) for a, b in
               zip(plain.parameters(), watched.parameters(), strict=True))
