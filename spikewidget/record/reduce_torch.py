"""Per-step reductions of torch tensors on their own device, with no host sync.

The host path (:mod:`.reduce_numpy`) branches on values; here nothing does: every
statistic is a tensor on the tensor's device, updated with branch-free ops
(``torch.where``, ``maximum``), and ``.cpu()`` happens only in :meth:`to_host`,
when a report or a widget refresh asks. Only shapes (known without a sync) are
read on the host.
"""

from __future__ import annotations

import math
from typing import Any

from ..core.arrays import torch_module
from ..state.epoch_stats import EpochStats
from ..state.fields import (
    BY_NAME,
    DEVICE_LISTS,
    DEVICE_SCALARS,
    GRADIENT_HEAD,
    HOST_SCALARS,
    INTEGERS,
    STOOD_IN,
    VECTORS,
)
from ..state.merges import TREND, chan, co_moments
from ..state.temporal import SAMPLES

_INDEX = {name: k for k, name in enumerate(DEVICE_SCALARS)}
_HEAD = len(DEVICE_SCALARS)  # after the scalars: GRADIENT_HEAD slots per list (norms, steps)
_LIST_SLOTS = {name: slice(_HEAD + k * GRADIENT_HEAD, _HEAD + (k + 1) * GRADIENT_HEAD)
               for k, name in enumerate(DEVICE_LISTS)}
_INITIAL = [(_INDEX[name], float(BY_NAME[name].initial)) for name in DEVICE_SCALARS
            if BY_NAME[name].initial != 0] + [
    (slots, float(BY_NAME[name].initial)) for name, slots in _LIST_SLOTS.items()]
"""(place, value) of the scalar tensor's non-zero initial values (from the field table)."""
_HELD = VECTORS + tuple(name for name, _ in STOOD_IN)
"""The per-neuron tensors: on the device even the fields the host holds only once they
differ from their stand-in (knowing that would take a sync); 8 bytes per neuron each."""


