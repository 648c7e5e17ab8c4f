"""Reliability, round 2 (issue 15): no silently wrong numbers, no lost runs, no code run from a
checkpoint, one line and exit status 2 for every user error. One section per class of the issue;
each test fails on the code before the fix (wrong number, lost work, traceback or hang).

New names are imported inside the tests that need them, so that every test runs (and fails for
its own reason) against the code before the fix.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import errno
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gconet_lab.cli import main
from gconet_lab.config import make_config
from gconet_lab.data import DataError, index_set, make_train_loader, read_image, read_mask
from gconet_lab.engine.checkpoint import (
    estimated_checkpoint_bytes,
    load_any_model,
    read_training_checkpoint,
    save_training_checkpoint,
)
from gconet_lab.engine.storage import OutputFolderError
from gconet_lab.engine.train import Trainer, make_optimizer, read_log
from gconet_lab.inference.evaluate import predict_group, write_group
from gconet_lab.metrics import evaluate_folders, evaluate_image
from gconet_lab.models import CheckpointError, GCoNetPlus, load_official_checkpoint

from conftest import tiny_trainer as shared_tiny_trainer

PROJECT = Path(__file__).resolve().parents[1]


def tiny_trainer(loader, out_dir, callbacks=()) -> Trainer:
    """The shared tiny trainer (conftest) with a configuration of 2 epochs; ``fit(1)`` trains one."""
    return shared_tiny_trainer(loader, out_dir, callbacks, epochs=2)


def random_batches(steps: int, n: int = 2) -> list[dict]:
    return [
        {"images": torch.randn(2 * n, 3, 64, 64), "masks": (torch.rand(2 * n, 1, 64, 64) > 0.5).float(),
         "class_ids": torch.tensor([0] * n + [1] * n), "groups": ["a", "b"]}
        for _ in range(steps)
    ]


def write_checkpoint(path: Path, model: GCoNetPlus | None = None) -> Path:
    """A gconet_lab checkpoint of an untrained tiny model (or ``model``)."""
    config = make_config("tiny")
    model = model or GCoNetPlus(config)
    save_training_checkpoint(path, model=model, optimizer=make_optimizer(model, config), scaler=None,
                             config=model.config, epoch=1, step=0, batch_in_epoch=0)
    return path


def cli_error(argv: list[str], capsys) -> str:
    """Run the CLI expecting a user error: exit status 2 and exactly one line on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def scored_names(table: Path) -> list[str]:
    with table.open(newline="", encoding="utf-8") as file:
        return sorted(f"{row['group']}/{row['name']}" for row in csv.DictReader(file))


# --- 1. stale predictions ----------------------------------------------------------------------


def test_evaluate_scores_exactly_this_runs_images_not_maps_left_by_an_earlier_run(write_cosod_set, tmp_path, capsys):
    root = write_cosod_set({"ant": 2, "bee": 2})
    checkpoint = write_checkpoint(tmp_path / "run" / "checkpoint.pt")
    out = tmp_path / "eval"
    main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--set", "Tiny", "--out", str(out)])
    assert scored_names(out / "per_image.csv") == ["ant/ant_00", "ant/ant_01", "bee/bee_00", "bee/bee_01"]
    (root / "images" / "Tiny" / "bee" / "bee_01.jpg").unlink()  # its map and mask stay on disk
    main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--set", "Tiny", "--out", str(out),
          "--skip-missing"])
    assert scored_names(out / "per_image.csv") == ["ant/ant_00", "ant/ant_01", "bee/bee_00"]
    assert "bee_01.png: mask without an image" in capsys.readouterr().err  # and the skipped file is listed


# --- 2. masks paired by the training rule -------------------------------------------------------


@pytest.mark.parametrize("mask_name", ["ant_01.PNG", "ant_01.bmp"])
def test_a_mask_training_reads_is_scored(write_cosod_set, tmp_path, mask_name):
    root = write_cosod_set({"ant": 2, "bee": 2})
    mask = root / "gts" / "Tiny" / "ant" / "ant_01.png"
    Image.open(mask).save(mask.with_name(mask_name))
    mask.unlink()
    assert len(index_set(root, "Tiny").groups[0].samples) == 2  # training pairs it
    checkpoint = write_checkpoint(tmp_path / "run" / "checkpoint.pt")
    out = tmp_path / "eval"
    main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--set", "Tiny", "--out", str(out)])
    assert "ant/ant_01" in scored_names(out / "per_image.csv")
    folders = evaluate_folders(out / "predictions" / "Tiny", root / "gts" / "Tiny", progress=False)
    assert folders.results["n"] == 4 and not folders.pairing.gt_only


