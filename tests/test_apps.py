"""Applications of co-saliency maps (Sec. 5): adaptive threshold, GrabCut, thumbnails."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gconet_lab.config import make_config
from gconet_lab.data import index_set
from gconet_lab.models import GCoNetPlus
from gconet_lab.studies.apps import (
    adaptive_threshold,
    bounding_box,
    cosegment,
    crop,
    enlarge_box,
    evaluate_cosegmentation,
    grabcut,
    iou,
    thumbnail_boxes,
)


def disk_scene(size: int = 96, centre: tuple[int, int] = (40, 52), radius: int = 18, seed: int = 0):
    """A red disk on a noisy green background: (image, object mask)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.uint8)
    image[..., 1] = rng.integers(90, 160, (size, size))
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, centre, radius, 1, -1)
    image[mask > 0] = (210, 40, 30) + rng.integers(-20, 20, (int(mask.sum()), 3))
    return image, mask.astype(bool)


def test_adaptive_threshold_is_twice_the_mean_capped_at_the_peak():
    saliency = np.array([[0.0, 0.1, 0.2, 0.9]])  # mean 0.3 -> threshold 0.6
    assert adaptive_threshold(saliency).tolist() == [[False, False, False, True]]
    assert adaptive_threshold(np.full((3, 3), 0.4)).all()  # 2x mean > peak: the peak is kept
    assert not adaptive_threshold(np.zeros((3, 3))).any()
    assert (adaptive_threshold((saliency * 255).astype(np.uint8)) == adaptive_threshold(saliency)).all()


def test_iou_of_known_overlaps():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4))
    b[1:3] = 1.0
    assert iou(a, b) == pytest.approx(4 / 12)
    assert iou(a, a.astype(float)) == 1.0 and iou(np.zeros((2, 2), bool), np.zeros((2, 2))) == 1.0


def test_grabcut_tightens_a_coarse_map_to_the_object():
    image, truth = disk_scene()
    coarse = cv2.dilate(truth.astype(np.uint8), np.ones((21, 21), np.uint8)).astype(bool)  # the disk and a margin
    refined = grabcut(image, coarse)
    assert iou(coarse, truth) < 0.6
    assert iou(refined, truth) > iou(coarse, truth) + 0.2


def test_grabcut_keeps_a_map_with_nothing_to_separate():
    image, _ = disk_scene()
    for initial in (np.zeros(image.shape[:2], bool), np.ones(image.shape[:2], bool)):
        assert (grabcut(image, initial) == initial).all()


def test_cosegment_thresholds_then_refines():
    image, truth = disk_scene()
    saliency = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), 6)
    result = cosegment(image, saliency)
    assert (result.threshold == adaptive_threshold(saliency)).all()
    assert iou(result.grabcut, truth) >= iou(result.threshold, truth) - 0.02


def test_thumbnail_box_contains_the_object_and_the_enlarged_box_contains_it():
    image, truth = disk_scene()
    saliency = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), 3)
    tight, enlarged = thumbnail_boxes(saliency, scale=1.5)
    ys, xs = np.nonzero(truth)
    x0, y0, x1, y1 = tight
    assert x0 <= xs.min() and y0 <= ys.min() and x1 > xs.max() and y1 > ys.max()
    assert enlarged[0] <= x0 and enlarged[1] <= y0 and enlarged[2] >= x1 and enlarged[3] >= y1
    assert (enlarged[2] - enlarged[0]) > (x1 - x0)
    assert crop(image, enlarged).shape[:2] == (enlarged[3] - enlarged[1], enlarged[2] - enlarged[0])
    assert thumbnail_boxes(np.zeros((8, 8))) is None


def test_boxes_are_exact_and_enlarged_boxes_stay_in_the_image():
    mask = np.zeros((10, 20), bool)
    mask[2:5, 3:9] = True
    assert bounding_box(mask) == (3, 2, 9, 5)
    assert bounding_box(np.zeros((3, 3), bool)) is None
    assert enlarge_box((0, 0, 10, 10), 3.0, height=10, width=12) == (0, 0, 12, 10)


def test_evaluate_cosegmentation_scores_every_kept_image(write_cosod_set):
    root = write_cosod_set({"a": 3, "b": 2}, size=(32, 32))
    model = GCoNetPlus(make_config("tiny")).eval()
    records = evaluate_cosegmentation(model, index_set(root, "Tiny").groups, image_size=64, max_images=2)
    assert [(r["group"], r["name"]) for r in records] == [("a", "a_00"), ("a", "a_01"), ("b", "b_00"), ("b", "b_01")]
    assert all(0.0 <= r[key] <= 1.0 for r in records for key in ("iou_threshold", "iou_grabcut"))
