"""Reliability (issue 8): bad input gets a clear error naming the file or option, or a documented
handling; faults (non-finite steps, killed saves, interruptions, unwritable output) lose no work.

Cases already covered elsewhere are not repeated here: image/mask flavours in test_data_io.py,
pairing and ignored files in test_data_layout.py, mask/image size mismatch and small training groups
in test_data_datasets.py, foreign/truncated checkpoints and list-loader resume in test_train.py,
unknown options in test_model.py.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from gconet_lab.cli import main
from gconet_lab.config import make_config
from gconet_lab.data import (
    DataError,
    index_set,
    make_test_loader,
    make_train_loader,
    prepare_image,
    read_image,
)
from gconet_lab.data import datasets as datasets_module
from gconet_lab.data.sampling import GroupPairSampler
from gconet_lab.engine.checkpoint import (
    atomic_save,
    load_any_model,
    load_model_from_checkpoint,
    read_training_checkpoint,
)
from gconet_lab.engine.storage import OutputFolderError
from gconet_lab.engine.train import read_log
from gconet_lab.inference.evaluate import predict_dataset, saliency_to_uint8, score_predictions
from gconet_lab.losses import GCoNetLoss
from gconet_lab.metrics import evaluate_image, load_pair
from gconet_lab.models import CheckpointError, GCoNetPlus

from conftest import tiny_trainer

PROJECT = Path(__file__).resolve().parents[1]



def tiny_loader(root: Path):
    """Two-group batches of 64x64 images from the set ``Tiny`` under ``root``."""
    return make_train_loader([index_set(root, "Tiny")], image_size=64, max_group_size=4, seed=0)


def random_batches(steps: int, n: int = 2) -> list[dict]:
    """``steps`` two-group batches of random 64x64 images (no files)."""
    return [
        {"images": torch.randn(2 * n, 3, 64, 64), "masks": (torch.rand(2 * n, 1, 64, 64) > 0.5).float(),
         "class_ids": torch.tensor([0] * n + [1] * n), "groups": ["a", "b"]}
        for _ in range(steps)
    ]


# --- bad input ---------------------------------------------------------------------------------


def test_corrupt_image_stops_training_naming_the_file_and_keeps_the_trained_steps(write_cosod_set, tmp_path):
    root = write_cosod_set({"ant": 2, "bee": 2, "cat": 2})
    loader = tiny_loader(root)
    first = next(iter(loader.sampler))  # epoch 0's first draw; the third group comes later
    loader.sampler.set_epoch(0)
    late = ({0, 1, 2} - {first.group_a, first.group_b}).pop()
    broken = loader.dataset.groups[late].samples[0].image
    broken.write_bytes(broken.read_bytes()[:300])
    with pytest.raises(DataError, match=f"{broken.name}: cannot decode"):
        tiny_trainer(loader, tmp_path / "run").fit()
    saved = read_training_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert saved["step"] == len(read_log(tmp_path / "run")) >= 1  # the steps before the error are kept


def test_image_over_the_decompression_bomb_limit_is_refused_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels is over twice the limit
    with pytest.raises(DataError, match=r"huge\.png: cannot decode image"):
        read_image(path)


def test_very_large_image_is_resized_in_and_its_map_written_back_at_full_size(tmp_path):
    path = tmp_path / "large.jpg"
    image = Image.new("RGB", (8000, 6000), (20, 40, 60))
    ImageDraw.Draw(image).rectangle((2000, 1500, 6000, 4500), fill=(230, 200, 30))
    image.save(path, quality=80)
    pixels = read_image(path)
    assert pixels.shape == (6000, 8000, 3)
    assert prepare_image(pixels, 64).shape == (3, 64, 64)
    back = saliency_to_uint8(torch.rand(1, 64, 64), (6000, 8000))
    assert back.shape == (6000, 8000) and back.dtype == np.uint8


def test_group_of_one_image_is_predicted_in_evaluation(write_cosod_set, tmp_path):
    root = write_cosod_set({"pair": 2, "solo": 1}, size=(30, 44))
    model = GCoNetPlus(make_config("tiny"))
    predict_dataset(model, make_test_loader(index_set(root, "Tiny"), 64), tmp_path / "pred", progress=False)
    solo = Image.open(tmp_path / "pred" / "Tiny" / "solo" / "solo_00.png")
    assert solo.size == (44, 30)  # GAM with N = 1 attends over the single image's own positions


def test_group_of_one_image_is_refused_by_gst_in_training_and_fine_without_it():
    images, masks = torch.randn(2, 3, 64, 64), (torch.rand(2, 1, 64, 64) > 0.5).float()
    class_ids = torch.tensor([0, 1])  # two groups of one image each
    config = make_config("tiny")
    with pytest.raises(ValueError, match="groups need at least 2 images"):
        GCoNetLoss(config)(GCoNetPlus(config).train()(images), masks, class_ids)
    without_gst = make_config("tiny", use_gst=False)  # GAM and GCM work on groups of one
    loss = GCoNetLoss(without_gst)(GCoNetPlus(without_gst).train()(images), masks, class_ids)
    assert math.isfinite(loss.total.item())


def test_names_with_spaces_commas_apostrophes_and_non_ascii_letters(tmp_path):
    root = tmp_path / "data"
    names = {"Zürich, l'été": ["a b, c'd", "Ångström ü"], "plain": ["x", "y"]}
    for group, stems in names.items():
        for stem in stems:
            for side, suffix in (("images", ".jpg"), ("gts", ".png")):
                path = root / side / "Tiny" / group / f"{stem}{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                mode = "RGB" if side == "images" else "L"
                Image.new(mode, (20, 16), 255 if side == "gts" else (10, 20, 30)).save(path)
    indexed = index_set(root, "Tiny")
    assert [g.name for g in indexed.groups] == ["Zürich, l'été", "plain"]
    model = GCoNetPlus(make_config("tiny"))
    predict_dataset(model, make_test_loader(indexed, 64), tmp_path / "pred", progress=False)
    scores = score_predictions(tmp_path / "pred" / "Tiny", root / "gts" / "Tiny", tmp_path / "tables", progress=False)
    scored = {(row["group"], row["name"]) for row in scores.evaluation.per_image}
    assert scored == {(group, stem) for group, stems in names.items() for stem in stems}
    with scores.tables[0].open(newline="", encoding="utf-8") as table:  # per_image.csv quotes the commas
        assert {(row["group"], row["name"]) for row in csv.DictReader(table)} == scored


@pytest.mark.parametrize("levels", [(0, 1), (0, 255)])
def test_binary_masks_score_the_same_whether_saved_as_0_1_or_0_255(tmp_path, levels):
    box = np.zeros((16, 20), np.uint8)
    box[4:12, 5:15] = 1
    Image.fromarray(box * levels[1]).save(tmp_path / "gt.png")
    Image.fromarray(box * 255).save(tmp_path / "pred.png")
    pred, gt = load_pair(tmp_path / "pred.png", tmp_path / "gt.png")
    assert np.array_equal(gt, box.astype(np.float32))  # the official k / 255 would make {0, 1} empty
    assert evaluate_image(pred, gt).mae == 0.0


def test_soft_mask_is_scored_as_its_grey_levels(tmp_path):
    soft = np.arange(16 * 20, dtype=np.uint8).reshape(16, 20)
    Image.fromarray(soft).save(tmp_path / "gt.png")
    Image.fromarray(soft).save(tmp_path / "pred.png")
    pred, gt = load_pair(tmp_path / "pred.png", tmp_path / "gt.png")
    assert np.array_equal(gt, soft / np.float32(255)) and np.array_equal(pred, gt)


def test_checkpoint_of_another_model_is_refused_naming_the_file(tmp_path):
    from torchvision.models import resnet18

    path = tmp_path / "resnet18.pth"
    torch.save(resnet18().state_dict(), path)
    with pytest.raises(CheckpointError, match=r"resnet18\.pth does not fit this GCoNet\+ model"):
        load_any_model(path)


def test_checkpoint_with_an_unknown_option_is_refused_naming_the_file(tmp_path):
    trainer = tiny_trainer(random_batches(2), tmp_path)
    trainer.fit()
    payload = read_training_checkpoint(tmp_path / "checkpoint.pt")
    payload["config"]["use_hyper_drive"] = True  # e.g. a checkpoint of a newer gconet-lab
    torch.save(payload, tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match=r"newer\.pt.*unknown configuration option 'use_hyper_drive'"):
        load_model_from_checkpoint(tmp_path / "newer.pt")


def test_command_line_reports_bad_options_and_files_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", str(tmp_path), "--sets", "X", "--out", str(tmp_path / "run"),
              "--preset", "tiny", "--set-option", '{"use_gamm": false}'])
    assert exit_info.value.code == 2
    assert "gconet-lab train: error: --set-option: unknown configuration option 'use_gamm'; did you mean 'use_gam'?" in capsys.readouterr().err
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04 not a whole file")
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "photos" / "a.png")
    with pytest.raises(SystemExit):
        main(["predict", "--checkpoint", str(tmp_path / "cut.pt"), "--images", str(tmp_path / "photos"), "--out", str(tmp_path / "maps")])
    assert "gconet-lab predict: error: cannot read checkpoint" in capsys.readouterr().err


# --- faults --------------------------------------------------------------------------------------


def test_cem_fallback_rescues_an_overflowing_step(tmp_path):
    trainer = tiny_trainer(random_batches(2), tmp_path)
    trainer.model.cem.k = 1e6  # exp(-k (P - T)) overflows for any pixel with P < T
    used_k = []
    trainer.model.cem.register_forward_hook(lambda module, inputs, output: used_k.append(output.k))
    result = trainer.fit()
    assert used_k and set(used_k) == {trainer.config.cem_k_fallback}
    assert result.skipped_steps == 0 and not any(r["skipped"] for r in read_log(tmp_path))


def test_non_finite_output_skips_the_step_with_a_warning_and_training_goes_on(tmp_path):
    trainer = tiny_trainer(random_batches(3), tmp_path)
    calls = []

    def nan_map_on_second_step(module, inputs, output):
        calls.append(1)
        return dataclasses.replace(output, saliency=output.saliency * math.nan) if len(calls) == 2 else output

    trainer.model.register_forward_hook(nan_map_on_second_step)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    with pytest.warns(RuntimeWarning, match="step 1: non-finite saliency; update skipped"):
        result = trainer.fit()
    log = read_log(tmp_path)
    assert result.steps == 3 and result.skipped_steps == 1
    assert [r["skipped"] for r in log] == [False, True, False] and log[1]["non_finite"] == ["saliency"]
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


SAVE_IN_A_LOOP = """
import sys, torch
from gconet_lab.engine.checkpoint import atomic_save
weights = torch.empty(8_000_000)  # 32 MB: each save takes a while
for generation in range(10_000):
    weights.fill_(generation)
    atomic_save({"generation": generation, "weights": weights}, sys.argv[1])
    print(generation, flush=True)