# --- 3. degenerate images and masks -------------------------------------------------------------


@pytest.mark.parametrize("shape, foreground", [
    ((1, 1), [(0, 0)]), ((1, 2), [(0, 0)]), ((2, 1), [(1, 0)]), ((4, 4), [(1, 1)]), ((4, 4), [(0, 0)]),
    ((5, 5), [(r, c) for r in range(5) for c in range(5) if (r, c) != (2, 2)]),  # a single background pixel
])
def test_every_metric_is_finite_and_in_range_for_tiny_and_almost_empty_masks(shape, foreground):
    rng = np.random.default_rng(0)
    gt = np.zeros(shape, np.float32)
    for pixel in foreground:
        gt[pixel] = 1
    n = gt.size
    for pred in (rng.random(shape, dtype=np.float32), gt, np.zeros(shape, np.float32)):
        metrics = evaluate_image(pred, gt)
        for value in (metrics.s, metrics.mae, metrics.max_f):
            assert math.isfinite(value) and 0 <= value <= 1, (shape, value)
        assert 0 <= metrics.max_e <= n / max(n - 1, 1)  # the official sum over n pixels / (n - 1)


def test_soft_mask_below_one_half_scores_finite():
    pred = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    assert 0 <= evaluate_image(pred, np.full((4, 4), 0.2, np.float32)).s <= 1


@pytest.mark.parametrize("mode, colour", [("RGB", (255, 0, 0)), ("RGBA", (0, 128, 255, 255))])
def test_colour_mask_is_refused_naming_the_file(tmp_path, mode, colour):
    path = tmp_path / "colour_mask.png"
    image = Image.new(mode, (6, 4))
    image.paste(colour, (1, 1, 4, 3))
    image.save(path)
    with pytest.raises(DataError, match=r"colour_mask\.png: a colour mask"):
        read_mask(path)


def test_grey_mask_saved_in_rgb_is_still_read(tmp_path):
    path = tmp_path / "grey.png"
    Image.new("RGB", (6, 4), (250, 255, 252)).save(path)  # JPEG-like chroma noise on white
    assert read_mask(path).min() > 0.9


# --- 4. a diverged model ----------------------------------------------------------------------


def test_a_skipped_step_changes_no_weight_statistic_or_optimizer_state(tmp_path):
    trainer = tiny_trainer(random_batches(2), tmp_path)
    trainer.model.train()
    assert not trainer.train_step(random_batches(1))["skipped"]  # Adam has moments to protect
    model_before = copy.deepcopy(trainer.model.state_dict())
    optimizer_before = copy.deepcopy(trainer.optimizer.state_dict())
    trainer.model.register_forward_hook(
        lambda module, inputs, output: dataclasses.replace(output, saliency=output.saliency * math.nan))
    with pytest.warns(RuntimeWarning, match="update skipped"):
        assert trainer.train_step(random_batches(1))["skipped"]
    after = trainer.model.state_dict()
    changed = [name for name, tensor in model_before.items() if not torch.equal(tensor, after[name])]
    assert changed == []  # BatchNorm running means, variances and batch counts included
    optimizer_after = trainer.optimizer.state_dict()
    for key, state in optimizer_before["state"].items():
        assert all(torch.equal(value, optimizer_after["state"][key][name]) for name, value in state.items())


def test_a_checkpoint_with_non_finite_weights_is_refused_naming_the_file(tmp_path):
    model = GCoNetPlus(make_config("tiny"))
    next(module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d)).running_var.fill_(math.nan)
    path = write_checkpoint(tmp_path / "diverged.pt", model)
    with pytest.raises(CheckpointError, match=r"diverged\.pt.*non-finite weights"):
        load_any_model(path)


def test_non_finite_maps_are_an_error_not_black_pngs():
    model = GCoNetPlus(make_config("tiny")).eval()
    model.register_forward_hook(lambda module, inputs, output: dataclasses.replace(output, saliency=output.saliency * math.nan))
    with pytest.raises(RuntimeError, match="NaN or inf"):
        predict_group(model, torch.randn(2, 3, 64, 64), [(20, 30), (20, 30)])


# --- 5. predict: one stated rule ----------------------------------------------------------------


