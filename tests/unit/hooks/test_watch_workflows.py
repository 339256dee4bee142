"""Training workflows that must keep working while a model is watched.

Checkpoints (``torch.save``), EMA copies (``copy.deepcopy``), threshold sweeps of a
watched model, per-step CSNNs with ``input=True``, padded batches of varying length
and odd tensor layouts, each with the frameworks' own layers.
"""

from __future__ import annotations

import copy
import io
import pickle

import norse.torch as norse
import snntorch as snn
import torch
from snntorch import utils as snn_utils
from spikingjelly.activation_based import functional, neuron
from torch import nn

from spikewidget import SpikeProfiler

torch.set_num_threads(1)


def spikes(shape: tuple[int, ...], seed: int, rate: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < rate).float()


def steps(prof: SpikeProfiler, layer: str) -> int:
    stats = prof.report().layer_stats
    return stats[layer].n_steps if layer in stats else 0


def sj_net(gain: float = 1.0) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 32), neuron.LIFNode(step_mode="m"),
                        nn.Linear(32, 4), neuron.LIFNode(step_mode="m"))
    with torch.no_grad():
        for fc in (net[0], net[2]):
            fc.weight.mul_(gain)
    return net


# ------------------------------------------------------------ copies of a watched model
def test_torch_save_of_a_watched_model_loads_runs_and_is_not_recorded() -> None:
    """A best-model checkpoint mid-training: the loaded copy gives the model's outputs,
    records nothing, pickles again; the original keeps recording."""
    net = sj_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    prof = SpikeProfiler()
    with prof.watch(net, input=True, gradients=True):
        x = spikes((8, 5, 12), 1)
        net(x).sum().backward()
        opt.step()
        functional.reset_net(net)
        buf = io.BytesIO()
        torch.save(net, buf)  # raised TypeError: cannot pickle '_thread.RLock' object
        buf.seek(0)
        loaded = torch.load(buf, weights_only=False)
        assert steps(prof, "1") == 1

        out = loaded(x)
        functional.reset_net(loaded)
        assert steps(prof, "1") == 1 and steps(prof, "input") == 1  # not recorded
        assert torch.equal(out, net(x))  # same weights; the original is recorded
        functional.reset_net(net)
        assert steps(prof, "1") == 2 and steps(prof, "input") == 2
        pickle.loads(pickle.dumps(loaded))(x)  # the copy pickles like any module
        assert steps(prof, "1") == 2
    unwatched = sj_net()
    assert len(pickle.dumps(loaded)) <= len(pickle.dumps(unwatched)) + 600  # no baggage


def test_deepcopy_for_ema_while_the_original_keeps_recording() -> None:
    """An EMA model, deep-copied from the watched one (snnTorch and Norse), is
    updated and evaluated every step; only the training model is recorded."""
    torch.manual_seed(0)
    nets = {
        "snntorch": nn.Sequential(nn.Linear(12, 32), snn.Leaky(beta=0.9, init_hidden=True),
                                  nn.Linear(32, 4),
                                  snn.Leaky(beta=0.9, init_hidden=True, output=True)),
        "norse": norse.SequentialState(nn.Linear(12, 32), norse.LIF(), nn.Linear(32, 4),
                                       norse.LIF()),
    }
    for framework, net in nets.items():
        per_step = framework == "snntorch"
        prof = SpikeProfiler()
        with prof.watch(net, time_steps=8 if per_step else None) as handle:
            ema = copy.deepcopy(net)  # raised TypeError (the profiler's lock)
            for p in ema.parameters():
                p.requires_grad_(False)
            for k in range(3):
                x = spikes((8, 5, 12), k)
                run(net, x, per_step)
                with torch.no_grad():
                    for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
                        pe.mul_(0.9).add_(p, alpha=0.1)
                    run(ema, x, per_step)
                    copy.deepcopy(ema)  # the copy copies too
            layer = handle.layers[0]
            assert steps(prof, layer) == 3, framework  # the EMA's 3 passes not among them
            assert prof.report().layer_stats[layer].n_observations == 3 * 8 * 5


def run(net: nn.Module, x: torch.Tensor, per_step: bool) -> torch.Tensor:
    if not per_step:
        out = net(x)
        return out[0] if isinstance(out, tuple) else out
    snn_utils.reset(net)
    return torch.stack([net(x[t])[0] for t in range(x.shape[0])])


