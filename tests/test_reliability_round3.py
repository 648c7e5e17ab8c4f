"""Reliability, round 3 (issue 30): hostile files, names and numbers. Each test fails on the code
before its fix with a traceback, a silently wrong number or a lost map.

New names are imported inside the tests that need them, so that every test runs (and fails for
its own reason) against the code before the fix.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gconet_lab.cli import main
from gconet_lab.config import ConfigError, make_config
from gconet_lab.data import DataError, index_set, read_image, read_mask
from gconet_lab.inference.predict_folder import plan_prediction


def cli_error(argv: list, capsys) -> str:
    """Run the CLI expecting a user error: exit status 2 and exactly one line on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in argv])
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if "precision auto" not in line]
    assert len(lines) == 1, lines
    return lines[0]


# --- 16-bit masks holding 8-bit or {0, 1} values ----------------------------------------------


@pytest.mark.parametrize("foreground", [1, 255, 65535])
def test_a_16_bit_binary_mask_reads_as_the_same_mask_whatever_its_foreground_value(tmp_path, foreground):
    binary = np.zeros((8, 8), np.uint16)
    binary[:4] = foreground
    Image.fromarray(binary).save(tmp_path / "mask.png")
    assert Image.open(tmp_path / "mask.png").mode.startswith("I;16")
    np.testing.assert_array_equal(read_mask(tmp_path / "mask.png"), (binary > 0).astype(np.float32))


def test_a_soft_16_bit_mask_keeps_its_16_bit_scale(tmp_path):
    soft = np.array([[0, 16384, 32768, 65535]], np.uint16)
    Image.fromarray(soft).save(tmp_path / "mask.png")
    np.testing.assert_allclose(read_mask(tmp_path / "mask.png"), soft / 65535.0, atol=1e-6)


# --- symlink loops ------------------------------------------------------------------------------


def test_a_symlink_loop_named_like_an_image_is_listed_and_never_a_traceback(write_cosod_set, tmp_path):
    root = write_cosod_set({"ant": 2, "bee": 2})
    loop = root / "images" / "Tiny" / "ant" / "loop.jpg"
    loop.symlink_to(loop.name)  # a link to itself
    (root / "gts" / "Tiny" / "ant" / "loop.png").symlink_to("loop.png")
    indexed = index_set(root, "Tiny")
    assert [len(group) for group in indexed.groups] == [2, 2]
    assert loop in [skip.path for skip in indexed.report.ignored]
    for reader in (read_image, read_mask):
        with pytest.raises(DataError, match=r"loop\.jpg: .*link"):
            reader(loop)
    assert loop in [skip.path for skip in plan_prediction(loop.parent, tmp_path / "maps").skipped]


# --- file names that are not UTF-8 ----------------------------------------------------------------


def _rename_to_bytes(path: Path, name: bytes) -> Path:
    target = os.fsencode(path.parent) + b"/" + name
    os.rename(path, target)
    return Path(os.fsdecode(target))


@pytest.mark.parametrize("side", ["image", "group"])
def test_a_name_that_is_not_utf8_is_one_line_naming_it(write_cosod_set, tmp_path, capsys, side):
    root = write_cosod_set({"ant": 2, "bee": 2})
    for folder, suffix in (("images", b".jpg"), ("gts", b".png")):
        group = root / folder / "Tiny" / "ant"
        if side == "image":
            _rename_to_bytes(group / f"ant_00{suffix.decode()}", b"caf\xe9" + suffix)  # Latin-1 'café'
        else:
            _rename_to_bytes(group, b"caf\xe9")
    checkpoint = tmp_path / "ck.pt"
    _write_checkpoint(checkpoint)
    line = cli_error(["evaluate", "--checkpoint", checkpoint, "--data", root, "--set", "Tiny", "--out", tmp_path / "ev",
                      "--device", "cpu"], capsys)
    assert "not valid UTF-8" in line and "caf\\xe9" in line, line
    line = cli_error(["predict", "--checkpoint", checkpoint, "--images", root / "images" / "Tiny", "--out", tmp_path / "pr",
                      "--device", "cpu"], capsys)
    assert "not valid UTF-8" in line and "caf\\xe9" in line, line


