"""torchrun / DistributedDataParallel support for `gfpose train` (gloo on CPU, NCCL on GPU).

Every rank draws the whole global batch from the same generator and trains on its own slice,
so N processes follow the single-process run up to float summation order, and the saved
generator state resumes a run under any N.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def batch_slice(self, batch: int) -> slice:
        """This rank's contiguous share of a global batch (batch must divide evenly)."""
        share = batch // self.world
        return slice(self.rank * share, (self.rank + 1) * share)


def from_environment(device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group torchrun describes in the environment; single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(), device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank, world, local), device


def shutdown() -> None:
    """Leave the process group together: rank 0 may still be validating and saving the last checkpoint,
    and a gloo rank that tears its group down while a peer is busy aborts ("terminate called without an
    active exception", exit -6), which failed one torchrun in six on the 2-core machine."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def leave_process() -> None:
    """End a torchrun rank whose work is done and saved (after shutdown) without the interpreter's
    teardown. Even after the barrier and destroy_process_group, a gloo rank sometimes aborts while
    the interpreter finalises ("terminate called without an active exception", SIGABRT with no Python
    frame left: a native worker thread destroyed unjoined), about one torchrun in twenty on the 2-core
    machine under load, and torchrun then reports the finished job as failed. Every file is written
    by then (atomically), so the rank flushes its output and exits 0 at once."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def finish(ctx: DistContext) -> None:
    """The end of a training command that completed: leave the process group together (shutdown; a
    no-op if already left), then a rank of a multi-process job exits at once (leave_process)."""
    shutdown()
    if ctx.active:
        leave_process()
