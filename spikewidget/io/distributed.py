"""Data-parallel training: merge every rank's profile on one rank.

Each process of a ``torch.distributed`` job keeps its own :class:`SpikeProfiler`
and watches its replica of the model; :func:`gather` sends every rank's
statistics (the :meth:`SpikeProfiler.to_bytes` format, no pickle) to ``dst`` with
the collective ops, which merges them into a profile equal to that of one process
that saw all the data. Statistics only: a few kilobytes per layer and epoch,
whatever the number of steps.

Failures are shared: before any profile travels, every rank sends a small header
(whether its profile could be serialised, its layers' neuron shapes and its
declarations, as JSON in a uint8 tensor). If one rank failed, or two ranks recorded
a layer with different shapes or declared it differently, every rank raises the same
:class:`GatherError`, at once; after merging, ``dst`` tells every rank whether it
succeeded. A rank that never calls :func:`gather` (it raised before) is noticed
after ``timeout`` seconds instead of the process group's (30 minutes by default).
"""

from __future__ import annotations

import datetime
import json
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from ..core.errors import GatherError, InvalidInputError
from ..state.snapshot import ProfileSnapshot

P = TypeVar("P", bound="Mergeable")


class Mergeable(Protocol):
    """What :func:`gather` needs of a profile: its bytes, a way back from them, a
    merge, and a consistent look at its layers and declarations."""

    def to_bytes(self) -> bytes: ...

    @classmethod
    def from_bytes(cls: type[P], data: bytes) -> P: ...

    def merge(self: P, other: P) -> None: ...

    def consistent(self) -> AbstractContextManager[Any]: ...

    def snapshot(self) -> ProfileSnapshot: ...




def gather(profiler: P, *, dst: int = 0, group: Any = None,
           timeout: float | None = None) -> P | None:
    """Merge every rank's statistics on rank ``dst``; a collective: every rank calls it.

    Args:
        profiler: this rank's profiler (left unchanged).
        dst: global rank that receives the merged profile.
        group: process group (default: the whole job).
        timeout: seconds each collective step may wait for the other ranks (default:
            the process group's timeout); a rank that never joins then gives a
            :class:`GatherError` on the others.

    Returns on ``dst`` a new profiler holding all ranks' statistics merged in rank
    order (thresholds and declarations of the lowest rank first); None elsewhere.
    Raises :class:`GatherError` on every rank, with the same message, when any rank
    fails (its profile cannot be serialised, the profiles conflict, or the merge
    fails on ``dst``). Works on every backend (``gloo`` on CPU, ``nccl`` through
    the current CUDA device).
    """
    import torch
    import torch.distributed as dist

    if timeout is not None and (isinstance(timeout, bool) or not isinstance(
            timeout, (int, float)) or not timeout > 0):
        raise InvalidInputError(
            f"gather: timeout must be a number of seconds > 0, got {timeout!r}")
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("gather needs torch.distributed to be initialised "
                           "(torch.distributed.init_process_group) on every rank")
    wait = None if timeout is None else datetime.timedelta(seconds=float(timeout))
    ops = _Collectives(dist, group, wait,
                       torch.device("cuda", torch.cuda.current_device())
                       if dist.get_backend(group) == "nccl" else torch.device("cpu"))
    failure: Exception | None = None
    try:
        data: bytes = profiler.to_bytes()
        header = _header(profiler, None, len(data))
    except Exception as exc:  # shared with every rank below, then raised here too
        failure = exc
        data, header = b"", _header(profiler, exc, 0)
    headers = [json.loads(h) for h in ops.all_gather_bytes(json.dumps(header).encode())]
    problem = _problem(headers)
    if problem is not None:
        raise GatherError(problem) from failure
    lengths = [h["size"] for h in headers]
    buffers = ops.gather_bytes(data, max(lengths), dst)
    merged: P | None = None
    outcome = ""
    if buffers is not None:
        rank = 0
        try:
            for buf, n in zip(buffers, lengths, strict=True):
                part = type(profiler).from_bytes(buf[:n])
                if merged is None:
                    merged = part
                else:
                    merged.merge(part)
                rank += 1
        except Exception as exc:
            outcome = (f"gather: merging the profile of rank {rank} on rank {dst} failed: "
                       f"{type(exc).__name__}: {exc}")
    outcome = ops.broadcast_bytes(outcome.encode(), dst).decode()
    if outcome:
        raise GatherError(outcome)
    return merged


