"""The training loop of GCoNet+ (Sec. 4.3): one code path for CUDA (mixed precision) and CPU.

Each step takes a two-group batch (Eq. 16) or several (below), computes the objective of Eq. 11
with its per-term breakdown, and takes one Adam step (lr 3e-4, betas (0.9, 0.99); the encoder may get a smaller
learning rate).  Every step is appended to ``log.jsonl``; a checkpoint is written atomically at the
end of every epoch and when the run is interrupted (Ctrl-C) or stopped by an error (e.g. a corrupt
image), and ``resume=True`` continues from it on the same trajectory, inside an epoch too.
Callbacks receive every step's record, so a notebook can plot live.

Scale (:mod:`gconet_lab.engine.distributed`): under ``torchrun`` the same loop runs in every process with
DistributedDataParallel, and ``accumulation`` sums the gradients of several two-group batches per
step; one step then learns from ``world_size x accumulation`` whole two-group batches, on any
number of GPUs. Only rank 0 logs, shows progress, calls the callbacks and writes checkpoints; the
position in the epoch is saved in two-group batches, so a run resumes with any number of processes.

Faults (see :meth:`Trainer.fit` and :meth:`Trainer.train_step`): the output folder is locked
(:mod:`gconet_lab.engine.run_folder`) and checked for write access and free space before the first step;
SIGTERM is handled like Ctrl-C (:mod:`gconet_lab.engine.interrupts`); a disk that fills anyway keeps the last
good checkpoint; a resumed run drops the log records of the steps it trains again; a step whose
output or loss is not finite, after the CEM's own k fallback, is skipped with a warning, marked
``"skipped": true`` in the log, and changes nothing (weights, BatchNorm statistics, optimizer state).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm.auto import tqdm

from gconet_lab.config import ConfigError, GCoNetConfig
from gconet_lab.data.sampling import GroupPairSampler
from gconet_lab.engine import distributed
from gconet_lab.engine.buffers import restore_buffers, snapshot_buffers
from gconet_lab.engine.checkpoint import (
    checkpoint_space_needed,
    read_training_checkpoint,
    restore_rng_state,
    save_training_checkpoint,
)
from gconet_lab.engine.distributed import DistributedContext
from gconet_lab.engine.interrupts import terminate_as_interrupt
from gconet_lab.engine.precision import autocast, describe_precision, resolve_precision
from gconet_lab.engine.run_folder import lock_run_folder, truncate_log
from gconet_lab.engine.schedule import learning_rate_factor
from gconet_lab.engine.storage import DiskFullError, ensure_writable_folder, is_disk_full
from gconet_lab.losses import GCoNetLoss, LossBreakdown
from gconet_lab.models.official_checkpoint import check_finite_weights

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.jsonl"


class Callback(Protocol):
    def __call__(self, record: dict[str, Any]) -> None: ...


def select_device(requested: str | None = None) -> torch.device:
    """``requested`` if given, else CUDA when present, else CPU."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_optimizer(model: torch.nn.Module, config: GCoNetConfig) -> torch.optim.Adam:
    """Adam with two parameter groups: the heads at ``lr``, the encoder at ``lr * backbone_lr_scale``."""
    groups = [{"params": model.head_parameters(), "lr": config.lr, "name": "heads"}]
    backbone = model.backbone_parameters()
    if backbone:
        groups.append({"params": backbone, "lr": config.lr * config.backbone_lr_scale, "name": "backbone"})
    return torch.optim.Adam(groups, betas=config.betas)


