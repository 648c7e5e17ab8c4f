"""Training checkpoints: written atomically, resumable, with the RNG states and the configuration.

A checkpoint is written to a temporary file in the same folder, flushed to disk, then renamed over
the old one (``os.replace`` is atomic on POSIX and Windows), so a process killed mid-save leaves the
previous checkpoint intact. The temporary file such a process leaves behind is removed by the next
save to the same path; so is the partial file of a save that fails (e.g. a full disk).

A checkpoint holds only plain values (dicts, lists, tuples, numbers, strings, tensors) and every file
is read with ``torch.load(weights_only=True)``, which refuses anything else: a crafted pickle given
as a checkpoint cannot run code. Checkpoints of older gconet-lab versions stored numpy's RNG state
as an array; numpy arrays are the one allow-listed extra.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gconet_lab.config import GCoNetConfig
from gconet_lab.models.official_checkpoint import CheckpointError, read_checkpoint_file
from gconet_lab.models.weights import CHECKPOINT_FORMAT


def capture_rng_state() -> dict[str, Any]:
    """The Python, numpy, torch (and CUDA) generator states, as plain values and tensors."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = torch.from_numpy(numpy_state["state"]["key"].astype(np.int64))
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    numpy_state = state["numpy"]
    if isinstance(numpy_state, dict):  # an older checkpoint holds numpy's legacy tuple
        key = numpy_state["state"]["key"]
        numpy_state = {**numpy_state, "state": {**numpy_state["state"], "key": np.asarray(key, dtype=np.uint32)}}
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _temporary_files(path: Path) -> list[Path]:
    """The temporary files of :func:`atomic_save` for ``path`` (left over when a save was killed)."""
    prefix = f".{path.name}."
    return [p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]


def atomic_save(payload: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` so that readers only ever see the old or the new complete file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in _temporary_files(path):
        leftover.unlink(missing_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def estimated_checkpoint_bytes(model: torch.nn.Module) -> int:
    """About the size of a training checkpoint: the model's tensors and Adam's two moments per trainable weight."""
    weights = sum(tensor.numel() * tensor.element_size() for tensor in model.state_dict().values())
    moments = sum(2 * p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return weights + moments


def checkpoint_space_needed(model: torch.nn.Module, path: str | os.PathLike) -> int:
    """Free bytes a run needs for its checkpoints at ``path``: room for two whole copies.

    :func:`atomic_save` writes the new checkpoint beside the old one before the rename, so at that
    moment both are on disk; an existing checkpoint already holds the room of one of them.
    """
    path = Path(path)
    existing = path.stat().st_size if path.is_file() else 0
    return max(2 * estimated_checkpoint_bytes(model) - existing, 0)


def save_training_checkpoint(path: str | os.PathLike, *, model, optimizer, scaler, config: GCoNetConfig,
                             epoch: int, step: int, batch_in_epoch: int, class_names: list[str] | None = None) -> None:
    """Everything needed to resume: model, optimizer, AMP scaler, position, RNG states, config."""
    atomic_save(
        {
            "format": CHECKPOINT_FORMAT,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "config": config.to_dict(),
            "epoch": epoch,
            "step": step,
            "batch_in_epoch": batch_in_epoch,
            "rng": capture_rng_state(),
            "class_names": class_names,
        },
        path,
    )


def is_training_checkpoint(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT


def read_training_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A gconet_lab checkpoint as a dict; a clear error for foreign or truncated files."""
    payload = read_checkpoint_file(path)
    if not is_training_checkpoint(payload):
        raise CheckpointError(
            f"{os.fspath(path)!r} is not a gconet_lab training checkpoint; a model of any checkpoint loads "
            "with gconet_lab.gconet_plus(path)"
        )
    return payload

