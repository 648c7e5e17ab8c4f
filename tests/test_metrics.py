"""Tests of gconet_lab.metrics: cases computed by hand, a brute-force reference, official parity."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gconet_lab.metrics import (
    OFFICIAL_KEYS,
    THRESHOLDS,
    OfficialEvaluator,
    PySODEvaluator,
    check_official_parity,
    compare_folders,
    e_measure_curve,
    evaluate_folders,
    evaluate_image,
    f_measure_curve,
    load_pair,
    mae,
    match_pairs,
    normalize_prediction,
    s_measure,
    write_tables,
)
from gconet_lab.metrics.official import _thresholds_passed

from conftest import shared_root


def reference_curves(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The official loop over thresholds, written plainly in float64: what fast code must equal."""
    pred, gt = np.asarray(pred, np.float32), np.asarray(gt, np.float32).astype(np.float64)
    p = (pred - pred.min()) / (pred.max() - pred.min() + np.float32(1e-20))
    f, e = [], []
    for t in THRESHOLDS:
        b = (p >= t).astype(np.float64)
        tp = (b * gt).sum()
        precision, recall = tp / (b.sum() + 1e-20), tp / (gt.sum() + 1e-20)
        f.append(0.0 if tp == 0 else 1.3 * precision * recall / (0.3 * precision + recall))
        fm, g = b - b.mean(), gt - gt.mean()
        align = 2 * g * fm / (g * g + fm * fm + 1e-20)
        e.append(((align + 1) ** 2 / 4).sum() / (gt.size - 1 + 1e-20))
    return np.array(f), np.array(e)


def eight_bit(levels: np.ndarray) -> np.ndarray:
    """Grey levels 0..255 as the float32 maps the official loader produces."""
    return np.asarray(levels).astype(np.float32) / np.float32(255)


