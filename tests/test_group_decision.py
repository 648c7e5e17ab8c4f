"""gconet_lab.metrics.group_decision: photos in several groups, each map scored against each of the photo's masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gconet_lab.metrics import match_pairs, s_measure
from gconet_lab.metrics.group_decision import group_decision, score_photo, shared_photos, summarize

H, W = 24, 32


def box(top: int, left: int, height: int = 10, width: int = 10) -> np.ndarray:
    """A 0/1 float mask of one box."""
    mask = np.zeros((H, W), np.float32)
    mask[top:top + height, left:left + width] = 1
    return mask


CUP, PERSON, DOG = box(2, 2), box(12, 18), box(2, 20, 8, 8)


def test_a_map_equal_to_one_mask_is_closer_in_its_group_only() -> None:
    pairs = score_photo("photo", {"cup": CUP, "person": CUP}, {"cup": CUP, "person": PERSON})
    closer = {pair.group: pair.closer for pair in pairs}
    assert closer == {"cup": True, "person": False}
    cup = next(pair for pair in pairs if pair.group == "cup")
    assert cup.own == pytest.approx(1.0) and cup.others == (pytest.approx(s_measure(CUP, PERSON)),)
    assert summarize(pairs).closer == 0.5


def test_maps_that_follow_their_group_decide_every_pair() -> None:
    result = summarize(score_photo("photo", {"cup": CUP, "person": PERSON}, {"cup": CUP, "person": PERSON}))
    assert (result.photos, result.pairs, result.closer, result.chance) == (1, 2, 1.0, 0.5)
    assert result.own == pytest.approx(1.0) and result.gap > 0.5


def test_identical_maps_in_both_groups_are_at_chance_and_gain_nothing() -> None:
    masks = {"cup": CUP, "person": PERSON}
    blank = summarize(score_photo("photo", {"cup": np.zeros((H, W)), "person": np.zeros((H, W))}, masks))
    assert blank.closer == 0.0 and blank.gap == 0.0  # a tie is not closer
    near_cup = np.clip(CUP + 0.3 * PERSON, 0, 1)  # the same map in both groups
    same = summarize(score_photo("photo", {"cup": near_cup, "person": near_cup}, masks))
    assert same.closer == 0.5 and same.gap == pytest.approx(0.0, abs=1e-12)  # one group wins, the other loses


def test_a_photo_in_three_groups_is_compared_with_both_other_masks() -> None:
    masks = {"cup": CUP, "person": PERSON, "dog": DOG}
    pairs = score_photo("photo", {"cup": CUP, "person": PERSON, "dog": CUP}, masks)
    assert all(len(pair.others) == 2 for pair in pairs)
    result = summarize(pairs)
    assert result.chance == pytest.approx(1 / 3) and result.closer == pytest.approx(2 / 3)  # dog's map is the cup
    own = np.mean([s_measure(CUP, CUP), s_measure(PERSON, PERSON), s_measure(CUP, DOG)])
    assert result.own == pytest.approx(own)
    with pytest.raises(ValueError, match="photo: needs a map and a mask in each of two or more groups"):
        score_photo("photo", {"cup": CUP}, {"cup": CUP})


def write_set(root: Path, photos: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]) -> tuple[Path, Path]:
    """``photos[name][group] = (map, mask)`` as 8-bit PNGs under ``root/pred/<group>/`` and ``root/gts/<group>/``."""
    for name, groups in photos.items():
        for group, (map_, mask) in groups.items():
            for side, array in (("pred", map_), ("gts", mask)):
                (root / side / group).mkdir(parents=True, exist_ok=True)
                Image.fromarray((array * 255).astype(np.uint8)).save(root / side / group / f"{name}.png")
    return root / "pred", root / "gts"


def test_folders_photos_in_one_group_are_ignored(tmp_path: Path) -> None:
    pred, gts = write_set(tmp_path, {
        "shared": {"cup": (CUP, CUP), "person": (CUP, PERSON)},
        "alone": {"cup": (PERSON, CUP)},  # in one group only: left out
        "other": {"person": (PERSON, PERSON)},
    })
    pairing = match_pairs(pred, gts)
    assert list(shared_photos(pairing)) == ["shared"]
    result = group_decision(pred, gts, pairing)
    assert (result.photos, result.pairs, result.closer) == (1, 2, 0.5)
    assert "1 photos in 2+ groups, 2 (photo, group) pairs" in result.format() and "(chance 50.0%)" in result.format()


def test_folders_without_shared_photos_give_none(tmp_path: Path) -> None:
    pred, gts = write_set(tmp_path, {"a": {"cup": (CUP, CUP)}, "b": {"person": (CUP, PERSON)}})
    assert group_decision(pred, gts, match_pairs(pred, gts)) is None
    big = np.zeros((H + 2, W), np.float32)  # one name in two groups, but two images of different sizes
    pred, gts = write_set(tmp_path / "sizes", {"a": {"cup": (CUP, CUP)}})
    write_set(tmp_path / "sizes", {"a": {"person": (big, big)}})
    assert group_decision(pred, gts, match_pairs(pred, gts)) is None


def test_evaluate_prints_the_measure_for_a_set_with_shared_photos_only(write_cosod_set, tmp_path, capsys) -> None:
    from gconet_lab.cli import main
    from gconet_lab.config import make_config
    from gconet_lab.engine.checkpoint import save_training_checkpoint
    from gconet_lab.engine.train import make_optimizer
    from gconet_lab.models import GCoNetPlus

    root = write_cosod_set({"cup": 2, "person": 2})
    config = make_config("tiny")
    model = GCoNetPlus(config)
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    save_training_checkpoint(checkpoint, model=model, optimizer=make_optimizer(model, config), scaler=None,
                             config=config, epoch=1, step=0, batch_in_epoch=0)
    evaluate = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--set", "Tiny"]
    main([*evaluate, "--out", str(tmp_path / "alone")])
    assert "group decision" not in capsys.readouterr().out
    for side, suffix in (("images", ".jpg"), ("gts", ".png")):  # cup_00 also in the person group, with a mask there
        photo = root / side / "Tiny" / "cup" / f"cup_00{suffix}"
        pixels = np.asarray(Image.open(photo))
        Image.fromarray(pixels if side == "images" else 255 - pixels).save(root / side / "Tiny" / "person" / photo.name)
    main([*evaluate, "--out", str(tmp_path / "shared")])
    printed = capsys.readouterr().out
    assert "group decision: 1 photos in 2+ groups, 2 (photo, group) pairs" in printed
    assert "own - other" in printed


def test_the_report_tables_the_measure_per_model_only_for_sets_with_shared_photos() -> None:
    from gconet_lab.inference.evaluate import DatasetScores
    from gconet_lab.report import group_decision_table

    measure = summarize(score_photo("photo", {"cup": CUP, "person": PERSON}, {"cup": CUP, "person": PERSON}))
    rows = {"GCoNet+": DatasetScores(None, {}, (), measure), "centre prior": DatasetScores(None, {}, (), None)}
    table = group_decision_table(rows).splitlines()
    assert len(table) == 3 and table[2].startswith("| GCoNet+ | 1 | 2 | 100.0% | 50.0% | 1.0000 |")
    assert group_decision_table({"centre prior": rows["centre prior"]}) == ""
