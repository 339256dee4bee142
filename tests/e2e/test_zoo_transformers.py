"""SpikingJelly's spiking transformers and their friends, watched as a user would
watch them (``spikingjelly.activation_based.model``): Spikformer, the Spike-driven
Transformer (also with integer-spike ILIF nodes), QKFormer, Max-Former, MS-ResNet,
Max-ResNet, Attention MS-ResNet, MA-SNN, SpikingVGG, OTTTSpikingVGG trained online
and SNASNet; and Norse's VGG (``norse.torch.models.vgg``). Each is shrunk by its own
constructor arguments to run in seconds (32x32 inputs, T=4, 64 dims, one or two
blocks; see :mod:`.zoo_transformer_nets`). Norse's ``mobilenet_v2`` is left out: in
Norse 1.1 its own forward fails on the first residual block (a ``(z, state)`` tuple
added to a tensor); SpikeDHS too (a searched network of fixed, large widths).

Every claim is checked against an independent tally of the neuron modules' raw
outputs: ``watch`` must find each neuron module (attention LIFs with
``v_threshold=0.5`` whose outputs are reshaped into heads, neurons inside
``nn.Sequential`` and ``SeqToANNContainer`` stacks, membrane-shortcut blocks) under
its module path and read exactly what it returned; at default init a finding must
be true of those outputs; a planted failure (one neuron module's threshold far too
high, count frames as input) must be named at its layer, leading what follows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import neuron

from spikewidget import frameworks

from . import zoo_transformer_nets as zoo
from .test_zoo import assert_fixes_are_sensible, explain, found, tonic_frames

torch.set_num_threads(1)

MODELS = list(zoo.BUILDERS)
TRUE_AT_INIT = {"dead_neurons", "silent_network", "too_few_observations"}
"""What default init may truly show on these models: BatchNorm in front of every LIF
leaves some neurons (and a spiking self-attention) quiet; nothing else may appear."""
ONE_STEP_GAP = {"gradient_vanishing"}
"""A residual net whose branches end in a zero-initialised BatchNorm (MS-ResNet) truly
passes its branches ~100x less gradient for the first steps: this may be told, as a
warning that the gap is in one step and zero-init grows out of it, never with skip
connections for a fix."""


@functools.cache
def default_run(name: str) -> tuple[torch.nn.Module, zoo.Run]:
    """Eight Adam steps of the model at default init (trained once per session)."""
    model = zoo.build(name)
    return model, zoo.train(model, batches=zoo.batches_for(name, 8))


def tally_dead(run: zoo.Run, layer: str, dead_rate: float) -> np.ndarray:
    """Per neuron, whether the tally calls it dead as the report judges the layer: by
    the samples it fires in where the report read the layer per sample (an output, or
    sequences longer than ``LONG_SEQUENCE``), else by its rate per step."""
    if run.report.layer_stats[layer].sample_activity is not None:
        return run.tally.dead(layer, dead_rate)
    return run.tally.rates(layer) < dead_rate


def dead_share(run: zoo.Run, layer: str) -> float:
    """The tally's share of the layer's neurons it calls dead (:func:`tally_dead`)."""
    return float(np.mean(tally_dead(run, layer, run.report.thresholds.dead_rate)))


# ------------------------------------------------------------------ what is watched
@pytest.mark.parametrize("name", MODELS)
def test_watch_finds_every_neuron_module_under_its_path_without_a_warning(name):
    model, run = default_run(name)
    assert run.layers == ["input", *zoo.neuron_paths(model)], explain(run.report)
    assert run.warnings == [], run.warnings


@pytest.mark.parametrize("name", MODELS)
def test_each_layer_records_what_its_neurons_returned(name):
    """Neurons per layer, observations, per-neuron rates and 0/1-ness equal the
    tally's; every layer got gradients; behind a Linear head (a non-spiking
    readout) every neuron module is hidden, MA-SNN's last LIF layer is its output."""
    _, run = default_run(name)
    report = run.report
    for layer in run.layers[1:]:
        st = report.layer_stats[layer]
        rates = run.tally.rates(layer)
        assert st.n_neurons == rates.size, (layer, st.n_neurons, rates.size)
        assert st.n_observations == run.tally.observations[layer], layer
        np.testing.assert_allclose(np.asarray(st.firing_rates).reshape(-1), rates,
                                   atol=1e-9, err_msg=layer)
        assert st.is_binary and not run.tally.non_binary[layer], layer
        role = "output" if zoo.OUTPUTS.get(name) == layer else "hidden"
        assert st.gradient_steps > 0 and st.role == role, (layer, st.role)


