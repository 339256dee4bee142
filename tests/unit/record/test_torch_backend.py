"""Torch tensors: CPU tensors go through NumPy; the device path gives the same answers."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from spikewidget import InvalidInputError, InvalidTypeError, SpikeProfiler
from tests.conftest import fingerprint


def test_import_spikewidget_does_not_import_torch():
    code = "import sys, spikewidget; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def story_like_data(seed: int):
    g = torch.Generator().manual_seed(seed)
    steps = []
    for i in range(6):
        x = (torch.rand(20, 4, 64, generator=g) < 0.2).float()
        if i == 2:
            x[3, 1, 7] = 2821.0
        if i == 4:
            x[0, 0, 0] = float("nan")
        v = 1e3 + 1e-2 * torch.randn(20, 4, 64, generator=g, dtype=torch.float64)
        grad = torch.randn(20, 4, 64, generator=g) * (1e4 if i == 5 else 1.0)
        if i == 3:
            grad[1, 1, 1] = float("inf")
        steps.append((x, v, grad, torch.randint(0, 3, (20, 4, 10), generator=g).float()))
    return steps


def record(p: SpikeProfiler, data) -> None:
    for i, (x, v, grad, out) in enumerate(data):
        if i == 3:
            p.next_epoch()
        p.record_step("hidden", x, voltages=v, gradients=grad)
        p.record_step("output", out)
        p.record_gradients("hidden", grad * 2)
        p.record_loss(torch.tensor(2.5 + i), n_classes=10)


def test_the_device_code_path_matches_the_host_path():
    data = story_like_data(0)
    host, device = SpikeProfiler(), SpikeProfiler(backend="torch")
    record(host, data)
    record(device, data)
    assert device.snapshot().layers["hidden"].device is not None  # really took the torch path
    assert host.snapshot().layers["hidden"].device is None
    for e in host.epochs:
        a, b = host.report(epoch=e), device.report(epoch=e)
        assert [(f.category, f.layer, f.severity) for f in a.pathologies] == \
            [(f.category, f.layer, f.severity) for f in b.pathologies]
        for name in ("hidden", "output"):
            sa, sb = a.layer_stats[name], b.layer_stats[name]
            np.testing.assert_allclose(sa.firing_rates, sb.firing_rates, rtol=1e-6)
            for field in ("n_steps", "n_observations", "max_value", "min_value",
                          "nonbinary_count", "spike_count_range", "gradient_steps",
                          "nonfinite"):
                assert getattr(sa, field) == getattr(sb, field), (e, name, field)
            for field in ("voltage_mean", "voltage_std", "gradient_norm_mean",
                          "gradient_norm_max"):
                assert getattr(sa, field) == pytest.approx(getattr(sb, field), rel=1e-5,
                                                           nan_ok=True), (e, name, field)
    assert b.loss.mean == pytest.approx(a.loss.mean)


def test_cpu_tensors_and_numpy_arrays_give_identical_profiles():
    data = story_like_data(1)
    from_tensors, from_numpy = SpikeProfiler(), SpikeProfiler()
    record(from_tensors, data)
    record(from_numpy, [tuple(t.numpy() for t in step) for step in data])
    assert fingerprint(from_tensors) == fingerprint(from_numpy)


def test_tensors_that_require_grad_half_precision_and_bool_are_accepted():
    p = SpikeProfiler()
    x = (torch.rand(8, 16) < 0.5).float().requires_grad_()
    p.record_step("a", x, voltages=torch.randn(8, 16, dtype=torch.bfloat16))
    p.record_step("b", torch.rand(8, 16) < 0.5)
    p.record_step("c", torch.ones(8, 16, dtype=torch.float16))
    rep = p.report()
    assert rep.layer_stats["b"].is_binary and rep.layer_stats["c"].firing_rates[0] == 1.0
    assert math.isfinite(rep.layer_stats["a"].voltage_std)


def test_bad_tensors_get_clear_errors():
    p = SpikeProfiler()
    p.record_step("h", torch.zeros(4, 8))
    with pytest.raises(InvalidTypeError, match="'h'.*complex"):
        p.record_step("h", torch.zeros(4, 8, dtype=torch.complex64))
    with pytest.raises(InvalidInputError, match="'h'.*empty"):
        p.record_step("h", torch.zeros(0, 8))
    with pytest.raises(InvalidInputError, match="loss must hold one value"):
        p.record_loss(torch.zeros(3))
    with pytest.raises(InvalidInputError, match="'h'.*gradients.*trailing axes"):
        p.record_gradients("h", torch.zeros(4, 9))
    assert p.report().layer_stats["h"].n_steps == 1


def test_record_gradients_adds_norm_samples_not_steps():
    p = SpikeProfiler()
    p.record_step("h", torch.zeros(4, 8))
    for scale in (1.0, 2.0, 3.0):
        p.record_gradients("h", torch.full((10, 4, 8), scale))
    st = p.report().layer_stats["h"]
    assert st.n_steps == 1 and st.gradient_steps == 3
    assert st.gradient_norm_max == pytest.approx(3.0 * math.sqrt(320))
