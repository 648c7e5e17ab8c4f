"""Numeric precision of training and inference: one vocabulary for every command and the Python API.

``precision`` is one of :data:`PRECISIONS`, and each word means the same on every device:

* ``"fp32"``: everything in float32, with no autocast anywhere (the reference; parity tests use it);
* ``"bf16"``: bfloat16 arithmetic. Training: ``torch.autocast`` to bfloat16 (weights, losses and the
  optimizer stay float32; bfloat16 keeps float32's exponent range, so no loss scaling). Inference:
  the fast path's bfloat16 copy (:mod:`gconet_lab.inference.fast_inference`);
* ``"fp16"``: float16 arithmetic, CUDA only. Training: autocast to float16 with a gradient scaler
  (CUDA's mixed precision). Inference: the fast path's float16 copy;
* ``"auto"``: ``fp16`` on CUDA, ``fp32`` elsewhere; :func:`resolve_precision` resolves it and the
  command line prints its choice. bf16 is never chosen for you: training in it can fail (why:
  docs/experiments.md, "bf16 training").

A precision is only accepted where the device computes it natively: :func:`resolve_precision`
raises :class:`PrecisionUnsupportedError` otherwise, because an emulated bf16 (converted to float32
and back) is many times slower than float32 itself. :func:`has_native_bf16` says whether this
machine has bf16 arithmetic; the environment variable ``GCONET_LAB_NATIVE_BF16`` (``0`` or ``1``)
overrides its answer, so one machine can run the tests and notebooks of either kind of CPU.
torch's ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` does not tell: oneDNN emulates bf16 on any
AVX-512 CPU, and that check is true there too.

(torch is imported inside the functions so that the command line's ``--help`` can list
:data:`PRECISIONS` without loading it.)
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
AUTOCAST_DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16"}
CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}  # x86 instructions that compute in bfloat16
NATIVE_BF16_ENV = "GCONET_LAB_NATIVE_BF16"  # "0" or "1": overrides has_native_bf16's answer


class PrecisionUnsupportedError(ValueError):
    """The asked precision has no native arithmetic on this device: it would run emulated, slowly."""


def resolve_precision(precision: str, device: torch.device) -> str:
    """The concrete precision (``fp32``, ``bf16`` or ``fp16``) that ``precision`` means on ``device``.

    Raises :class:`PrecisionUnsupportedError` where ``device`` would only emulate it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "fp16" if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise PrecisionUnsupportedError("fp16 needs CUDA (a CPU would emulate it); use --precision fp32 or bf16")
    if precision == "bf16" and not has_native_bf16(device):
        missing = "a GPU with bfloat16 arithmetic (Ampere or newer)" if device.type == "cuda" else (
            "a CPU with AVX-512 BF16 or AMX (avx512_bf16 or amx_bf16 in /proc/cpuinfo)")
        raise PrecisionUnsupportedError(f"bf16 needs {missing}, which this machine lacks (emulated, it would be "
                                        "slower than float32); use --precision fp32")
    return precision


def native_precisions(device: torch.device) -> tuple[str, ...]:
    """The concrete precisions ``device`` computes natively, e.g. ``("fp32",)`` on a CPU without bf16."""
    return ("fp32",) + (("bf16",) if has_native_bf16(device) else ()) + (("fp16",) if device.type == "cuda" else ())


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The training autocast of a resolved ``precision`` on ``device`` (a no-op for fp32)."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=getattr(torch, AUTOCAST_DTYPE_NAMES[precision]))


def describe_precision(precision: str) -> str:
    """Words for the training log's header, e.g. ``bfloat16 autocast``."""
    return {"fp32": "float32", "bf16": "bfloat16 autocast", "fp16": "float16 mixed precision"}[precision]


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


def native_bf16_override() -> bool | None:
    """``GCONET_LAB_NATIVE_BF16`` as a bool (``0``/``1``), or None when it is unset or empty."""
    value = os.environ.get(NATIVE_BF16_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"{NATIVE_BF16_ENV} must be 0 or 1, got {value!r}")
    return None if value == "" else value == "1"


def has_native_bf16(device: torch.device, cpuinfo: str | None = None) -> bool:
    """Whether ``device`` computes in bfloat16 itself (not by emulation in float32).

    ``GCONET_LAB_NATIVE_BF16=0|1`` answers for every device (CI runs the bf16-less branch on any CPU).
    Otherwise CUDA: the GPU's own answer (Ampere and newer). CPU: an ``avx512_bf16`` (AVX-512 BF16,
    e.g. AMD Zen 4, Intel Cooper Lake) or ``amx_bf16`` (Intel AMX, Sapphire Rapids) flag in
    ``/proc/cpuinfo`` (``cpuinfo`` text instead of the machine's, for tests). Anything else: no.
    """
    import torch

    override = native_bf16_override()
    if override is not None:
        return override
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        flags = set(cpuinfo_value(read_cpuinfo() if cpuinfo is None else cpuinfo, "flags").split())
        return bool(flags & NATIVE_BF16_CPU_FLAGS)
    return False


__all__ = [
    "NATIVE_BF16_ENV", "PRECISIONS", "PrecisionUnsupportedError", "autocast", "cpuinfo_value", "describe_precision",
    "has_native_bf16", "native_bf16_override", "native_precisions", "read_cpuinfo", "resolve_precision",
]
