"""Data-parallel training over several processes, one per GPU, as launched by ``torchrun``.

The paper trains on one GPU with one two-group batch (Eq. 16) per Adam step (Sec. 4.3). Here every
process trains its own two-group batches and DistributedDataParallel (DDP) averages the gradients,
so one step learns from ``world_size x accumulation`` two-group batches; which ones is decided by
:func:`gconet_lab.data.sampling.draw_of_micro_batch`.

``torchrun`` starts the processes and gives each its place in the environment variables ``RANK``
(0 .. WORLD_SIZE-1 over all nodes), ``WORLD_SIZE`` and ``LOCAL_RANK`` (its GPU on its node); a plain
``python`` run has none of them and is a world of one, for which every function here does nothing.
GPUs talk through NCCL, CPU processes through gloo.

BatchNorm. A two-group batch cannot be split across GPUs: GAM (Eq. 1) attends over all N images of
a group and GCM (Eq. 2) and the GST loss (Eq. 5) compare the two groups. So every process keeps
whole two-group batches, and each BatchNorm layer normalises with the statistics of one two-group
batch, exactly as on the paper's single GPU. SyncBatchNorm (``sync_bn=True``) would instead pool
the statistics of every process's batch, that is of 2 x WORLD_SIZE unrelated groups: a different
normalisation from the paper's, which changes with the number of GPUs, and an all-reduce in every
BN layer of every forward. It is therefore off by default, offered for experiments, on CUDA only.
The *running* statistics (used at test time) are averaged across processes after every step
(:func:`average_running_statistics`), so every replica, and the checkpoint rank 0 writes, holds
statistics of all processes' batches.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gconet_lab.config import ConfigError

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
CPU = torch.device("cpu")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the run; the default is a single process on the CPU."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = CPU

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, shows the progress bar and writes checkpoints."""
        return self.rank == 0

    @property
    def backend(self) -> str:
        return "nccl" if self.device.type == "cuda" else "gloo"


def is_main_process() -> bool:
    """Whether this is rank 0 (or a plain run), before or after :func:`setup`."""
    return os.environ.get("RANK", "0") == "0"


def setup(device: str | None = None) -> DistributedContext:
    """This process's context from torchrun's variables; joins the process group when there are several.

    ``device``: ``"cpu"``, ``"cuda"`` or None (CUDA when present). On CUDA each process takes the GPU
    ``cuda:LOCAL_RANK`` of its node.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device is None else torch.device(device).type == "cuda"
    if not use_cuda:
        chosen = CPU
    elif world_size > 1:
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    else:
        chosen = torch.device(device or "cuda")
    context = DistributedContext(rank, world_size, local_rank, chosen)
    if context.is_distributed and not dist.is_initialized():
        dist.init_process_group(context.backend)  # MASTER_ADDR and MASTER_PORT come from torchrun
    return context


def cleanup(context: DistributedContext) -> None:
    """Leave the process group (after training, before the process ends)."""
    if context.is_distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, context: DistributedContext, sync_bn: bool = False) -> nn.Module:
    """``model`` itself for one process, else DDP around it (with SyncBatchNorm if asked: see the module docstring).

    ``model`` must already be on ``context.device``. The layers are converted in place, so an optimizer
    built on ``model`` afterwards trains the same parameters; the checkpoint keys do not change.
    """
    if sync_bn and context.device.type != "cuda":
        raise ConfigError("sync_bn (--sync-bn) needs CUDA: SyncBatchNorm does not run on the CPU")
    if not context.is_distributed:
        return model
    if sync_bn:
        nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    # Buffers are not copied from rank 0 before each forward: running statistics are averaged after
    # each step instead, so that they summarise every process's batches. (Recent torch calls the
    # option forward_sync_buffers, older releases broadcast_buffers.)
    option = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters \
        else "broadcast_buffers"
    return DistributedDataParallel(model, device_ids=device_ids, **{option: False})


def any_process(context: DistributedContext, flag: bool) -> bool:
    """Whether ``flag`` is true on at least one process (every process must call this at the same point)."""
    if not context.is_distributed:
        return flag
    value = torch.tensor(float(flag), device=context.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def mean_over_processes(context: DistributedContext, values: dict[str, float]) -> dict[str, float]:
    """The mean of every value over the processes (all must pass the same keys), e.g. the step's loss terms."""
    if not context.is_distributed:
        return values
    names = sorted(values)
    stacked = torch.tensor([values[name] for name in names], dtype=torch.float64, device=context.device)
    dist.all_reduce(stacked)
    return dict(zip(names, (stacked / context.world_size).tolist()))


def gather(context: DistributedContext, value: object) -> list[object]:
    """Every process's ``value``, in rank order (small picklable objects, e.g. group names)."""
    if not context.is_distributed:
        return [value]
    gathered: list[object] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def average_running_statistics(model: nn.Module, context: DistributedContext) -> None:
    """Replace every BatchNorm layer's running mean and variance by their mean over the processes."""
    if not context.is_distributed:
        return
    for module in model.modules():
        if isinstance(module, BATCH_NORMS) and module.running_mean is not None:
            for statistic in (module.running_mean, module.running_var):
                dist.all_reduce(statistic)
                statistic /= context.world_size


def same_on_every_process(context: DistributedContext, value: object) -> bool:
    """Whether ``value`` equals rank 0's (e.g. the position a resumed run starts from)."""
    if not context.is_distributed:
        return True
    shared = [value]
    dist.broadcast_object_list(shared, src=0, device=context.device)
    return shared[0] == value
