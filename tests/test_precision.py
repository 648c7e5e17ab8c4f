"""Precision choices: what ``auto`` means, bf16 autocast in training, the bf16 fast inference path, and where
bf16 is native (elsewhere the command line refuses it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gconet_lab.cli import main
from gconet_lab.config import make_config
from gconet_lab.engine.checkpoint import save_training_checkpoint
from gconet_lab.engine.precision import (
    PrecisionUnsupportedError,
    autocast,
    has_native_bf16,
    native_precisions,
    resolve_precision,
)
from gconet_lab.engine.train import Trainer, make_optimizer
from gconet_lab.inference.evaluate import predict_group
from gconet_lab.inference.fast_inference import make_fast_model
from gconet_lab.models import GCoNetPlus

CPU = torch.device("cpu")


def test_auto_is_float32_on_cpu_and_fp16_needs_cuda(native_bf16):
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("auto", torch.device("cuda")) == "fp16"
    assert resolve_precision("bf16", CPU) == "bf16"
    assert resolve_precision("fp32", torch.device("cuda")) == "fp32"  # fp32 means float32 on every device
    with pytest.raises(PrecisionUnsupportedError, match="fp16 needs CUDA"):
        resolve_precision("fp16", CPU)
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("int8", CPU)


def test_bf16_autocast_runs_convolutions_in_bfloat16():
    conv = torch.nn.Conv2d(3, 4, 3)
    with autocast(CPU, "bf16"):
        assert conv(torch.randn(1, 3, 8, 8)).dtype == torch.bfloat16
    with autocast(CPU, "fp32"):
        assert conv(torch.randn(1, 3, 8, 8)).dtype == torch.float32


def test_trainer_reports_its_precision(tmp_path, tiny_config, native_bf16):
    trainer = Trainer(GCoNetPlus(tiny_config), tiny_config, [{}], tmp_path, device="cpu", progress=False,
                      precision="bf16")
    assert "bfloat16 autocast" in trainer.describe_scale()
    assert trainer.scaler is None  # bfloat16 keeps float32's exponent range: no loss scaling


def test_bf16_fast_path_is_close_to_float32(tiny_config, native_bf16):
    model = GCoNetPlus(tiny_config.replace(cem_k=10.0)).eval()
    images = torch.randn(3, 3, 64, 64)
    reference = make_fast_model(model)(images).saliency
    bf16 = make_fast_model(model, precision="bf16")
    output = bf16(images).saliency
    assert output.dtype == torch.float32 and output.shape == reference.shape
    assert next(bf16.parameters()).dtype == torch.bfloat16
    assert 0 < (output - reference).abs().max().item() < 0.05  # 8 mantissa bits: close, not equal
    with pytest.raises(PrecisionUnsupportedError, match="fp16 needs CUDA"):
        make_fast_model(model, precision="fp16")


# --- where bf16 is native, and the command line refusing it elsewhere ---------------------------

ZEN4 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nflags\t\t: fpu sse avx2 fma avx512f avx512bw avx512_bf16\n"
SKYLAKE = "vendor_id\t: GenuineIntel\nflags\t\t: fpu sse avx2 fma avx512f avx512bw avx512vl\n"
SAPPHIRE_RAPIDS = "vendor_id\t: GenuineIntel\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"


def test_native_bf16_is_read_from_the_cpu_flags():
    assert has_native_bf16(CPU, ZEN4) and has_native_bf16(CPU, SAPPHIRE_RAPIDS)
    assert not has_native_bf16(CPU, SKYLAKE)  # AVX-512 without bf16 arithmetic: oneDNN would emulate it
    assert not has_native_bf16(CPU, "")  # no /proc/cpuinfo: not known, so not native


def test_the_environment_switch_overrides_the_cpu_flags(monkeypatch):
    monkeypatch.setenv("GCONET_LAB_NATIVE_BF16", "0")
    assert not has_native_bf16(CPU, ZEN4) and native_precisions(CPU) == ("fp32",)
    monkeypatch.setenv("GCONET_LAB_NATIVE_BF16", "1")
    assert has_native_bf16(CPU, SKYLAKE) and native_precisions(CPU) == ("fp32", "bf16")
    monkeypatch.setenv("GCONET_LAB_NATIVE_BF16", "yes")
    with pytest.raises(ValueError, match="GCONET_LAB_NATIVE_BF16 must be 0 or 1"):
        has_native_bf16(CPU)


def test_bf16_is_refused_where_it_would_be_emulated(monkeypatch, tiny_config):
    monkeypatch.setenv("GCONET_LAB_NATIVE_BF16", "0")
    assert resolve_precision("fp32", CPU) == "fp32"  # float32 is never refused
    with pytest.raises(PrecisionUnsupportedError, match="AVX-512 BF16 or AMX.*use --precision fp32"):
        resolve_precision("bf16", CPU)
    model = GCoNetPlus(tiny_config)
    with pytest.raises(PrecisionUnsupportedError, match="AVX-512 BF16 or AMX.*use --precision fp32"):
        make_fast_model(model, precision="bf16")  # the library refuses what the command line refuses
    with pytest.raises(PrecisionUnsupportedError, match="AVX-512 BF16 or AMX"):
        Trainer(model, tiny_config, [{}], Path("unused"), device="cpu", progress=False, precision="bf16")


def write_tiny_checkpoint(path: Path) -> Path:
    """A checkpoint of an untrained tiny model with the cpu preset's CEM k = 10 (see the bf16 map test)."""
    config = make_config("tiny", cem_k=10.0)
    model = GCoNetPlus(config)
    save_training_checkpoint(path, model=model, optimizer=make_optimizer(model, config), scaler=None, config=config,
                             epoch=1, step=0, batch_in_epoch=0)
    return path


