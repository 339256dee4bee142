"""ProfilerWidget: a live notebook view of a :class:`SpikeProfiler`.

``ProfilerWidget(profiler)`` (or ``profiler.widget()``) in a cell shows the spike raster,
per-layer neuron classes, the pathology table, trends over epochs and a firing-rate
histogram, and keeps them current while training runs in the same cell or a thread.

How data travels (see ``docs/internals.md``): a background thread looks at the profiler
at most every ``interval`` seconds and, when something changed, sets the ``_update`` trait
to what changed (spike counts as binary arrays, new raster frames). Threshold sliders
re-diagnose in the browser; their values come back as :attr:`ProfilerWidget.thresholds`.
A threshold sweep (``sweep=`` or :meth:`ProfilerWidget.show_sweep`) adds a neuron-threshold
slider whose choice comes back as :attr:`ProfilerWidget.sweep_threshold`.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..core.arguments import is_whole
from ..core.errors import InvalidInputError, InvalidTypeError
from ..diagnose.profile import Profile
from ..diagnose.report import Report
from ..diagnose.thresholds import Thresholds
from ..sweep.result import SweepResult, SweepRow
from .bundle import STATIC, bundle_path
from .payload import PayloadBuilder, sweep_message

_log = logging.getLogger(__name__)


_RANK = {"critical": 0, "warning": 1, "info": 2}


def default_layer(profiler: Profile) -> str:
    """The layer a widget shows first: the one with the worst finding in the newest
    epoch, else the first hidden layer, else the first that is not an input, else the
    first; "" before anything is recorded (the browser then picks, the same way, once
    data arrives: ``js/src/diagnose/report.js`` defaultLayer)."""
    layers = profiler.layers
    if not layers:
        return ""
    epochs = profiler.epochs
    rep = profiler.report(epoch=epochs[-1]) if epochs else profiler.report()
    found = [p for p in rep.pathologies if p.layer in layers]
    if found:
        return min(found, key=lambda p: _RANK.get(p.severity.value, 9)).layer
    roles = {name: st.role for name, st in rep.layer_stats.items()}
    for wanted in (lambda r: r == "hidden", lambda r: r != "input"):
        for name in layers:
            if name in roles and wanted(roles[name]):
                return name
    return layers[0]


class ProfilerWidget(anywidget.AnyWidget):
    """Live view of a :class:`SpikeProfiler`; display it in a notebook cell.

    Args:
        profiler: the profiler to show (it keeps recording as usual).
        thresholds: starting slider values (a :class:`Thresholds` or overrides of the
            profiler's); default the profiler's.
        layer: the layer whose raster and histogram are shown; default the layer with
            the worst finding, else the first hidden layer (see :func:`default_layer`).
        epoch: show this epoch (turns live mode off); default: live, the newest epoch.
        interval: seconds between looks at the profiler (at most ``1/interval``
            updates per second); ``0`` or ``None`` turns automatic updates off
            (call :meth:`refresh`). The looking starts when the widget is displayed
            (or on :meth:`start`).
        sweep: a :class:`~spikewidget.sweep.result.SweepResult` (or several) to show with a
            neuron-threshold slider and the predicted views (see :meth:`show_sweep`).
    """

    _esm = STATIC / "widget.js"

    threshold_values = traitlets.Dict().tag(sync=True)
    """The sliders' values by constant name (see :attr:`thresholds`)."""
    epoch = traitlets.Int(-1).tag(sync=True)
    """The epoch chosen with the scrubber (used when ``live`` is False)."""
    live = traitlets.Bool(True).tag(sync=True)
    """Follow the newest epoch."""
    layer = traitlets.Unicode("").tag(sync=True)
    """The layer shown in the raster and the histogram."""
    sweep_thresholds = traitlets.Dict().tag(sync=True)
    """The neuron threshold chosen on each sweep slider, by sweep key (the swept layers
    joined by " + "); always a value of that sweep's grid."""
    _base = traitlets.Dict().tag(sync=True)
    _update = traitlets.Dict().tag(sync=True)
    _sweeps = traitlets.List().tag(sync=True)

    def __init__(self, profiler: Profile, *,
                 thresholds: Thresholds | Mapping[str, float] | None = None,
                 layer: str | None = None, epoch: int | None = None,
                 interval: float | None = 0.5,
                 sweep: SweepResult | Sequence[SweepResult] | None = None,
                 **kwargs: Any) -> None:
        bundle_path()
        if epoch is not None and (not is_whole(epoch) or abs(epoch) > 2**31 - 1):
            raise InvalidTypeError(f"epoch must be a whole number from 0 to 2147483647 or "
                                   f"None (live), got {epoch!r}")
        if interval is not None and (
                isinstance(interval, bool) or not isinstance(interval, numbers.Real)
                or not 0 <= interval < math.inf):
            raise InvalidInputError(f"interval must be a number of seconds >= 0 or None "
                                    f"(no automatic updates), got {interval!r}")
        if layer is not None and not isinstance(layer, str):
            raise InvalidTypeError(f"layer must be a layer name (a str) or None, got "
                                   f"{layer!r}")
        th = Thresholds.coerce(thresholds, profiler.thresholds)
        self._lock = threading.Lock()
        self._builder = PayloadBuilder(profiler)
        super().__init__(
            _base=self._builder.full(), threshold_values=th.to_dict(),
            layer=layer if layer is not None else default_layer(profiler),
            live=epoch is None, epoch=-1 if epoch is None else int(epoch), **kwargs)
        self.profiler = profiler
        self.interval = interval
        self.updates_sent = 0
        self.last_error: BaseException | None = None
        self.on_msg(self._on_msg)
        self.observe(self._on_layer, names="layer")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sweep_results: dict[str, SweepResult] = {}
        for result in ([] if sweep is None else
                       [sweep] if isinstance(sweep, SweepResult) else list(sweep)):
            self.show_sweep(result)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.start()  # a widget that is never displayed (to_html, tests) needs no thread
        return super()._repr_mimebundle_(**kwargs)

    def start(self) -> None:
        """Start looking at the profiler every ``interval`` seconds (displaying does)."""
        if self.interval and self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._poll, name="spikewidget-refresh",
                                            daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ reading
    @property
    def thresholds(self) -> Thresholds:
        """The constants the sliders show now (moved in the browser or set here)."""
        return Thresholds.from_dict(self.threshold_values)

    @thresholds.setter
    def thresholds(self, value: Thresholds | Mapping[str, float]) -> None:
        self.threshold_values = Thresholds.coerce(value, self.thresholds).to_dict()

    @property
    def shown_epoch(self) -> int | None:
        """The epoch every view shows: the newest in live mode (once it holds a step of
        every layer the epoch before had, or two steps of some layer: an epoch that has
        just begun is not judged on its first layer alone), else the chosen one (or the
        recorded epoch nearest to it); None before anything is recorded."""
        epochs = self.profiler.epochs
        if not epochs:
            return None
        if self.live:
            return self._live_epoch(epochs)
        if self.epoch in epochs:
            return self.epoch
        return min(epochs, key=lambda e: (abs(e - self.epoch), e))

    def report(self) -> Report:
        """The diagnosis on screen: the shown epoch under the sliders' thresholds."""
        epoch = self.shown_epoch
        if epoch is None:
            return self.profiler.report(thresholds=self.thresholds)
        return self.profiler.report(thresholds=self.thresholds, epoch=epoch)

    # -------------------------------------------------------------------- sweeps
    def show_sweep(self, result: SweepResult) -> str:
        """Show a threshold sweep: a neuron-threshold slider that snaps to its grid,
        marks the recommended interval, and shows the bars, histogram and pathology
        table predicted at the chosen threshold (judged in the browser under the rule
        sliders). A sweep of the same layers replaces the one shown. Returns its key.
        """
        if not isinstance(result, SweepResult):
            raise InvalidTypeError(f"show_sweep expects a SweepResult (from "
                                   f"profiler.threshold_sweep), got {type(result).__name__}")
        if not result.rows:
            raise InvalidInputError("show_sweep: the sweep has no rows")
        key = result.layer
        msg = sweep_message(result, key, getattr(self.profiler, "raster_window", 0))
        start = result.best if result.best is not None else result.original_threshold
        with self._lock:
            self._sweep_results[key] = result
            self._sweeps = [m for m in self._sweeps if m["key"] != key] + [msg]
            if key not in self.sweep_thresholds:
                self.sweep_thresholds = {**self.sweep_thresholds,
                                         key: result.row(start).threshold}
        return key

    @property
    def sweeps(self) -> dict[str, SweepResult]:
        """The sweeps shown, by key."""
        return dict(self._sweep_results)

    @property
    def sweep_threshold(self) -> float | None:
        """The neuron threshold on the (last shown) sweep's slider; None without a sweep.
        Setting it moves that slider to the nearest grid value."""
        if not self._sweep_results:
            return None
        key = list(self._sweep_results)[-1]
        value = self.sweep_thresholds.get(key)
        return None if value is None else float(value)

    @sweep_threshold.setter
    def sweep_threshold(self, value: float) -> None:
        if not self._sweep_results:
            raise InvalidInputError("no sweep is shown; call show_sweep(result) first")
        key = list(self._sweep_results)[-1]
        self.set_sweep_threshold(key, value)

    def set_sweep_threshold(self, key: str, value: float) -> None:
        """Move the slider of sweep ``key`` to the grid value nearest ``value``."""
        if key not in self._sweep_results:
            raise InvalidInputError(f"no sweep {key!r}; shown: {list(self._sweep_results)}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        result = self._sweep_results[key]
        if isinstance(value, bool) or not result.accepts(v):
            raise InvalidInputError(
                f"a neuron threshold must be a number > 0, got {value!r}"
                if result.scale == "log" else
                f"a neuron threshold must be a finite number (a potential), got {value!r}")
        snapped = result.row(v).threshold
        self.sweep_thresholds = {**self.sweep_thresholds, key: snapped}

    def sweep_row(self, key: str | None = None) -> SweepRow | None:
        """The sweep row at the chosen neuron threshold (its ``report`` is the
        predicted diagnosis under the sweep's own rule constants)."""
        if not self._sweep_results:
            return None
        key = list(self._sweep_results)[-1] if key is None else key
        if key not in self._sweep_results:
            raise InvalidInputError(f"no sweep {key!r}; shown: {list(self._sweep_results)}")
        result = self._sweep_results[key]
        return result.row(float(self.sweep_thresholds.get(key, result.rows[0].threshold)))

    # ----------------------------------------------------------------- updating
    def refresh(self) -> bool:
        """Send what changed since the last update now; False if nothing had."""
        with self._lock:
            msg = self._builder.update(self._raster_layers())
            if msg is None:
                return False
            if msg["base"]:
                self._base = msg
            else:
                self._update = msg
            self.updates_sent += 1
            return True

    def resync(self) -> None:
        """Send everything again (a browser that missed an update asks for this)."""
        with self._lock:
            self._base = self._builder.full()

    def page_state(self) -> dict[str, Any]:
        """What a static page needs to show this view, as the model's traits would
        hold it: a full message with every layer's raster, the sweeps shown (with
        their slider positions), and the sliders', scrubber's and layer picker's
        values."""
        with self._lock:
            base = PayloadBuilder(self.profiler).full()
            sweeps = list(self._sweeps)
        return {"_base": base, "_update": {}, "threshold_values": dict(self.threshold_values),
                "epoch": self.epoch, "live": self.live, "layer": self.layer,
                "_sweeps": sweeps, "sweep_thresholds": dict(self.sweep_thresholds)}

    def close(self) -> None:
        """Stop the refresh thread and close the widget."""
        stop = getattr(self, "_stop", None)  # None when the constructor failed early
        if stop is not None:
            stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)
        super().close()

    def to_html(self, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
        """Write a self-contained HTML file of this view (works offline, no kernel)."""
        from .export import write_html

        return write_html(self, path, title=title)

    # ------------------------------------------------------------------ private
    def _live_epoch(self, epochs: list[int]) -> int:
        """js/src/model/epochs.js liveEpoch: the newest epoch that is ready to be judged."""
        cache: dict[int, dict] = {}

        def stats(i: int) -> dict:
            if i not in cache:
                cache[i] = self.profiler.report(epoch=epochs[i]).layer_stats
            return cache[i]

        def ready(i: int) -> bool:
            now = stats(i)
            if not now:
                return False
            if i == 0:
                return True
            return (all(n in now for n in stats(i - 1))
                    or any(st.n_steps >= 2 for st in now.values()))

        return next((epochs[i] for i in range(len(epochs) - 1, -1, -1) if ready(i)),
                    epochs[-1])

    def _raster_layers(self) -> list[str]:
        layers = self.profiler.layers
        if self.layer in layers:
            return [self.layer]
        return layers[:1]

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception as exc:  # keep the thread alive; the next look may succeed
                if self.last_error is None:
                    _log.warning("spikewidget: refresh failed: %r", exc)
                self.last_error = exc

    def _on_layer(self, change: dict[str, Any]) -> None:
        self.refresh()

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            self.resync()