# --- two images with one stem in a predicted folder ---------------------------------------------


def test_predict_refuses_two_images_whose_maps_would_share_a_name(write_cosod_set, tmp_path):
    root = write_cosod_set({"ant": 2, "bee": 2})
    group = root / "images" / "Tiny" / "ant"
    Image.open(group / "ant_00.jpg").save(group / "ant_00.png")  # ant_00.png would be written twice
    with pytest.raises(DataError, match=rf"^{group}: two files share the stem 'ant_00'"):
        plan_prediction(group, tmp_path / "maps")
    with pytest.raises(DataError, match="two files share the stem 'ant_00'"):
        plan_prediction(root / "images" / "Tiny", tmp_path / "maps")


# --- files that hold no checkpoint ----------------------------------------------------------------


def _write_checkpoint(path: Path) -> Path:
    from gconet_lab.engine.checkpoint import save_training_checkpoint
    from gconet_lab.engine.train import make_optimizer
    from gconet_lab.models import GCoNetPlus

    config = make_config("tiny")
    model = GCoNetPlus(config)
    save_training_checkpoint(path, model=model, optimizer=make_optimizer(model, config), scaler=None,
                             config=config, epoch=1, step=0, batch_in_epoch=0)
    return path


@pytest.mark.parametrize("payload", [[1, 2], torch.zeros(3), 7, "weights"], ids=["list", "tensor", "int", "str"])
def test_a_pytorch_file_that_holds_no_dict_is_one_line_naming_it(write_cosod_set, tmp_path, capsys, payload):
    root = write_cosod_set({"ant": 2, "bee": 2})
    torch.save(payload, tmp_path / "other.pt")
    line = cli_error(["predict", "--checkpoint", tmp_path / "other.pt", "--images", root / "images" / "Tiny",
                      "--out", tmp_path / "pr", "--device", "cpu"], capsys)
    assert "other.pt" in line and "not a checkpoint" in line, line


# --- non-finite numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["lr", "lambda_bce", "gam_temperature", "backbone_lr_scale"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_non_finite_number_option_is_refused_naming_it(option, value):
    with pytest.raises(ConfigError, match=rf"^{option}=.* must be a finite number"):
        make_config("tiny", **{option: value})


@pytest.mark.parametrize("text", ["inf", "Infinity", "1e999", "nan"])
def test_a_non_finite_command_line_number_is_one_line_naming_the_option(capsys, text):
    line = cli_error(["benchmark", "--preset", "tiny", "--tasks", "inference", "--peak-gflops", text], capsys)
    assert "--peak-gflops" in line and "finite" in line, line


# --- set and group names that would leave the output folder ---------------------------------------


@pytest.mark.parametrize("prefix", ["../evil", "a/b", "ABSOLUTE"])
def test_a_set_name_that_is_not_one_folder_name_is_refused_before_writing(data_script, tmp_path, capsys, prefix):
    out = tmp_path / "deep" / "out"
    prefix = str(tmp_path / "abs") if prefix == "ABSOLUTE" else prefix  # out / "images" / "/..." would be "/..."
    with pytest.raises(SystemExit) as exit_info:
        data_script("synthetic").main([str(out), "--prefix", prefix, "--n-groups", "2", "--images-per-group", "2"])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "one folder name" in lines[0], lines
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


@pytest.mark.parametrize("script", ["synthetic", "copy_paste"])
def test_a_huge_generated_image_size_is_one_line_not_an_out_of_memory_traceback(data_script, tmp_path, capsys, script):
    argv = {"synthetic": [str(tmp_path / "out")], "copy_paste": ["--coco", str(tmp_path), "--out", str(tmp_path / "out")]}
    with pytest.raises(SystemExit) as exit_info:
        data_script(script).main([*argv[script], "--size", "100000"])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "at most 4096" in lines[0], lines
