"""Write ``profile_v3.npz`` and the figures its report gave, ``profile_v3.json``.

Run once with the spikewidget that wrote format version 3:
``python tests/data/make_profile_v3.py``. The committed pair is a fixture of
``tests/unit/io/test_saved_formats.py``: a later spikewidget must load the file and report
the same statistics and findings. Rerunning it with a newer spikewidget rewrites the
file in the newer format, which is not the point: keep the committed one.

The profile is version 2's (:mod:`make_profile_v2`) plus what version 3 added: a
graded layer (spikes of 0.005 and of 7, so its spike events are saved), an analog
one (an output non-zero at most steps, four neurons stuck at 0) and a ternary one
(-1/0/1 spikes), declared as ``watch`` declares them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_profile_v2 as v2  # noqa: E402

NPZ = HERE / "profile_v3.npz"
FIGURES = HERE / "profile_v3.json"
figures = v2.figures


def build() -> Any:
    p = v2.build()
    rng = np.random.default_rng(11)
    p.declare_layer("graded", graded=True)
    p.declare_layer("analog", graded="analog")
    p.declare_layer("ternary", graded=True)
    for _ in range(4):
        fired = rng.random((6, 4, 10)) < np.r_[np.full(5, 0.3), np.full(5, 0.1)]
        p.record_step("graded", np.where(fired, np.r_[np.full(5, 7.0), np.full(5, 0.005)],
                                         0.0).astype(np.float32))
        act = np.maximum(rng.standard_normal((6, 4, 12)) + 2.0, 0.0) * (np.arange(12) >= 4)
        p.record_step("analog", act.astype(np.float32))
        p.record_step("ternary", rng.choice([-1.0, 0.0, 1.0], size=(6, 4, 8),
                                            p=[0.15, 0.7, 0.15]).astype(np.float32))
    return p


def main() -> None:
    v2.write(build(), NPZ, FIGURES)


if __name__ == "__main__":
    main()