class DeviceEpochStats:
    """The fields of :class:`EpochStats`, held as float64 tensors on one device."""

    def __init__(self, n_neurons: int, device: Any) -> None:
        torch = torch_module()
        for name in HOST_SCALARS:  # host numbers, known from shapes alone
            setattr(self, name, BY_NAME[name].initial)
        self.n_neurons = n_neurons
        for name in _HELD:
            setattr(self, name, torch.zeros(n_neurons, dtype=torch.float64, device=device))
        self.open: _DeviceOpenSequences | None = None
        # one vector of scalars: cheap to update together and to copy to the host;
        # filled by scalar kernels, not copied from host memory
        self.s = torch.zeros(_HEAD + GRADIENT_HEAD * len(DEVICE_LISTS), dtype=torch.float64,
                             device=device)
        for place, value in _INITIAL:
            self.s[place] = value

    def reduce_step(self, x2: Any, v2: Any, g2: Any, *, step: int,
                    time_steps: int | None, want_counts: bool) -> None:
        """Fold one step in; same meaning as :func:`.reduce_numpy.compute_step` followed
        by :func:`.reduce_numpy.apply_step`."""
        torch = torch_module()
        i = _INDEX.__getitem__
        new = self.s.clone()
        xf = _as_float(torch, x2)
        finite = torch.isfinite(xf)
        nf = (~finite).sum().double()
        xc = torch.where(finite, xf, 0.0)
        s = xc.sum(0, dtype=torch.float64)
        new[i("spike_max")] = torch.maximum(new[i("spike_max")], xc.amax().double())
        new[i("spike_min")] = torch.minimum(new[i("spike_min")], xc.amin().double())
        fired = xc != 0
        events = fired.sum(0, dtype=torch.float64)
        new[i("nonbinary")] += (fired & (xc != 1)).sum().double()
        new[i("fractional")] += (xc != xc.floor()).sum().double()
        _count_nonfinite(torch, new, "spikes", nf, step)
        counted = want_counts and time_steps is not None
        if counted:
            c = xc.reshape(time_steps, -1, xc.shape[1]).sum(0)
            new[i("count_max")] = torch.maximum(new[i("count_max")], c.amax().double())
            new[i("count_min")] = torch.minimum(new[i("count_min")], c.amin().double())
            active = (c != 0).sum(0).double()
        vf = None if v2 is None else _as_float(torch, v2)
        if vf is not None:
            _voltage_step(torch, new, vf, step)
        if g2 is not None:
            _gradient_step(torch, new, _as_float(torch, g2), step)
        n = xc.shape[1]
        cut = SAMPLES * n  # along time, on the first samples (see temporal)
        if time_steps is not None:
            isi = _intervals(torch, xc.reshape(time_steps, -1)[:, :cut], n)
            vt = None if vf is None or vf.shape[0] != xc.shape[0] else _spread(
                torch, vf.reshape(time_steps, -1)[:, :cut], n)  # else the last step only
        else:
            xs = xc.reshape(-1)[:cut]
            open_ = self.open
            if open_ is None or open_.rows != xs.numel():
                open_ = _DeviceOpenSequences(torch, xs.numel(), xc.device)
            isi, vt = open_.add(torch, xs, None if vf is None else vf.reshape(-1)[:cut], n)
            self.open = open_
        # ---- commit ----
        for name, value in zip(("isi_n", "isi_sum", "isi_sq"), isi, strict=True):
            getattr(self, name).add_(value)
        if vt is not None:
            self.vt_m2.add_(vt[0])
            self.vt_dof.add_(vt[1])
        self.spike_sum += s
        self.spike_events += events
        if counted:
            self.active_samples += active
            self.count_samples += int(c.shape[0])
        self.s = new
        self.n_steps += 1
        self.n_obs += int(x2.shape[0])
        self.n_samples += int(x2.shape[0]) // (time_steps or 1)
        self.count_steps += int(counted)

    def add_gradients(self, g2: Any, *, step: int) -> None:
        """Fold one gradient tensor in (one norm sample; not a step)."""
        torch = torch_module()
        new = self.s.clone()
        _gradient_step(torch, new, _as_float(torch, g2), step)
        self.s = new

    def add_input_nonfinite(self, count: Any, *, step: int) -> None:
        """Add a count (a tensor on this device) of NaN/Inf in the gradient at the
        layer's input."""
        torch = torch_module()
        new = self.s.clone()
        _count_nonfinite(torch, new, "input_gradients", count.double(), step)
        self.s = new

    def add_input_reach(self, blocked: Any, checked: Any) -> None:
        """Add one record's counts (0-d tensors on this device, or numbers) of the
        neurons whose spikes
        got a gradient and of those whose input got none."""
        torch = torch_module()
        i = _INDEX.__getitem__
        new = self.s.clone()
        new[i("g_in_blocked")] += torch.as_tensor(blocked, dtype=torch.float64,
                                                  device=new.device)
        new[i("g_in_checked")] += torch.as_tensor(checked, dtype=torch.float64,
                                                  device=new.device)
        self.s = new

    def scalar(self, name: str) -> Any:
        """One device scalar of the table (a 0-d tensor view: no sync), e.g. ``v_min``."""
        return self.s[_INDEX[name]]

    def to_host(self) -> EpochStats:
        """Copy to host memory (one transfer for the scalars, one for the sums)."""
        values = self.s.cpu().tolist()
        fields: dict[str, Any] = {name: getattr(self, name) for name in HOST_SCALARS}
        for name, value in zip(DEVICE_SCALARS, values[:_HEAD], strict=True):
            fields[name] = int(value) if name in INTEGERS else float(value)
        kept = min(fields["g_n"], GRADIENT_HEAD)  # the head lists fill one slot a record
        for name, slots in _LIST_SLOTS.items():
            fields[name] = [int(v) if name in INTEGERS else v for v in values[slots][:kept]]
        vectors = self._vectors().cpu().numpy()
        held = {k: vectors[i].copy() for i, k in enumerate(_HELD)}
        if not fields["nonbinary"]:  # every value 0 or 1: events are the sums
            for name, _ in STOOD_IN:
                held[name] = None
        return EpochStats(**fields, **held)

    def _vectors(self) -> Any:
        return torch_module().stack([getattr(self, k) for k in _HELD])


