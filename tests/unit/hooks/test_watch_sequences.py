"""How watch() holds a layer's frames until their sequence is recorded.

Large float32 frames on the CPU are folded into per-sample counts when their
sequence is recorded (see ``spikewidget.hooks.sequence``); whatever the way, a user must
get what hand-written ``record_step`` calls on the whole sequence give: exactly for
spikes (binary or not, finite or not), and voltages from every ``VOLTAGE_STRIDE``-th
time step and the last.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import snntorch as snn
import torch
from torch import nn

from spikewidget import SpikeProfiler
from spikewidget.demo.story_model import MultiSpikeLeaky
from spikewidget.hooks.sequence import FOLD_MIN_VALUES, VOLTAGE_STRIDE
from spikewidget.state.temporal import SAMPLES
from tests.unit.hooks.test_torch_watch import LoopNet, Mutating, TimeLoop

T, B, N_IN, HIDDEN = 40, 64, 30, 256
SAMPLED = sorted(set(range(0, T, VOLTAGE_STRIDE)) | {T - 1})


def big_loop(lif1: nn.Module, gain: float = 2.0) -> LoopNet:
    """A tutorial-shaped model whose hidden layer is large enough to be folded."""
    torch.manual_seed(0)
    return LoopNet(gain, n_in=N_IN, n_hidden=HIDDEN, lif1=lif1)


def train(net: LoopNet, prof: SpikeProfiler, steps: int = 3, **watch) -> SpikeProfiler:
    """Train ``steps`` steps watched; returns the hand-written reference profiler."""
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    ref = SpikeProfiler()
    g = torch.Generator().manual_seed(1)
    with prof.watch(net, **watch):
        for _ in range(steps):
            net.keep.clear()
            x = (torch.rand(T, B, N_IN, generator=g) < 0.3).float()
            loss = net(x).sum(0).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            stacked = [torch.stack([k[i] for k in net.keep]).detach() for i in range(4)]
            ref.record_step("lif1", stacked[0], stacked[1])
            ref.record_step("lif2", stacked[2], stacked[3])
    return ref


def assert_same_spike_statistics(got: SpikeProfiler, ref: SpikeProfiler) -> None:
    a, b = got.report(), ref.report()
    assert list(a.layer_stats) == list(b.layer_stats) == ["lif1", "lif2"]
    for name in ("lif1", "lif2"):
        s, r = a.layer_stats[name], b.layer_stats[name]
        np.testing.assert_array_equal(s.per_neuron_spikes, r.per_neuron_spikes)
        assert (s.n_steps, s.n_observations) == (r.n_steps, r.n_observations)
        assert (s.max_value, s.min_value) == (r.max_value, r.min_value)
        assert (s.is_binary, s.nonbinary_count) == (r.is_binary, r.nonbinary_count)
        assert s.spike_count_range == r.spike_count_range
        # spikes exactly; voltages where they first went non-finite (counts are sampled)
        assert [f for f in s.nonfinite if f.source == "spikes"] \
            == [f for f in r.nonfinite if f.source == "spikes"]
        assert [(f.source, f.step) for f in s.nonfinite] \
            == [(f.source, f.step) for f in r.nonfinite]
    assert [(p.category, p.layer) for p in a.pathologies] \
        == [(p.category, p.layer) for p in b.pathologies]
    np.testing.assert_array_equal(a.layer_stats["lif2"].active_samples,
                                  b.layer_stats["lif2"].active_samples)


def test_binary_frames_folded_give_exact_spike_statistics() -> None:
    assert B * HIDDEN >= FOLD_MIN_VALUES  # lif1's frames are folded, lif2's kept
    net, prof = big_loop(snn.Leaky(beta=0.9)), SpikeProfiler()
    ref = train(net, prof)
    assert_same_spike_statistics(prof, ref)
    lif1 = prof.report().layer_stats["lif1"]
    assert lif1.is_binary and 0 < lif1.firing_rates.mean() < 1
    raster = prof.raster("lif1")
    np.testing.assert_array_equal(  # the last sequence's first sample, in time order
        raster.spikes[-T:], np.stack([k[0][0].detach().numpy() != 0 for k in net.keep]))


class Frames(nn.Module):
    """Calls ``body`` on each tensor of a list: frames of any shape and dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(Mutating(mutate=False))

    def forward(self, xs: list[torch.Tensor]) -> None:
        for x in xs:
            self.body(x)


