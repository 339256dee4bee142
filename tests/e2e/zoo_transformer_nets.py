"""SpikingJelly's spiking transformers and friends (and Norse's VGG), built as small
as they run in seconds on a CPU, trained a few steps under ``watch`` beside an
independent tally of what every neuron module returned.

:data:`BUILDERS` makes each model (the zoo's own classes and factories, shrunk by
their constructor arguments: fewer blocks, narrower embeddings, 32x32 images);
:class:`Tally` hooks every neuron module itself (found by class, not by spikewidget)
and counts spikes per neuron from the raw outputs, the truth a report is checked
against; :func:`train` runs Adam on random images for a few steps.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from norse.torch.models import vgg as norse_vgg_module
from norse.torch.module import lift as norse_lift
from norse.torch.module import snn as norse_snn
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from torch import nn

from spikewidget import SpikeProfiler

from .test_zoo import blobs, tonic_frames

T, BATCH, SIZE, CLASSES = 4, 8, 32, 10


def zoo_module(name: str) -> types.ModuleType:
    """``spikingjelly.activation_based.model.<name>``. A few zoo modules import
    torchvision only to download pretrained weights; torchvision is not installed
    (it would pull a CUDA torch), so torch.hub's loader stands in for that import
    and is removed again afterwards."""
    full = f"spikingjelly.activation_based.model.{name}"
    if full in sys.modules:
        return sys.modules[full]
    try:
        import torchvision  # noqa: F401
        return importlib.import_module(full)
    except ImportError:
        pass
    shim = types.ModuleType("torchvision")
    utils = types.ModuleType("torchvision._internally_replaced_utils")
    utils.load_state_dict_from_url = torch.hub.load_state_dict_from_url  # type: ignore[attr-defined]
    sys.modules["torchvision"], sys.modules[utils.__name__] = shim, utils
    try:
        return importlib.import_module(full)
    finally:
        del sys.modules["torchvision"], sys.modules[utils.__name__]


# ------------------------------------------------------------------ the models
def spikformer(in_channels: int = 3, **neuron_kwargs: Any) -> nn.Module:
    """Spikformer (CIFAR layout: patch 4) at 32x32, 64 dims, 2 heads, one block."""
    return zoo_module("spikformer").Spikformer(
        T=T, in_channels=in_channels, img_size_h=SIZE, img_size_w=SIZE, patch_size=4,
        num_classes=CLASSES, embed_dims=64, num_heads=2, mlp_ratio=2, depths=1, **neuron_kwargs)


def spike_driven_transformer(in_channels: int = 3, **neuron_kwargs: Any) -> nn.Module:
    """Spike-driven Transformer at 32x32 in its CIFAR layout (pooling in the last
    two stem stages only: 8x8 tokens), 64 dims, 2 heads, two blocks."""
    return zoo_module("spike_driven_transformer").SpikeDrivenTransformer(
        T=T, in_channels=in_channels, num_classes=CLASSES, embed_dims=64, num_heads=2,
        depths=2, mlp_ratio=2, pooling_stat="0011", **neuron_kwargs)


def qkformer(**neuron_kwargs: Any) -> nn.Module:
    """QKFormer at 32x32, 64 dims: one token-QK block in stages 1 and 2, one
    spiking self-attention block in stage 3."""
    return zoo_module("qkformer").QKFormer(
        T=T, num_classes=CLASSES, embed_dims=64, num_heads=(1, 2, 2), depths=(1, 1, 1),
        mlp_ratio=2, **neuron_kwargs)


def ms_resnet(**neuron_kwargs: Any) -> nn.Module:
    """MS-ResNet (membrane shortcut: LIF -> conv -> BN, added to the block's input)
    with three stages of one block, 16 base channels, a 3x3 stem."""
    return zoo_module("ms_resnet").MSResNet(
        T=T, num_classes=CLASSES, layers=(1, 1, 1), base_channels=16,
        stem_kernel_size=3, stem_stride=1, **neuron_kwargs)


def spiking_vgg(**neuron_kwargs: Any) -> nn.Module:
    """SpikingVGG with batch norm and IF neurons, features ``[16, M, 32, M, 64, 64,
    M]`` and a CIFAR head: one Linear readout instead of the ImageNet 25088 -> 4096
    -> 4096 classifier. Built on the meta device first (the ImageNet classifier it
    always makes costs no memory there), then initialised as the zoo does."""
    vgg = zoo_module("spiking_vgg")
    kwargs = dict(spiking_neuron=neuron.IFNode, surrogate_function=surrogate.ATan(),
                  detach_reset=True)
    kwargs.update(neuron_kwargs)
    with torch.device("meta"):
        model = vgg.SpikingVGG(cfg=[16, "M", 32, "M", 64, 64, "M"], batch_norm=True,
                               num_classes=CLASSES, **kwargs)
    model.avgpool = layer.AdaptiveAvgPool2d((2, 2))
    model.classifier = layer.Linear(64 * 4, CLASSES)
    model.to_empty(device="cpu")
    model._initialize_weights()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    functional.set_step_mode(model, "m")
    return model


def norse_vgg() -> nn.Module:
    """Norse's VGG (``norse.torch.models.vgg``: lifted convs and BatchNorm, LIF
    sequence modules) with batch norm, features ``[16, M, 32, M, 64, M]`` and a
    CIFAR head: one lifted Linear readout. The ImageNet classifier its constructor
    makes is made on the meta device (no memory) and replaced; the weights are
    initialised as Norse does. Input ``(T, B, 3, H, W)``; Norse's LIF time
    constants (5 ms synapse, 10 ms membrane, 1 ms steps) want T of 16 or so."""
    features = norse_vgg_module.make_layers([16, "M", 32, "M", 64, "M"], batch_norm=True)
    with torch.device("meta"):
        model = norse_vgg_module.VGG(features, num_classes=CLASSES, init_weights=False)
    model.avgpool = norse_lift.Lift(nn.AdaptiveAvgPool2d((2, 2)))
    model.classifier = norse_lift.Lift(nn.Linear(64 * 4, CLASSES))
    model._initialize_weights()
    return model


def maxformer(**neuron_kwargs: Any) -> nn.Module:
    """Max-Former (max-pooling patch embeddings, depth-wise conv blocks, spiking
    self-attention in stage 3), its ImageNet layout at 32x32, 64 dims, one block per
    stage."""
    return zoo_module("maxformer").MaxFormer(
        T=T, num_classes=CLASSES, embed_dims=64, depths=(1, 1, 1), mlp_ratio=2,
        **neuron_kwargs)


def max_resnet(**neuron_kwargs: Any) -> nn.Module:
    """Max-ResNet (MS-ResNet blocks with max pooling between conv and neuron), three
    stages of one block, 16 base channels, a 3x3 stem."""
    return zoo_module("ms_resnet").MaxResNet(
        T=T, num_classes=CLASSES, layers=(1, 1, 1), base_channels=16,
        stem_kernel_size=3, stem_stride=1, **neuron_kwargs)


def att_ms_resnet(**neuron_kwargs: Any) -> nn.Module:
    """Attention MS-ResNet (channel and spatial attention on each block's
    membrane-shortcut branch), T=1 as the zoo's default, three stages of one block."""
    return zoo_module("masnn").AttMSResNet(
        T=1, num_classes=CLASSES, layers=(1, 1, 1), base_channels=16,
        stem_kernel_size=3, stem_stride=1, **neuron_kwargs)