"""


def test_process_killed_mid_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "checkpoint.pt"
    child = subprocess.Popen([sys.executable, "-c", SAVE_IN_A_LOOP, str(path)], cwd=PROJECT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "0"  # one complete checkpoint exists
        while True:  # freeze the child; kill it only if it is in the middle of writing a save
            child.send_signal(signal.SIGSTOP)
            leftovers = list(tmp_path.glob(".checkpoint.pt.*.tmp"))
            if leftovers and leftovers[0].stat().st_size > 0:
                break
            child.send_signal(signal.SIGCONT)
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert leftovers[0].exists()  # the half-written temporary file, never the checkpoint itself
    payload = torch.load(path, weights_only=True)
    assert torch.equal(payload["weights"], torch.full((8_000_000,), float(payload["generation"])))
    atomic_save({"generation": -1}, path)
    assert not leftovers[0].exists()  # the next save clears what the killed one left


def test_sampler_resumes_inside_an_epoch_with_the_same_draws():
    sampler = GroupPairSampler([3, 4, 5, 2], class_ids=[0, 1, 2, 3], seed=1)
    sampler.set_epoch(2)
    whole = list(sampler)
    sampler.set_epoch(2, start=3)
    assert list(sampler) == whole[3:]
    assert len(list(sampler)) == 4  # the next epoch starts from its first draw again
    with pytest.raises(ValueError, match="start must be in 0..4"):
        sampler.set_epoch(0, start=5)


def test_resumed_run_skips_trained_batches_without_loading_them_and_keeps_the_trajectory(
    write_cosod_set, tmp_path, monkeypatch
):
    root = write_cosod_set({"ant": 2, "bee": 2, "cat": 2, "dog": 2})
    tiny_trainer(tiny_loader(root), tmp_path / "straight").fit()

    def stop_after_two(record):
        if record["step"] == 1:
            raise KeyboardInterrupt

    assert tiny_trainer(tiny_loader(root), tmp_path / "resumed", [stop_after_two]).fit().interrupted
    loaded = []
    real_load = datasets_module.load_sample
    monkeypatch.setattr(datasets_module, "load_sample", lambda sample: loaded.append(sample) or real_load(sample))
    assert tiny_trainer(tiny_loader(root), tmp_path / "resumed").fit().steps == 4
    assert len(loaded) == 2 * 4  # only the two remaining steps' images (2 groups of 2 each)
    straight = [r["total"] for r in read_log(tmp_path / "straight")]
    resumed = [r["total"] for r in read_log(tmp_path / "resumed")]
    assert resumed == pytest.approx(straight, rel=1e-5)


def _path_under_a_regular_file(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "a_file").write_text("not a folder")
    return tmp_path / "a_file" / "run"


def _read_only_folder(tmp_path: Path, monkeypatch) -> Path:
    """Tests run as root, for whom chmod does not block writes: make the probe write fail instead."""
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("gconet_lab.engine.storage.tempfile.mkstemp", refuse)
    return tmp_path / "run"


def _full_disk(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr("gconet_lab.engine.storage.shutil.disk_usage", lambda path: SimpleNamespace(free=1024))
    return tmp_path / "run"


@pytest.mark.parametrize(
    "make_bad_folder, message",
    [(_path_under_a_regular_file, r"cannot write to the output folder .* \(Not a directory\)"),
     (_read_only_folder, r"cannot write to the output folder .* \(Permission denied\)"),
     (_full_disk, "has 0.0 MiB free but needs about")],
)
def test_unusable_output_folder_fails_before_any_work(tmp_path, monkeypatch, make_bad_folder, message):
    out = make_bad_folder(tmp_path, monkeypatch)
    steps = []
    with pytest.raises(OutputFolderError, match=message) as error:
        tiny_trainer(random_batches(2), out, callbacks=[steps.append]).fit()
    assert str(out) in str(error.value) and steps == []
    if make_bad_folder is not _full_disk:  # predictions need write access, not a size estimate
        def no_group_before_the_check():
            raise AssertionError("a group was predicted before the folder was checked")
            yield

        with pytest.raises(OutputFolderError, match=re.escape(str(out))):
            predict_dataset(GCoNetPlus(make_config("tiny")), no_group_before_the_check(), out, progress=False)
