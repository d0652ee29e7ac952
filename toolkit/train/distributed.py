"""Training on several processes (GPUs or hosts) with torch.distributed, as launched by torchrun.

Under `torchrun --nproc-per-node N -m toolkit train ...` every rank holds the whole (small) dataset
resident and walks the same seeded permutation; each step, rank r takes its contiguous slice of the
global batch. DistributedDataParallel averages the gradients, so the update equals a single process
training on the whole global batch. gloo on CPUs, nccl on GPUs; only rank 0 writes files or logs.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from toolkit.errors import UsageError


@dataclass(frozen=True)
class Cluster:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, index: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of one global batch of indices."""
        per_rank = len(index) // self.world_size
        return index[self.rank * per_rank : (self.rank + 1) * per_rank]


def launched() -> bool:
    """True under torchrun (or any launcher that sets the env:// variables) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def start(device: torch.device) -> tuple:
    """(cluster, this rank's device): joins the process group; (None, device) when not launched."""
    if not launched():
        return None, device
    cluster = Cluster(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        device = torch.device("cuda", cluster.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if device.type == "cuda" else "gloo", device_id=device if device.type == "cuda" else None
        )
    return cluster, device


def check_batch(cluster, batch: int) -> None:
    if cluster is not None and batch % cluster.world_size:
        raise UsageError(f"--batch-size {batch} does not split evenly over {cluster.world_size} processes")


class TrainForward(torch.nn.Module):
    """The module's training entry point (`forward` or e.g. `logits`) as a forward, so DDP can wrap it."""

    def __init__(self, net: torch.nn.Module, method: str | None):
        super().__init__()
        self.net, self.method = net, method

    def forward(self, x):
        return getattr(self.net, self.method)(x) if self.method else self.net(x)


def wrap(net: torch.nn.Module, method: str | None, cluster, device: torch.device):
    """The callable that training steps through: DDP around the module on a cluster, else the module itself."""
    if cluster is None:
        return getattr(net, method) if method else net
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        TrainForward(net, method), device_ids=[device.index] if device.type == "cuda" else None
    )


def mean_over_ranks(value: torch.Tensor, cluster) -> torch.Tensor:
    if cluster is not None:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value = value / cluster.world_size
    return value


def finish(cluster) -> None:
    if cluster is not None and dist.is_initialized():
        dist.barrier()  # rank 0 has written its files before anyone leaves
        dist.destroy_process_group()