def _header(profiler: Mergeable, error: BaseException | None, size: int
            ) -> dict[str, Any]:
    """What the other ranks check before any profile travels."""
    with profiler.consistent():
        snap = profiler.snapshot()
        shapes = {name: list(info.neuron_shape) for name, info in snap.layers.items()}
        declared = {name: {k: v for k, v in d.items() if k in _DECLARED}
                    for name, d in snap.declared.items()}
    return {"error": None if error is None else f"{type(error).__name__}: {error}",
            "size": size, "shapes": shapes, "declared": _jsonable(declared)}


_DECLARED = ("role", "graded", "neuron_axes", "fan_out")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item")
                                 else repr(v)))


def _problem(headers: list[dict[str, Any]]) -> str | None:
    """The first failure or conflict among the ranks' headers, as one message (the
    same on every rank), or None."""
    failed = [(r, h["error"]) for r, h in enumerate(headers) if h["error"]]
    if failed:
        said = "; ".join(f"rank {r}: {e}" for r, e in failed)
        return (f"gather: {len(failed)} of {len(headers)} ranks could not send their "
                f"profile ({said}); nothing was merged")
    for key, what, fix in (
            ("shapes", "neuron shape", "record each layer with the same neuron shape on "
             "every rank"),
            ("declared", "declaration", "declare each layer the same way on every rank")):
        seen: dict[str, tuple[int, Any]] = {}
        for r, h in enumerate(headers):
            for name, value in h[key].items():
                if key == "declared":
                    for k, v in value.items():
                        first = seen.setdefault(f"{name}\0{k}", (r, v))
                        if first[1] != v:
                            return (f"gather: layer {name!r}: {what} {k}={first[1]!r} on "
                                    f"rank {first[0]} but {k}={v!r} on rank {r}; {fix}")
                    continue
                first = seen.setdefault(name, (r, value))
                if first[1] != value:
                    return (f"gather: layer {name!r}: {what} {tuple(first[1])} on rank "
                            f"{first[0]} but {tuple(value)} on rank {r}; {fix}")
    return None


class _Collectives:
    """Byte strings through the collective ops, each step bounded by ``wait``."""

    def __init__(self, dist: Any, group: Any, wait: datetime.timedelta | None,
                 device: Any) -> None:
        self.dist, self.group, self.wait, self.device = dist, group, wait, device
        self.world = dist.get_world_size(group)
        self.me = dist.get_rank()

    def _done(self, work: Any, what: str) -> None:
        try:
            if self.wait is None:
                work.wait()
            else:
                work.wait(self.wait)
        except Exception as exc:  # a rank left, never came, or its connection broke
            limit = "" if self.wait is None else f" within {self.wait.total_seconds():g} s"
            raise GatherError(
                f"gather: rank {self.me} got no answer from every rank{limit} while "
                f"{what} (did a rank fail before calling gather?): "
                f"{type(exc).__name__}: {exc}") from exc

    def _tensor(self, data: bytes, length: int) -> Any:
        import torch

        out = torch.zeros(max(length, 1), dtype=torch.uint8)
        if data:
            out[:len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        return out.to(self.device)

    def _sizes(self, n: int, what: str) -> list[int]:
        import torch

        size = torch.tensor([n], dtype=torch.int64, device=self.device)
        sizes = [torch.zeros_like(size) for _ in range(self.world)]
        self._done(self.dist.all_gather(sizes, size, group=self.group, async_op=True), what)
        return [int(s.item()) for s in sizes]  # once, at the end of training

    def all_gather_bytes(self, data: bytes) -> list[bytes]:
        what = "exchanging the headers"
        lengths = self._sizes(len(data), what)
        mine = self._tensor(data, max(lengths))
        parts = [self._tensor(b"", max(lengths)) for _ in range(self.world)]
        self._done(self.dist.all_gather(parts, mine, group=self.group, async_op=True), what)
        return [p[:n].cpu().numpy().tobytes() for p, n in zip(parts, lengths, strict=True)]

    def gather_bytes(self, data: bytes, length: int, dst: int) -> list[bytes] | None:
        mine = self._tensor(data, length)
        parts = ([self._tensor(b"", length) for _ in range(self.world)]
                 if self.me == dst else None)
        work = self.dist.gather(mine, parts, dst=dst, group=self.group, async_op=True)
        self._done(work, "sending the profiles")
        return None if parts is None else [p.cpu().numpy().tobytes() for p in parts]

    def broadcast_bytes(self, data: bytes, src: int) -> bytes:
        import torch

        what = "hearing whether the merge succeeded"
        size = torch.tensor([len(data)], dtype=torch.int64, device=self.device)
        self._done(self.dist.broadcast(size, src=src, group=self.group, async_op=True), what)
        n = int(size.item())
        buf = self._tensor(data if self.me == src else b"", n)
        self._done(self.dist.broadcast(buf, src=src, group=self.group, async_op=True), what)
        return buf[:n].cpu().numpy().tobytes()