def test_predict_reads_loose_images_beside_a_sub_folder_and_says_so(write_cosod_set, tmp_path, capsys):
    root = write_cosod_set({"ant": 3})
    photos = root / "images" / "Tiny" / "ant"
    (photos / "backup").mkdir()  # an empty sub-folder beside the images
    checkpoint = write_checkpoint(tmp_path / "run" / "checkpoint.pt")
    main(["predict", "--checkpoint", str(checkpoint), "--images", str(photos), "--out", str(tmp_path / "maps")])
    assert sorted(p.name for p in (tmp_path / "maps").glob("*.png")) == ["ant_00.png", "ant_01.png", "ant_02.png"]
    assert "one group of 3 images" in capsys.readouterr().err


def test_predict_with_nothing_to_predict_fails(tmp_path, capsys):
    (tmp_path / "photos" / "empty").mkdir(parents=True)
    (tmp_path / "photos" / "scan.tif").write_bytes(b"II*\x00")
    checkpoint = write_checkpoint(tmp_path / "run" / "checkpoint.pt")
    line = cli_error(["predict", "--checkpoint", str(checkpoint), "--images", str(tmp_path / "photos"),
                      "--out", str(tmp_path / "maps")], capsys)
    assert "photos: nothing to predict" in line


def test_image_in_an_unsupported_format_is_named_as_such(write_cosod_set):
    root = write_cosod_set({"ant": 2, "bee": 2})
    image = root / "images" / "Tiny" / "ant" / "ant_00.jpg"
    Image.open(image).save(image.with_suffix(".tif"))
    image.unlink()
    with pytest.raises(DataError, match=r"ant_00\.png: its image .*ant_00\.tif is in an unsupported image format \.tif"):
        index_set(root, "Tiny")


# --- 6. SIGTERM like Ctrl-C, non-zero exit ------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_the_checkpoint_and_the_run_exits_non_zero(write_cosod_set, tmp_path, signum):
    root = write_cosod_set({"ant": 2, "bee": 2, "cat": 2})
    run = tmp_path / "run"
    command = [sys.executable, "-m", "gconet_lab.cli", "train", "--data", str(root), "--sets", "Tiny",
               "--out", str(run), "--preset", "tiny", "--epochs", "50"]
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "OMP_NUM_THREADS": "1"}
    # A job started in the background inherits SIGINT ignored (as CI's runner starts this suite), and Python
    # then installs no KeyboardInterrupt handler: give the child the default disposition, as in a terminal.
    child = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while not ((run / "log.jsonl").exists() and (run / "log.jsonl").read_text().count("\n") >= 2):
            assert child.poll() is None and time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        child.send_signal(signum)
        stderr = child.communicate(timeout=120)[1]
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, stderr
    saved = read_training_checkpoint(run / "checkpoint.pt")
    assert saved["step"] >= 2 and saved["step"] == len(read_log(run))


# --- 7. disk full -----------------------------------------------------------------------------


def test_free_space_check_counts_the_second_copy_of_the_atomic_save(tmp_path, monkeypatch):
    trainer = tiny_trainer(random_batches(1), tmp_path / "run")
    free = int(1.5 * estimated_checkpoint_bytes(trainer.model))  # one copy fits, the save beside it does not
    usage = type("Usage", (), {"free": free})
    monkeypatch.setattr("gconet_lab.engine.storage.shutil.disk_usage", lambda path: usage)
    with pytest.raises(OutputFolderError, match="free but needs about"):
        trainer.fit(1)


def _disk_fills_after(monkeypatch, saves: int) -> None:
    """``torch.save`` works ``saves`` times, then writes a few bytes and fails with ENOSPC."""
    real_save, calls = torch.save, []

    def save(payload, file, *args, **kwargs):
        calls.append(1)
        if len(calls) <= saves:
            return real_save(payload, file, *args, **kwargs)
        file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save)


def test_disk_full_during_training_keeps_the_last_checkpoint_and_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    trainer = tiny_trainer(random_batches(2), run)
    _disk_fills_after(monkeypatch, saves=1)  # the end of epoch 1 is saved, the end of epoch 2 is not
    with pytest.raises(OutputFolderError, match=r"full after step 4: .*checkpoint\.pt still holds step 2") as error:
        trainer.fit(2)
    assert error.value.__cause__ is None and error.value.__suppress_context__  # no chained traceback
    monkeypatch.undo()
    assert read_training_checkpoint(run / "checkpoint.pt")["step"] == 2
    assert sorted(p.name for p in run.iterdir() if p.name.endswith(".tmp")) == []


