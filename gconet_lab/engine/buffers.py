"""Snapshot and restore a model's buffers, so that a skipped training step changes nothing.

BatchNorm updates its running mean, variance and batch count during the forward pass of a
training step, before the loss is known. When the step is then skipped because an output or the
loss is not finite, :func:`restore_buffers` puts back the values :func:`snapshot_buffers` kept,
so a diverged batch cannot leave NaN statistics in the model (and in its checkpoints).
"""

from __future__ import annotations

import torch
from torch import nn


def snapshot_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every buffer of ``model`` (BatchNorm running statistics and batch counts)."""
    return {name: buffer.detach().clone() for name, buffer in model.named_buffers()}


@torch.no_grad()
def restore_buffers(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> None:
    """Copy the values of :func:`snapshot_buffers` back into ``model``'s buffers, in place."""
    for name, buffer in model.named_buffers():
        buffer.copy_(snapshot[name])