def masnn(**neuron_kwargs: Any) -> nn.Module:
    """MA-SNN (multi-dimensional attention: temporal, channel, spatial) in its
    DVS128 Gesture layout at 32x32 event frames, T=10, channels (16, 32, 32); its
    last LIF layer is the output (the model returns its rate over time)."""
    return zoo_module("masnn").MASNN(
        T=10, in_channels=2, num_classes=CLASSES, input_size=(32, 32),
        channels=(16, 32, 32), pools=(1, 2, 2), fc_hidden=64, reduction_t=5,
        reduction_c=8, **neuron_kwargs)


def snas_net(time_steps: int = 2) -> nn.Module:
    """SNASNet (searched cells of LIF -> conv -> BN edges; single-step LIFs called
    in a time loop inside its forward, on a static stem output) in its CIFAR-100
    layout (128 and 256 channels: its sizes are fixed), every cell edge a 1x1 or 3x3
    spiking conv. Input ``(B, 3, 32, 32)``, output 100 logits."""
    args = types.SimpleNamespace(timestep=time_steps, second_avgpooling=2,
                                 dataset="cifar100", celltype="forward", threshold=1.0,
                                 tau=4 / 3)
    edges = np.zeros((4, 4), dtype=int)
    for col in range(1, 4):
        for row in range(col):
            edges[row, col] = 2 if (row + col) % 2 else 3  # 1x1 or 3x3 spiking conv
    return zoo_module("snas_net").SNASNet(args, edges)


BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "spikformer": spikformer,
    "spike_driven_transformer": spike_driven_transformer,
    "qkformer": qkformer,
    "ms_resnet": ms_resnet,
    "spiking_vgg": spiking_vgg,
    "norse_vgg": norse_vgg,
    "maxformer": maxformer,
    "max_resnet": max_resnet,
    "att_ms_resnet": att_ms_resnet,
    "masnn": masnn,
}

TIME_STEPS = {"norse_vgg": 16, "att_ms_resnet": 1, "masnn": 10}
"""Time steps per sample where a model wants other than :data:`T`."""
EVENTS = {"masnn"}
"""Models fed binarised event frames (tonic ``ToFrame`` of synthetic events), not images."""
OUTPUTS = {"masnn": "fc_blocks.1.cell"}
"""The spiking layer a model returns (the others end in a non-spiking readout)."""


def build(name: str, **neuron_kwargs: Any) -> nn.Module:
    torch.manual_seed(0)
    return BUILDERS[name](**neuron_kwargs)


def batches_for(name: str, steps: int) -> Any:
    """:func:`image_batches` with the model's time steps, or :func:`event_batches`."""
    t = TIME_STEPS.get(name, T)
    return event_batches(steps, t=t) if name in EVENTS else image_batches(steps, t=t)


def neuron_paths(model: nn.Module) -> list[str]:
    """Every SpikingJelly neuron node and Norse ``SNN`` sequence module of ``model``
    by module path, in model order (by class, whatever spikewidget's detection says)."""
    return [n for n, m in model.named_modules()
            if isinstance(m, (neuron.BaseNode, norse_snn.SNN))]


# ------------------------------------------------------------------ the truth
@dataclass
class Tally:
    """Per neuron module, from its raw outputs (``(T, batch, *neurons)`` in step mode
    'm', ``(batch, *neurons)`` per call in 's'; the spikes of an OTTT node's
    ``[spike, trace]``): per neuron the sum of its outputs and the number of
    non-zero ones (spike events; the same for 0/1 spikes) over time, batch and
    calls, the number of (time step, sample) observations, and whether any value
    left {0, 1}; per neuron the samples (a sequence of T steps: one call in 'm',
    T calls in a row in 's') in which it fired at all."""

    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    events: dict[str, np.ndarray] = field(default_factory=dict)
    observations: dict[str, int] = field(default_factory=dict)
    non_binary: dict[str, bool] = field(default_factory=dict)
    active: dict[str, np.ndarray] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)
    handles: list[Any] = field(default_factory=list)
    _open: dict[str, tuple[int, Any]] = field(default_factory=dict)  # 's': calls, fired

    def attach(self, model: nn.Module) -> Tally:
        for name in neuron_paths(model):
            module = model.get_submodule(name)
            self.handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def _hook(self, name: str) -> Callable[..., None]:
        def count(module: nn.Module, args: Any, out: Any) -> None:
            out = (out[0] if isinstance(out, (list, tuple)) else out).detach()
            lead = 1 if getattr(module, "step_mode", "m") == "s" else 2
            flat = out.flatten(0, lead - 1).flatten(1).double()
            self.spikes[name] = self.spikes.get(name, 0) + flat.sum(0).numpy()
            self.events[name] = self.events.get(name, 0) + (flat != 0).sum(0).numpy()
            self.observations[name] = self.observations.get(name, 0) + flat.shape[0]
            off = bool(((out != 0) & (out != 1)).any())
            self.non_binary[name] = self.non_binary.get(name, False) or off
            fired = out.flatten(lead).ne(0)  # ('m': (T, batch, n); 's': (batch, n))
            if lead == 2:
                self._add_samples(name, fired.any(0))
                return
            calls, before = self._open.get(name, (0, None))
            fired = fired if before is None else fired | before
            if calls + 1 == T:
                self._open.pop(name, None)
                self._add_samples(name, fired)
            else:
                self._open[name] = (calls + 1, fired)
        return count

    def _add_samples(self, name: str, fired: Any) -> None:
        self.active[name] = self.active.get(name, 0) + fired.sum(0).double().numpy()
        self.samples[name] = self.samples.get(name, 0) + int(fired.shape[0])

    def dead(self, name: str, dead_rate: float) -> np.ndarray:
        """Per neuron, whether it fired in fewer than ``dead_rate`` of the samples."""
        return self.active[name] / self.samples[name] < dead_rate

    def rates(self, name: str) -> np.ndarray:
        """Spike events per neuron per (time step, sample), flattened."""
        return self.events[name] / self.observations[name]

    def detach(self) -> None:
        for h in self.handles:
            h.remove()