# ------------------------------------------------------------------ default init
def assert_findings_are_true(run: zoo.Run) -> None:
    """Only quiet neurons may be reported, each count as the tally has it; a layer
    left unflagged is not one the tally calls dead; a finding that follows from
    another names one upstream; analog input is never called counts."""
    report, th = run.report, run.report.thresholds
    msg = explain(report)
    assert {p.category for p in report.pathologies} <= TRUE_AT_INIT | ONE_STEP_GAP, msg
    for p in report.pathologies:
        if p.category in ONE_STEP_GAP:  # zero-init residual branches, not depth
            assert p.severity.value == "warning" and "in one step" in p.message, msg
            assert "would not help" in p.suggestion and "zero-init" in p.suggestion, msg
    order = {layer: i for i, layer in enumerate(run.layers)}
    flagged = {p.layer for p in report.pathologies}
    for p in report.pathologies:
        rates = run.tally.rates(p.layer)
        if p.category == "dead_neurons":
            assert report.layer_stats[p.layer].dead_neuron_count == \
                int(np.sum(tally_dead(run, p.layer, th.dead_rate))), msg
            assert dead_share(run, p.layer) >= th.dead_warning_fraction, msg
        elif p.category == "silent_network":
            assert rates.max() < th.silent_max_rate, msg
        if p.cause is not None:
            assert order[p.cause.split(" @ ")[1]] <= order[p.layer], msg
    for layer in run.layers[1:]:
        if layer not in flagged:
            assert dead_share(run, layer) < th.dead_warning_fraction, (layer, msg)
    assert_fixes_are_sensible(report, analog_input=True)


@pytest.mark.parametrize("name", MODELS)
def test_findings_at_default_init_are_true_of_the_raw_outputs(name):
    assert_findings_are_true(default_run(name)[1])


def test_ms_resnet_zero_init_branches_are_a_one_step_gap_not_a_call_for_skips():
    """MS-ResNet zero-initialises each residual branch's last BatchNorm (identity at
    init): its branch LIFs get alike, tiny gradients, the head ~100x more. The gap is
    told where it is, between the last branch LIF and the head, as a warning whose fix
    is to train on, not to add the skip connections the network is made of."""
    fresh = zoo.build("ms_resnet")
    assert all(float(fresh.get_submodule(f"layer{i}.0.bn2").weight.detach().abs().max()) == 0
               for i in (1, 2, 3))
    _, run = default_run("ms_resnet")
    report = run.report
    [gap] = report.by_category("gradient_vanishing")
    assert (gap.layer, gap.severity.value) == ("layer1.0.spike1", "warning"), explain(report)
    assert "from 'head_lif' to 'layer3.0.spike2'" in gap.message, explain(report)
    assert "Add skip" not in gap.suggestion and "train on" in gap.suggestion


@pytest.mark.parametrize(("name", "attention"), [
    ("spikformer", "blocks.0.attn"), ("qkformer", "stage3.0.attn"),
    ("maxformer", "stage3.0.attn")])
def test_spiking_self_attention_is_quiet_at_default_init_and_named_first(name, attention):
    """Spikformer's self-attention (also in QKFormer's and Max-Former's last stage)
    multiplies three sparse spike maps (q, k, v at ~0.03 each) and scales by 0.125:
    its LIF (threshold 0.5) gets almost no current, true at full size too
    (spikformer_cifar10 at init: attn_lif rate 0.0000). It is the first finding,
    critical, with a threshold fix of its own; nothing earlier is blamed."""
    _, run = default_run(name)
    report = run.report
    attn = f"{attention}.attn_lif"
    assert dead_share(run, attn) > report.thresholds.dead_critical_fraction
    lead = report.pathologies[0]
    assert (lead.layer, lead.cause) == (attn, None), explain(report)
    assert lead.category in ("silent_network", "dead_neurons"), explain(report)
    assert "threshold" in lead.suggestion, explain(report)


def test_qkformer_projection_behind_a_silent_attention_follows_from_it():
    """QKFormer's stage-3 attention LIF is silent: the projection behind it gets
    BatchNorm of zeros and is silent too, pointed at the attention, no fix of its own."""
    _, run = default_run("qkformer")
    assert run.tally.rates("stage3.0.attn.attn_lif").max() == 0
    assert run.tally.rates("stage3.0.attn.proj_lif").max() == 0
    proj = [p for p in run.report.pathologies if p.layer == "stage3.0.attn.proj_lif"]
    assert proj and all(p.cause == "silent_network @ stage3.0.attn.attn_lif"
                        for p in proj), explain(run.report)


