"""Numeric precision of training and inference: float32, or autocast to bfloat16 / float16.

``precision`` is one of :data:`PRECISIONS`:

* ``"fp32"``: everything in float32 (the reference; parity tests use it);
* ``"bf16"``: ``torch.autocast`` to bfloat16. On a CPU with AVX-512 BF16 (or AMX) oneDNN runs
  convolutions and matrix products in bfloat16 with float32 accumulation; bfloat16 keeps
  float32's exponent range, so no loss scaling is needed;
* ``"fp16"``: autocast to float16 with a gradient scaler in training (CUDA's mixed precision);
* ``"auto"``: fp16 on CUDA, bf16 on a CPU that computes it natively, fp32 otherwise.

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


def cpu_computes_bf16() -> bool:
    """Whether this CPU has native bfloat16 arithmetic (AVX-512 BF16 or AMX) that oneDNN uses."""
    import torch

    return torch.backends.mkldnn.is_available() and (
        torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    )


def resolve_precision(precision: str, device: torch.device) -> str:
    """The concrete precision (``fp32``, ``bf16`` or ``fp16``) that ``precision`` means on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise ValueError("precision 'fp16' needs CUDA; on a CPU use 'bf16' or 'fp32'")
        return precision
    if device.type == "cuda":
        return "fp16"
    return "bf16" if device.type == "cpu" and cpu_computes_bf16() else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of a resolved ``precision`` on ``device`` (a no-op for fp32)."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=getattr(torch, AUTOCAST_DTYPE_NAMES[precision]))


def describe_precision(precision: str) -> str:
    """Words for the log header, e.g. ``bfloat16 autocast``."""
    return {"fp32": "float32", "bf16": "bfloat16 autocast", "fp16": "float16 mixed precision"}[precision]


__all__ = ["PRECISIONS", "autocast", "cpu_computes_bf16", "describe_precision", "resolve_precision"]
