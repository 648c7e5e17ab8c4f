"""The training loop of GCoNet+ (Sec. 4.3): one code path for CUDA (mixed precision) and CPU.

Each step takes a two-group batch (Eq. 16), computes the objective of Eq. 11 with its per-term
breakdown, and takes one Adam step (lr 3e-4, betas (0.9, 0.99); the encoder may get a smaller
learning rate).  Every step is appended to ``log.jsonl``; a checkpoint is written atomically at the
end of every epoch and when the run is interrupted (Ctrl-C) or stopped by an error (e.g. a corrupt
image), and ``resume=True`` continues from it on the same trajectory, inside an epoch too.
Callbacks receive every step's record, so a notebook can plot live.

Faults (see :meth:`Trainer.fit` and :meth:`Trainer.train_step`): the output folder is checked for
write access and free space before the first step; a step whose output or loss is not finite, after
the CEM's own k fallback, is skipped with a warning and marked ``"skipped": true`` in the log.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import random
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoint import (
    estimated_checkpoint_bytes,
    read_training_checkpoint,
    restore_rng_state,
    save_training_checkpoint,
)
from .config import GCoNetConfig
from .data.sampling import GroupPairSampler
from .losses import GCoNetLoss
from .storage import ensure_writable_folder

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.jsonl"


class Callback(Protocol):
    def __call__(self, record: dict[str, Any]) -> None: ...


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


@dataclass
class TrainResult:
    steps: int
    epochs_completed: int
    skipped_steps: int
    interrupted: bool
    seconds: float
    checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Trains ``model`` on a loader of two-group batches (dicts with images, masks, class_ids)."""

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
    ) -> None:
        self.device = select_device(str(device) if device else None)
        self.model = model.to(self.device)
        self.config = config
        self.loader = loader
        self.out_dir = Path(out_dir)
        self.callbacks = list(callbacks)
        self.class_names = class_names
        self.progress = progress
        self.criterion = GCoNetLoss(config)
        self.optimizer = make_optimizer(model, config)
        self.use_amp = self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if self.use_amp else None
        self.epoch = 0  # epochs completed
        self.step = 0
        self.batch_in_epoch = 0  # batches of the current epoch already trained
        self.skipped_steps = 0
        self.history: list[dict[str, Any]] = []

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> None:
        save_training_checkpoint(
            self.checkpoint_path, model=self.model, optimizer=self.optimizer, scaler=self.scaler,
            config=self.config, epoch=self.epoch, step=self.step, batch_in_epoch=self.batch_in_epoch,
            class_names=self.class_names,
        )

    def resume(self) -> bool:
        """Continue from ``out_dir/checkpoint.pt`` if present; returns whether it did."""
        if not self.checkpoint_path.exists():
            return False
        payload = read_training_checkpoint(self.checkpoint_path)
        if payload["config"] != self.config.to_dict():
            changed = sorted(k for k, v in self.config.to_dict().items() if payload["config"].get(k) != v)
            raise ValueError(f"{self.checkpoint_path} was trained with a different configuration (differs in {changed}); "
                             "use another output folder or the same configuration")
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scaler is not None and payload["scaler"] is not None:
            self.scaler.load_state_dict(payload["scaler"])
        self.epoch, self.step, self.batch_in_epoch = payload["epoch"], payload["step"], payload["batch_in_epoch"]
        restore_rng_state(payload["rng"])
        return True

    # ------------------------------------------------------------------ one step
    def train_step(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Forward, Eq. 11, backward, Adam; a non-finite output or loss skips the update with a warning.

        The check comes after the model's own remedy: the CEM already recomputes Eq. 3 with the
        fallback k when k = 300 overflows (Sec. 4.3), so only what that cannot fix is skipped.
        """
        images = batch["images"].to(self.device, non_blocking=True)
        masks = batch["masks"].to(self.device, non_blocking=True)
        class_ids = batch["class_ids"].to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
            output = self.model(images)
            non_finite = non_finite_outputs(output)  # BCE would raise on a NaN map, so check first
            losses = None if non_finite else self.criterion(output, masks, class_ids)
        record: dict[str, Any] = {"epoch": self.epoch, "step": self.step, "total": math.nan}
        if losses is not None:
            record.update(losses.as_floats())
            non_finite = [] if math.isfinite(record["total"]) else ["loss"]
        record["skipped"] = bool(non_finite)
        if non_finite:
            self.skip_step(record, non_finite)
        elif self.scaler is not None:
            self.scaler.scale(losses.total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            losses.total.backward()
            self.optimizer.step()
        return record

    def skip_step(self, record: dict[str, Any], non_finite: list[str]) -> None:
        """Count, log and announce a step whose ``non_finite`` outputs (or loss) leave nothing to learn from."""
        self.skipped_steps += 1
        record["non_finite"] = non_finite
        warnings.warn(f"step {self.step}: non-finite {', '.join(non_finite)}; update skipped ({record})",
                      RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ the loop
    def fit(self, epochs: int | None = None, resume: bool = True) -> TrainResult:
        """Train up to ``epochs``; the output folder is checked first, so a full disk fails before any step."""
        epochs = self.config.epochs if epochs is None else epochs
        ensure_writable_folder(self.out_dir, estimated_checkpoint_bytes(self.model))
        if resume:
            self.resume()
        start, interrupted = time.perf_counter(), False
        self.model.train()
        try:
            with open(self.out_dir / LOG_NAME, "a", encoding="utf-8") as log:
                while self.epoch < epochs:
                    self.run_epoch(log, epochs)
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    self.save()
        except KeyboardInterrupt:
            interrupted = True
            self.save()
            print(f"\ninterrupted: checkpoint saved to {self.checkpoint_path}; run again to resume")
        except Exception:  # e.g. a corrupt image mid-epoch: keep the steps trained so far, then report
            self.save()
            print(f"\nstopped by an error after step {self.step}: checkpoint saved to {self.checkpoint_path}; "
                  "fix the problem and run again to resume", file=sys.stderr)
            raise
        return TrainResult(self.step, self.epoch, self.skipped_steps, interrupted, time.perf_counter() - start,
                           self.checkpoint_path, self.history)

    def epoch_batches(self) -> Iterable[dict[str, Any]]:
        """This epoch's batches from ``batch_in_epoch`` on (more than 0 when resuming inside an epoch).

        A :class:`GroupPairSampler` skips the trained batches without loading their images; any
        other loader is iterated past them.
        """
        sampler = getattr(self.loader, "sampler", None)
        if isinstance(sampler, GroupPairSampler):
            sampler.set_epoch(self.epoch, start=self.batch_in_epoch)
            return self.loader
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch)
        return itertools.islice(self.loader, self.batch_in_epoch, None)

    def run_epoch(self, log, epochs: int) -> None:
        total = len(self.loader) if hasattr(self.loader, "__len__") else None
        bar = tqdm(self.epoch_batches(), total=total, desc=f"epoch {self.epoch + 1}/{epochs}",
                   disable=not self.progress, initial=self.batch_in_epoch, leave=False, dynamic_ncols=True)
        for index, batch in enumerate(bar, start=self.batch_in_epoch):
            started = time.perf_counter()
            record = self.train_step(batch)
            record["seconds"] = time.perf_counter() - started
            record["groups"] = batch.get("groups")
            self.step += 1
            self.batch_in_epoch = index + 1
            self.history.append(record)
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k in self.criterion_terms(record)})
            for callback in self.callbacks:
                callback(record)

    @staticmethod
    def criterion_terms(record: dict[str, Any]) -> set[str]:
        return {"total", "bce", "iou", "gcm", "gst", "acm", "racm"} & set(record)


def read_log(out_dir: str | Path) -> list[dict[str, Any]]:
    """The per-step records of a run (``log.jsonl``)."""
    path = Path(out_dir) / LOG_NAME
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
