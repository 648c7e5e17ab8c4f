"""Numeric precision of training and inference: float32, or autocast to bfloat16 / float16.

``precision`` is one of :data:`PRECISIONS`:

* ``"fp32"``: everything in float32 (the reference; parity tests use it);
* ``"bf16"``: ``torch.autocast`` to bfloat16. On a CPU with AVX-512 BF16 (or AMX) oneDNN runs
  convolutions and matrix products in bfloat16 with float32 accumulation; bfloat16 keeps
  float32's exponent range, so no loss scaling is needed;
* ``"fp16"``: autocast to float16 with a gradient scaler in training (CUDA's mixed precision);
* ``"auto"``: fp16 on CUDA, fp32 elsewhere. bf16 is opt-in on CPUs: measured here (tests/test_train's
  40-step square-mask task, tiny preset) bf16 autocast left the held-out MAE at 0.92x of its start
  where float32 reached 0.15x (keeping the losses in float32 did not change that), and the cpu preset
  on COCO128 + synthetic groups with a constant learning rate (320 steps) scored iCoseg Sα 0.47
  against float32's 0.62. The ``cpu-copypaste`` recipe as it was then (632 steps on CopyPaste +
  COCO128-SEG), run twice in each precision (iCoseg Sα / max Fβ): with the encoder trained, seed 7,
  bf16 0.644 / 0.639 and float32 0.638 / 0.645; with it frozen, seed 7, bf16 0.639 / 0.640 and
  float32 0.654 / 0.645, and seed 8, float32 0.651 / 0.644 but bf16 **0.365 / 0.285**: from the
  first epoch its BCE stayed at 1.2 (float32: 0.37), the maps saturated and never recovered. A bf16
  step is 1.2-1.4x faster than a float32 one (0.59 s against 0.70 s channels-last, encoder frozen),
  not worth a run that can fail this way.

Autocast keeps the weights, the losses and the optimizer in float32: only the operations that
benefit (convolutions, matrix products) run in the lower precision. (torch is imported inside the
functions so that the command line's ``--help`` can list :data:`PRECISIONS` without loading it.)

bfloat16 is only fast where the hardware computes it: :func:`has_native_bf16` says whether it does
here, and :func:`check_native_precision` refuses bf16 where it would be emulated (converted to
float32 and back, usually slower than float32 itself). torch's
``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` does not tell: oneDNN emulates bf16 on any
AVX-512 CPU, and that check is true there too.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
INFERENCE_PRECISIONS = ("fp32", "bf16")  # the fast path's (inference.fast_inference.FAST_PRECISIONS)
AUTOCAST_DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16"}
CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}  # x86 instructions that compute in bfloat16


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


class PrecisionUnsupportedError(RuntimeError):
    """The asked precision has no native arithmetic on this device: it would run emulated, slowly."""


def read_cpuinfo() -> str:
    """The text of ``/proc/cpuinfo``; empty where there is none (not Linux)."""
    return CPUINFO.read_text() if CPUINFO.is_file() else ""


def cpuinfo_value(cpuinfo: str, key: str) -> str:
    """The value of the first ``key : value`` line of ``/proc/cpuinfo`` text (one processor's), else ``""``."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return ""


def has_native_bf16(device: torch.device, cpuinfo: str | None = None) -> bool:
    """Whether ``device`` computes in bfloat16 itself (not by emulation in float32).

    CUDA: the GPU's own answer (Ampere and newer). CPU: an ``avx512_bf16`` (AVX-512 BF16, e.g.
    AMD Zen 4, Intel Cooper Lake) or ``amx_bf16`` (Intel AMX, Sapphire Rapids) flag in
    ``/proc/cpuinfo`` (``cpuinfo`` text instead of the machine's, for tests). Anything else: no.
    """
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        flags = set(cpuinfo_value(read_cpuinfo() if cpuinfo is None else cpuinfo, "flags").split())
        return bool(flags & NATIVE_BF16_CPU_FLAGS)
    return False


def check_native_precision(precision: str, device: torch.device) -> None:
    """Raise :class:`PrecisionUnsupportedError` for ``bf16`` where :func:`has_native_bf16` is false."""
    if precision != "bf16" or has_native_bf16(device):
        return
    missing = "a GPU with bfloat16 arithmetic (Ampere or newer)" if device.type == "cuda" else (
        "a CPU with AVX-512 BF16 or AMX (avx512_bf16 or amx_bf16 in /proc/cpuinfo)")
    raise PrecisionUnsupportedError(f"bf16 needs {missing}, which this machine lacks (emulated, it would be "
                                    "slower than float32); use --precision fp32")


__all__ = [
    "INFERENCE_PRECISIONS", "PRECISIONS", "PrecisionUnsupportedError", "autocast", "check_native_precision",
    "cpuinfo_value", "describe_precision", "has_native_bf16", "read_cpuinfo", "resolve_precision",
]