def test_qk_token_attention_fires_and_is_not_flagged():
    """QKFormer's token QK attention sums q over the head's channels first: its LIF
    fires at a sane rate and is left alone (its neurons are (heads, 1, tokens))."""
    _, run = default_run("qkformer")
    for attn in ("stage1.0.attn.attn_lif", "stage2.0.attn.attn_lif"):
        assert 0.05 < float(run.tally.rates(attn).mean()) < 0.6
        assert found(run.report, attn) == [], explain(run.report)


# ------------------------------------------------------------------ planted failures
@dataclass(frozen=True)
class Planted:
    """One neuron module given v_threshold 100: the layers it silences, those before
    it (healthy), and those past a shortcut around it (alive)."""

    layer: str
    behind: tuple[str, ...]
    before: tuple[str, ...]
    past_shortcut: tuple[str, ...] = ()


PLANTED = {
    "spiking_vgg": Planted("features.6", ("features.10", "features.13"), ("features.2",)),
    "ms_resnet": Planted("layer2.0.spike1", ("layer2.0.spike2",), ("layer1.0.spike2",),
                         ("layer3.0.spike1", "layer3.0.spike2", "head_lif")),
    "spikformer": Planted("patch_embed.stages.1.neuron",
                          ("patch_embed.stages.2.neuron", "blocks.0.mlp.neuron1"),
                          ("patch_embed.stages.0.neuron",)),
    "spike_driven_transformer": Planted(
        "blocks.0.mlp.lif1", ("blocks.0.mlp.lif2",), ("blocks.0.attn.v_lif",),
        ("blocks.1.attn.shortcut_lif", "blocks.1.mlp.lif1", "head_lif")),
    "norse_vgg": Planted("features.6", ("features.10",), ("features.2",)),
}


@functools.cache
def planted_run(name: str) -> zoo.Run:
    model = zoo.build(name)
    frameworks.set_threshold(model.get_submodule(PLANTED[name].layer), 100.0)
    return zoo.train(model, batches=zoo.batches_for(name, 6))


@pytest.mark.parametrize("name", list(PLANTED))
def test_a_threshold_far_too_high_is_named_at_its_layer_and_leads(name):
    """It is silent and leads with a threshold fix; the layers it silences (the
    tally says so) follow from it, as does every other finding but the notes that
    six steps are too few to judge quiet neurons and those the model shows at
    default init too (MS-ResNet's head LIF is 20% dead either way: past the shortcut,
    not the planted layer's doing); the layers before it keep firing and are blamed
    for nothing of their own."""
    plan, run = PLANTED[name], planted_run(name)
    report = run.report
    msg = explain(report)
    assert run.warnings == [], run.warnings
    lead = report.pathologies[0]
    assert (lead.category, lead.layer, lead.cause) == ("silent_network", plan.layer, None), msg
    assert "threshold" in lead.suggestion, msg
    for silenced in plan.behind:
        assert run.tally.rates(silenced).max() == 0, silenced
        assert ("silent_network", silenced) in found(report), msg
    at_init = set(found(default_run(name)[1].report))
    for p in report.pathologies[1:]:
        if p.category != "too_few_observations" and (p.category, p.layer) not in at_init:
            assert p.cause is not None and p.cause.endswith(f"@ {plan.layer}"), msg
        assert p.layer not in plan.behind or p.cause is not None, msg
    for healthy in plan.before:
        assert float(run.tally.rates(healthy).mean()) > 0.02, healthy
        assert all(p.cause is not None or p.category == "too_few_observations"
                   for p in report.pathologies if p.layer == healthy), msg
    assert_fixes_are_sensible(report, analog_input=True)


@pytest.mark.parametrize(("name", "layer", "feeds"), [
    ("spikformer", "blocks.0.attn.attn_lif", {"blocks.0.attn.qkv_lif"}),
    ("spikformer", "blocks.0.mlp.neuron1",  # the residual stream around the attention
     {"blocks.0.attn.proj_lif", "patch_embed.positional_encoding.neuron"}),
    ("ms_resnet", "layer3.0.spike1", {"layer1.0.spike2", "layer2.0.spike2"}),
    ("ms_resnet", "layer1.0.spike1", {"input"})])
def test_the_wiring_watch_learns_follows_the_residual_streams(name, layer, feeds):
    """What feeds a layer, from the autograd graph of the first training forward: the
    residual stream (Spikformer's ``x + attn(x)``, MS-ResNet's membrane shortcut) feeds
    layers past a block from before it; the first LIF is fed by the data (the
    watched input)."""
    fed = default_run(name)[1].report.layer_stats[layer].fed_by
    assert fed is not None and feeds <= set(fed), fed


