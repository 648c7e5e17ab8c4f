"""FLOPs of a forward pass, the peak FLOP/s a CPU is assumed to have, and a peak stated by hand."""

from __future__ import annotations

import pytest
import torch

from gconet_lab.inference.flops import count_flops, estimate_cpu_peak, given_peak


def cpuinfo(vendor: str, flags: str, mhz: str = "2600.000") -> str:
    """The first lines of one processor in /proc/cpuinfo."""
    return f"processor\t: 0\nvendor_id\t: {vendor}\ncpu MHz\t\t: {mhz}\nflags\t\t: fpu sse sse2 {flags}\n"


def test_flops_of_one_convolution_are_two_per_multiply_add():
    conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1)  # the bias adds nothing: the counter counts products
    for batch in (1, 2):
        images = torch.randn(batch, 3, 16, 12)
        assert count_flops(lambda: conv(images)) == batch * 2 * 3 * 8 * 3 * 3 * 16 * 12


def test_zen4_peak_counts_512_bit_ops_on_two_256_bit_pipes():
    zen4 = cpuinfo("AuthenticAMD", "avx2 fma avx512f avx512bw avx512_bf16")
    peak = estimate_cpu_peak(2, zen4)
    assert peak.gflops == pytest.approx({"fp32": 2 * 2.6 * 32, "bf16": 2 * 2.6 * 64})
    assert "Zen 4" in peak.assumption and "2.60 GHz (cpu MHz in /proc/cpuinfo)" in peak.assumption
    peak = estimate_cpu_peak(4, zen4, max_freq_khz="3700000\n")  # the maximum clock wins over the current one
    assert peak.gflops == pytest.approx({"fp32": 4 * 3.7 * 32, "bf16": 4 * 3.7 * 64})
    assert "3.70 GHz (cpuinfo_max_freq)" in peak.assumption


def test_intel_peaks_by_instruction_set():
    avx512_bf16 = estimate_cpu_peak(1, cpuinfo("GenuineIntel", "avx2 fma avx512f avx512_bf16", mhz="2000.0"))
    assert avx512_bf16.gflops == pytest.approx({"fp32": 2.0 * 64, "bf16": 2.0 * 128})
    amx = estimate_cpu_peak(1, cpuinfo("GenuineIntel", "avx2 avx512f avx512_bf16 amx_bf16 amx_tile", mhz="2000.0"))
    assert amx.gflops == pytest.approx({"fp32": 2.0 * 64, "bf16": 2.0 * 1024})
    skylake = estimate_cpu_peak(1, cpuinfo("GenuineIntel", "avx2 fma avx512f", mhz="2000.0"))
    assert skylake.gflops == pytest.approx({"fp32": 2.0 * 64})  # no bf16 arithmetic: no bf16 peak
    avx2 = estimate_cpu_peak(1, cpuinfo("AuthenticAMD", "avx2 fma", mhz="2000.0"))
    assert avx2.gflops == pytest.approx({"fp32": 2.0 * 32})
    assert estimate_cpu_peak(1, cpuinfo("GenuineIntel", "sse4_2")) is None  # not in the table: no guess
    assert estimate_cpu_peak(1, "") is None  # no /proc/cpuinfo


def test_a_given_peak_is_one_value_for_every_precision_or_one_each():
    assert given_peak([500.0]).gflops == {"fp32": 500.0, "bf16": 500.0}
    assert given_peak([500.0, 1000.0]).gflops == {"fp32": 500.0, "bf16": 1000.0}
    assert "given" in given_peak([500.0]).assumption
    with pytest.raises(ValueError, match="one peak"):
        given_peak([1.0, 2.0, 3.0])
