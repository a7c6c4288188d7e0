"""Running under ``torchrun``: process group, devices, sharding, per-rank seeds, collectives.

``torchrun --nproc_per_node=K -m smoothcert train|certify ...`` starts K
processes with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT`` in their environment. :func:`init` joins the process group
(NCCL on CUDA, gloo on CPU); without those variables everything here is a
no-op for a single process, so the training loop and ``certify`` are written
once for both.

Training (see :mod:`smoothcert.train.trainer`): every rank computes the same
epoch permutation and takes its shard of it, :func:`shard_order`, the way
``torch.utils.data.DistributedSampler`` does (the permutation is padded by
wrapping around to a multiple of K, then rank r takes positions r, r+K, ...);
the global batch ``batch_size`` is split evenly across ranks, so a recipe means
the same optimisation for any K. The noise comes from torch's global RNG,
seeded per rank (:func:`rank_seed`), and a method's m noisy copies of an image
are made inside the method call, on the rank that holds the image.
DistributedDataParallel averages the gradients. Rank 0 alone writes the
checkpoint, the log and the config; the checkpoint holds every rank's RNG state
so that ``--resume`` continues each rank's noise stream.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from smoothcert.errors import UserError


@dataclass(frozen=True)
class Context:
    """This process's place in the job: ``rank`` of ``world_size``; ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def from_env() -> Context:
    """The context torchrun's environment describes (a single process without it)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise UserError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)") from None
    return Context(rank, world, local)


def device_name(name: str, ctx: Context) -> str:
    """Under torchrun each rank takes its own GPU: ``auto``/``cuda`` -> ``cuda:LOCAL_RANK``, ``cuda:N`` ->
    ``cuda:(N + LOCAL_RANK)`` (N is the first GPU of the node's ranks, so ``cuda:2`` with two ranks uses 2 and 3).

    A single process keeps ``name`` as given.
    """
    if not ctx.distributed or not name.startswith(("auto", "cuda")):
        return name
    if name == "auto" and not torch.cuda.is_available():
        return name
    first = 0
    if name.startswith("cuda:"):
        try:
            first = int(name[len("cuda:"):])
        except ValueError:
            return name  # resolve_device explains the mistake
    index = first + ctx.local_rank
    if torch.cuda.is_available() and index >= torch.cuda.device_count():
        raise UserError(f"--device {name} with {ctx.world_size} ranks needs GPU {index} on rank {ctx.rank}, but "
                        f"this node has {torch.cuda.device_count()}; use --device cuda (GPUs 0..K-1) or fewer ranks")
    return f"cuda:{index}"


def init(device: torch.device) -> Context:
    """Join the process group if launched by torchrun (NCCL for CUDA, gloo otherwise); the context."""
    ctx = from_env()
    if ctx.distributed and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ctx


COORDINATION_TIMEOUT = timedelta(days=7)


def init_coordination() -> Context:
    """Join a gloo process group for coordination only (barriers, small objects), whatever the device.

    Certification exchanges no tensors between ranks, only which indices are
    done and whether a manifest was refused, so it needs no NCCL; and its
    shards can take very different times (sequential certification stops early
    on some inputs), which an NCCL barrier's watchdog would abort after its
    timeout. This group waits up to :data:`COORDINATION_TIMEOUT`.
    """
    ctx = from_env()
    if ctx.distributed and not dist.is_initialized():
        dist.init_process_group("gloo", timeout=COORDINATION_TIMEOUT)
    return ctx


def shutdown(*, wait: bool = False) -> None:
    """Leave the process group (no-op when not in one).

    Garbage is collected first, so that the last references to the group (a
    DDP wrapper's reducer, a pending gloo work object) die while the
    interpreter is fully alive and the group is torn down here. Left to
    interpreter finalization, a gloo group now and then aborted its process
    ("terminate called without an active exception", exit status -6, Python
    main thread with no frame): 2 in about 125 two-rank DDP runs on this CPU.
    With ``wait`` every rank first meets at a barrier, so that no rank tears
    down while another still works (rank 0 writing the checkpoint, say). Pass
    it only on success: after an error the other ranks may never arrive.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        if wait:
            dist.barrier()
        dist.destroy_process_group()
        gc.collect()


@contextmanager
def leaving_group_after() -> Iterator[None]:
    """Run the block, then :func:`shutdown`: with ``wait`` if it finished, without if it raised."""
    finished = False
    try:
        yield
        finished = True
    finally:
        shutdown(wait=finished)


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()


def on_main(ctx: Context, fn: Any) -> Any:
    """Run ``fn()`` on rank 0 only; every rank gets its result, or raises its ``UserError``.

    Without this a mistake found by rank 0 (a refused manifest, say) would leave
    the other ranks waiting at the next collective.
    """
    result: list[Any] = [None, None]
    if ctx.is_main:
        try:
            result[0] = fn()
        except UserError as exc:
            result[1] = str(exc)
    if ctx.distributed:
        dist.broadcast_object_list(result, src=0)
    if result[1] is not None:
        raise UserError(result[1])
    return result[0]


def shard_order(order: torch.Tensor, ctx: Context) -> torch.Tensor:
    """This rank's share of an epoch's permutation, as ``DistributedSampler`` deals it.

    Padded by wrapping to a multiple of ``world_size`` (every rank takes the same
    number of steps), then rank r takes positions r, r + K, r + 2K, ...
    """
    if not ctx.distributed:
        return order
    total = -(-len(order) // ctx.world_size) * ctx.world_size
    padded = torch.cat([order, order[: total - len(order)]]) if total > len(order) else order
    return padded[ctx.rank : total : ctx.world_size]


def local_batch_size(batch_size: int, ctx: Context) -> int:
    """The global batch split evenly across ranks; a ``UserError`` when it does not divide."""
    if batch_size % ctx.world_size:
        raise UserError(f"batch_size {batch_size} does not split evenly across {ctx.world_size} processes; "
                        f"use a multiple of {ctx.world_size}")
    return batch_size // ctx.world_size


def rank_seed(seed: int, ctx: Context) -> int:
    """The noise seed of this rank (rank 0 of a single process keeps ``seed`` itself)."""
    return seed if not ctx.distributed else seed + 1_000_003 * ctx.rank


def wrap(model: nn.Module, device: torch.device, ctx: Context) -> nn.Module:
    """``model`` inside DistributedDataParallel when distributed, else ``model`` itself."""
    if not ctx.distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def mean_over_ranks(values: dict[str, float], ctx: Context, device: torch.device) -> dict[str, float]:
    """Each value averaged over the ranks (for the log: the global mean of per-rank means)."""
    if not ctx.distributed or not values:
        return values
    keys = list(values)  # every rank has the same keys, in the same order
    backend_device = device if dist.get_backend() == "nccl" else torch.device("cpu")
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=backend_device)
    dist.all_reduce(tensor)
    return {k: float(v) / ctx.world_size for k, v in zip(keys, tensor.tolist(), strict=True)}


def gather_rng_states(ctx: Context) -> list[torch.Tensor]:
    """Every rank's CPU RNG state, in rank order (on every rank)."""
    state = torch.get_rng_state()
    if not ctx.distributed:
        return [state]
    states: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(states, state)
    return states


def gather_cuda_rng_states(ctx: Context, device: torch.device) -> list[torch.Tensor] | None:
    """Every rank's CUDA RNG state on its device, in rank order; None when training is not on CUDA.

    Training noise drawn on a GPU comes from that device's generator, not the
    CPU one: without its state a resumed run would restart the noise stream.
    """
    if device.type != "cuda":
        return None
    state = torch.cuda.get_rng_state(device)
    if not ctx.distributed:
        return [state]
    states: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(states, state)
    return states


def restore_cuda_rng_state(state: dict[str, Any], ctx: Context, device: torch.device) -> bool:
    """Restore this rank's CUDA RNG state when the checkpoint holds one per rank; whether it did."""
    states = state.get("cuda_rng_states")
    if device.type != "cuda" or states is None or len(states) != ctx.world_size:
        return False
    torch.cuda.set_rng_state(states[ctx.rank], device)
    return True


def restore_rng_state(state: dict[str, Any], ctx: Context, seed: int, epoch: int) -> None:
    """Restore this rank's RNG state from a checkpoint.

    A single process restores ``state["rng_state"]``; rank r of K restores
    ``state["rng_states"][r]`` when the checkpoint was written by K processes.
    Resumed with another number of processes, every rank reseeds from
    ``(seed, rank, epoch)`` instead (the run goes on, but not bit for bit).
    """
    states = state.get("rng_states")
    if not ctx.distributed and states is None:
        torch.set_rng_state(state["rng_state"])
    elif states is not None and len(states) == ctx.world_size:
        torch.set_rng_state(states[ctx.rank])
    else:
        torch.manual_seed(rank_seed(seed, ctx) + 7919 * epoch)
