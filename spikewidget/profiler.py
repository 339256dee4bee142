"""SpikeProfiler: record what every layer does while training runs, then diagnose.

The public face of spikewidget. Recording is :class:`~spikewidget.record.recorder.Recorder`'s;
this class adds the thresholds it judges by, :meth:`SpikeProfiler.report` (the rules of
:mod:`spikewidget.diagnose` run on a snapshot, without re-recording anything), saving
and loading (:mod:`spikewidget.io`), and the integrations: watching a torch model,
gathering ranks, the threshold sweep and the widget.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from .core.arguments import check_writable_path, is_one_of
from .core.errors import InvalidInputError
from .diagnose.judge import judge, training_reference
from .diagnose.report import Report
from .diagnose.thresholds import Thresholds
from .io.persist import SavedProfile, dump_profile, load_profile, read_profile, save_profile
from .io.schema import MAX_LOAD_BYTES
from .record.recorder import Backend, Recorder
from .state.limits import PHASES
from .state.raster import RASTER_NEURONS


class SpikeProfiler(Recorder):
    """Records spikes, voltages and gradients per layer per step, and diagnoses them.

    Drop-in for the published tutorial's ``SpikeProfiler``: ``dead_threshold``,
    ``saturated_threshold`` and ``gradient_explosion_ratio`` set those constants;
    ``thresholds`` sets any of them (a :class:`Thresholds` or a mapping).
    ``raster_window``, ``raster_neurons``, ``max_epochs`` and ``backend`` say what is
    kept and where it is reduced (see :class:`~spikewidget.record.recorder.Recorder`).
    """

    def __init__(self, dead_threshold: float | None = None,
                 saturated_threshold: float | None = None,
                 gradient_explosion_ratio: float | None = None, *,
                 thresholds: Thresholds | Mapping[str, float] | None = None,
                 raster_window: int = 256, raster_neurons: int = RASTER_NEURONS,
                 max_epochs: int | None = None, backend: Backend = "auto") -> None:
        th = Thresholds.coerce(thresholds, Thresholds())
        legacy = {"dead_rate": dead_threshold, "saturated_rate": saturated_threshold,
                  "gradient_explosion_ratio": gradient_explosion_ratio}
        changes = {k: v for k, v in legacy.items() if v is not None}
        self._thresholds = th.replace(**changes) if changes else th
        self._training: SpikeProfiler | None = None  # see _share_with
        super().__init__(raster_window=raster_window, raster_neurons=raster_neurons,
                         max_epochs=max_epochs, backend=backend)

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "thresholds": self._thresholds}

    def _share_with(self, phase: SpikeProfiler) -> None:
        phase._thresholds = self._thresholds  # every phase judges by the same constants
        phase._training = self  # what its report compares with (kept alive with it)

    # ------------------------------------------------------------ configuration
    @property
    def thresholds(self) -> Thresholds:
        """The constants :meth:`report` uses unless told otherwise."""
        return self._thresholds

    @thresholds.setter
    def thresholds(self, value: Thresholds | Mapping[str, float]) -> None:
        self._thresholds = Thresholds.coerce(value, self._thresholds)
        self._touch()

    @property
    def dead_threshold(self) -> float:
        return self._thresholds.dead_rate

    @property
    def saturated_threshold(self) -> float:
        return self._thresholds.saturated_rate

    @property
    def gradient_explosion_ratio(self) -> float:
        return self._thresholds.gradient_explosion_ratio

    # ---------------------------------------------------------------- diagnosis
    def report(self, thresholds: Thresholds | Mapping[str, float] | None = None, *,
               epoch: Any = None, layers: str | Iterable[str] | None = None,
               phase: str = "train") -> Report:
        """Diagnose what was recorded, without re-recording.

        Args:
            thresholds: constants to judge by (a :class:`Thresholds`, or a mapping of
                overrides of the profiler's own); default the profiler's.
            epoch: ``None`` or ``"all"`` for every epoch, an int (negative counts from
                the latest: ``-1`` is the latest), ``"latest"``, or an iterable of
                epochs such as ``range(3, 6)``.
            layers: a name or names to restrict the report to; default all.
            phase: ``"train"`` (default) or ``"eval"``: the validation passes
                (see :meth:`phase`), never mixed into training statistics, and
                judged against them too (``eval_mode_shift``: a layer that fires far
                less in eval mode than in training).
        """
        if not is_one_of(phase, PHASES):
            raise InvalidInputError(f"phase must be one of {PHASES}, got {phase!r}")
        if phase != "train":
            return self.phase(phase).report(thresholds, epoch=epoch, layers=layers)
        th = Thresholds.coerce(thresholds, self._thresholds)
        training = self._training
        reference = None
        if training is not None:  # a phase's report: each layer against its training
            with training.consistent():
                reference = training_reference(training.snapshot())
        with self.consistent():  # one consistent snapshot, even while another thread resets
            return judge(self.snapshot(), th, epoch=epoch, layers=layers,
                         reference=reference)

    # ------------------------------------------------------------ persistence
    def to_bytes(self) -> bytes:
        """Everything recorded, in the :meth:`save` format, as bytes."""
        with self.consistent():
            return dump_profile(self._saved())

    def _saved(self) -> SavedProfile:
        """What saving writes: the snapshot, the thresholds and every phase (call
        holding :meth:`consistent`)."""
        snap = self.snapshot()
        snap.loss.flush()
        phases = {}
        for name, other in self.phase_recorders().items():
            with other.consistent():
                phases[name] = other._saved()
        return SavedProfile(snap, self._thresholds, phases)

    @classmethod
    def _from_saved(cls, saved: SavedProfile) -> SpikeProfiler:
        snap = saved.snapshot
        prof = cls(thresholds=saved.thresholds, raster_window=snap.raster_window,
                   raster_neurons=snap.raster_neurons, max_epochs=snap.max_epochs)
        prof.restore(snap, {name: cls._from_saved(sub) for name, sub in saved.phases.items()})
        return prof

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int | None = None) -> SpikeProfiler:
        """Inverse of :meth:`to_bytes`; ``max_bytes`` as in :meth:`load`."""
        return cls._from_saved(read_profile(data, max_bytes=MAX_LOAD_BYTES if max_bytes is None
                                            else max_bytes))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write everything recorded to ``path`` (a versioned .npz, no pickle)."""
        check_writable_path(path, "save")
        with self.consistent():
            save_profile(self._saved(), path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *,
             max_bytes: int | None = None) -> SpikeProfiler:
        """Read a profile written by :meth:`save`; recording can continue.

        Any damaged, foreign or crafted file raises :class:`ProfileFormatError` (a
        path that cannot be opened, the usual ``OSError``). ``max_bytes`` (default
        :data:`~spikewidget.io.schema.MAX_LOAD_BYTES`, 4 GiB) bounds what the
        file may make this allocate, checked from its declared sizes before anything
        is decompressed.
        """
        return cls._from_saved(load_profile(path, max_bytes=MAX_LOAD_BYTES if max_bytes is None
                                            else max_bytes))

    # ------------------------------------------------------------ integrations
    def watch(self, model: Any, **kwargs: Any) -> Any:
        """Record every spiking layer of a torch model on each forward call (or one
        call in ``every``).

        See :func:`spikewidget.hooks.watch.watch`; returns a handle whose
        ``remove()`` detaches every hook (also a context manager).
        """
        from .hooks.watch import watch

        return watch(self, model, **kwargs)

    def gather(self, **kwargs: Any) -> SpikeProfiler | None:
        """Merge every rank's statistics on one rank (``torch.distributed``).

        See :func:`spikewidget.io.distributed.gather`.
        """
        from .io.distributed import gather

        return gather(self, **kwargs)

    def threshold_sweep(self, model: Any, batch: Any, *, layer: str | list[str],
                        thresholds: Iterable[float] | None = None,
                        **kwargs: Any) -> Any:
        """Predict, from one batch, what each firing threshold of ``layer`` does.

        See :func:`spikewidget.sweep.runner.threshold_sweep`: returns a
        :class:`~spikewidget.sweep.result.SweepResult` (table, recommended interval, why).
        The model is never modified; nothing recorded here changes.
        """
        from .sweep.runner import threshold_sweep

        return threshold_sweep(self, model, batch, layer=layer, thresholds=thresholds,
                               **kwargs)

    def widget(self, *, phase: str = "train", **kwargs: Any) -> Any:
        """A live notebook dashboard of this profiler (:class:`ProfilerWidget`), or of
        its validation passes with ``phase="eval"`` (see :meth:`phase`)."""
        from .present.widget import ProfilerWidget

        return ProfilerWidget(self.phase(phase), **kwargs)

    def to_html(self, path: str | os.PathLike[str], **kwargs: Any) -> Any:
        """Write a self-contained offline HTML dashboard to ``path``; returns its Path.

        ``kwargs`` go to :class:`ProfilerWidget` (``epoch=``, ``layer=``, ``thresholds=``).
        """
        check_writable_path(path, "to_html")
        return self.widget(interval=None, **kwargs).to_html(path)

    def __repr__(self) -> str:
        return (f"SpikeProfiler(layers={self.layers}, epoch={self._epoch}, "
                f"thresholds=...)")