# ------------------------------------------------------------------ training
def image_batches(steps: int, *, t: int = T, b: int = BATCH, size: int = SIZE,
                  seed: int = 0):
    """Direct-encoded smooth random images, ``(T, B, 3, size, size)``, and labels."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        yield blobs(g, (t, b, 3, size, size)), torch.randint(0, CLASSES, (b,), generator=g)


def event_batches(steps: int, *, t: int = T, b: int = BATCH, size: int = SIZE,
                  seed: int = 0):
    """Binarised tonic ``ToFrame`` frames of synthetic moving events, ``(T, B, 2,
    size, size)``, and labels."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = tonic_frames(rng, b, (size, size), t, n_events=8000)
        yield (x > 0).float(), torch.from_numpy(rng.integers(0, CLASSES, b))


@dataclass
class Run:
    profiler: SpikeProfiler
    report: Any
    layers: list[str]
    tally: Tally
    warnings: list[str]


def train(model: nn.Module, steps: int = 8, *, batches: Any = None, lr: float = 1e-3,
          gradients: bool = True, input_axes: int | None = None) -> Run:
    """Adam on cross-entropy of the model's logits (averaged over time when it
    returns ``(T, B, classes)``), ``functional.reset_net`` after every batch, under
    ``watch(model, input=True)`` with a :class:`Tally` beside it; ``input_axes``:
    the input's neuron axes when it has no time axis (``(B, C, H, W)``: 3)."""
    prof = SpikeProfiler()
    if input_axes is not None:
        prof.declare_layer("input", neuron_axes=input_axes)
    tally = Tally().attach(model)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    data = image_batches(steps) if batches is None else batches
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with prof.watch(model, input=True, gradients=gradients) as handle:
            for x, y in data:
                out = model(x)
                logits = out.mean(0) if out.ndim == 3 else out
                loss = F.cross_entropy(logits, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                functional.reset_net(model)
                prof.record_loss(loss, n_classes=logits.shape[-1])
    tally.detach()
    said = [f"{w.category.__name__}: {w.message}" for w in caught]
    return Run(prof, prof.report(), list(handle.layers), tally, said)


# ------------------------------------------------------------------ online training
def ottt_vgg() -> nn.Module:
    """OTTTSpikingVGG (weight-standardised convs, OTTT LIF nodes in step mode 's',
    the light classifier) with features ``[16, A, 32, A, 512]``."""
    torch.manual_seed(0)
    return zoo_module("spiking_vggws_ottt").OTTTSpikingVGG(
        cfg=[16, "A", 32, "A", 512], weight_standardization=True, num_classes=CLASSES,
        spiking_neuron=neuron.OTTTLIFNode, light_classifier=True)


def train_online(model: nn.Module, steps: int = 8, *, normalise: bool = True) -> Run:
    """Online training through time, as SpikingJelly's OTTT examples do: one call
    per time step, the loss of each step backpropagated at once (the nodes detach
    their state), one SGD step per batch; ``watch(..., time_steps=T)``. Images
    normalised to zero mean (as a CIFAR pipeline's ``Normalize`` does) unless not
    ``normalise``: the weight-standardised kernels have zero mean."""
    prof = SpikeProfiler()
    prof.declare_layer("input", neuron_axes=3)  # one (batch, 3, H, W) frame per call
    tally = Tally().attach(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with prof.watch(model, input=True, gradients=True, time_steps=T) as handle:
            for x, y in image_batches(steps):
                x = (x - 0.5) / 0.25 if normalise else x
                opt.zero_grad()
                total = 0.0
                for t in range(T):
                    loss = F.cross_entropy(model(x[t]), y) / T
                    loss.backward()
                    total += loss.item()
                opt.step()
                functional.reset_net(model)
                prof.record_loss(total, n_classes=CLASSES)
    tally.detach()
    said = [f"{w.category.__name__}: {w.message}" for w in caught]
    return Run(prof, prof.report(), list(handle.layers), tally, said)
