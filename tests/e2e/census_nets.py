"""The neuron census's networks: every spiking-neuron class snnTorch, SpikingJelly and
Norse export, in a minimal network of that framework's usual style
(Linear -> neuron -> Linear -> neuron), driven by structured spike input.

:func:`exported` lists what each installed framework exports (so a class a release
adds is seen); :data:`SPECS` says how to build each one (constructor arguments, step
modes, how strongly to drive it) and :data:`EXCLUDED` why a class is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import norse.torch as norse
import snntorch as snn
import torch
from norse.torch.functional import izhikevich as norse_izhikevich
from norse.torch.module import snn as norse_snn
from spikingjelly.activation_based import functional as sj_functional
from spikingjelly.activation_based import layer as sj_layer
from spikingjelly.activation_based import neuron as sj_neuron
from torch import nn

T, BATCH, N_IN, HIDDEN, N_OUT = 10, 8, 24, 16, 6
INPUT_RATE = 0.3


# ------------------------------------------------------------------ what is exported
def _modules_of(namespace: Any) -> dict[str, type]:
    return {n: c for n, c in vars(namespace).items()
            if isinstance(c, type) and issubclass(c, nn.Module) and not n.startswith("_")}


def exported() -> dict[str, dict[str, type]]:
    """Per framework, the torch modules its neuron namespace exports: snnTorch's
    ``SpikingNeuron`` subclasses and sequence layers, every module of SpikingJelly's
    ``activation_based.neuron``, and Norse's ``SNNCell``/``SNN`` families plus the
    other modules of ``norse.torch.module`` (cells that are not ``SNNCell``s)."""
    snn_found = {n: c for n, c in _modules_of(snn).items()
                 if issubclass(c, snn.SpikingNeuron) or "Leaky" in n or "Spike" in n}
    sj_found = _modules_of(sj_neuron)
    norse_found = {n: c for n, c in _modules_of(norse).items()
                   if c.__module__.startswith("norse.torch.module.")
                   or issubclass(c, (norse_snn.SNNCell, norse_snn.SNNRecurrentCell,
                                     norse_snn.SNN, norse_snn.SNNRecurrent))}
    return {"snntorch": snn_found, "spikingjelly": sj_found, "norse": norse_found}


# ------------------------------------------------------------------ how to build each
@dataclass(frozen=True)
class Spec:
    """How to build one class: ``make(fan_in, size)`` returns the neuron layer of
    ``size`` neurons fed by ``fan_in`` inputs (a layer with its own weights, such as
    snnTorch ``SLSTM``, takes ``fan_in`` itself: then no Linear goes before it).
    ``style``: ``"step"`` (called once per time step), ``"sequence"`` (one call on
    ``(T, batch, ...)``); ``gain``: mean input current per neuron, in thresholds.
    ``own_weights``: the layer holds its input weights. ``integrator``: outputs
    voltages (watch skips it). ``inject``: how to plant a dead first layer:
    ``"threshold"`` raised 100x; ``"silence"``, its input weights zeroed (no
    threshold, or one that 100x does not silence); ``"inhibit"``, its input weights
    made negative (a quadratic, exponential or Izhikevich voltage runs away past any
    threshold, even without input); ``"raise_mv"``, a threshold in mV raised by 100
    mV (a negative one, which 100x would lower)."""

    framework: str
    make: Callable[[int, int], nn.Module]
    style: str = "step"
    gain: float = 0.4
    own_weights: bool = False
    integrator: bool = False
    inject: str = "threshold"
    modes: tuple[str, ...] = ("s", "m")
    extra: dict[str, Any] = field(default_factory=dict)


def _snn(cls: type, **kw: Any) -> Callable[[int, int], nn.Module]:
    return lambda fan_in, size: cls(init_hidden=True, **kw)


def _snn_sized(cls: type, **kw: Any) -> Callable[[int, int], nn.Module]:
    return lambda fan_in, size: cls(linear_features=size, init_hidden=True, **kw)


SNN_SPECS: dict[str, Spec] = {
    "Leaky": Spec("snntorch", _snn(snn.Leaky, beta=0.8)),
    # init_hidden=True breaks snntorch.utils.reset for DeltaLeaky (its reset_hidden reads
    # a mem that is None) and keeps RSynaptic's graph across batches: explicit state
    "DeltaLeaky": Spec("snntorch", lambda fan_in, size: snn.DeltaLeaky(beta=0.8),
                       gain=2.0, extra={"state": "mem"}),
    "Lapicque": Spec("snntorch", _snn(snn.Lapicque, beta=0.8), gain=2.0),
    "Synaptic": Spec("snntorch", _snn(snn.Synaptic, alpha=0.7, beta=0.8), gain=0.2),
    "Alpha": Spec("snntorch", _snn(snn.Alpha, alpha=0.8, beta=0.7), gain=1.0),
    "RLeaky": Spec("snntorch", _snn_sized(snn.RLeaky, beta=0.8)),
    "RSynaptic": Spec("snntorch", lambda fan_in, size: snn.RSynaptic(
        0.7, 0.8, linear_features=size), gain=0.3, extra={"state": "internal"}),
    # its membrane is the LSTM's h = o * tanh(c), below 1: a threshold of 1 never fires
    "SLSTM": Spec("snntorch", lambda fan_in, size: snn.SLSTM(fan_in, size, threshold=0.5,
                                                             init_hidden=True),
                  own_weights=True, gain=2.0),
    "StateLeaky": Spec("snntorch", lambda fan_in, size: snn.StateLeaky(0.8, size),
                       style="sequence"),
    "LinearLeaky": Spec("snntorch", lambda fan_in, size: snn.LinearLeaky(0.8, fan_in, size),
                        style="sequence", own_weights=True),
    "LeakyParallel": Spec("snntorch", lambda fan_in, size: snn.LeakyParallel(fan_in, size),
                          style="sequence", own_weights=True, gain=1.0),
}


def _sj(cls: type, **kw: Any) -> Callable[[int, int], nn.Module]:
    return lambda fan_in, size: cls(**kw)


def _sj_sized(cls: type, **kw: Any) -> Callable[[int, int], nn.Module]:
    return lambda fan_in, size: cls(size, **kw)


SJ_SPECS: dict[str, Spec] = {
    "IFNode": Spec("spikingjelly", _sj(sj_neuron.IFNode)),
    "SimpleIFNode": Spec("spikingjelly", _sj(sj_neuron.SimpleIFNode)),
    "LIFNode": Spec("spikingjelly", _sj(sj_neuron.LIFNode), gain=1.3),
    "SimpleLIFNode": Spec("spikingjelly", _sj(sj_neuron.SimpleLIFNode, tau=2.0,
                                              decay_input=True), gain=1.3),
    "ParametricLIFNode": Spec("spikingjelly", _sj(sj_neuron.ParametricLIFNode), gain=1.3),
    # quadratic and exponential voltages run away past any threshold once above v_c
    "QIFNode": Spec("spikingjelly", _sj(sj_neuron.QIFNode), gain=1.3, inject="inhibit"),
    "EIFNode": Spec("spikingjelly", _sj(sj_neuron.EIFNode), gain=1.3, inject="inhibit"),
    "IzhikevichNode": Spec("spikingjelly", _sj(sj_neuron.IzhikevichNode), gain=1.3,
                           inject="inhibit"),
    "KLIFNode": Spec("spikingjelly", _sj(sj_neuron.KLIFNode), gain=1.3),
    "CUBALIFNode": Spec("spikingjelly", _sj(sj_neuron.CUBALIFNode), gain=0.25),
    "HalfThresholdIFNode": Spec("spikingjelly", _sj(sj_neuron.HalfThresholdIFNode)),
    "ActivationAwareIFNode": Spec("spikingjelly", _sj(sj_neuron.ActivationAwareIFNode)),
    "ILIFNode": Spec("spikingjelly", _sj(sj_neuron.ILIFNode), gain=0.35),
    "RAFNode": Spec("spikingjelly", _sj(sj_neuron.RAFNode), gain=1.3),
    "ComplementaryLIFNode": Spec("spikingjelly", _sj(sj_neuron.ComplementaryLIFNode),
                                 gain=0.9),
    "MPBNLIFNode": Spec("spikingjelly", lambda fan_in, size: sj_neuron.MPBNLIFNode(
        out_features=size), gain=1.3),
    "TernaryIFNode": Spec("spikingjelly", _sj(sj_neuron.TernaryIFNode)),
    "TernaryLIFNode": Spec("spikingjelly", _sj(sj_neuron.TernaryLIFNode), gain=1.3),
    "LIAFNode": Spec("spikingjelly", _sj(sj_neuron.LIAFNode, act=nn.ReLU(),
                                         threshold_related=False), gain=0.6,
                          extra={"gain_m": 1.3}),  # its 'm' mode fires binary spikes,
    "SLTTLIFNode": Spec("spikingjelly", _sj(sj_neuron.SLTTLIFNode), gain=1.3),
    "ILCIFNode": Spec("spikingjelly", lambda fan_in, size: sj_neuron.ILCIFNode(size, 1), gain=0.6),
    "ILCLIFNode": Spec("spikingjelly", lambda fan_in, size: sj_neuron.ILCLIFNode(size, 1),
                       gain=0.9),
    "ILCCUBALIFNode": Spec("spikingjelly",
                           lambda fan_in, size: sj_neuron.ILCCUBALIFNode(size, 1), gain=0.3),
    "PSN": Spec("spikingjelly", _sj(sj_neuron.PSN, T=T), modes=("m",), inject="silence", gain=3.0),
    "MaskedPSN": Spec("spikingjelly", _sj(sj_neuron.MaskedPSN, k=2, T=T), modes=("m",),
                      inject="silence", gain=3.0),
    "SlidingPSN": Spec("spikingjelly", _sj(sj_neuron.SlidingPSN, k=2), inject="silence", gain=0.8),
    "NonSpikingIFNode": Spec("spikingjelly", _sj(sj_neuron.NonSpikingIFNode),
                             integrator=True, modes=("m",)),
    "NonSpikingLIFNode": Spec("spikingjelly", _sj(sj_neuron.NonSpikingLIFNode),
                              integrator=True, modes=("m",)),
}


def _norse(cls: type, **kw: Any) -> Callable[[int, int], nn.Module]:
    return lambda fan_in, size: cls(**kw)


def _norse_rec(cls: type, **kw: Any) -> Callable[[int, int], nn.Module]:
    return lambda fan_in, size: cls(fan_in, size, **kw)


_IZ = {"spiking_method": norse_izhikevich.tonic_spiking}
NORSE_SPECS: dict[str, Spec] = {}
for _name, _style in (("LIF", "sequence"), ("LIFAdEx", "sequence"), ("LIFEx", "sequence"),
                      ("LSNN", "sequence"), ("LIFRefrac", "sequence"),
                      ("LIFAdExRefrac", "sequence"), ("IAF", "sequence"),
                      ("Izhikevich", "sequence")):
    for _suffix, _rec in (("Cell", False), ("RecurrentCell", True), ("", False),
                          ("Recurrent", True)):
        _cls = getattr(norse, _name + _suffix, None)
        if _cls is None:
            continue
        _kw = _IZ if _name == "Izhikevich" else {}
        NORSE_SPECS[_name + _suffix] = Spec(
            "norse", (_norse_rec if _rec else _norse)(_cls, **_kw),
            style="step" if "Cell" in _suffix else "sequence",
            gain=(60.0 if _name == "Izhikevich" else 1.5 if _name == "IAF"
                  else 6.0 if _rec else 3.0), own_weights=_rec,
            inject="inhibit" if _name == "Izhikevich" else "threshold")
NORSE_SPECS["LIFBoxCell"] = Spec("norse", _norse(norse.LIFBoxCell), gain=3.0)
NORSE_SPECS["LIFMCRecurrentCell"] = Spec("norse", _norse_rec(norse.LIFMCRecurrentCell),
                                         gain=8.0, own_weights=True)
NORSE_SPECS["LIFMCRefracRecurrentCell"] = Spec(
    "norse", _norse_rec(norse.LIFMCRefracRecurrentCell), gain=8.0, own_weights=True,
    inject="silence")  # its coupled compartments still fire some neurons at 100x
for _name, _style in (("LICell", "step"), ("LI", "sequence"), ("LIBoxCell", "step")):
    NORSE_SPECS[_name] = Spec("norse", _norse(getattr(norse, _name)), style=_style,
                              integrator=True, gain=3.0)
NORSE_SPECS["LILinearCell"] = Spec("norse", _norse_rec(norse.LILinearCell),
                                   integrator=True, own_weights=True, gain=3.0)

OWN_NET: dict[str, set[str]] = {"snntorch": {"SConv2dLSTM"}, "spikingjelly": {"OTTTLIFNode"},
                                 "norse": set()}
"""Classes censused by a network of their own: snnTorch's conv LSTM takes image frames
(:class:`ConvLSTMNet`); SpikingJelly's OTTT node returns ``[spike, trace]`` while
training, for ``layer.OTTTSequential`` (:func:`ottt_net`)."""

SPECS: dict[str, dict[str, Spec]] = {"snntorch": SNN_SPECS, "spikingjelly": SJ_SPECS,
                                     "norse": NORSE_SPECS}

_ABSTRACT = "an abstract base class (its charge or forward is left to subclasses)"
EXCLUDED: dict[str, dict[str, str]] = {
    "snntorch": {
        "SpikingNeuron": _ABSTRACT, "LIF": _ABSTRACT,
        "GradedSpikes": "not a neuron: scales the spikes of the layer before it",
        "AssociativeLeaky": "outputs S_t @ Q_t of an associative memory (analog values, "
                            "not spikes); not a spiking layer to diagnose",
    },
    "spikingjelly": {
        "BaseNode": _ABSTRACT, "SimpleBaseNode": _ABSTRACT, "AdaptBaseNode": _ABSTRACT,
        "NonSpikingBaseNode": _ABSTRACT, "MPBNBaseNode": _ABSTRACT, "ILCBaseNode": _ABSTRACT,
        "NoisyBaseNode": _ABSTRACT, "NoisyILCBaseNode": _ABSTRACT,
        "NoisyNonSpikingBaseNode": _ABSTRACT,
        "NoisyCUBALIFNode": "colored-noise nodes for reinforcement learning: forward needs "
                            "noise drawn per episode first (noise_step is unset until then)",
        "NoisyILCCUBALIFNode": "as NoisyCUBALIFNode", "NoisyNonSpikingIFNode":
            "as NoisyCUBALIFNode",
        "GatedLIFNode": "returns (T, 1, 1, batch, features) for (T, batch, features) "
                        "input (SpikingJelly 2.0.0: it expects image-shaped input)",
        "DSRIFNode": "emits the sequence's spike representation (weighted values on few "
                     "steps, multi-step only), not per-step spikes: rates do not apply "
                     "(watch reads it as graded)",
        "DSRLIFNode": "as DSRIFNode",
        "FlexSN": "a template: the user writes its core (state-transition) function",
        "FewSpikeNode": "needs a FewSpikeTable fitted to an ANN activation (conversion)",
        "HGNode": "as FewSpikeNode (tables and gate thresholds from a conversion)",
        "OutlierAwareThresholdNode": "as FewSpikeNode",
        "STBIFNode": "a quantised-ANN conversion node (q_threshold and level from a "
                     "trained quantised ANN)",
    },
    "norse": {
        **{n: "an input encoder (data to spikes), not a layer of the network" for n in (
            "ConstantCurrentLIFEncoder", "PoissonEncoder", "PopulationEncoder",
            "SignedPoissonEncoder", "SpikeLatencyEncoder", "SpikeLatencyLIFEncoder")},
        **{n: "a container or wrapper of other layers (its neurons are censused)"
           for n in ("SequentialState", "RecurrentSequential", "Lift")},
        **{n: "a receptive-field convolution, not a neuron" for n in (
            "SpatialReceptiveField2d", "ParameterizedSpatialReceptiveField2d",
            "SampledSpatialReceptiveField2d", "TemporalReceptiveField")},
        "CobaLIFCell": "its input never reaches it in Norse 1.1.0 (coba_lif_step "
                       "overwrites the input's conductance jump with the recurrent one); "
                       "watched and its threshold p.v_thresh known (see the regression "
                       "test), not trainable here",
        "LConv2d": "a convolution over (time, ...) frames, not a neuron",
        "RegularizationCell": "not a neuron: accumulates a regularisation term",
        "SpikesToTimesDecoder": "a decoder of spikes to spike times, not a neuron",
        "LIFCorrelation": "a LIF cell with correlation-sensor plasticity state, for "
                          "learning rules outside autograd; not watched (not an SNNCell)",
    },
}


HIDDEN_FOR_READOUT: dict[str, Callable[[int, int], nn.Module]] = {
    "snntorch": SNN_SPECS["Leaky"].make, "spikingjelly": SJ_SPECS["IFNode"].make,
    "norse": lambda fan_in, size: norse.LIFBoxCell(),
}
READOUT_GAIN = {"snntorch": 0.4, "spikingjelly": 0.4, "norse": 3.0}
"""The spiking hidden layer in front of a leaky-integrator readout."""


# ------------------------------------------------------------------ the networks
def drive_linear(linear: nn.Linear, input_rate: float, gain: float) -> None:
    """Weights for input firing at ``input_rate``: each neuron's mean current about
    ``gain`` thresholds, spread +/- a third of it (every neuron fires, none always)."""
    fan = linear.weight.shape[1]
    with torch.no_grad():
        linear.weight.normal_(gain / (input_rate * fan), gain / (3 * input_rate * math.sqrt(fan)))
        if linear.bias is not None:
            linear.bias.zero_()


def drive_own(module: nn.Module, input_rate: float, gain: float) -> None:
    """:func:`drive_linear` for the input weights a layer holds itself."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            drive_linear(sub, input_rate, gain)
    for name, p in module.named_parameters():
        if p.ndim == 2 and ("weight_ih" in name or name == "input_weights"):
            # LSTM/RNN and Norse recurrent cells' input weights, (out, fan_in)
            fan = p.shape[1]
            with torch.no_grad():
                p.normal_(gain / (input_rate * fan), gain / (3 * input_rate * math.sqrt(fan)))


