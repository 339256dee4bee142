"""Shared helpers for the test suite."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from spikewidget import SpikeProfiler


def _canon(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, (list, tuple)):
        return tuple(_canon(v) for v in value)
    if dataclasses.is_dataclass(value):
        return _canon(dataclasses.astuple(value))
    return value


def fingerprint(p: SpikeProfiler) -> Any:
    """Everything a user can read back from a profiler, in comparable form."""
    out: list[Any] = [tuple(p.layers), tuple(p.epochs), p.epoch]
    for e in p.epochs:
        rep = p.report(epoch=e)
        for name, st in rep.layer_stats.items():
            out.append((e, name, _canon(dataclasses.astuple(st))))
        if rep.loss is not None:
            out.append((e, "loss", _canon(dataclasses.astuple(rep.loss))))
    for name in p.layers:
        snap = p.raster(name)
        out.append((name, _canon(snap.spikes), _canon(snap.steps), _canon(snap.epochs)))
    return out


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def bernoulli(rng: np.random.Generator, shape: tuple[int, ...], rate: float,
              dtype: Any = np.float32) -> np.ndarray:
    return (rng.random(shape) < rate).astype(dtype)


# ----------------------------------------------------------------------------- markers
SLOW_MODULES = frozenset({
    "test_notebooks", "test_story", "test_zoo", "test_distributed", "test_wheel_install",
    "test_merge_and_threads", "test_cli_demo", "test_frameworks", "test_gradient_hooks",
})
"""Modules that train, install, spawn processes or race threads for seconds."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what needs a real browser (``browser``: a module driving Chromium through
    ``tests/widget_harness.py`` or JupyterLab) and what takes long (``slow``), so that
    ``pytest -m "not browser and not slow"`` runs the fast core; ``make test`` runs all."""
    for item in items:
        module = item.module
        name = module.__name__.rsplit(".", 1)[-1] if module else ""
        if module is not None and "browser_context" in vars(module):
            item.add_marker(pytest.mark.browser)
        if name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
