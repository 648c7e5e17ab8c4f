"""Numeric precision of training and inference: float32, or autocast to bfloat16 / float16.

``precision`` is one of :data:`PRECISIONS`:

* ``"fp32"``: everything in float32 (the reference; parity tests use it);
* ``"bf16"``: ``torch.autocast`` to bfloat16. On a CPU with AVX-512 BF16 (or AMX) oneDNN runs
  convolutions and matrix products in bfloat16 with float32 accumulation; bfloat16 keeps
  float32's exponent range, so no loss scaling is needed;
* ``"fp16"``: autocast to float16 with a gradient scaler in training (CUDA's mixed precision);
* ``"auto"``: fp16 on CUDA, fp32 elsewhere. bf16 is opt-in on CPUs: measured here (tests/test_train's
  40-step square-mask task, tiny preset) bf16 autocast left the held-out MAE at 0.92x of its start
  where float32 reached 0.15x, and the cpu preset on COCO128 + synthetic groups (320 steps) scored
  iCoseg Sα 0.47 against float32's 0.62, so it is not the default until the losses are kept apart.

Autocast keeps the weights, the losses and the optimizer in float32: only the operations that
benefit (convolutions, matrix products) run in the lower precision. (torch is imported inside the
functions so that the command line's ``--help`` can list :data:`PRECISIONS` without loading it.)
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
AUTOCAST_DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16"}


def resolve_precision(precision: str, device: torch.device) -> str:
    """The concrete precision (``fp32``, ``bf16`` or ``fp16``) that ``precision`` means on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise ValueError("precision 'fp16' needs CUDA; on a CPU use 'bf16' or 'fp32'")
        return precision
    return "fp16" if device.type == "cuda" else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved ``precision`` on ``device`` (a no-op for fp32)."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=getattr(torch, AUTOCAST_DTYPE_NAMES[precision]))


def describe_precision(precision: str) -> str:
    """Words for the log header, e.g. ``bfloat16 autocast``."""
    return {"fp32": "float32", "bf16": "bfloat16 autocast", "fp16": "float16 mixed precision"}[precision]


__all__ = ["PRECISIONS", "autocast", "describe_precision", "resolve_precision"]