@pytest.mark.parametrize("n", [8, HIDDEN], ids=["kept", "folded"])
def test_a_frame_unlike_the_one_before_starts_a_new_sequence(n) -> None:
    g = torch.Generator().manual_seed(0)
    xs = ([torch.rand(B, n, generator=g) for _ in range(5)]
          + [torch.rand(B - 2, n, generator=g) for _ in range(3)]  # a smaller batch
          + [torch.rand(B, n, generator=g, dtype=torch.float64) for _ in range(2)])
    model, prof = Frames(), SpikeProfiler()
    with torch.no_grad(), prof.watch(model, layers=["body.0"]):
        model(xs)
        model(xs[:4])
    st = prof.report().layer_stats["body.0"]
    assert st.n_steps == 4  # 5 + 3 + 2 frames, then 4
    assert st.n_observations == 5 * B + 3 * (B - 2) + 2 * B + 4 * B
    want = sum((x > 0.5).double().sum(0) for x in xs + xs[:4])
    np.testing.assert_array_equal(st.per_neuron_spikes, want.numpy())


@pytest.mark.parametrize("sample", [True, False], ids=["sampled", "every step"])
def test_cpu_voltages_come_from_every_stride_th_step_and_the_last(sample: bool) -> None:
    net, prof = big_loop(snn.Leaky(beta=0.9)), SpikeProfiler()
    train(net, prof, steps=1, sample_voltages=sample)
    steps = SAMPLED if sample else range(T)
    for name, i in (("lif1", 1), ("lif2", 3)):  # a folded and a kept layer alike
        mem = np.stack([net.keep[t][i].detach().numpy() for t in steps]).astype(np.float64)
        st = prof.report().layer_stats[name]
        assert st.voltage_mean == pytest.approx(mem.mean(), rel=1e-6)
        assert st.voltage_std == pytest.approx(mem.std(), rel=1e-5)
    all_mem = np.stack([k[1].detach().numpy() for k in net.keep])  # the sample tells the whole
    lif1 = prof.report().layer_stats["lif1"]
    assert lif1.voltage_mean == pytest.approx(all_mem.mean(), rel=0.2, abs=0.05)


def test_multi_spike_counts_are_measured_exactly_when_folded() -> None:
    net, prof = big_loop(MultiSpikeLeaky(beta=0.9, threshold=0.25), gain=4.0), SpikeProfiler()
    ref = train(net, prof)
    assert_same_spike_statistics(prof, ref)
    st = prof.report().layer_stats["lif1"]
    assert st.max_value >= 2 and st.nonbinary_count > 0
    assert "non_binary_spikes" in {p.category for p in prof.report().pathologies}


def test_fractional_spikes_are_measured_exactly_when_folded() -> None:
    net = big_loop(snn.Leaky(beta=0.9, graded_spikes_factor=0.5))
    prof = SpikeProfiler()
    ref = train(net, prof)
    ref.declare_layer("lif1", graded=True)
    assert_same_spike_statistics(prof, ref)
    st = prof.report().layer_stats["lif1"]
    assert st.max_value == 0.5 and st.nonbinary_count > 0 and st.graded


class Leaking(snn.Leaky):
    """A Leaky whose spikes turn NaN at one time step of the second sequence."""

    def __init__(self) -> None:
        super().__init__(beta=0.9)
        self.calls = 0

    def fire(self, mem: torch.Tensor) -> torch.Tensor:
        spk = super().fire(mem)
        self.calls += 1
        if self.calls == T + 7:
            spk = spk.clone()
            spk[3, :10] = float("nan")
        return spk


def test_non_finite_spikes_are_located_exactly_when_folded() -> None:
    net, prof = big_loop(Leaking()), SpikeProfiler()
    ref = train(net, prof)
    assert_same_spike_statistics(prof, ref)
    found = prof.report().layer_stats["lif1"].first_nonfinite
    assert found is not None and found.count == 10 and found.step == 1


def test_a_profiler_on_torch_statistics_watches_large_layers_too() -> None:
    net, prof = big_loop(snn.Leaky(beta=0.9)), SpikeProfiler(backend="torch")
    ref = train(net, prof, steps=2)
    got, want = prof.report().layer_stats, ref.report().layer_stats
    for name in ("lif1", "lif2"):
        np.testing.assert_array_equal(got[name].per_neuron_spikes,
                                      want[name].per_neuron_spikes)
        assert got[name].voltage_mean == pytest.approx(want[name].voltage_mean, rel=1e-5)