# ------------------------------------------------------------ sweeps of a watched model
def per_step_net(n_in: int = 30, hidden: int = 40, n_out: int = 5) -> nn.Sequential:
    """snnTorch tutorial style: hidden state inside the neurons, one call per step."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(n_in, hidden), snn.Leaky(beta=0.9, init_hidden=True),
                         nn.Linear(hidden, n_out),
                         snn.Leaky(beta=0.9, init_hidden=True, output=True))


def train_per_step(net: nn.Module, x: torch.Tensor) -> None:
    """One training step with autograd: leaves ``mem`` tensors that are graph nodes."""
    snn_utils.reset(net)
    out = torch.stack([net(x[t])[0] for t in range(x.shape[0])])
    out.sum(0).pow(2).mean().backward()


def test_threshold_sweep_of_a_watched_init_hidden_model_after_training_with_autograd(
) -> None:
    """Mid-training, the sweep runs on the watched snnTorch model whose membranes are
    part of the last step's graph; nothing it does reaches the user's profiler."""
    net = per_step_net()
    x = spikes((20, 16, 30), 2)
    prof = SpikeProfiler()
    with prof.watch(net, input=True, time_steps=20):
        train_per_step(net, x)
        assert not net[1].mem.is_leaf  # what deepcopy refused
        before = {k: v.clone() for k, v in net.state_dict().items()}
        result = prof.threshold_sweep(net, x, layer="1", thresholds=[0.05, 0.5, 5.0],
                                      time_steps=20)
        assert steps(prof, "1") == 1 and steps(prof, "input") == 1  # sweep not recorded
        train_per_step(net, x)
        assert steps(prof, "1") == 2  # still watched
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert [r.threshold for r in result.rows] == [0.05, 0.5, 5.0]
    # the 20 calls make one record: output counts per sample over the 20 steps
    low, high = result.rows[0].output_count_range, result.rows[-1].output_count_range
    assert low is not None and high is not None and 1 < low[1] <= 20
    assert result.rows[0].dead_fraction["1"] < result.rows[-1].dead_fraction["1"]


def test_per_step_sweep_measures_output_counts_only_with_time_steps() -> None:
    """Without time_steps each call is one step: the counts column is empty and the
    recommendation says they were not measured instead of claiming a range."""
    x = spikes((20, 16, 30), 3)
    grid = [0.02, 0.1, 0.5, 2.0]
    without = SpikeProfiler().threshold_sweep(
        per_step_net(), x, layer="1", thresholds=grid,
        forward=lambda m, b: [m(b[t]) for t in range(20)])
    assert all(r.output_count_range is None for r in without.rows)
    assert without.recommended is not None
    assert "not measured" in without.reason and "time_steps" in without.reason
    assert "stay within" not in without.reason
    with_t = SpikeProfiler().threshold_sweep(per_step_net(), x, layer="1", thresholds=grid,
                                             time_steps=20)
    assert all(r.output_count_range is not None for r in with_t.rows)
    # the counts equal a hand-made run of the same copy at that threshold
    ref = per_step_net()
    ref[1].threshold = torch.tensor(0.1)
    with torch.no_grad():
        total = sum(ref(x[t])[0] for t in range(20))
    # (per sample and output neuron, spikes summed over the 20 steps)
    assert with_t.row(0.1).output_count_range == (float(total.min()), float(total.max()))
    assert with_t.recommended is not None and "stay within [" in with_t.reason


def test_sweep_time_steps_needs_a_batch_of_that_many_steps() -> None:
    import pytest

    from spikewidget import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"time_steps=20.*\(time_steps, batch"):
        SpikeProfiler().threshold_sweep(per_step_net(), spikes((10, 16, 30), 0), layer="1",
                                        thresholds=[1.0], time_steps=20)


def test_every_candidate_starts_at_rest_whatever_state_training_left() -> None:
    """After a training step the membranes hold the last batch's state: the sweep
    (one forward per candidate or batched) gives what a freshly reset model gives."""
    x = spikes((20, 16, 30), 4)
    kw = {"layer": "1", "thresholds": [0.05, 0.3, 2.0], "time_steps": 20}
    rest = SpikeProfiler().threshold_sweep(per_step_net(), x, **kw)
    trained_like = per_step_net()
    snn_utils.reset(trained_like)
    train_per_step(trained_like, spikes((20, 16, 30), 5))  # same weights, no step
    for batched in (False, True):
        got = SpikeProfiler().threshold_sweep(trained_like, x, batched=batched, **kw)
        assert [(r.output_count_range, r.dead_fraction) for r in got.rows] == [
            (r.output_count_range, r.dead_fraction) for r in rest.rows]
    assert got.batched


# ------------------------------------------------------------ per-step CSNN, input=True
class CSNN(nn.Module):
    """snnTorch tutorial 7: conv layers of init_hidden Leaky neurons, called once per
    time step on ``(batch, 2, 34, 34)`` event frames (N-MNIST's size)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.Conv2d(2, 12, 5), nn.MaxPool2d(2), snn.Leaky(beta=0.5, init_hidden=True),
            nn.Conv2d(12, 32, 5), nn.MaxPool2d(2), snn.Leaky(beta=0.5, init_hidden=True),
            nn.Flatten(), nn.Linear(32 * 5 * 5, 10),
            snn.Leaky(beta=0.5, init_hidden=True, output=True))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(x)