def _as_float(torch: Any, t: Any) -> Any:
    """Floats as they are, bool as float32, integers as float64 (exact up to 2**53 and
    never overflowing when summed: the host path's sums, :func:`.reduce_numpy.exact_or_float64`)."""
    if t.is_floating_point():
        return t
    return t.to(torch.float32 if t.dtype == torch.bool else torch.float64)


def _count_nonfinite(torch: Any, new: Any, source: str, nf: Any, step: int) -> None:
    i = _INDEX.__getitem__
    new[i(f"nf_{source}")] += nf
    first = new[i(f"first_nf_{source}")]
    new[i(f"first_nf_{source}")] = torch.where((first < 0) & (nf > 0),
                                               torch.full_like(first, step), first)


def _voltage_step(torch: Any, new: Any, v: Any, step: int) -> None:
    i = _INDEX.__getitem__
    finite = torch.isfinite(v)
    n = finite.sum().double()
    _count_nonfinite(torch, new, "voltages", v.numel() - n, step)
    vc = torch.where(finite, v.double(), 0.0)
    mean = vc.sum() / n.clamp(min=1)
    d = torch.where(finite, vc - mean, 0.0)
    m2 = (d * d).sum()
    new[i("v_min")] = torch.minimum(new[i("v_min")],
                                    torch.where(finite, v, torch.inf).amin().double())
    new[i("v_max")] = torch.maximum(new[i("v_max")],
                                    torch.where(finite, v, -torch.inf).amax().double())
    na, ma, m2a = new[i("v_n")], new[i("v_mean")], new[i("v_m2")]
    total, merged_mean, merged_m2 = chan(na, ma, m2a, n, mean, m2)  # NaN where total is 0:
    first, empty = na == 0, n == 0                                  # not taken
    new[i("v_mean")] = torch.where(empty, ma, torch.where(first, mean, merged_mean))
    new[i("v_m2")] = torch.where(empty, m2a, torch.where(first, m2, merged_m2))
    new[i("v_n")] = total


def _gradient_step(torch: Any, new: Any, g: Any, step: int) -> None:
    i = _INDEX.__getitem__
    finite = torch.isfinite(g)
    nf = (~finite).sum().double()
    _count_nonfinite(torch, new, "gradients", nf, step)
    ok = nf == 0
    norm = torch.where(finite, g.double(), 0.0).pow(2).sum().sqrt()
    _gradient_extras(torch, new, ok, norm, g.numel(), step)
    new[i("g_n")] += ok.double()
    new[i("g_sum")] += torch.where(ok, norm, 0.0)
    new[i("g_max")] = torch.where(ok, torch.maximum(new[i("g_max")], norm), new[i("g_max")])
    new[i("g_min")] = torch.where(ok, torch.minimum(new[i("g_min")], norm), new[i("g_min")])


def _gradient_extras(torch: Any, new: Any, ok: Any, norm: Any, values: int, step: int) -> None:
    """The fields of :meth:`EpochStats.add_gradient_norm` beyond sum, max and min, for a
    record that counts when ``ok`` (before ``g_n`` and ``g_max`` take it in)."""
    i = _INDEX.__getitem__
    norms, steps = _LIST_SLOTS["g_head"], _LIST_SLOTS["g_head_steps"]
    slot = ok & (torch.arange(GRADIENT_HEAD, device=new.device, dtype=torch.float64)
                 == new[i("g_n")])
    new[norms] = torch.where(slot, norm, new[norms])
    new[steps] = torch.where(slot, float(step), new[steps])
    new[i("g_rms_sum")] += torch.where(ok, norm / math.sqrt(max(values, 1)), 0.0)
    new[i("g_max_step")] = torch.where(ok & (norm > new[i("g_max")]), float(step),
                                       new[i("g_max_step")])
    # the ln(norm)-vs-step trend: one point merged into the moments, when 0 < norm < inf
    pos = ok & (norm > 0) & torch.isfinite(norm)
    y = torch.where(pos, norm, 1.0).log()
    merged = co_moments(tuple(new[i(k)] for k in TREND), (1, float(step), y, 0.0, 0.0, 0.0))
    for name, value in zip(TREND, merged, strict=True):
        new[i(name)] = torch.where(pos, value, new[i(name)])
    first = new[i("t_first")]
    new[i("t_first")] = torch.where(pos & (first < 0), float(step), first)
    new[i("t_last")] = torch.where(pos, torch.clamp(new[i("t_last")], min=float(step)),
                                   new[i("t_last")])