def test_disk_full_while_predicting_leaves_no_partial_png(tmp_path, monkeypatch):
    def partial_save(self, path, *args, **kwargs):
        Path(path).write_bytes(b"")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", partial_save)
    with pytest.raises(OutputFolderError, match="is full"):
        write_group([np.zeros((4, 4), np.uint8)], ["a"], tmp_path / "maps")
    assert list((tmp_path / "maps").iterdir()) == []


# --- 8. two runs in one folder ------------------------------------------------------------------


def test_a_second_training_in_the_same_folder_is_refused_naming_the_first(tmp_path):
    run = tmp_path / "run"
    refusals = []

    def start_another_run(record):
        if record["step"] == 0:
            with pytest.raises(OutputFolderError, match=rf"{run} is in use by another training \(process {os.getpid()}") as error:
                tiny_trainer(random_batches(1), run).fit(1)
            refusals.append(error.value)

    tiny_trainer(random_batches(2), run, callbacks=[start_another_run]).fit(1)
    assert len(refusals) == 1 and len(read_log(run)) == 2
    tiny_trainer(random_batches(2), run).fit(2)  # the lock is released when the first run ends


# --- 9. one log after a resume ------------------------------------------------------------------


def test_a_resumed_runs_log_holds_each_step_once(tmp_path):
    run = tmp_path / "run"
    tiny_trainer(random_batches(2), run).fit(1)  # epoch 1: steps 0, 1 and a checkpoint

    def killed(record):
        if record["step"] == 2:  # logged, but the process dies before the next checkpoint
            raise SystemExit(137)

    with pytest.raises(SystemExit):
        tiny_trainer(random_batches(2), run, callbacks=[killed]).fit(2)
    with (run / "log.jsonl").open("a") as log:
        log.write('{"epoch": 1, "step": 3, "tot')  # a line cut short by the kill
    tiny_trainer(random_batches(2), run).fit(2)
    assert [record["step"] for record in read_log(run)] == [0, 1, 2, 3]


# --- 10. no code from a checkpoint ----------------------------------------------------------------