@pytest.mark.parametrize("name", [n for n, p in PLANTED.items() if p.past_shortcut])
def test_a_shortcut_around_the_silenced_layer_keeps_what_follows_alive(name):
    """MS-ResNet's membrane shortcut and the transformer's residual stream carry the
    signal past the silenced block: the layers there fire and are not called silent."""
    run = planted_run(name)
    for layer in PLANTED[name].past_shortcut:
        assert float(run.tally.rates(layer).mean()) > 0.05, layer
        assert ("silent_network", layer) not in found(run.report), explain(run.report)


def test_spikformer_mlp_threshold_too_high_leads_despite_a_quiet_attention_before_it():
    """The attention LIF before it is quiet, but the residual stream around the
    attention fires (proj_lif): the planted MLP threshold is its own root cause."""
    model = zoo.build("spikformer")
    model.blocks[0].mlp.neuron1.v_threshold = 100.0
    run = zoo.train(model, steps=6)
    silent = next(p for p in run.report.pathologies
                  if (p.category, p.layer) == ("silent_network", "blocks.0.mlp.neuron1"))
    assert silent.cause is None, explain(run.report)


@pytest.mark.parametrize("name", ["spike_driven_transformer", "spikformer"])
def test_count_frames_into_a_transformer_are_named_at_the_input(name):
    """tonic ToFrame counts (2 polarities, 32x32) straight into the model: the input
    is named count-valued with the binarising fix; the neurons' 0/1 spikes are not
    called non-binary."""
    rng = np.random.default_rng(3)
    data = [(tonic_frames(rng, zoo.BATCH, (32, 32), zoo.T, n_events=20_000),
             torch.randint(0, zoo.CLASSES, (zoo.BATCH,))) for _ in range(3)]
    assert float(data[0][0].max()) > 1
    model = zoo.build(name, in_channels=2)
    run = zoo.train(model, batches=data)
    report = run.report
    [counts] = [p for p in report.pathologies if p.category == "count_valued_input"]
    assert counts.layer == "input" and "(x > 0).float()" in counts.suggestion, explain(report)
    assert "non_binary_spikes" not in {c for c, _ in found(report)}, explain(report)
    assert run.warnings == [], run.warnings


@functools.cache
def ilif_run() -> tuple[torch.nn.Module, zoo.Run]:
    """The Spike-driven Transformer built with ``spiking_neuron=ILIFNode`` (integer
    spikes 0..4 per step, as its V2/V3 successors use), four Adam steps."""
    model = zoo.build("spike_driven_transformer", spiking_neuron=neuron.ILIFNode)
    return model, zoo.train(model, steps=4)


def mean_spike(run: zoo.Run, layer: str) -> float:
    """The mean value of the layer's non-zero outputs (integer spikes per event)."""
    return float(run.tally.spikes[layer].sum() / run.tally.events[layer].sum())


def test_integer_multi_spike_neurons_in_the_spike_driven_transformer_are_graded():
    """Every ILIF node is watched as graded, its rate counts the steps it fires
    (whatever the count), and nothing calls the integer spikes non-binary."""
    model, run = ilif_run()
    report = run.report
    assert run.layers == ["input", *zoo.neuron_paths(model)], explain(report)
    assert any(run.tally.non_binary.values()), "ILIF spikes should reach 2..4"
    for layer in run.layers[1:]:
        st = report.layer_stats[layer]
        assert st.graded, layer
        np.testing.assert_allclose(np.asarray(st.firing_rates).reshape(-1),
                                   run.tally.rates(layer), atol=1e-9, err_msg=layer)
    assert "non_binary_spikes" not in {c for c, _ in found(report)}, explain(report)
    assert run.warnings == [], run.warnings


def test_integer_attention_neurons_at_their_ceiling_are_saturated():
    """With ILIF nodes the attention LIF sums integer k*v over 64 tokens: it emits
    ~3.8 of its at most 4 spikes at nearly every step (true saturation: clipped),
    and is called saturated with the fix to raise its threshold, its message stating
    how full it is against the ceiling. (The head LIF, at ~1.2 spikes per event, is
    far from it: see below.)"""
    _, run = ilif_run()
    assert mean_spike(run, "head_lif") < 2, mean_spike(run, "head_lif")
    for attn in ("blocks.0.attn.attn_lif", "blocks.1.attn.attn_lif"):
        assert mean_spike(run, attn) > 3.5, mean_spike(run, attn)
        [sat] = [p for p in run.report.pathologies
                 if (p.category, p.layer) == ("saturated_neurons", attn)]
        assert "threshold" in sat.suggestion, explain(run.report)
        assert "of their ceiling (4 per step)" in sat.message, sat.message


