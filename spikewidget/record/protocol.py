"""The recording interface: what the torch hooks, the sequences they fold and the
sweep's split profiler call. :class:`~spikewidget.record.recorder.Recorder`
implements all of it; a stand-in (the sweep's) implements :class:`Recording`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ..core.arrays import ArrayLike
from ..state.layer import Graded
from .reduce_numpy import StepResult


@runtime_checkable
class Recording(Protocol):
    """Record steps and gradients of named layers."""

    def declare_layer(self, name: str, *, role: str | None = None,
                      graded: Graded | None = None, neuron_axes: int | None = None,
                      fan_out: float | None = None, threshold: float | None = None,
                      resting_potential: float | None = None,
                      fed_by: Sequence[str] | None = None,
                      spike_ceiling: float | None = None) -> None:
        """Say what a layer is (see :meth:`Recorder.declare_layer`)."""

    def neuron_axes(self, name: str) -> int | None:
        """How many trailing axes index neurons in layer ``name``, if known."""

    def record_step(self, layer: str, spikes: ArrayLike, voltages: ArrayLike | None = None,
                    gradients: ArrayLike | None = None, *, epoch: int | None = None,
                    neuron_axes: int | None = None) -> None:
        """Record one step: ``spikes`` (and ``voltages``, ``gradients``) of shape
        ``(..., *neurons)``."""

    def record_gradients(self, layer: str, gradients: ArrayLike, *,
                         epoch: int | None = None) -> None:
        """Add one gradient record to the layer's latest step."""


@runtime_checkable
class FullRecording(Recording, Protocol):
    """A recorder that also takes steps reduced elsewhere, input gradients' NaN/Inf
    counts and reach, what :func:`watch` saw of the model's output, and phases."""

    backend: str
    """``"torch"``: every statistic is kept as a tensor (steps are never folded)."""
    raster_window: int
    """How many recent frames per layer the raster keeps."""

    def record_reduced(self, layer: str, shape: tuple[int, ...], neuron_axes: int,
                       compute: Callable[[bool], StepResult], frames: Any) -> None:
        """Record one host step whose reductions ``compute(want_counts)`` makes."""

    def record_input_nonfinite(self, layer: str, count: Any) -> None:
        """Add ``count`` NaN/Inf values of the gradient at the layer's input."""

    def record_input_reach(self, layer: str, blocked: Any, checked: Any) -> None:
        """Add one record: ``checked`` neurons got a gradient at their spikes, and
        ``blocked`` of them none at their input."""

    def note_model_output(self, watched: Sequence[str], output: str | None) -> None:
        """Which watched layer's spikes the model returns (None: none of them)."""

    def phase(self, name: str = "eval") -> FullRecording:
        """The recorder of phase ``name`` (``"train"``: this one)."""