def non_finite_outputs(output: Any) -> list[str]:
    """Names of the tensor fields of a model output (a dataclass) that hold NaN or inf."""
    return [
        f.name for f in dataclasses.fields(output)
        if isinstance(value := getattr(output, f.name), torch.Tensor) and not torch.isfinite(value).all()
    ]


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` items; an incomplete last list is left out."""
    iterator = iter(items)
    while len(chunk := list(itertools.islice(iterator, size))) == size:
        yield chunk


def mean_records(records: Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean of each loss term over micro-batches."""
    return {name: sum(record[name] for record in records) / len(records) for name in records[0]}


@dataclass
class TrainResult:
    steps: int
    epochs_completed: int
    skipped_steps: int
    interrupted: bool
    seconds: float
    checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def channels_last_layout(model: torch.nn.Module) -> Iterator[None]:
    """Hold ``model``'s weights channels-last (NHWC) while it trains, in the usual layout again after.

    NHWC is the fast convolution layout of oneDNN and cuDNN (why: docs/experiments.md#precision-and-speed).
    Only the memory layout changes, never a weight; the trained model comes back contiguous, so it
    computes exactly what the same weights loaded from its checkpoint compute.
    """
    model.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)


class Trainer:
    """Trains ``model`` on a loader of two-group batches (dicts with images, masks, class_ids).

    ``accumulation`` two-group batches of the loader make one step; ``context`` places this process
    in a data-parallel run (its loader must then be this process's share, see ``make_train_loader``);
    ``sync_bn`` switches to SyncBatchNorm (see :mod:`gconet_lab.engine.distributed` for why it is off).
    ``precision`` (:mod:`gconet_lab.engine.precision`): ``auto`` trains with float16 mixed precision on
    CUDA and in float32 on CPUs; ``bf16`` opts in to bfloat16 autocast.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: GCoNetConfig,
        loader: Iterable[dict[str, Any]],
        out_dir: str | Path,
        device: str | torch.device | None = None,
        callbacks: Sequence[Callback] = (),
        class_names: list[str] | None = None,
        progress: bool = True,
        accumulation: int = 1,
        context: DistributedContext | None = None,
        sync_bn: bool = False,
        precision: str = "auto",
    ) -> None:
        if accumulation < 1:
            raise ValueError(f"accumulation must be at least 1, got {accumulation}")
        self.context = context or DistributedContext()
        self.device = self.context.device if context else select_device(str(device) if device else None)
        self.model = model.to(self.device, memory_format=torch.channels_last)  # see channels_last_layout
        self.network = distributed.wrap_model(self.model, self.context, sync_bn)  # what the steps run
        self.accumulation = accumulation
        self.batches_per_step = self.context.world_size * accumulation  # two-group batches, all processes
        if hasattr(loader, "__len__") and len(loader) < accumulation:
            raise ConfigError(f"an epoch of {len(loader) * self.context.world_size} two-group batches is shorter than "
                              f"one step of {self.context.world_size} processes x accumulation {accumulation}; "
                              "use a smaller accumulation (--accumulation)")
        self.config = config
        self.loader = loader
        self.out_dir = Path(out_dir)
        self.callbacks = list(callbacks)
        self.class_names = class_names
        self.progress = progress
        self.criterion = GCoNetLoss(config)
        self.optimizer = make_optimizer(model, config)
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.total_steps = 0  # set by fit(): the schedule's length
        self.precision = resolve_precision(precision, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None
        self.epoch = 0  # epochs completed
        self.step = 0
        self.batch_in_epoch = 0  # two-group batches of the current epoch trained, by all processes together
        self.skipped_steps = 0
        self.saved_step: int | None = None  # step of the last checkpoint written or resumed from
        self.history: list[dict[str, Any]] = []

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> None:
        """Write ``checkpoint.pt`` (rank 0 only; every process holds the same weights).

        A full disk raises :class:`DiskFullError`; the atomic save has then removed its partial
        file and the previous checkpoint is untouched.
        """
        if not self.context.is_main:
            return
        try:
            save_training_checkpoint(
                self.checkpoint_path, model=self.model, optimizer=self.optimizer, scaler=self.scaler,
                config=self.config, epoch=self.epoch, step=self.step, batch_in_epoch=self.batch_in_epoch,
                class_names=self.class_names,
            )
        except OSError as error:
            if is_disk_full(error):
                raise self.disk_full_error() from None
            raise
        self.saved_step = self.step

    def disk_full_error(self) -> DiskFullError:
        """The one-line report of a full disk: what is lost and what the folder still holds."""
        kept = (f"{self.checkpoint_path} still holds step {self.saved_step}; free some space and run again to resume"
                if self.saved_step is not None else "no checkpoint was written; free some space and run again")
        return DiskFullError(f"the disk holding {self.out_dir} is full after step {self.step}: {kept}")

    def resume(self) -> bool:
        """Continue from ``out_dir/checkpoint.pt`` if present; returns whether it did.

        A checkpoint of another configuration, or one trained on other training groups (its class
        names), is refused with a :class:`ConfigError`: continuing it would silently mix two runs.
        """
        if not self.checkpoint_path.exists():
            return False
        payload = read_training_checkpoint(self.checkpoint_path)
        saved = GCoNetConfig.from_dict(payload["config"]).to_dict()  # an older file's retired labels dropped
        if saved != self.config.to_dict():
            changed = sorted(k for k, v in self.config.to_dict().items() if saved.get(k) != v)
            raise ConfigError(f"{self.checkpoint_path} was trained with a different configuration (differs in {changed}); "
                              "use another output folder (--out) or the same configuration")
        saved_classes = payload.get("class_names")
        if saved_classes is not None and self.class_names is not None and list(saved_classes) != list(self.class_names):
            gone, new = sorted(set(saved_classes) - set(self.class_names)), sorted(set(self.class_names) - set(saved_classes))
            raise ConfigError(f"{self.checkpoint_path} was trained on other training groups (only in the checkpoint: "
                              f"{gone[:5]}, only in this run: {new[:5]}, or another order); "
                              "use another output folder (--out) or the same training sets")
        check_finite_weights(payload["model"], self.checkpoint_path)  # a diverged run cannot be continued
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scaler is not None and payload["scaler"] is not None:
            self.scaler.load_state_dict(payload["scaler"])
        self.epoch, self.step, self.batch_in_epoch = payload["epoch"], payload["step"], payload["batch_in_epoch"]
        self.saved_step = self.step
        restore_rng_state(payload["rng"])
        return True

    def resume_everywhere(self) -> None:
        """:meth:`resume` in every process, checking that all start from rank 0's position."""
        self.resume()
        position = (self.epoch, self.step, self.batch_in_epoch)
        if not distributed.same_on_every_process(self.context, position):
            raise RuntimeError(f"process {self.context.rank} resumed at (epoch, step, batch) {position}, unlike rank 0: "
                               f"every process must see the same {self.checkpoint_path} (a shared folder)")

    # ------------------------------------------------------------------ one step
    def train_step(self, batches: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """One Adam step on this process's ``batches``; a non-finite output or loss skips it with a warning.

        Each batch is a whole two-group batch (Eq. 16). Its loss (Eq. 11) is divided by the number
        of batches and its gradient added up; DDP averages over the processes in the backward pass
        of the last batch only (``no_sync`` before), so the step follows the mean gradient of all
        processes' batches. The record holds the loss terms averaged the same way.

        The check comes after the model's own remedy: the CEM already recomputes Eq. 3 with the
        fallback k when k = 300 overflows (Sec. 4.3), so only what that cannot fix is skipped. All
        processes skip together, before a backward pass that would wait for the others.
        """
        self.optimizer.zero_grad(set_to_none=True)
        buffers = snapshot_buffers(self.model)  # BatchNorm statistics change in the forward pass
        record: dict[str, Any] = {"epoch": self.epoch, "step": self.step, "total": math.nan}
        terms: list[dict[str, float]] = []
        non_finite: list[str] = []
        for index, batch in enumerate(batches):
            last = index == len(batches) - 1
            with contextlib.nullcontext() if last or not self.context.is_distributed else self.network.no_sync():
                losses, non_finite = self.forward_loss(batch)
                values = losses.as_floats() if losses is not None else {}
                if values and not math.isfinite(values["total"]):
                    non_finite = ["loss"]
                if distributed.any_process(self.context, bool(non_finite)):
                    record.update(values)
                    non_finite = non_finite or ["output or loss of another process"]
                    break
                terms.append(values)
                self.backward(losses.total / len(batches))
        record["skipped"] = bool(non_finite)
        if non_finite:
            self.optimizer.zero_grad(set_to_none=True)
            restore_buffers(self.model, buffers)
            self.skip_step(record, non_finite)
            return record
        record.update(distributed.mean_over_processes(self.context, mean_records(terms)))
        record["lr"] = self.set_learning_rate()
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        distributed.average_running_statistics(self.model, self.context)
        return record

    def set_learning_rate(self) -> float:
        """Apply the schedule's factor for this step to every parameter group; returns the heads' rate."""
        factor = learning_rate_factor(self.step, self.total_steps, self.config.lr_schedule, self.config.warmup_steps)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        return self.optimizer.param_groups[0]["lr"]

    def forward_loss(self, batch: dict[str, Any]) -> tuple[LossBreakdown | None, list[str]]:
        """Eq. 11 on one two-group batch (in :attr:`precision`), or None and the non-finite outputs."""
        images = batch["images"].to(self.device, memory_format=torch.channels_last, non_blocking=True)
        masks = batch["masks"].to(self.device, non_blocking=True)
        class_ids = batch["class_ids"].to(self.device, non_blocking=True)
        with autocast(self.device, self.precision):
            output = self.network(images)
            non_finite = non_finite_outputs(output)  # BCE would raise on a NaN map, so check first
            losses = None if non_finite else self.criterion(output, masks, class_ids)
        return losses, non_finite

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def skip_step(self, record: dict[str, Any], non_finite: list[str]) -> None:
        """Count, log and announce a step whose ``non_finite`` outputs (or loss) leave nothing to learn from."""
        self.skipped_steps += 1
        record["non_finite"] = non_finite
        warnings.warn(f"step {self.step}: non-finite {', '.join(non_finite)}; update skipped ({record})",
                      RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ the loop
    def fit(self, epochs: int | None = None, resume: bool = True) -> TrainResult:
        """Train up to ``epochs`` (see :meth:`train_epochs`); rank 0 first checks the output folder's free space,
        so a full disk fails before any step, and holds its lock throughout."""
        with channels_last_layout(self.model):
            if not self.context.is_main:
                return self.train_epochs(epochs, resume)
            ensure_writable_folder(self.out_dir, checkpoint_space_needed(self.model, self.checkpoint_path))
            with lock_run_folder(self.out_dir):
                return self.train_epochs(epochs, resume)

    def train_epochs(self, epochs: int | None, resume: bool) -> TrainResult:
        """Resume, then train up to ``epochs``.

        Ctrl-C and SIGTERM save a checkpoint and return with ``interrupted``; an error saves one and is
        raised again, except a full disk, which keeps the last good checkpoint (:class:`DiskFullError`).
        """
        epochs = self.config.epochs if epochs is None else epochs
        self.total_steps = epochs * self.steps_per_epoch()
        if resume:
            self.resume_everywhere()
        if self.context.is_main:
            truncate_log(self.out_dir / LOG_NAME, self.step)  # steps logged after the checkpoint are trained again
        start, interrupted = time.perf_counter(), False
        self.model.train()
        try:
            with (open(self.out_dir / LOG_NAME, "a", encoding="utf-8") if self.context.is_main else contextlib.nullcontext() as log,
                  terminate_as_interrupt()):
                while self.epoch < epochs:
                    self.run_epoch(log, epochs)
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    self.save()
        except KeyboardInterrupt:
            interrupted = True
            self.save()
            if self.context.is_main:
                print(f"\ninterrupted: checkpoint saved to {self.checkpoint_path}; run again to resume")
        except Exception as error:  # e.g. a corrupt image mid-epoch: keep the steps trained so far, then report
            if isinstance(error, DiskFullError) or is_disk_full(error):  # a save now would fill the disk again
                raise (error if isinstance(error, DiskFullError) else self.disk_full_error()) from None
            self.save()
            if self.context.is_main:  # an error in another process leaves rank 0's last end-of-epoch checkpoint
                print(f"\nstopped by an error after step {self.step}: checkpoint saved to {self.checkpoint_path}; "
                      "fix the problem and run again to resume", file=sys.stderr)
            raise
        return TrainResult(self.step, self.epoch, self.skipped_steps, interrupted, time.perf_counter() - start,
                           self.checkpoint_path, self.history)

    def steps_per_epoch(self) -> int:
        """Adam steps in one epoch (an incomplete last step is left out); a schedule needs a sized loader."""
        if not hasattr(self.loader, "__len__"):
            if self.config.lr_schedule != "constant":
                raise ValueError(f"lr_schedule={self.config.lr_schedule!r} needs a loader with a length")
            return 0
        return len(self.loader) // self.accumulation

    def epoch_batches(self) -> Iterable[dict[str, Any]]:
        """This process's batches of the epoch from ``batch_in_epoch`` on (more than 0 when resuming inside an epoch).

        A :class:`GroupPairSampler` skips the trained batches without loading their images; any
        other loader is iterated past them.
        """
        sampler = getattr(self.loader, "sampler", None)
        if isinstance(sampler, GroupPairSampler):
            sampler.set_epoch(self.epoch, start=self.batch_in_epoch)
            return self.loader
        if self.context.is_distributed:
            raise ValueError("a data-parallel run needs a loader with a GroupPairSampler (make_train_loader with rank and world_size)")
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch)
        return itertools.islice(self.loader, self.batch_in_epoch, None)

    def run_epoch(self, log, epochs: int) -> None:
        """The rest of the epoch, ``accumulation`` batches a step; rank 0 (``log`` not None) writes the records."""
        total = len(self.loader) * self.context.world_size if hasattr(self.loader, "__len__") else None
        show = self.progress and self.context.is_main
        with tqdm(total=total, initial=self.batch_in_epoch, desc=f"epoch {self.epoch + 1}/{epochs}", unit="batch",
                  disable=not show, leave=False, dynamic_ncols=True) as bar:
            for batches in chunks(self.epoch_batches(), self.accumulation):
                started = time.perf_counter()
                record = self.train_step(batches)
                record["seconds"] = time.perf_counter() - started
                record["groups"] = self.step_groups(batches)
                self.step += 1
                self.batch_in_epoch += self.batches_per_step
                self.history.append(record)
                bar.update(self.batches_per_step)
                bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k in self.criterion_terms(record)})
                if log is None:
                    continue
                log.write(json.dumps(record) + "\n")
                log.flush()
                for callback in self.callbacks:
                    callback(record)

    def step_groups(self, batches: Sequence[dict[str, Any]]) -> list[str]:
        """The groups (A and B of each batch) a step learned from, over all processes, in draw order."""
        per_process = distributed.gather(self.context, [batch.get("groups") or [] for batch in batches])
        return [name for k in range(self.accumulation) for share in per_process for name in share[k]]

    def describe_scale(self) -> str:
        """How many two-group batches one step learns from, and the learning rates (printed at the start)."""
        context = self.context
        processes = f"{context.world_size} processes ({context.backend})" if context.is_distributed else "1 process"
        rates = ", ".join(f"{group['name']} {group['lr']:.3g}" for group in self.optimizer.param_groups)
        return (f"{processes} on {self.device.type} ({describe_precision(self.precision)}) x accumulation {self.accumulation} = "
                f"{self.batches_per_step} two-group batch(es) of up to 2 x {self.config.max_group_size} images "
                f"per Adam step (the paper: 1); learning rate {rates}")

    @staticmethod
    def criterion_terms(record: dict[str, Any]) -> set[str]:
        return {"total", "bce", "iou", "gcm", "gst", "acm", "racm"} & set(record)


def read_log(out_dir: str | Path) -> list[dict[str, Any]]:
    """The per-step records of a run (``log.jsonl``)."""
    path = Path(out_dir) / LOG_NAME
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
