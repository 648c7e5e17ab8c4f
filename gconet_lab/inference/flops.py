"""How much of the machine a forward pass uses: its FLOPs, and the fraction of the peak FLOP/s it reaches.

**FLOPs** are counted by :class:`torch.utils.flop_counter.FlopCounterMode` on one forward pass:
it adds up the multiply-adds of the convolutions and matrix products (2 FLOPs each; a k x k
convolution from Cin to Cout channels on an H x W output costs ``2 Cin Cout k k H W``) and ignores
element-wise work (BatchNorm, activations, the CEM's sigmoid), which is small beside them.

**Fraction of peak** = achieved FLOP/s / peak FLOP/s, with achieved = FLOPs per image / seconds
per image. Near 1 the convolutions keep the arithmetic units busy; far below 1 the time goes to
memory traffic, layout changes, small layers or the work the counter ignores.

**Peak** on a CPU is estimated as

    peak FLOP/s = threads x clock x FLOP per cycle per core

with :data:`CORE_THROUGHPUT`: per core, (FMA units) x (lanes of a vector) x 2 (a fused multiply-add
is two FLOPs). For float32 with AVX-512 that is 2 units x 16 lanes x 2 = 64; AMD Zen 4 runs each
512-bit instruction on its two 256-bit FMA pipes, so it has half of that, 32. bfloat16's
``VDPBF16PS`` multiplies twice as many (bf16) pairs per instruction as float32's FMA: twice the
float32 number. The clock is the maximum one (``cpuinfo_max_freq``) where Linux states it, else the
``cpu MHz`` of ``/proc/cpuinfo``. The estimate assumes one torch thread per physical core, all at
that clock: with two hyper-threads per core, or a lower all-core turbo, the true peak is lower.
On CUDA nothing is estimated: give the GPU's data-sheet peak (``--peak-gflops``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from gconet_lab.engine.precision import cpuinfo_value, has_native_bf16, read_cpuinfo

CPU_MAX_FREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")  # in kHz


class CoreThroughput(NamedTuple):
    """FLOP per cycle of one core, for the CPUs whose ``vendor_id`` (any when empty) and ``flags`` match."""

    name: str
    vendor: str
    flag: str
    fp32: int
    bf16: int | None  # None: no bf16 arithmetic


CORE_THROUGHPUT = (  # the first row that matches is used
    CoreThroughput("Intel AMX: fp32 on two 512-bit FMA units, bf16 on AMX tiles", "GenuineIntel", "amx_bf16", 64, 1024),
    CoreThroughput("AMD AVX-512, taken as Zen 4: 512-bit ops on two 256-bit FMA pipes", "AuthenticAMD", "avx512f",
                   32, 64),
    CoreThroughput("Intel AVX-512: two 512-bit FMA units", "GenuineIntel", "avx512f", 64, 128),
    CoreThroughput("AVX2: two 256-bit FMA units", "", "avx2", 32, None),
)


@dataclass(frozen=True)
class Peak:
    """Peak GFLOP/s by precision (``fp32``, ``bf16``), and how it was obtained (printed with the results)."""

    gflops: dict[str, float]
    assumption: str


def count_flops(forward: Callable[[], object]) -> int:
    """FLOPs of the convolutions and matrix products that one call of ``forward`` runs."""
    with FlopCounterMode(display=False) as counter:
        forward()
    return counter.get_total_flops()


def cpu_clock_ghz(cpuinfo: str, max_freq_khz: str = "") -> tuple[float, str] | None:
    """The clock in GHz and where it was read: ``cpuinfo_max_freq`` text (kHz) if any, else ``cpu MHz``."""
    if max_freq_khz.strip():
        return int(max_freq_khz) / 1e6, "cpuinfo_max_freq"
    mhz = cpuinfo_value(cpuinfo, "cpu MHz")
    return (float(mhz) / 1e3, "cpu MHz in /proc/cpuinfo") if mhz else None


def estimate_cpu_peak(threads: int, cpuinfo: str, max_freq_khz: str = "") -> Peak | None:
    """The module's formula on ``/proc/cpuinfo`` text; None for a CPU outside :data:`CORE_THROUGHPUT`."""
    vendor, flags = cpuinfo_value(cpuinfo, "vendor_id"), set(cpuinfo_value(cpuinfo, "flags").split())
    core = next((row for row in CORE_THROUGHPUT if row.vendor in ("", vendor) and row.flag in flags), None)
    clock = cpu_clock_ghz(cpuinfo, max_freq_khz)
    if core is None or clock is None:
        return None
    ghz, source = clock
    per_cycle = {"fp32": core.fp32}
    if core.bf16 and has_native_bf16(torch.device("cpu"), cpuinfo):
        per_cycle["bf16"] = core.bf16
    gflops = {precision: threads * ghz * flop for precision, flop in per_cycle.items()}
    return Peak(gflops, (
        f"peak = {threads} threads x {ghz:.2f} GHz ({source}) x FLOP/cycle/core "
        f"({', '.join(f'{p} {n}' for p, n in per_cycle.items())}) = "
        f"{', '.join(f'{p} {g:.0f}' for p, g in gflops.items())} GFLOP/s "
        f"[{core.name}; assumes one thread per physical core at that clock]"
    ))


def estimate_peak(device: torch.device) -> Peak | None:
    """This machine's estimated peak for ``device`` with torch's current thread count; None on GPUs."""
    if device.type != "cpu":
        return None
    max_freq = CPU_MAX_FREQ.read_text() if CPU_MAX_FREQ.is_file() else ""
    return estimate_cpu_peak(torch.get_num_threads(), read_cpuinfo(), max_freq)


def given_peak(gflops: Sequence[float]) -> Peak:
    """A peak the user states (``--peak-gflops``): one value for every precision, or two (fp32, bf16)."""
    if len(gflops) not in (1, 2):
        raise ValueError(f"give one peak for every precision or two (fp32, bf16), got {len(gflops)} values")
    values = dict(zip(("fp32", "bf16"), gflops if len(gflops) == 2 else [gflops[0]] * 2))
    return Peak(values, f"peak given: {', '.join(f'{p} {g:g}' for p, g in values.items())} GFLOP/s")
