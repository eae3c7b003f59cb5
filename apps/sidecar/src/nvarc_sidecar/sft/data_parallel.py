"""Data parallelism of the SFT step loop: which share of a step each process trains, and gradient all-reduce.

Every rank reads the same deterministic data order (data_order.py), so each one has
all sequences of a step and computes the step's global target count without
communicating. Rank r trains sequences r, r + W, r + 2W, ... of the step (W = world
size), divides its summed target NLL by the global target count, and the gradients are
then summed over ranks with `torch.distributed.all_reduce`. The summed gradient equals
the single-process gradient of the whole step, so W ranks and one rank reach the same
weights up to floating-point summation order.

torch's DistributedDataParallel wrapper is not used, for two reasons. It averages
gradients (dividing by W), and it needs exactly one synchronizing backward per rank.
On the CPU a rank runs one forward pass per packed segment, and in a small step a
rank may get no sequence at all.
"""

import datetime
from collections.abc import Sequence
from typing import TypeVar

import torch
import torch.distributed as dist

from nvarc_sidecar.sft.model_loading import training_device

Item = TypeVar("Item")

# Gradients are all-reduced in flat buckets of at most this many bytes: one collective
# per bucket instead of one per parameter, without a full-model copy. DDP's default
# bucket size is 25 MiB as well.
GRADIENT_BUCKET_BYTES = 25 * 1024 * 1024


class SingleProcess:
    """One process trains the whole step; nothing is communicated."""

    rank = 0
    world_size = 1
    is_writer = True  # this process writes checkpoints and the final model

    def device(self) -> torch.device:
        """Return the training device: the first GPU when one is available, else the CPU."""
        return training_device()

    def share(self, sequences: Sequence[Item]) -> list[Item]:
        """Return the sequences of a step this process trains: all of them."""
        return list(sequences)

    def sync_parameters(self, model: torch.nn.Module) -> None:
        """Make every rank start from rank 0's weights; nothing to do for one process."""

    def reduce_gradients(self, model: torch.nn.Module) -> None:
        """Sum gradients over ranks; nothing to do for one process."""

    def reduce_totals(self, nll_sum: float, tokens: int) -> tuple[float, int]:
        """Return the step's summed target NLL (nats) and trained tokens over all ranks."""
        return nll_sum, tokens


SINGLE_PROCESS = SingleProcess()


class ProcessGroup(SingleProcess):
    """Rank `rank` of a torch.distributed process group of `world_size` ranks.

    `backend` is "gloo" for CPU training and "nccl" for one GPU per rank. Rank 0 writes
    checkpoints and the final model, and the other ranks only train.
    """

    def __init__(self, rank: int, world_size: int, init_method: str, backend: str,
                 timeout: datetime.timedelta = datetime.timedelta(minutes=30)) -> None:
        if backend not in ("gloo", "nccl"):
            raise ValueError(f"backend={backend!r} is not supported; use 'gloo' (CPU) or 'nccl' (GPU)")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} is outside 0..{world_size - 1}")
        self.rank, self.world_size, self.backend = rank, world_size, backend
        self.is_writer = rank == 0
        # A collective that waits longer than `timeout` for a peer raises, so a lost rank ends the run.
        dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size, timeout=timeout)

    def device(self) -> torch.device:
        """Return cuda:0 (the one GPU Ray assigns to this process) for nccl, the CPU for gloo."""
        return torch.device("cuda:0" if self.backend == "nccl" else "cpu")

    def share(self, sequences: Sequence[Item]) -> list[Item]:
        """Return every world_size-th sequence of the step, starting at this rank."""
        return list(sequences[self.rank::self.world_size])

    def sync_parameters(self, model: torch.nn.Module) -> None:
        """Broadcast rank 0's weights, so ranks that loaded the same files cannot drift apart."""
        for parameter in model.parameters():
            dist.broadcast(parameter.data, src=0)

    def reduce_gradients(self, model: torch.nn.Module) -> None:
        """Sum the gradients of all ranks in place.

        A rank whose share had no sequence has no gradients; it contributes zeros, the
        same gradient a single process gets from sequences without targets.
        """
        gradients = []
        for parameter in model.parameters():
            if not parameter.requires_grad:
                continue
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
            gradients.append(parameter.grad)
        for bucket in _buckets(gradients, GRADIENT_BUCKET_BYTES):
            flat = torch.cat([gradient.reshape(-1) for gradient in bucket])
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            offset = 0
            for gradient in bucket:
                gradient.copy_(flat[offset:offset + gradient.numel()].view_as(gradient))
                offset += gradient.numel()

    def reduce_totals(self, nll_sum: float, tokens: int) -> tuple[float, int]:
        totals = torch.tensor([nll_sum, float(tokens)], dtype=torch.float64, device=self.device())
        dist.all_reduce(totals, op=dist.ReduceOp.SUM)
        return float(totals[0]), int(round(float(totals[1])))

    def close(self) -> None:
        """Leave the process group; peers still waiting in a collective then fail instead of hanging."""
        if dist.is_initialized():
            dist.destroy_process_group()


def _buckets(tensors: list[torch.Tensor], max_bytes: int) -> list[list[torch.Tensor]]:
    """Group consecutive tensors of one dtype into lists of at most `max_bytes` (a larger tensor gets a bucket of its own)."""
    buckets: list[list[torch.Tensor]] = []
    current: list[torch.Tensor] = []
    size = 0
    for tensor in tensors:
        nbytes = tensor.numel() * tensor.element_size()
        if current and (size + nbytes > max_bytes or tensor.dtype != current[0].dtype):
            buckets.append(current)
            current, size = [], 0
        current.append(tensor)
        size += nbytes
    if current:
        buckets.append(current)
    return buckets