class CensusNet(nn.Module):
    """Linear -> neuron -> Linear -> neuron (no Linear before a neuron with its own
    weights); ``forward`` takes spikes ``(T, batch, N_IN)`` and returns the output
    spikes ``(T, batch, N_OUT)``: a loop over time for per-step layers, one call for
    sequence layers."""

    def __init__(self, framework: str, spec: Spec, mode: str = "s") -> None:
        super().__init__()
        self.framework, self.spec, self.mode = framework, spec, mode
        own = spec.own_weights and not spec.integrator  # a readout's hidden layer is plain
        self.fc1 = nn.Identity() if own else nn.Linear(N_IN, HIDDEN)
        hidden = HIDDEN_FOR_READOUT[framework]
        if spec.integrator and framework == "norse" and spec.style == "sequence":
            hidden = lambda fan_in, size: norse.LIF()  # noqa: E731
        self.lif1 = hidden(N_IN, HIDDEN) if spec.integrator else spec.make(N_IN, HIDDEN)
        self.fc2 = nn.Identity() if spec.own_weights else nn.Linear(HIDDEN, N_OUT)
        self.lif2 = spec.make(HIDDEN, N_OUT)
        if framework == "spikingjelly":
            sj_functional.set_step_mode(self, mode)

    def reset_states(self) -> None:
        if self.framework == "snntorch":  # snntorch.utils.reset resets every instance of
            for m in (self.lif1, self.lif2):  # a class (a DeltaLeaky's None mem crashes it)
                if getattr(m, "init_hidden", False):
                    m.reset_mem()
        elif self.framework == "spikingjelly":
            sj_functional.reset_net(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.reset_states()
        if self.spec.style == "sequence" or self.mode == "m":
            h = self._call(self.lif1, _seq(self.fc1, x))
            return self._call(self.lif2, _seq(self.fc2, h))
        s1 = s2 = None
        outs = []
        for t in range(x.shape[0]):
            h, s1 = self._step(self.lif1, self.fc1(x[t]), s1)
            o, s2 = self._step(self.lif2, self.fc2(h), s2)
            outs.append(o)
        return torch.stack(outs)

    def _call(self, neuron: nn.Module, x: torch.Tensor) -> torch.Tensor:
        out = neuron(x)
        if isinstance(out, list):  # SpikingJelly's non-spiking nodes: one voltage per step
            return torch.stack(out)
        return out[0] if isinstance(out, tuple) else out

    def _step(self, neuron: nn.Module, x: torch.Tensor, state: Any) -> tuple[Any, Any]:
        if self.framework == "norse":
            return neuron(x, state)
        style = self.spec.extra.get("state")
        if style == "mem":  # DeltaLeaky: spk, (mem, mem_prev) = lif(x, (mem, mem_prev))
            if state is None:
                state = (torch.zeros_like(x), torch.zeros_like(x))
            out = neuron(x, state)
            return out[0], out[-1]
        if style == "internal" and state is None:  # the layer keeps its own state
            neuron.reset_mem()
        out = neuron(x)
        return (out[0] if isinstance(out, tuple) else out), True


def _seq(linear: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return linear(x)  # nn.Linear maps the last axis of (T, batch, features)


def build(framework: str, name: str, mode: str = "s", seed: int = 0) -> CensusNet:
    spec = SPECS[framework][name]
    torch.manual_seed(seed)
    net = CensusNet(framework, spec, mode)
    gain = spec.extra.get(f"gain_{mode}", spec.gain)
    gain1 = READOUT_GAIN[framework] if spec.integrator else gain
    for fc, neuron, rate, g in ((net.fc1, net.lif1, INPUT_RATE, gain1),
                                (net.fc2, net.lif2, 0.25, gain)):
        if isinstance(fc, nn.Linear):
            drive_linear(fc, rate, g)
        else:
            drive_own(neuron, rate, g)
    return net


def spikes_in(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Structured input spikes ``(T, batch, N_IN)`` and labels: each sample's class
    fires its band of inputs at twice ``INPUT_RATE``, the rest at half."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(BATCH) % N_OUT
    band = N_IN // N_OUT
    rate = torch.full((BATCH, N_IN), INPUT_RATE / 2)
    for b, c in enumerate(labels.tolist()):
        rate[b, c * band:(c + 1) * band] = INPUT_RATE * 2
    x = (torch.rand((T, BATCH, N_IN), generator=g) < rate).float()
    return x, labels


class ConvLSTMNet(nn.Module):
    """snnTorch ``SConv2dLSTM(2 -> 4 channels, 3x3)`` on ``(T, batch, 2, 6, 6)`` spike
    frames -> flatten -> Linear -> ``Leaky``: 144 conv neurons, ``N_OUT`` outputs.
    Its membrane is an LSTM's ``h`` (below 1): threshold 0.5."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.lstm = snn.SConv2dLSTM(2, 4, 3, threshold=0.5, init_hidden=True)
        self.fc = nn.Linear(4 * 6 * 6, N_OUT)
        self.out = snn.Leaky(beta=0.8, init_hidden=True)
        conv = self.lstm.conv
        fan = conv.weight[0].numel()
        with torch.no_grad():
            conv.weight.normal_(1 / (INPUT_RATE * fan), 1 / (3 * INPUT_RATE * math.sqrt(fan)))
            conv.bias.zero_()
        drive_linear(self.fc, 0.25, 0.4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.lstm.reset_mem()
        self.out.reset_mem()
        return torch.stack([self.out(self.fc(self.lstm(x[t]).flatten(1)))
                            for t in range(x.shape[0])])


def ottt_net(gain: float = 0.8, seed: int = 0) -> nn.Module:
    """Linear -> OTTTLIFNode -> Linear -> OTTTLIFNode in ``layer.OTTTSequential``,
    which passes the ``[spike, trace]`` pairs on: one call (and, in online training,
    one backward) per time step."""
    torch.manual_seed(seed)
    net = sj_layer.OTTTSequential(nn.Linear(N_IN, HIDDEN), sj_neuron.OTTTLIFNode(),
                                  nn.Linear(HIDDEN, N_OUT), sj_neuron.OTTTLIFNode())
    drive_linear(net[0], INPUT_RATE, gain)
    drive_linear(net[2], 0.25, gain)
    return net


def frames_in(seed: int = 0) -> torch.Tensor:
    """Spike frames ``(T, batch, 2, 6, 6)`` at ``INPUT_RATE``."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((T, BATCH, 2, 6, 6), generator=g) < INPUT_RATE).float()