@pytest.mark.parametrize("command", ["predict", "evaluate", "benchmark"])
def test_cli_refuses_bf16_where_not_native_in_one_line(command, monkeypatch, tmp_path, write_cosod_set, capsys):
    monkeypatch.setattr("gconet_lab.engine.precision.has_native_bf16", lambda device: False)
    root = write_cosod_set({"ant": 2})
    checkpoint = str(write_tiny_checkpoint(tmp_path / "checkpoint.pt"))
    argv = {
        "predict": ["predict", "--checkpoint", checkpoint, "--images", str(root / "images" / "Tiny"),
                    "--out", str(tmp_path / "maps")],
        "evaluate": ["evaluate", "--checkpoint", checkpoint, "--data", str(root), "--set", "Tiny",
                     "--out", str(tmp_path / "eval")],
        "benchmark": ["benchmark", "--preset", "tiny", "--tasks", "inference", "--device", "cpu",
                      "--out", str(tmp_path / "bench")],
    }[command]
    with pytest.raises(SystemExit) as exit_:
        main(argv + ["--precision", "bf16"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(lines) == 1
    assert lines[0].startswith(f"gconet-lab {command}: error: bf16 needs a CPU with AVX-512 BF16 or AMX")
    assert "use --precision fp32" in lines[0]
    assert not (tmp_path / "maps").exists() and not (tmp_path / "eval").exists()  # refused before any work


@pytest.mark.slow
def test_predict_in_bf16_writes_maps_close_to_float32(monkeypatch, tmp_path, write_cosod_set):
    """bf16 keeps 8 significant bits: the fast path's maps move by up to 0.05 (test above, k = 10), 13 of 255.

    With the paper's k = 300 the CEM's step has slope 75, and a pixel on the threshold can flip
    from 0 to 1 for any rounding; the cpu preset (and the shipped model) use k = 10.
    """
    monkeypatch.setattr("gconet_lab.engine.precision.has_native_bf16", lambda device: True)  # emulated here is fine
    images = write_cosod_set({"ant": 3, "bee": 2}) / "images" / "Tiny"
    checkpoint = str(write_tiny_checkpoint(tmp_path / "checkpoint.pt"))
    for precision in ("fp32", "bf16"):
        main(["predict", "--checkpoint", checkpoint, "--images", str(images), "--out", str(tmp_path / precision),
              "--precision", precision])
    names = {precision: sorted(p.relative_to(tmp_path / precision) for p in (tmp_path / precision).rglob("*.png"))
             for precision in ("fp32", "bf16")}
    assert len(names["fp32"]) == 5 and names["fp32"] == names["bf16"]
    difference = np.stack([np.abs(np.asarray(Image.open(tmp_path / "fp32" / name), np.int16)
                                  - np.asarray(Image.open(tmp_path / "bf16" / name), np.int16))
                           for name in names["fp32"]])
    assert 0 < difference.max() <= 13  # the bf16 path ran, and its maps are float32's to bf16 rounding


class AutocastProbe(torch.nn.Module):
    """A model that records whether any autocast (CPU or CUDA) is on while it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.autocast_seen: list[bool] = []

    def forward(self, images: torch.Tensor):
        self.autocast_seen.append(torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda"))
        return type("Output", (), {"saliency": torch.full((len(images), 1, 8, 8), 0.5)})()


def test_predict_group_adds_no_autocast_so_fp32_is_float32_on_every_device(monkeypatch):
    """--precision fp32 on CUDA must run float32: predict_group itself never opens an autocast."""
    opened = []
    monkeypatch.setattr(torch, "autocast", lambda *args, **kwargs: opened.append((args, kwargs)))
    probe = AutocastProbe()
    predict_group(probe, torch.zeros(2, 3, 8, 8), [(4, 4), (4, 4)])
    assert opened == [] and probe.autocast_seen == [False]