def _intervals(torch: Any, x: Any, n: int) -> tuple[Any, Any, Any]:
    """(intervals, sum, sum of squares) per neuron of spikes ``(time, rows)`` (see
    :mod:`.temporal`): each spike's interval from the running maximum of spike times."""
    t = x.shape[0]
    fired = x != 0
    steps = torch.arange(t, dtype=torch.float64, device=x.device).unsqueeze(1)
    last = torch.where(fired, steps, -1.0).cummax(0).values
    valid = fired[1:] & (last[:-1] >= 0)
    d = torch.where(valid, steps[1:] - last[:-1], 0.0)
    return (valid.sum(0, dtype=torch.float64).reshape(-1, n).sum(0),
            d.sum(0).reshape(-1, n).sum(0), (d * d).sum(0).reshape(-1, n).sum(0))


def _spread(torch: Any, v: Any, n: int) -> tuple[Any, Any]:
    """Squared deviations from each sequence's mean and degrees of freedom per neuron
    of voltages ``(time, rows)``."""
    finite = torch.isfinite(v)
    k = finite.sum(0, dtype=torch.float64)
    vc = torch.where(finite, v.double(), 0.0)
    vc = torch.where(finite, vc - vc[0], 0.0)  # relative to the first step (temporal)
    mean = vc.sum(0) / k.clamp(min=1)
    d = torch.where(finite, vc - mean, 0.0)
    return (d * d).sum(0).reshape(-1, n).sum(0), (k - 1).clamp(min=0).reshape(-1, n).sum(0)


class _DeviceOpenSequences:
    """:class:`temporal.OpenSequences` as tensors: last spike, voltage count and mean
    per row; the clock is a host number."""

    def __init__(self, torch: Any, rows: int, device: Any) -> None:
        self.rows = rows
        self.clock = 0
        self.last = torch.full((rows,), -1.0, dtype=torch.float64, device=device)
        self.v_count = torch.zeros(rows, dtype=torch.float64, device=device)
        self.v_mean = torch.zeros(rows, dtype=torch.float64, device=device)

    def add(self, torch: Any, x: Any, v: Any, n: int) -> tuple[tuple[Any, ...], Any]:
        k = float(self.clock)
        fired = x != 0
        seen = fired & (self.last >= 0)
        gap = torch.where(seen, k - self.last, 0.0)
        self.last = torch.where(fired, k, self.last)
        self.clock += 1
        isi = (seen.reshape(-1, n).sum(0, dtype=torch.float64), gap.reshape(-1, n).sum(0),
               (gap * gap).reshape(-1, n).sum(0))
        if v is None:
            return isi, None
        ok = torch.isfinite(v)
        vd = torch.where(ok, v.double(), 0.0)
        count = self.v_count + ok
        delta = torch.where(ok, vd - self.v_mean, 0.0)
        self.v_mean = self.v_mean + delta / count.clamp(min=1)
        inc = delta * torch.where(ok, vd - self.v_mean, 0.0)
        self.v_count = count
        dof = (ok & (count >= 2)).reshape(-1, n).sum(0, dtype=torch.float64)
        return isi, (inc.reshape(-1, n).sum(0), dof)