def test_integer_neurons_far_below_their_ceiling_are_not_saturated():
    """The head LIF fires at almost every step (a binary layer doing so would be
    saturated) but emits ~1.2 of its 4 possible spikes: judged against the ceiling
    ``watch`` read from the node, it has room, and no finding says otherwise."""
    _, run = ilif_run()
    st = run.report.layer_stats["head_lif"]
    assert st.spike_ceiling == 4.0
    busy = np.asarray(st.firing_rates) > run.report.thresholds.saturated_rate
    assert busy.mean() > run.report.thresholds.saturated_warning_fraction
    assert float(np.max(st.ceiling_fullness)) < 0.5
    assert mean_spike(run, "head_lif") < 2, mean_spike(run, "head_lif")
    assert ("saturated_neurons", "head_lif") not in found(run.report), explain(run.report)


# ------------------------------------------------------------------ per step, in forward
@pytest.mark.slow
def test_snas_net_per_step_neurons_looped_in_its_forward_are_one_record_per_call():
    """SNASNet loops its single-step LIFs over time inside forward, on a static
    ``(B, 3, 32, 32)`` image: each forward is one record of T steps per LIF; the NAS
    cells' edges are named by path; rates are the tally's; no warning."""
    model = zoo.snas_net(time_steps=2)
    data = [(x[0], y) for x, y in zoo.image_batches(2, t=1, b=2)]
    run = zoo.train(model, batches=data, input_axes=3)
    assert run.layers == ["input", *zoo.neuron_paths(model)], explain(run.report)
    assert "cell1.cell_architecture.5.0" in run.layers and "classifier.2" in run.layers
    assert run.warnings == [], run.warnings
    assert run.report.layer_stats["input"].neuron_shape == (3, 32, 32)
    for layer in run.layers[1:]:
        st = run.report.layer_stats[layer]
        assert st.n_steps == 2 and st.n_observations == run.tally.observations[layer] == 8
        np.testing.assert_allclose(np.asarray(st.firing_rates).reshape(-1),
                                   run.tally.rates(layer), atol=1e-9, err_msg=layer)
        assert st.has_voltages and st.gradient_steps == 2, layer


# ------------------------------------------------------------------ online training
@functools.cache
def online_run(normalise: bool) -> tuple[torch.nn.Module, zoo.Run]:
    model = zoo.ottt_vgg()
    return model, zoo.train_online(model, steps=8, normalise=normalise)


def test_ottt_vgg_trained_online_gives_one_record_per_batch_without_a_warning():
    """OTTTSpikingVGG trained online through time (a backward after every one of the
    T per-step calls, one optimizer step per batch): the OTTT nodes inside
    ``OTTTSequential`` are read from their ``[spike, trace]`` outputs; each batch's
    T calls make one record (a backward mid-sequence does not end it), with the
    gradients of every step; rates are the tally's; no warning."""
    model, run = online_run(True)
    assert run.layers == ["input", *zoo.neuron_paths(model)], explain(run.report)
    assert run.warnings == [], run.warnings
    for layer in run.layers[1:]:
        st = run.report.layer_stats[layer]
        assert st.n_steps == 8 and st.gradient_steps == 8, (layer, st.n_steps)
        assert st.n_observations == run.tally.observations[layer] == 8 * zoo.T * zoo.BATCH
        np.testing.assert_allclose(np.asarray(st.firing_rates).reshape(-1),
                                   run.tally.rates(layer), atol=1e-9, err_msg=layer)
        assert st.has_voltages, layer
    assert_findings_are_true(run)


def test_ottt_vgg_on_images_that_are_not_zero_mean_is_dead_at_its_first_layer():
    """Without normalising, the weight-standardised (zero-mean) kernels see smooth
    non-negative images and give almost no current: the first OTTT layer is all but
    dead (the tally says so) and leads; the silent layer further on follows from it."""
    _, run = online_run(False)
    report = run.report
    assert dead_share(run, "features.1") > report.thresholds.dead_critical_fraction
    lead = report.pathologies[0]
    assert (lead.category, lead.layer, lead.cause) == ("dead_neurons", "features.1", None), \
        explain(report)
    assert all(p.cause == "dead_neurons @ features.1" for p in report.pathologies
               if p.layer == "features.9"), explain(report)
    assert_findings_are_true(run)
