"""A graded (integer or multi-valued spike) layer is saturated when it sits at its
ceiling, the most one neuron can emit in one step, not when it merely emits a value at
every step: SpikingJelly's ILIF neurons emitting 1 of their 4 possible spikes at every
step have room, and "raise the threshold" would be the wrong fix. The ceiling is read
from the framework (ILIF's ``max_spike_count``, snnTorch's fixed
``graded_spikes_factor``) or declared (``declare_layer(name, spike_ceiling=D)``);
without one a graded layer is not judged saturated."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import functional, neuron, surrogate

from spikewidget import SpikeProfiler, frameworks
from spikewidget.core.errors import InvalidInputError

torch.set_num_threads(1)

T, B, N = 16, 4, 32


def saturated(p: SpikeProfiler, layer: str, **kw):
    return [f for f in p.report(**kw).pathologies
            if (f.category, f.layer) == ("saturated_neurons", layer)]


# ------------------------------------------------------------------ SpikingJelly ILIF
def ilif_profile(drive: float, max_spikes: int = 4, backend: str = "numpy") -> SpikeProfiler:
    """A multi-step ILIF node (threshold 1, soft reset) driven by a constant current of
    ``drive`` per step, plus a little noise, watched as a user would."""
    node = neuron.ILIFNode(step_mode="m",
                           surrogate_function=surrogate.MultiLevelSpikeCount(max_spikes))
    model = torch.nn.Sequential(node)
    gen = torch.Generator().manual_seed(0)
    p = SpikeProfiler(backend=backend)
    with p.watch(model):
        for _ in range(3):
            x = drive + 0.05 * torch.randn(T, B, N, generator=gen)
            model(x)
            functional.reset_net(model)
    return p


def test_watch_reads_the_ilif_ceiling_from_its_surrogate():
    assert frameworks.spike_ceiling(neuron.ILIFNode()) == 4.0
    wide = neuron.ILIFNode(surrogate_function=surrogate.MultiLevelSpikeCount(8))
    assert frameworks.spike_ceiling(wide) == 8.0
    assert frameworks.spike_ceiling(neuron.LIFNode()) is None  # binary: no ceiling
    p = ilif_profile(1.1)
    assert p._declared["0"]["spike_ceiling"] == 4.0
    assert p.report().layer_stats["0"].spike_ceiling == 4.0


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_ilif_neurons_firing_every_step_far_below_the_ceiling_are_not_saturated(backend):
    """A drive of 1.1 per step: one spike (of 4) at every step. As events the layer
    fires at a rate of 1, but it is a quarter full."""
    p = ilif_profile(1.1, backend=backend)
    st = p.report().layer_stats["0"]
    assert st.graded is True and float(np.min(st.firing_rates)) > 0.95
    assert float(np.max(st.ceiling_fullness)) < 0.4
    assert st.saturated_neuron_count == 0
    assert saturated(p, "0") == []
    assert "sat=0 (0%; ceiling 4)" in p.report().summary()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_ilif_neurons_at_their_ceiling_are_saturated_and_told_how_full(backend):
    """A drive of 6 per step is clipped at 4 spikes at every step: saturated, with
    the measured fullness against the ceiling in the message."""
    p = ilif_profile(6.0, backend=backend)
    [f] = saturated(p, "0")
    assert f"{N}/{N} neurons (100%)" in f.message
    assert "of their ceiling (4 per step)" in f.message
    assert "the layer emits 4 of 4 per step on average (100% of the ceiling)" in f.message
    assert "threshold" in f.suggestion and "ceiling of 4" in f.suggestion


def test_the_same_spikes_are_saturated_or_not_by_the_ceiling_they_hit():
    """A drive of 4.2: four spikes per step. With a ceiling of 4 that is clipped
    (saturated); with a ceiling of 8 (``MultiLevelSpikeCount(8)``) it is half full."""
    at4, at8 = ilif_profile(4.2, 4), ilif_profile(4.2, 8)
    assert saturated(at4, "0") and not saturated(at8, "0")
    full8 = at8.report().layer_stats["0"].ceiling_fullness
    assert float(np.mean(full8)) == pytest.approx(0.5, abs=0.05)


def test_a_lower_saturated_rate_rejudges_fullness_without_recording_again():
    p = ilif_profile(2.1)  # two spikes of 4 at every step: half full
    assert saturated(p, "0") == []
    [f] = saturated(p, "0", thresholds={"saturated_rate": 0.4})
    assert "more than 40% of their ceiling" in f.message


# ------------------------------------------------------------------ declared layers
def integer_spikes(rng, level: float, ceiling: int, shape=(T, B, N)) -> np.ndarray:
    """Integer spikes 1..ceiling around ``level`` per step: a value at every step."""
    return np.clip(rng.poisson(level, shape), 1, ceiling).astype(np.float32)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_declared_ceiling_judges_a_record_step_layer(rng, backend):
    p = SpikeProfiler(backend=backend)
    p.declare_layer("busy", graded=True, spike_ceiling=3)
    p.declare_layer("full", graded=True, spike_ceiling=3)
    for _ in range(4):
        busy = integer_spikes(rng, 1.0, 3)
        full = np.where(rng.random((T, B, N)) < 0.98, 3.0, 2.0).astype(np.float32)
        if backend == "torch":
            busy, full = torch.from_numpy(busy), torch.from_numpy(full)
        p.record_step("busy", busy)
        p.record_step("full", full)
    rep = p.report()
    assert rep.layer_stats["busy"].spike_ceiling == 3.0
    assert saturated(p, "busy") == []
    [f] = saturated(p, "full")
    assert "of their ceiling (3 per step)" in f.message and "(99% of the ceiling)" in f.message


def test_a_graded_layer_without_a_ceiling_is_not_judged_saturated(rng):
    """Firing at every step says nothing about how close to its most a graded layer
    emits: no saturated finding, no saturated neuron, and the summary says so."""
    p = SpikeProfiler()
    p.declare_layer("g", graded=True)
    for _ in range(4):
        p.record_step("g", np.full((T, B, N), 3.0, np.float32))  # 3 of an unknown most
    rep = p.report()
    st = rep.layer_stats["g"]
    assert float(np.min(st.firing_rates)) == 1.0
    assert st.spike_ceiling is None and st.ceiling_fullness is None
    assert st.saturated_neuron_count == 0 and saturated(p, "g") == []
    assert "sat=n/a" in rep.summary()
    p.declare_layer("g", spike_ceiling=3)  # declared later: judged from what was recorded
    assert saturated(p, "g")


def test_a_binary_layer_is_judged_on_its_rate_as_before(rng):
    p = SpikeProfiler()
    p.declare_layer("b", spike_ceiling=4)  # a ceiling means nothing for 0/1 spikes
    for _ in range(4):
        p.record_step("b", np.ones((T, B, N), np.float32))
    [f] = saturated(p, "b")
    assert "fire at a rate above 0.95" in f.message
    assert p.report().layer_stats["b"].ceiling_fullness is None


@pytest.mark.parametrize("bad", [0, -2.0, math.nan, math.inf, True, "4", [4]])
def test_a_bad_ceiling_is_refused_naming_the_layer_and_argument(rng, bad):
    p = SpikeProfiler()
    p.declare_layer("g", graded=True, spike_ceiling=4)
    p.record_step("g", integer_spikes(rng, 1.0, 4))
    before = p.report().summary()
    with pytest.raises(InvalidInputError, match=r"layer 'g': spike_ceiling must be a "
                                                r"positive finite number"):
        p.declare_layer("g", spike_ceiling=bad)
    assert p.report().summary() == before
    assert p._declared["g"]["spike_ceiling"] == 4.0


def test_profiles_declaring_different_ceilings_do_not_merge(rng):
    a, b = SpikeProfiler(), SpikeProfiler()
    a.declare_layer("g", graded=True, spike_ceiling=4)
    b.declare_layer("g", graded=True, spike_ceiling=8)
    b.record_step("g", integer_spikes(rng, 1.0, 4))
    with pytest.raises(InvalidInputError, match="spike_ceiling"):
        a.merge(b)


def test_an_eval_phase_shares_the_ceiling(rng):
    p = SpikeProfiler()
    ev = p.phase("eval")
    p.declare_layer("g", graded=True, spike_ceiling=2)  # declared after the phase was made
    ev.record_step("g", np.full((T, B, N), 2.0, np.float32))
    assert saturated(p, "g", phase="eval")


# ------------------------------------------------------------------ saved profiles
def test_the_ceiling_and_its_verdict_survive_save_and_load(tmp_path):
    p = ilif_profile(6.0)
    p.save(tmp_path / "ilif.npz")
    back = SpikeProfiler.load(tmp_path / "ilif.npz")
    st, st2 = p.report().layer_stats["0"], back.report().layer_stats["0"]
    assert st2.spike_ceiling == 4.0
    np.testing.assert_array_equal(st2.ceiling_fullness, st.ceiling_fullness)
    assert [f.message for f in saturated(back, "0")] == [f.message for f in saturated(p, "0")]


# ------------------------------------------------------------------ snnTorch, Norse
def test_snntorch_graded_spikes_of_a_fixed_size_are_saturated_at_every_step():
    """snnTorch's ``graded_spikes_factor`` makes every spike that one value: its
    ceiling. A layer firing at every step sits at it; a learnt factor moves, so no
    ceiling is read and saturation is not judged."""
    import snntorch as snn

    fixed = snn.Leaky(beta=0.5, graded_spikes_factor=3.0)
    assert frameworks.spike_ceiling(fixed) == 3.0
    learnt = snn.Leaky(beta=0.5, graded_spikes_factor=3.0, learn_graded_spikes_factor=True)
    assert frameworks.spike_ceiling(learnt) is None
    for lif, judged in ((fixed, True), (learnt, False)):
        p = SpikeProfiler()
        with p.watch(torch.nn.Sequential(lif)):
            lif.reset_mem()
            with torch.no_grad():
                for _ in range(T):
                    lif(torch.full((B, N), 5.0))
        assert p.report().layer_stats["0"].graded is True
        assert bool(saturated(p, "0")) is judged


def test_norse_neurons_have_no_ceiling():
    import norse.torch as norse

    assert frameworks.spike_ceiling(norse.LIFCell()) is None
