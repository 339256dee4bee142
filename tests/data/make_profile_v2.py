"""Write ``profile_v2.npz`` and the figures its report gave, ``profile_v2.json``.

Run once with the spikewidget that wrote format version 2 (commit 55b9343):
``python tests/data/make_profile_v2.py``. The committed pair is the fixture of
``tests/unit/io/test_saved_formats.py``: a later spikewidget must load the file and report
the same statistics and findings. Rerunning it with a newer spikewidget rewrites the
file in the newer format, which is not the point: keep the committed one.

The profile has: a count-valued input, a binary hidden layer with voltages and
gradients (a NaN gradient in one epoch, an exploding norm in another), an output
recorded with a time axis (per-sample counts), the loss, an epoch dropped by
``max_epochs`` and an ``eval`` phase.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
NPZ = HERE / "profile_v2.npz"
FIGURES = HERE / "profile_v2.json"


def build() -> Any:
    from spikewidget import SpikeProfiler

    rng = np.random.default_rng(7)
    p = SpikeProfiler(raster_window=16, max_epochs=3)
    p.declare_layer("frames", role="input")
    p.declare_layer("out", role="output")
    for epoch in range(4):
        for step in range(5):
            p.record_step("frames", rng.poisson(1.5, (6, 4, 12)).astype(np.float32))
            v = -0.2 + 0.1 * rng.standard_normal((6, 4, 20))
            g = 1e-3 * rng.standard_normal((6, 4, 20)) * (30.0 ** step if epoch == 2 else 1)
            if epoch == 1 and step == 3:
                g[0, 1, 2] = np.nan
            rate = 0.0 if epoch == 3 else 0.15
            hidden = (rng.random((6, 4, 20)) < rate).astype(np.float32)
            hidden[:, :, :3] = 0.0  # three neurons never fire
            p.record_step("hidden", hidden, voltages=v, gradients=g)
            p.record_step("out", (rng.random((6, 4, 5)) < 0.4).astype(np.float32))
            p.record_gradients("out", rng.standard_normal((6, 4, 5)))
            p.record_loss(2.3 - 0.2 * epoch + 0.01 * step, n_classes=10)
        p.next_epoch()
    ev = p.phase("eval")
    for _ in range(3):
        ev.record_step("frames", rng.poisson(1.5, (6, 4, 12)).astype(np.float32))
        ev.record_step("hidden", (rng.random((6, 4, 20)) < 0.02).astype(np.float32))
        ev.record_step("out", (rng.random((6, 4, 5)) < 0.4).astype(np.float32))
        ev.record_loss(2.0)
    return p


def plain(value: Any) -> Any:
    """JSON-safe and exact: floats as ``repr`` strings (NaN and Inf included)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if hasattr(value, "value") and not isinstance(value, str):  # enums
        return value.value
    return value


def figures(p: Any) -> dict[str, Any]:
    """What a user reads from the profile: per selection, each layer's statistics,
    the loss and the findings (category, layer, severity, message, fix, epoch)."""
    out: dict[str, Any] = {"epochs": list(p.epochs), "dropped": list(p.dropped_epochs),
                           "phases": list(p.phases)}
    selections: list[tuple[str, Any, dict[str, Any]]] = [("all", p, {})]
    selections += [(f"epoch{e}", p, {"epoch": e}) for e in p.epochs]
    selections += [(f"phase_{name}", p.phase(name), {}) for name in p.phases]
    for key, prof, kwargs in selections:
        rep = prof.report(**kwargs)
        out[key] = {
            "layer_stats": plain(rep.layer_stats),
            "loss": plain(rep.loss),
            "findings": [plain({"category": f.category, "layer": f.layer,
                                "severity": f.severity, "message": f.message,
                                "fix": f.suggestion, "epoch": f.epoch, "step": f.step,
                                "metric": f.metric_value}) for f in rep.pathologies],
        }
    return out


def write(p: Any, npz: Path, figures_json: Path) -> None:
    """Save ``p`` to ``npz`` and what its report gives to ``figures_json``."""
    p.save(npz)
    figures_json.write_text(json.dumps(figures(p), indent=1, sort_keys=True) + "\n",
                            encoding="utf-8")
    print(f"wrote {npz} ({npz.stat().st_size:,} bytes) and {figures_json}", file=sys.stderr)


def main() -> None:
    write(build(), NPZ, FIGURES)


if __name__ == "__main__":
    main()
