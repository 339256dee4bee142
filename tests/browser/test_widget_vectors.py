"""The vectors JS and Python share are current: regenerating them changes nothing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from spikewidget.diagnose.rules import CATEGORIES
from spikewidget.present.payload import decode_array

HERE = Path(__file__).resolve().parents[2] / "tests" / "shared_vectors"


def load_maker():
    spec = importlib.util.spec_from_file_location("make_vectors", HERE / "make_vectors.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_vectors_are_what_the_python_core_says_now():
    mk = load_maker()
    fresh = mk.dumps(mk.build_vectors())
    committed = (HERE / "vectors.json").read_text(encoding="utf-8")
    assert json.loads(fresh) == json.loads(committed), (
        "tests/shared_vectors/vectors.json is stale: a rule or message changed; run "
        "`python tests/shared_vectors/make_vectors.py` and make js/src/diagnose/rules.js agree "
        "(tests/js/vectors.test.mjs)")


def test_vector_classes_agree_with_the_profilers_counts():
    mk = load_maker()
    vectors = json.loads((HERE / "vectors.json").read_text(encoding="utf-8"))
    for case in vectors["classify"]:
        rates = decode_array(case["rates"])
        classes = decode_array(case["classes"])
        th = case["thresholds"]
        assert np.count_nonzero(classes == 1) == np.count_nonzero(rates < th["dead_rate"])
        assert np.count_nonzero(classes == 2) == np.count_nonzero(rates > th["saturated_rate"])
    reports = vectors["reports"] + [r for v in vectors.values()
                                     if isinstance(v, dict) and "reports" in v
                                     for r in v["reports"]]
    seen = {f["category"] for r in reports for f in r["findings"]}  # in some scenario
    assert seen == set(CATEGORIES), set(CATEGORIES) - seen
    assert mk.scenario().layers[-1] == 'out<b>&"x"'
