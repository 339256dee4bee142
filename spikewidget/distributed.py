"""Data-parallel training: merge every rank's profile on one rank.

Each process of a ``torch.distributed`` job keeps its own :class:`SpikeProfiler`
and watches its replica of the model; :func:`gather` sends every rank's
statistics (the :meth:`SpikeProfiler.to_bytes` format, no pickle) to ``dst`` with
the collective ops, which merges them into a profile equal to that of one process
that saw all the data. Statistics only: a few kilobytes per layer and epoch,
whatever the number of steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .profiler import SpikeProfiler


def gather(profiler: SpikeProfiler, *, dst: int = 0,
           group: Any = None) -> SpikeProfiler | None:
    """Merge every rank's statistics on rank ``dst``; a collective: every rank calls it.

    Args:
        profiler: this rank's profiler (left unchanged).
        dst: global rank that receives the merged profile.
        group: process group (default: the whole job).

    Returns on ``dst`` a new profiler holding all ranks' statistics merged in rank
    order (thresholds and declarations of the lowest rank first); None elsewhere.
    Works on every backend (``gloo`` on CPU, ``nccl`` through the current CUDA device).
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("gather needs torch.distributed to be initialised "
                           "(torch.distributed.init_process_group) on every rank")
    world = dist.get_world_size(group)
    me = dist.get_rank()
    device = (torch.device("cuda", torch.cuda.current_device())
              if dist.get_backend(group) == "nccl" else torch.device("cpu"))
    data = profiler.to_bytes()
    size = torch.tensor([len(data)], dtype=torch.int64, device=device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size, group=group)
    lengths = [int(s.item()) for s in sizes]  # once, at the end of training
    padded = torch.zeros(max(lengths), dtype=torch.uint8)
    padded[:len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    padded = padded.to(device)
    buffers = ([torch.empty_like(padded) for _ in range(world)] if me == dst else None)
    dist.gather(padded, buffers, dst=dst, group=group)
    if buffers is None:
        return None
    merged: SpikeProfiler | None = None
    for buf, n in zip(buffers, lengths, strict=True):
        part = type(profiler).from_bytes(buf[:n].cpu().numpy().tobytes())
        if merged is None:
            merged = part
        else:
            merged.merge(part)
    return merged