def test_tutorial7_csnn_groups_the_per_step_input_frames_like_its_layers() -> None:
    """input=True with time_steps=T: each (batch, C, H, W) frame is one time step of
    the input, not a (time, batch, H, W) sequence; count-valued frames are named."""
    T, B = 10, 4
    g = torch.Generator().manual_seed(0)
    frames = torch.poisson(torch.full((T, B, 2, 34, 34), 0.4), generator=g)  # ToFrame counts
    net = CSNN()
    prof = SpikeProfiler()
    with prof.watch(net, input=True, time_steps=T):
        for _ in range(2):  # two batches
            snn_utils.reset(net)
            for t in range(T):
                net(frames[t])
    stats = prof.report().layer_stats
    inp = stats["input"]
    assert inp.neuron_shape == (2, 34, 34) and stats["net.2"].neuron_shape == (12, 15, 15)
    assert inp.n_steps == stats["net.2"].n_steps == 2
    assert inp.n_observations == stats["net.2"].n_observations == 2 * T * B
    np_rates = frames.mean(dim=(0, 1)).reshape(-1).numpy()
    assert abs(inp.firing_rates - np_rates).max() < 1e-6
    found = {(p.category, p.layer) for p in prof.report().pathologies}
    assert ("count_valued_input", "input") in found


# ------------------------------------------------------------ padded batches, varying T
def padded_loader(lengths: list[int], batch: int, n_in: int = 30) -> list[tuple]:
    """tonic's PadTensors over recordings of varying length: (T_max, batch, n_in)."""
    from tonic.collation import PadTensors

    collate = PadTensors(batch_first=False)
    out = []
    for i, t in enumerate(lengths):  # the longest recording of each batch has t steps
        samples = [(spikes((t - k % 3, n_in), 100 * i + k), k % 2) for k in range(batch)]
        out.append(collate(samples))
    return out


def test_padded_batches_of_varying_length_give_one_record_per_training_batch() -> None:
    """time_steps = the longest batch: each batch's calls make one record (cut at the
    next batch's first call, after the backward), with one warning saying so."""
    import pytest

    lengths, B = [12, 20, 15, 9], 6
    net = per_step_net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)  # leaves _version
    prof = SpikeProfiler()
    counts = []
    with pytest.warns(RuntimeWarning, match="PadTensors") as caught, \
            prof.watch(net, time_steps=max(lengths)):
        for x, _ in padded_loader(lengths, B):
            snn_utils.reset(net)
            out = torch.stack([net(x[t])[0] for t in range(x.shape[0])])
            counts.append(out.detach().sum(0))
            opt.zero_grad()
            out.sum(0).pow(2).mean().backward()
            opt.step()
    assert sum("PadTensors" in str(w.message) for w in caught) == 1  # said once
    st = prof.report().layer_stats["3"]
    assert st.n_steps == len(lengths)  # one record per batch, none straddling two
    assert st.n_observations == sum(lengths) * B
    every = torch.cat(counts)
    assert st.spike_count_range == (float(every.min()), float(every.max()))


def test_validation_batches_of_varying_length_are_cut_by_flush() -> None:
    lengths, B = [12, 7], 6
    net = per_step_net()
    prof = SpikeProfiler()
    with torch.no_grad(), prof.watch(net, time_steps=max(lengths)) as handle:
        for x, _ in padded_loader(lengths, B):
            snn_utils.reset(net)
            for t in range(x.shape[0]):
                net(x[t])
            handle.flush()
        for t in range(12):  # a full batch after the flushes is one record again
            net(x[t % 7])
        assert prof.report().layer_stats["1"].n_steps == 3
    assert prof.report().layer_stats["1"].n_observations == (12 + 7 + 12) * B