@pytest.mark.parametrize("n", [8, HIDDEN], ids=["kept", "folded"])
def test_a_layer_that_starts_changing_its_outputs_in_place_is_named_then_copied(n) -> None:
    folded = B * n >= FOLD_MIN_VALUES
    assert folded == (n == HIDDEN)
    layer = Mutating(mutate=False)
    loop, prof = TimeLoop(nn.Sequential(layer)), SpikeProfiler()
    g = torch.Generator().manual_seed(0)
    xs = [torch.rand(T, B, n, generator=g) for _ in range(3)]
    with torch.no_grad(), prof.watch(loop, layers=["body.0"]):
        loop(xs[0])  # first sequence: copied, and found not to change its outputs
        layer.mutate = True
        with pytest.warns(RuntimeWarning, match=r"'body.0'.*in place.*copied from now on"):
            loop(xs[1])  # not copied: changed before it was recorded
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loop(xs[2])  # copied: recorded as returned, no warning
    got = prof.report().layer_stats["body.0"].per_neuron_spikes
    spikes = [(x > 0.5).float() for x in xs]
    # kept or folded, frames are read when recorded: of the second sequence only the
    # last frame kept its values
    want = spikes[0].sum((0, 1)) + spikes[1][-1].sum(0) + spikes[2].sum((0, 1))
    np.testing.assert_allclose(got, want.numpy())


@pytest.mark.parametrize("lif", ["binary", "multi-spike"])
@pytest.mark.parametrize("sample", [True, False], ids=["sampled", "every step"])
def test_intervals_and_voltage_spread_of_watched_sequences_are_exact(lif, sample) -> None:
    neuron = snn.Leaky(beta=0.9) if lif == "binary" else MultiSpikeLeaky(beta=0.9,
                                                                         threshold=0.25)
    net, prof = big_loop(neuron, gain=2.0 if lif == "binary" else 4.0), SpikeProfiler()
    ref = train(net, prof, steps=1, sample_voltages=sample)  # lif1 folded, lif2 kept
    a, b = prof.report().layer_stats, ref.report().layer_stats
    for name, i in (("lif1", 1), ("lif2", 3)):
        np.testing.assert_array_equal(a[name].isi_counts, b[name].isi_counts)
        assert a[name].isi_counts.sum() > 0
        assert (a[name].mean_isi, a[name].cv_isi) == (b[name].mean_isi, b[name].cv_isi)
        if not sample:
            np.testing.assert_allclose(a[name].voltage_time_std, b[name].voltage_time_std,
                                       rtol=1e-12)
            assert (a[name].voltage_min, a[name].voltage_max) == \
                (b[name].voltage_min, b[name].voltage_max)
        if sample:  # the spread over the sampled time steps of each sequence
            mem = np.stack([net.keep[t][i].detach().numpy()[:SAMPLES]
                            for t in SAMPLED]).astype(np.float64)
            want = np.sqrt(((mem - mem.mean(0)) ** 2).sum(axis=(0, 1))
                           / (SAMPLES * (len(SAMPLED) - 1)))
            np.testing.assert_allclose(a[name].voltage_time_std, want, rtol=1e-5)


def test_frames_recorded_one_per_forward_continue_their_sequences() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_IN, HIDDEN), snn.Leaky(beta=0.9, init_hidden=True))
    x = (torch.rand(T, B, N_IN) < 0.3).float()
    prof, ref = SpikeProfiler(), SpikeProfiler()
    spikes, mems = [], []
    with torch.no_grad(), prof.watch(net):  # no time_steps: each call is one record
        for t in range(T):
            spikes.append(net(x[t] * 2).clone())
            mems.append(net[1].mem.clone())
    ref.record_step("1", torch.stack(spikes), torch.stack(mems))
    a, b = prof.report().layer_stats["1"], ref.report().layer_stats["1"]
    assert a.n_steps == T and b.n_steps == 1
    np.testing.assert_array_equal(a.isi_counts, b.isi_counts)
    assert (a.mean_isi, a.cv_isi) == (b.mean_isi, b.cv_isi)
    np.testing.assert_allclose(a.voltage_time_std, b.voltage_time_std, rtol=1e-5)