def random_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random 8-bit prediction (random range) and a gt of a random kind."""
    h, w = rng.integers(2, 40, size=2)
    low, high = sorted(rng.integers(0, 256, size=2))
    pred = eight_bit(rng.integers(low, high + 1, size=(h, w)))
    kind = rng.choice(["binary", "soft 8-bit", "continuous", "empty", "full"])
    gt = {
        "binary": lambda: eight_bit(255 * (rng.random((h, w)) < rng.random())),
        "soft 8-bit": lambda: eight_bit(rng.integers(0, 256, size=(h, w))),
        "continuous": lambda: rng.random((h, w)).astype(np.float32),
        "empty": lambda: np.zeros((h, w), np.float32),
        "full": lambda: np.ones((h, w), np.float32),
    }[kind]()
    return pred, gt


# ----------------------------------------------------------------------------------------------
# Thresholds and normalisation


def test_thresholds_are_the_official_float32_linspace():
    assert THRESHOLDS.dtype == np.float32 and THRESHOLDS.shape == (255,)
    assert np.array_equal(THRESHOLDS, torch.linspace(0, 1 - 1e-10, 255).numpy())
    assert THRESHOLDS[0] == 0 and THRESHOLDS[-1] == 1  # 1 - 1e-10 rounds to 1 in float32
    # Not the correctly rounded i/254: that is why the library takes them from torch.
    assert not np.array_equal(THRESHOLDS, (np.arange(255) / 254).astype(np.float32))


def test_normalisation_matches_torch_bit_for_bit():
    rng = np.random.default_rng(0)
    for _ in range(50):
        pred = eight_bit(
            rng.integers(*sorted(rng.integers(0, 256, size=2)), size=(9, 7), endpoint=True)
        )
        t = torch.from_numpy(pred)
        expected = ((t - torch.min(t)) / (torch.max(t) - torch.min(t) + 1e-20)).numpy()
        assert np.array_equal(normalize_prediction(pred), expected)


def test_thresholds_passed_equals_brute_force_on_every_8bit_value():
    # Every value an 8-bit prediction can take after min-max normalisation, plus random floats
    # and the float32 neighbours of every threshold: the cases where an estimate could slip.
    values = [
        normalize_prediction(eight_bit(np.arange(low, high + 1)))
        for low in range(256)
        for high in range(low + 1, 256)
    ]
    near = np.concatenate(
        [np.nextafter(THRESHOLDS, -1), THRESHOLDS, np.nextafter(THRESHOLDS, 2)]
    ).clip(0, 1)
    random = np.random.default_rng(0).random(100_000).astype(np.float32)
    p = np.unique(np.concatenate([*values, near, random]))
    brute = (p[None, :] >= THRESHOLDS[:, None]).sum(axis=0)
    assert np.array_equal(_thresholds_passed(p), brute)


# ----------------------------------------------------------------------------------------------
# A 4x4 example computed by hand
#
#   gt               pred
#   0 0 0 0          0 0  0  0
#   0 1 1 0          0 1  1  0
#   0 1 1 0          0 1 .5  0
#   0 0 0 0          0 0 .5  0
#
# pred already spans [0, 1], so min-max normalisation leaves it unchanged.


@pytest.fixture
def four_by_four() -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros((4, 4), np.float32)
    gt[1:3, 1:3] = 1
    pred = gt.copy()
    pred[2, 2] = pred[3, 2] = 0.5
    return pred, gt


def test_mae_by_hand(four_by_four):
    # Two pixels are off by 0.5: (0.5 + 0.5) / 16.
    assert mae(*four_by_four) == pytest.approx(1 / 16, abs=1e-12)


def test_f_measure_by_hand(four_by_four):
    f = f_measure_curve(*four_by_four)

    # t = 0: all 16 pixels predicted, TP = 4: P = 4/16, R = 1.
    # t = 100/254 (~0.39): the five non-zero pixels, TP = 4: P = 4/5, R = 1.
    # t = 200/254 (~0.79): the three ones, TP = 3: P = 1, R = 3/4.
    def f_beta(p, r):
        return 1.3 * p * r / (0.3 * p + r)

    assert f[0] == pytest.approx(f_beta(4 / 16, 1), abs=1e-7)
    assert f[100] == pytest.approx(f_beta(4 / 5, 1), abs=1e-7)
    assert f[200] == pytest.approx(f_beta(1, 3 / 4), abs=1e-7)
    assert f.max() == pytest.approx(f_beta(1, 3 / 4), abs=1e-7)


def test_e_measure_by_hand(four_by_four):
    # t = 200/254: B = the three ones, mean(B) = 3/16, mean(G) = 4/16, so fm = 13/16 or -3/16
    # and g = 3/4 or -1/4. Pixel classes: 3 x (B=1, G=1), 1 x (B=0, G=1), 12 x (B=0, G=0).
    def phi(g, fm):
        return (2 * g * fm / (g * g + fm * fm) + 1) ** 2 / 4

    expected = (3 * phi(0.75, 0.8125) + phi(0.75, -0.1875) + 12 * phi(-0.25, -0.1875)) / 15
    assert e_measure_curve(*four_by_four)[200] == pytest.approx(expected, abs=1e-6)


def test_s_measure_by_hand(four_by_four):
    # Object term, u = 4/16:
    #   fg values 1, 1, 1, .5: mean .875, unbiased std .25
    #   bg values 1 - pred: eleven 1s and one .5: mean 11.5/12
    mean_bg = 11.5 / 12
    std_bg = math.sqrt((11 * (1 - mean_bg) ** 2 + (0.5 - mean_bg) ** 2) / 11)
    o_fg = 2 * 0.875 / (0.875**2 + 1 + 0.25)
    o_bg = 2 * mean_bg / (mean_bg**2 + 1 + std_bg)
    s_object = 0.25 * o_fg + 0.75 * o_bg
    # Region term: 0-based centroid X = Y = round(1.5) = 2 (half to even). Four 2x2 blocks of
    # weight 1/4. Three blocks have pred == gt (SSIM 1). In the bottom right, gt = [1 0; 0 0] and
    # pred = [.5 0; .5 0]: x = y = 1/4, s_x^2 = 1/12, s_y^2 = 1/4, s_xy = 1/12, SSIM = 1/2.
    s_region = 0.25 * (1 + 1 + 1 + 0.5)
    assert s_measure(*four_by_four) == pytest.approx(0.5 * s_object + 0.5 * s_region, abs=1e-7)


def test_pysod_differs_only_where_its_conventions_differ(four_by_four):
    official, pysod = OfficialEvaluator(), PySODEvaluator()
    official.add(*four_by_four)
    pysod.add(*four_by_four)
    ours, theirs = official.results(), pysod.results()
    assert theirs["MAE"] == pytest.approx(ours["MAE"], abs=1e-12)  # binary gt, pred spans [0, 1]
    assert theirs["maxF"] == pytest.approx(ours["maxF"], abs=1e-12)  # same binarisations occur
    assert abs(theirs["S"] - ours["S"]) > 1e-3  # its centroid is (3, 3): other quadrants


# ----------------------------------------------------------------------------------------------
# Special masks


def test_empty_gt_scores_a_quarter_officially_but_not_in_pysod():
    pred = eight_bit(np.arange(100).reshape(10, 10))
    gt = np.zeros((10, 10), np.float32)
    metrics = evaluate_image(pred, gt)
    # g = 0 everywhere, so phi = 1/4 at every pixel: E = 100 * 0.25 / 99 at every threshold.
    assert np.allclose(metrics.e_curve, 25 / 99, atol=1e-7)
    assert np.all(metrics.f_curve == 0)  # no true positives at any threshold
    # mean(G) == 0: S = 1 - mean(p).
    assert metrics.s == pytest.approx(1 - normalize_prediction(pred).mean(), abs=1e-7)
    pysod = PySODEvaluator()
    pysod.add(pred, gt)
    assert pysod.results()["maxE"] > 0.99  # PySODMetrics: fraction predicted background, 1 at t=255


def test_full_gt():
    pred = eight_bit(np.arange(100).reshape(10, 10))
    gt = np.ones((10, 10), np.float32)
    metrics = evaluate_image(pred, gt)
    assert np.allclose(metrics.e_curve, 25 / 99, atol=1e-7)  # g = G - 1 = 0 everywhere
    assert metrics.max_f == pytest.approx(1.0)  # at t = 0 everything is predicted: P = R = 1
    # mean(G) == 1: S = mean(p).
    assert metrics.s == pytest.approx(normalize_prediction(pred).mean(), abs=1e-7)


def test_soft_gt_by_hand():
    # Grey levels 153, 102, 51, 0 = 0.6, 0.4, 0.2, 0. F uses the soft values: sum(G) = 1.2.
    pred = np.array([[1, 0.5], [0, 0]], np.float32)
    gt = eight_bit([[153, 102], [51, 0]])
    f = f_measure_curve(pred, gt)
    # t ~ 0.79: B = {1}: TP = 0.6, P = 0.6, R = 0.5.
    # t ~ 0.39: B = {1, .5}: TP = 1, P = .5, R = 1/1.2.
    assert f[200] == pytest.approx(1.3 * 0.6 * 0.5 / (0.3 * 0.6 + 0.5), abs=1e-7)
    assert f[100] == pytest.approx(1.3 * 0.5 / 1.2 / (0.3 * 0.5 + 1 / 1.2), abs=1e-7)


def test_s_measure_stays_finite_where_the_official_code_gives_nan():
    pred = eight_bit(np.arange(16).reshape(4, 4))
    # mean(G) > 0 on the soft gt but nothing reaches 0.5: the foreground is empty, and the
    # official object score is NaN (mean of no pixels), which would make a whole set's S NaN.
    assert 0 <= s_measure(pred, np.full((4, 4), 0.2, np.float32)) <= 1
    single = np.zeros((4, 4), np.float32)
    single[1, 1] = 1
    assert 0 <= s_measure(pred, single) <= 1  # official: unbiased std of one pixel, NaN


def test_s_measure_is_clamped_at_zero():
    gt = np.zeros((6, 6), np.float32)
    gt[1:4, 2:5] = 1
    assert s_measure(1 - gt, gt) == 0.0  # inverted map: So = 0 and every block SSIM is negative


# ----------------------------------------------------------------------------------------------
# Tiny images: every number in [0, 1] (issue 30). 1xN and Nx1 are the shapes of the cases where
# the official n - 1 divisor lets E pass 1 and pysodmetrics' S is NaN (an empty quadrant).

TINY_SHAPES = [(1, 1), (1, 2), (2, 1), (1, 5), (5, 1), (2, 2), (1, 3), (3, 1)]


def tiny_masks(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Empty, full, one foreground pixel, half foreground, uniform soft and random soft masks."""
    n = shape[0] * shape[1]
    one, half = np.zeros(n, np.float32), np.zeros(n, np.float32)
    one[n // 2], half[: max(1, n // 2)] = 1, 1
    return {
        "empty": np.zeros(shape, np.float32),
        "full": np.ones(shape, np.float32),
        "one pixel": one.reshape(shape),
        "half": half.reshape(shape),
        "soft": np.full(shape, 100 / 255, np.float32),
        "random soft": eight_bit(np.random.default_rng(n).integers(0, 256, shape)),
    }


def tiny_predictions(gt: np.ndarray) -> dict[str, np.ndarray]:
    """The mask itself (a perfect map), its inverse, all 0, all 1, a ramp and random noise."""
    shape = gt.shape
    return {
        "perfect": gt,
        "inverted": 1 - gt,
        "zeros": np.zeros(shape, np.float32),
        "ones": np.ones(shape, np.float32),
        "ramp": np.linspace(0, 1, gt.size, dtype=np.float32).reshape(shape),
        "random": eight_bit(np.random.default_rng(7).integers(0, 256, shape)),
    }


def _in_unit_range(values) -> bool:
    values = np.asarray(values, dtype=np.float64)
    return bool(np.all(np.isfinite(values)) and np.all((values >= 0) & (values <= 1)))


@pytest.mark.parametrize("shape", TINY_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mask_kind", list(tiny_masks((1, 1))))
def test_every_per_image_metric_is_in_the_unit_range_for_tiny_images(shape, mask_kind):
    gt = tiny_masks(shape)[mask_kind]
    for pred_kind, pred in tiny_predictions(gt).items():
        metrics = evaluate_image(pred, gt)
        numbers = {
            "S": metrics.s, "MAE": metrics.mae, "precision": metrics.precision, "recall": metrics.recall,
            "F curve": metrics.f_curve, "E curve": metrics.e_curve, "maxF": metrics.max_f, "maxE": metrics.max_e,
            "meanF": metrics.f_curve.mean(), "meanE": metrics.e_curve.mean(),
        }
        for name, values in numbers.items():
            assert _in_unit_range(values), (shape, mask_kind, pred_kind, name, np.max(values))
        pysod = PySODEvaluator()
        pysod.add(pred, gt)
        for name, value in pysod.results().items():
            assert _in_unit_range(value), (shape, mask_kind, pred_kind, "pysodmetrics " + name, value)


def official_e_curve(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The official E-measure curve re-derived in float64: ``sum(phi) / (numel - 1 + 1e-20)``.

    eval-co-sod's ``_eval_e``: ``fm = B - mean(B)``, ``gt = G - mean(G)``,
    ``align = 2 gt fm / (gt^2 + fm^2 + eps)``, ``phi = (align + 1)^2 / 4``.
    """
    p = np.asarray(pred, np.float64)
    p = (p - p.min()) / (p.max() - p.min() + 1e-20)
    g = np.asarray(gt, np.float64) - np.mean(gt, dtype=np.float64)
    curve = []
    for t in THRESHOLDS.astype(np.float64):
        b = (p >= t).astype(np.float64)
        fm = b - b.mean()
        align = 2 * g * fm / (g * g + fm * fm + 1e-20)
        curve.append(((align + 1) ** 2 / 4).sum() / (gt.size - 1 + 1e-20))
    return np.array(curve)


@pytest.mark.parametrize("pred, gt", [
    ([[1, 0], [0, 0]], [[1, 0], [0, 0]]),  # perfect: every phi is 1, official E = 4 / 3
    ([[1, 0.5], [0, 0]], [[1, 0], [0, 0]]),
    ([[0, 1], [1, 0.2]], [[1, 0], [0, 0]]),  # wrong pixel
    ([[1, 0, 0]], [[1, 0, 0]]),  # perfect: official E = 3 / 2
    ([[1, 0.5, 0]], [[1, 1, 0]]),
    ([[0.2, 1, 0]], [[1, 0, 0]]),
    ([[0.3], [1], [0]], [[0], [1], [1]]),
], ids=["2x2 perfect", "2x2 soft", "2x2 wrong", "1x3 perfect", "1x3 ramp", "1x3 wrong", "3x1 wrong"])
def test_e_measure_is_the_official_value_for_two_pixels_and_more_capped_at_one(pred, gt):
    pred, gt = np.array(pred, np.float32), np.array(gt, np.float32)
    official = official_e_curve(pred, gt)
    ours = e_measure_curve(pred, gt)
    np.testing.assert_allclose(ours, np.minimum(official, 1), atol=1e-6, rtol=0)  # float32, as officially
    inside = official <= 1
    np.testing.assert_allclose(ours[inside], official[inside], atol=1e-6, rtol=0)  # the official value itself


def test_e_measure_of_a_perfect_map_is_one_not_n_over_n_minus_one():
    gt = np.zeros((1, 4), np.float32)
    gt[0, :2] = 1
    assert official_e_curve(gt, gt).max() == pytest.approx(4 / 3)
    assert e_measure_curve(gt, gt).max() == 1.0


@pytest.mark.parametrize("value", [0.0, 0.4, 1.0])
@pytest.mark.parametrize("mask", [0.0, 100 / 255, 1.0])
def test_e_measure_of_a_one_pixel_image_is_a_quarter(value, mask):
    # One pixel: g = G - mean(G) = 0 and fm = B - mean(B) = 0, so phi = 1/4. The official
    # code divides that by 0 + 1e-20; Eq. 14 divides by W x H = 1.
    pred, gt = np.full((1, 1), value, np.float32), np.full((1, 1), mask, np.float32)
    assert official_e_curve(pred, gt).min() == pytest.approx(0.25e20)
    assert np.all(e_measure_curve(pred, gt) == 0.25)


def _write_tiny_images_set(root: Path) -> None:
    """A CoSOD-layout set of 1x1, 1x5 and 5x1 images with empty, full, one-pixel and soft masks."""
    masks = {
        "dot": [np.full((1, 1), 255), np.zeros((1, 1)), np.full((1, 1), 100)],
        "row": [np.array([[255, 255, 0, 0, 0]]), np.array([[0, 0, 255, 0, 0]]), np.full((1, 5), 255)],
        "column": [np.array([[255], [255], [0], [0], [0]]), np.zeros((5, 1)), np.array([[0], [80], [255], [160], [0]])],
    }
    rng = np.random.default_rng(0)
    for group, group_masks in masks.items():
        for i, mask in enumerate(group_masks):
            image = rng.integers(0, 256, (*mask.shape, 3)).astype(np.uint8)
            for side, array, suffix in (("images", image, ".jpg"), ("gts", mask.astype(np.uint8), ".png")):
                path = root / side / "Tiny" / group / f"{group}_{i}{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(path)


def test_evaluate_command_prints_and_writes_only_unit_range_metrics_for_tiny_images(tmp_path, capsys):
    from gconet_lab.cli import main
    from gconet_lab.config import make_config
    from gconet_lab.engine.checkpoint import save_training_checkpoint
    from gconet_lab.engine.train import make_optimizer
    from gconet_lab.models import GCoNetPlus

    _write_tiny_images_set(tmp_path / "data")
    config = make_config("tiny")
    model = GCoNetPlus(config)
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    save_training_checkpoint(checkpoint, model=model, optimizer=make_optimizer(model, config), scaler=None,
                             config=config, epoch=1, step=0, batch_in_epoch=0)
    out = tmp_path / "eval"
    main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(tmp_path / "data"), "--set", "Tiny",
          "--out", str(out)])
    printed = capsys.readouterr().out.splitlines()
    table = {line.split()[0]: line.split()[1:] for line in printed[1:7]}  # metric official pysod pysod-off
    assert set(table) == {"S", "maxF", "meanF", "maxE", "meanE", "MAE"}, printed
    for metric, columns in table.items():
        assert len(columns) == 3, (metric, columns)  # a huge pysod number runs into the official one
        assert _in_unit_range([float(columns[0]), float(columns[1])]), (metric, columns)
    for name in ("per_image.csv", "per_group.csv"):
        rows = list(csv.DictReader((out / "tables" / "Tiny" / name).open()))
        assert len(rows) == (9 if name == "per_image.csv" else 3)
        for row in rows:
            values = [float(row[key]) for key in ("S", "maxF", "maxE", "MAE", "meanF", "meanE") if key in row]
            assert _in_unit_range(values), (name, row)



# ----------------------------------------------------------------------------------------------
# Fast code against the brute-force reference


@pytest.mark.slow
def test_fast_curves_equal_brute_force_on_random_cases():
    rng = np.random.default_rng(1)
    for _ in range(300):
        pred, gt = random_case(rng)
        f_ref, e_ref = reference_curves(pred, gt)
        metrics = evaluate_image(pred, gt)
        np.testing.assert_allclose(metrics.f_curve, f_ref, atol=1e-6, rtol=0)
        np.testing.assert_allclose(metrics.e_curve, e_ref, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(metrics.f_curve, f_measure_curve(pred, gt))
        np.testing.assert_array_equal(metrics.e_curve, e_measure_curve(pred, gt))


def test_grey_level_path_equals_general_path():
    # The same 8-bit gt once exactly k/255 (histogram path) and once nudged off the grid by
    # one float32 step at a single pixel (per-threshold fallback).
    rng = np.random.default_rng(2)
    pred, gt = eight_bit(rng.integers(0, 256, (30, 20))), eight_bit(rng.integers(0, 256, (30, 20)))
    nudged = gt.copy()
    nudged[0, 0] = np.nextafter(nudged[0, 0], np.float32(2))
    np.testing.assert_allclose(
        e_measure_curve(pred, gt), e_measure_curve(pred, nudged), atol=1e-6, rtol=0
    )


def test_inputs_are_validated():
    with pytest.raises(ValueError, match="one shape"):
        evaluate_image(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluate_image(np.full((3, 3), np.nan), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluate_image(np.zeros((3, 3)), np.full((3, 3), 255.0))  # 8-bit levels, not / 255


# ----------------------------------------------------------------------------------------------
# Dataset aggregation, loading, folders


def test_max_f_is_the_max_of_the_mean_curve_not_the_mean_of_maxima():
    rng = np.random.default_rng(3)
    evaluator = OfficialEvaluator()
    images = [random_case(rng) for _ in range(6)]
    for i, (pred, gt) in enumerate(images):
        evaluator.add(pred, gt, name=f"g{i % 2}/{i}.png")
    curves = np.array([f_measure_curve(pred, gt) for pred, gt in images])
    results = evaluator.results()
    assert results["maxF"] == pytest.approx(curves.mean(axis=0).max(), abs=1e-12)
    assert results["maxF"] < curves.max(axis=1).mean()  # one threshold must serve all images
    assert results["n"] == 6
    assert [row["group"] for row in evaluator.per_group()] == ["g0", "g1"]
    row = evaluator.per_image()[1]
    assert (row["group"], row["name"], row["maxF"]) == ("g1", "1", curves[1].max())


def _save(path: Path, levels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(levels, np.uint8)).save(path)


def test_load_pair_resizes_the_prediction_like_the_official_loader(tmp_path):
    rng = np.random.default_rng(4)
    pred_levels, gt_levels = rng.integers(0, 256, (256, 256)), rng.integers(0, 256, (30, 50))
    _save(tmp_path / "pred.png", pred_levels)
    _save(tmp_path / "gt.png", gt_levels)
    pred, gt = load_pair(tmp_path / "pred.png", tmp_path / "gt.png")
    resized = Image.fromarray(pred_levels.astype(np.uint8)).resize(
        (50, 30), Image.Resampling.BILINEAR
    )
    assert pred.dtype == gt.dtype == np.float32 and pred.shape == gt.shape == (30, 50)
    assert np.array_equal(pred, eight_bit(np.asarray(resized)))
    assert np.array_equal(gt, eight_bit(gt_levels))


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """Two groups of 3 pairs, one prediction without a mask and one mask without a prediction."""
    rng = np.random.default_rng(5)
    for group in ("bird", "cat"):
        for i in range(3):
            gt = 255 * (rng.random((20, 24)) < 0.4)
            _save(tmp_path / "gt" / group / f"{i}.png", gt)
            _save(
                tmp_path / "pred" / group / f"{i}.png",
                np.clip(gt + rng.integers(-60, 60, gt.shape), 0, 255),
            )
    _save(tmp_path / "pred" / "cat" / "orphan.png", np.zeros((4, 4)))
    _save(tmp_path / "gt" / "dog" / "0.png", np.zeros((4, 4)))
    return tmp_path / "pred", tmp_path / "gt"


def test_evaluate_folders_pairs_counts_and_writes_tables(folders, tmp_path):
    pred_root, gt_root = folders
    evaluation = evaluate_folders(pred_root, gt_root, progress=False)
    assert evaluation.pairing.pred_only == ["cat/orphan.png"]
    assert evaluation.pairing.gt_only == ["dog/0.png"]
    assert evaluation.results["n"] == 6 and len(evaluation.per_image) == 6
    assert set(evaluation.results) == {"S", "maxF", "meanF", "maxE", "meanE", "MAE", "n"}
    per_image, per_group = write_tables(evaluation, tmp_path / "tables")
    rows = list(csv.DictReader(per_image.open()))
    assert list(rows[0]) == ["group", "name", "S", "maxF", "maxE", "MAE"] and len(rows) == 6
    assert [row["group"] for row in csv.DictReader(per_group.open())] == ["bird", "cat"]
    only_cat = evaluate_folders(pred_root, gt_root, groups=["cat"], progress=False)
    assert only_cat.results["n"] == 3


def test_match_pairs_fails_clearly_when_nothing_matches(folders):
    pred_root, gt_root = folders
    with pytest.raises(FileNotFoundError, match=r"no <group>/<name> in groups"):
        match_pairs(pred_root, gt_root, groups=["horse"])


def test_compare_folders_reports_both_toolboxes(folders):
    comparison = compare_folders(*folders, progress=False)
    metrics = {"S", "maxF", "meanF", "maxE", "meanE", "MAE"}
    assert set(comparison["official"]) == set(comparison["pysod"]) == metrics


# ----------------------------------------------------------------------------------------------
# Parity with the official evaluator on 121 real iCoseg masks


@pytest.fixture(scope="module")
def parity_evaluation():
    shared = shared_root()
    parity, masks = shared / "reference" / "eval_parity", shared / "data/icoseg/ground_truth"
    if not (parity / "official_metrics.json").exists() or not masks.is_dir():
        message = f"parity data not found under {shared} (set GCONET_SHARED)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return parity, evaluate_folders(parity / "pred", masks, progress=False)


def test_dataset_numbers_match_the_official_evaluator(parity_evaluation):
    parity, _ = parity_evaluation
    check = check_official_parity(parity, shared_root() / "data/icoseg/ground_truth")
    assert check.images == 121
    assert check.max_abs_difference <= 1e-6, check.format()


def test_per_image_numbers_match_the_official_evaluator(parity_evaluation):
    parity, evaluation = parity_evaluation
    rows = json.loads((parity / "official_per_image.json").read_text())
    official = {row["image"]: row for row in rows}
    assert len(evaluation.per_image) == len(official)
    for row in evaluation.per_image:
        expected = official[f"{row['group']}/{row['name']}.png"]
        for our_key, official_key in OFFICIAL_KEYS.items():
            assert row[our_key] == pytest.approx(expected[official_key], abs=1e-6), (row, our_key)


# --- mask flavours and degenerate masks -----------------------------------------------------------


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