class _CreatesAFile:
    """Unpickling this calls ``open(path, "w")``: a stand-in for any code a crafted file could run."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_crafted_checkpoint_cannot_run_code(tmp_path, capsys):
    evidence = tmp_path / "code_ran"
    crafted = tmp_path / "crafted.pt"
    torch.save({"format": "gconet_lab/1", "model": _CreatesAFile(evidence)}, crafted)
    official = tmp_path / "official.pth"
    torch.save({"state_dict": {"bb.conv1.0.weight": torch.zeros(1)}, "meta": _CreatesAFile(evidence)}, official)
    for load in (load_any_model, read_training_checkpoint,
                 lambda path: load_official_checkpoint(GCoNetPlus(make_config("tiny")), path)):
        for path in (crafted, official):
            with pytest.raises(CheckpointError, match="could run code; refused"):
                load(path)
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    line = cli_error(["predict", "--checkpoint", str(crafted), "--images", str(tmp_path), "--out", str(tmp_path / "m")], capsys)
    assert "crafted.pt" in line
    assert not evidence.exists()


def test_training_checkpoints_and_shipped_models_hold_only_plain_values(tmp_path):
    trainer = tiny_trainer(random_batches(1), tmp_path)
    trainer.fit(1)
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)  # no allow-list needed
    trainer.resume()  # the RNG state as stored restores
    shipped = {"config": payload["config"], "class_names": ["a", "b"],
               "model": {k: v.half() for k, v in payload["model"].items()}}
    torch.save(shipped, tmp_path / "model.pt")
    assert torch.load(tmp_path / "model.pt", weights_only=True)["class_names"] == ["a", "b"]


# --- 11. one line, exit 2 -------------------------------------------------------------------------


def _bad_commands(root: Path, tmp_path: Path, checkpoint: Path) -> list[tuple[list[str], str]]:
    train = ["train", "--data", str(root), "--sets", "Tiny", "--out", str(tmp_path / "run"), "--preset", "tiny"]
    predict = ["predict", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "maps")]
    evaluate = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--out", str(tmp_path / "eval")]
    image = root / "images" / "Tiny" / "ant" / "ant_00.jpg"
    return [
        (train + ["--set-option", "{use_gst: false}"], "--set-option: not valid JSON"),
        (train + ["--set-option", "[1]"], "--set-option: must be a JSON object"),
        (train + ["--set-option", '{"lr": "fast"}'], "--set-option: lr='fast' must be of type float"),
        (train + ["--set-option", '{"max_group_size": 0}'], "--set-option: max_group_size=0 must be positive"),
        (train + ["--accumulation", "0"], "--accumulation: must be at least 1"),
        (train + ["--accumulation", "9"], "use a smaller accumulation (--accumulation)"),
        (train + ["--epochs", "-1"], "--epochs: must be at least 1"),
        (train + ["--device", "tpu"], "--device: unknown device 'tpu'"),
        (train + ["--sync-bn", "--device", "cpu"], "(--sync-bn) needs CUDA"),
        (train + ["--epochs", "1", "--set-option", '{"lr": 0.1}'], "trained with a different configuration"),
        (["train", "--data", str(root), "--sets", "Solo", "--out", str(tmp_path / "run"), "--preset", "tiny"],
         "cannot form two-group training batches"),
        (predict + ["--images", str(image)], "--images takes a folder"),
        (predict + ["--images", str(tmp_path / "nowhere")], "the --images folder does not exist"),
        (predict + ["--images", str(root / "images" / "Tiny"), "--device", "cuda:99"], "--device"),
        (evaluate + ["--set", "Holes"], "use --skip-missing to leave them out"),
        (evaluate + ["--set", "Nowhere"], "Nowhere: images folder does not exist"),
        (["benchmark", "--group-size", "1"], "--group-size: must be at least 2"),
        (["benchmark", "--threads", "0"], "--threads: must be at least 1"),
        (["benchmark", "--repeats", "many"], "--repeats: 'many' is not a whole number"),
    ]


def test_every_user_error_is_one_line_naming_the_option_or_file(write_cosod_set, tmp_path, capsys):
    root = write_cosod_set({"ant": 2, "bee": 2})
    write_cosod_set({"solo": 3}, set_name="Solo")  # one group: no two-group batch
    write_cosod_set({"cat": 2}, set_name="Holes")
    (root / "gts" / "Holes" / "cat" / "cat_00.png").unlink()  # an image without a mask
    checkpoint = write_checkpoint(tmp_path / "ck" / "checkpoint.pt")
    write_checkpoint(tmp_path / "run" / "checkpoint.pt")  # a run of another configuration in train's --out
    for argv, expected in _bad_commands(root, tmp_path, checkpoint):
        line = cli_error(argv, capsys)
        assert line.startswith(f"gconet-lab {argv[0]}: error: ") and expected in line, (argv, line)
        assert "on_missing" not in line


# --- 12. non-regular files ------------------------------------------------------------------------


@pytest.fixture
def no_hang():
    """Fail, rather than hang, a test whose code blocks on opening a FIFO."""
    def timeout(signum, frame):
        raise TimeoutError("blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_a_fifo_named_like_an_image_is_skipped_and_listed_never_read(write_cosod_set, tmp_path, no_hang):
    root = write_cosod_set({"ant": 2, "bee": 2})
    fifo = root / "images" / "Tiny" / "ant" / "ant_02.jpg"
    os.mkfifo(fifo)
    os.mkfifo(root / "gts" / "Tiny" / "ant" / "ant_02.png")
    indexed = index_set(root, "Tiny")
    assert [len(group) for group in indexed.groups] == [2, 2]
    assert fifo in [skip.path for skip in indexed.report.ignored]
    with pytest.raises(DataError, match=r"ant_02\.jpg: not a regular file"):
        read_image(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_any_model(fifo)
    make_train_loader([indexed], image_size=64, max_group_size=4)


# --- 13. messages name the real culprit -----------------------------------------------------------


def test_two_masks_with_one_stem_name_the_mask_folder(write_cosod_set, data_script, tmp_path, capsys):
    root = write_cosod_set({"ant": 2, "bee": 2})
    masks = root / "gts" / "Tiny" / "ant"
    Image.open(root / "images" / "Tiny" / "ant" / "ant_00.jpg").save(masks / "ant_00.jpg")  # a photo beside its mask
    with pytest.raises(DataError, match=rf"^{re.escape(str(masks))}: two files share the stem 'ant_00'"):
        index_set(root, "Tiny")
    icoseg = tmp_path / "icoseg"
    icoseg.mkdir()
    (icoseg / "images").symlink_to(root / "images" / "Tiny")
    (icoseg / "ground_truth").symlink_to(root / "gts" / "Tiny")
    with pytest.raises(SystemExit) as exit_info:
        data_script("icoseg").main([str(icoseg), str(tmp_path / "out")])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "ground_truth/ant: two files share the stem 'ant_00'" in lines[0]