# ------------------------------------------------------------ sparse, nested, meta
class SparseIn(nn.Module):
    """Takes tonic's sparse frames and makes them dense itself."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(512, 20)
        self.lif = snn.Leaky(beta=0.9, init_hidden=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.fc(x.to_dense().float().flatten(1)))


def test_tonic_sparse_tensors_are_recorded_as_their_dense_values() -> None:
    """tonic's ToSparseTensor per sample, PadTensors per batch: record_step and an
    input=True watch take the sparse batch as the dense frames it stands for."""
    import numpy as np
    import tonic.transforms as tt
    from tonic.collation import PadTensors

    sensor = (16, 16, 2)
    dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
    rng = np.random.default_rng(0)
    to_sparse = tt.ToSparseTensor(sensor_size=sensor, time_window=1000)
    samples = []
    for k in range(4):
        ev = np.zeros(300, dtype=dtype)
        ev["x"], ev["y"] = rng.integers(0, 16, 300), rng.integers(0, 16, 300)
        ev["p"], ev["t"] = rng.integers(0, 2, 300), np.sort(rng.integers(0, 8000 + k, 300))
        samples.append((to_sparse(ev), k))
    x, _ = PadTensors(batch_first=False)(samples)  # sparse (time, batch, 2, 16, 16)
    assert x.is_sparse
    dense = x.to_dense()
    sparse_prof, dense_prof = SpikeProfiler(), SpikeProfiler()
    sparse_prof.record_step("input", x, neuron_axes=3)
    dense_prof.record_step("input", dense, neuron_axes=3)
    a, b = sparse_prof.report().layer_stats["input"], dense_prof.report().layer_stats["input"]
    assert a.neuron_shape == (2, 16, 16) and a.n_observations == b.n_observations
    assert np.array_equal(a.per_neuron_spikes, b.per_neuron_spikes)
    assert a.spike_count_range == b.spike_count_range
    # a CSR matrix of (batch, neurons) too
    csr = dense[0].reshape(4, -1).float().to_sparse_csr()
    sparse_prof.record_step("flat", csr)
    assert sparse_prof.report().layer_stats["flat"].total_spikes == float(dense[0].sum())
    # watched: each sparse frame of a per-step model is one dense time step
    net = SparseIn()
    prof = SpikeProfiler()
    with prof.watch(net, input=True, time_steps=x.shape[0]):
        for t in range(x.shape[0]):
            net(x[t])
    st = prof.report().layer_stats["input"]
    assert st.neuron_shape == (2, 16, 16) and st.n_steps == 1
    assert np.array_equal(st.per_neuron_spikes, b.per_neuron_spikes)


def test_nested_and_oversized_sparse_tensors_are_refused_naming_layer_and_argument(
) -> None:
    import pytest

    from spikewidget import InvalidInputError, InvalidTypeError

    prof = SpikeProfiler()
    prof.record_step("hidden", spikes((5, 8), 0))
    ragged = torch.nested.nested_tensor([spikes((3, 8), 1), spikes((5, 8), 2)])
    with pytest.raises(InvalidTypeError, match=r"layer 'hidden': spikes is a nested"):
        prof.record_step("hidden", ragged)
    with pytest.raises(InvalidTypeError, match=r"layer 'hidden': voltages is a nested"):
        prof.record_step("hidden", spikes((2, 8), 0), voltages=ragged)
    huge = torch.sparse_coo_tensor(torch.tensor([[0], [3]]), torch.tensor([1.0]),
                                   size=(100_000, 100_000))  # 10^10 values once dense
    with pytest.raises(InvalidInputError, match=r"layer 'hidden': spikes is a sparse"):
        prof.record_step("hidden", huge)
    assert prof.report().layer_stats["hidden"].n_steps == 1  # intact


def test_meta_tensors_are_refused_at_record_time_and_reports_stay_whole() -> None:
    """Shape inference on the meta device (functional_call with meta weights) through
    a watched model records nothing and breaks no later report or training step."""
    import pytest

    from spikewidget import InvalidInputError

    prof = SpikeProfiler()
    prof.record_step("hidden", spikes((5, 8), 0))
    meta = torch.empty(5, 8, device="meta")
    for kwargs in ({"spikes": meta}, {"spikes": spikes((5, 8), 1), "voltages": meta}):
        with pytest.raises(InvalidInputError, match=r"layer 'hidden': \w+ is a meta"):
            prof.record_step("hidden", **kwargs)
    with pytest.raises(InvalidInputError, match="meta"):
        prof.record_loss(torch.empty((), device="meta"))
    assert prof.report().layer_stats["hidden"].n_steps == 1

    net = sj_net()
    watched = SpikeProfiler()
    with watched.watch(net, input=True) as handle:
        net(spikes((8, 5, 12), 0))
        functional.reset_net(net)
        params = {k: torch.empty_like(v, device="meta") for k, v in net.named_parameters()}
        with pytest.warns(RuntimeWarning, match="meta tensor"):
            out = torch.func.functional_call(net, params, (torch.empty(8, 5, 12,
                                                                       device="meta"),))
        assert out.is_meta
        functional.reset_net(net)
        net(spikes((8, 5, 12), 1))
    report = watched.report()
    assert all(report.layer_stats[n].n_steps == 2 for n in handle.layers)
    report.summary()


# ------------------------------------------------------------ training and validation
def test_validation_passes_are_kept_apart_from_training_statistics() -> None:
    """Each epoch trains, then validates (model.eval(), no_grad) on inputs that leave
    the network silent: the default report and widget show training only, with no
    silent finding; report(phase="eval") shows the validation passes, per epoch."""
    import warnings

    import numpy as np

    net = sj_net(gain=6.0)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    prof, ref = SpikeProfiler(), SpikeProfiler()
    emitted: list[torch.Tensor] = []
    net[1].register_forward_hook(lambda m, a, out: emitted.append(out.detach()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a train-first loop gets no warning
        with prof.watch(net, input=True, gradients=True):
            for epoch in range(2):
                net.train()
                for k in range(3):
                    x = spikes((8, 5, 12), 10 * epoch + k, rate=0.5)
                    out = net(x)
                    ref.record_step("1", emitted[-1])
                    out.sum().backward()
                    opt.step()
                    opt.zero_grad()
                    functional.reset_net(net)
                net.eval()
                with torch.no_grad():
                    for _ in range(2):
                        net(torch.zeros(8, 5, 12))  # silent: nothing reaches threshold
                        functional.reset_net(net)
                prof.phase("eval").record_loss(3.0, n_classes=4)
                prof.next_epoch()
    train, val = prof.report(), prof.report(phase="eval")
    assert prof.phases == ["train", "eval"]
    assert train.layer_stats["1"].n_steps == 6 and val.layer_stats["1"].n_steps == 4
    assert train.layer_stats["input"].n_steps == 6
    assert np.allclose(train.layer_stats["1"].firing_rates,
                       ref.report().layer_stats["1"].firing_rates, atol=1e-6)
    assert train.layer_stats["1"].gradient_steps == 6  # the gradients stayed in training
    assert "silent_network" not in {p.category for p in train.pathologies}
    assert "silent_network" in {p.category for p in val.pathologies}
    assert val.loss is not None and val.loss.count == 2 and train.loss is None
    assert prof.report(phase="eval", epoch=1).layer_stats["1"].n_steps == 2
    assert prof.widget(phase="eval", interval=None) is not None


def test_a_model_watched_in_eval_mode_says_where_its_passes_went() -> None:
    import pytest

    net = per_step_net().eval()
    x = spikes((20, 4, 30), 7)
    prof = SpikeProfiler()
    with pytest.warns(RuntimeWarning, match=r"report\(phase='eval'\)"), torch.no_grad(), \
            prof.watch(net, time_steps=20):
        for t in range(20):
            net(x[t])
    assert prof.layers == [] and prof.report(phase="eval").layer_stats["1"].n_steps == 1
    together = SpikeProfiler()
    with torch.no_grad(), together.watch(net, time_steps=20, phases=False):
        for t in range(20):
            net(x[t])
    assert together.report().layer_stats["1"].n_steps == 1
    # a sweep of a model in eval mode measures every candidate
    result = prof.threshold_sweep(net, x, layer="1", thresholds=[0.1, 1.0], time_steps=20)
    assert all(r.output_count_range is not None for r in result.rows)


def test_validation_phase_round_trips_through_save_and_merge(tmp_path) -> None:
    import numpy as np

    prof = SpikeProfiler()
    prof.record_step("hidden", spikes((4, 8, 16), 0))
    prof.phase("eval").record_step("hidden", spikes((4, 8, 16), 1, rate=0.05))
    prof.phase("eval").record_loss(2.5)
    prof.save(tmp_path / "run.npz")
    back = SpikeProfiler.load(tmp_path / "run.npz")
    for phase in ("train", "eval"):
        a, b = prof.report(phase=phase), back.report(phase=phase)
        assert np.array_equal(a.layer_stats["hidden"].per_neuron_spikes,
                              b.layer_stats["hidden"].per_neuron_spikes)
    assert back.phases == ["train", "eval"] and back.report(phase="eval").loss.count == 1
    merged = SpikeProfiler()
    merged.merge(back)
    merged.merge(SpikeProfiler.from_bytes(prof.to_bytes()))
    assert merged.report(phase="eval").layer_stats["hidden"].n_steps == 2
    assert merged.report().layer_stats["hidden"].n_steps == 2
