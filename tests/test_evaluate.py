"""Prediction writing (official test protocol) and the centre-prior baseline."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from gconet_lab.cli import main
from gconet_lab.config import make_config
from gconet_lab.data import index_set, make_test_loader, prepare_image, read_image
from gconet_lab.inference.evaluate import (
    centre_prior_map,
    predict_dataset,
    predict_group,
    saliency_to_uint8,
    score_predictions,
)
from gconet_lab.metrics import evaluate_folders
from gconet_lab.models import GCoNetPlus

from conftest import write_checkpoint


def test_saliency_is_resized_with_align_corners_and_truncated():
    saliency = torch.tensor([[[0.0, 1.0]]])  # 1x1x2 map
    resized = saliency_to_uint8(saliency, (1, 3))
    assert resized.tolist() == [[0, 127, 255]]  # 0.5 * 255 = 127.5 truncates to 127
    assert resized.dtype == np.uint8


def test_centre_prior_peaks_in_the_middle():
    prior = centre_prior_map(31, 41)
    assert prior.shape == (31, 41) and prior[15, 20] == prior.max() == 255
    assert prior[0, 0] < prior[15, 0] < prior[15, 20]


def test_predict_dataset_writes_the_standard_layout(tmp_path):
    model = GCoNetPlus(make_config("tiny"))
    item = {"images": torch.randn(3, 3, 64, 64), "sizes": torch.tensor([[40, 50], [64, 64], [100, 30]]),
            "names": ["a", "b c", "d'e"], "group": "my group", "set_name": "Set"}
    predict_dataset(model, [item], tmp_path, progress=False)
    written = sorted(p.name for p in (tmp_path / "Set" / "my group").iterdir())
    assert written == ["a.png", "b c.png", "d'e.png"]
    assert Image.open(tmp_path / "Set" / "my group" / "d'e.png").size == (30, 100)


def test_centre_prior_is_written_at_each_original_size(write_cosod_set, tmp_path):
    from gconet_lab.data import index_set
    from gconet_lab.inference.evaluate import predict_centre_prior

    root = write_cosod_set({"cat": 2, "dog": 1}, size=(24, 40))
    predict_centre_prior(index_set(root, "Tiny").groups, tmp_path / "prior")
    written = sorted(p.relative_to(tmp_path / "prior").as_posix() for p in (tmp_path / "prior").rglob("*.png"))
    assert written == ["Tiny/cat/cat_00.png", "Tiny/cat/cat_01.png", "Tiny/dog/dog_00.png"]
    assert Image.open(tmp_path / "prior" / "Tiny" / "dog" / "dog_00.png").size == (40, 24)


# --- bad input and faults: large images, groups of one, odd names, stale maps, non-finite maps ----


def scored_names(table: Path) -> list[str]:
    with table.open(newline="", encoding="utf-8") as file:
        return sorted(f"{row['group']}/{row['name']}" for row in csv.DictReader(file))


@pytest.mark.slow
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


def test_evaluate_scores_exactly_this_runs_images_not_maps_left_by_an_earlier_run(write_cosod_set, tmp_path, capsys):
    root = write_cosod_set({"ant": 2, "bee": 2})
    checkpoint = write_checkpoint(tmp_path / "run" / "checkpoint.pt")
    out = tmp_path / "eval"
    main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--set", "Tiny", "--out", str(out)])
    assert scored_names(out / "tables" / "Tiny" / "per_image.csv") == ["ant/ant_00", "ant/ant_01", "bee/bee_00", "bee/bee_01"]
    (root / "images" / "Tiny" / "bee" / "bee_01.jpg").unlink()  # its map and mask stay on disk
    main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--set", "Tiny", "--out", str(out),
          "--skip-missing"])
    assert scored_names(out / "tables" / "Tiny" / "per_image.csv") == ["ant/ant_00", "ant/ant_01", "bee/bee_00"]
    assert "bee_01.png: mask without an image" in capsys.readouterr().err  # and the skipped file is listed


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
    assert "ant/ant_01" in scored_names(out / "tables" / "Tiny" / "per_image.csv")
    folders = evaluate_folders(out / "predictions" / "Tiny", root / "gts" / "Tiny", progress=False)
    assert folders.results["n"] == 4 and not folders.pairing.gt_only


def test_non_finite_maps_are_an_error_not_black_pngs():
    model = GCoNetPlus(make_config("tiny")).eval()
    model.register_forward_hook(lambda module, inputs, output: dataclasses.replace(output, saliency=output.saliency * math.nan))
    with pytest.raises(RuntimeError, match="NaN or inf"):
        predict_group(model, torch.randn(2, 3, 64, 64), [(20, 30), (20, 30)])
