"""Exercise 6: a co-saliency group from COCO polygons (Sec. 4.1, the COCO-SEG recipe).

The student writes ``f(polygons, height, width) -> mask``: the union of one class's instance
polygons ((k, 2) arrays of pixel (x, y) vertices) rasterised into an (H, W) uint8 mask of 0/1.
Reference: ``class_mask`` of ``gconet_lab/data/sources/coco.py``.  Any rasteriser is accepted when its
mask overlaps the reference's with IoU >= 0.9 (they may differ by a pixel along the outline), but
overlapping polygons must not cancel out: their overlap belongs to the union.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gconet_lab.data.sources.coco import class_mask
from gconet_lab.exercises.feedback import ExerciseFailed, call_student, expect, passed

NAME = "class_mask"
MIN_IOU = 0.9
HEIGHT, WIDTH = 60, 80


def square(x: float, y: float, size: float) -> np.ndarray:
    return np.array([[x, y], [x + size, y], [x + size, y + size], [x, y + size]], dtype=np.float64)


def cases() -> dict[str, tuple[list[np.ndarray], tuple[int, int] | None]]:
    """Named (polygons, a pixel that must be 1 or None) inputs on a 60 x 80 image."""
    triangle = np.array([[10.0, 5.0], [70.0, 20.0], [25.0, 55.0]])
    return {
        "one triangle": ([triangle], (30, 25)),
        "two separate squares": ([square(5, 5, 20), square(50, 30, 25)], (40, 60)),
        "two overlapping squares (their overlap, around pixel (row 32, col 32), must stay filled)": ([square(10, 10, 30), square(25, 25, 30)], (32, 32)),
        "no polygons (the class has no instance here)": ([], None),
    }


def check_class_mask(function: Callable[[list[np.ndarray], int, int], np.ndarray]) -> None:
    """Compare ``function(polygons, 60, 80)`` with the reference rasteriser on every input of :func:`cases`."""
    for on, (polygons, inside) in cases().items():
        on = f"{on}, image {HEIGHT} x {WIDTH}"
        received = call_student(function, NAME, on, [p.copy() for p in polygons], HEIGHT, WIDTH)
        expected = class_mask(polygons, HEIGHT, WIDTH)
        if not isinstance(received, np.ndarray):
            raise ExerciseFailed(f"the mask should be a numpy array, received {type(received).__name__}\n  on {on}")
        expect(received.shape == expected.shape, f"the mask has the wrong shape\n  expected {expected.shape}\n  received {received.shape}", on)
        expect(received.dtype == np.uint8, f"the mask should have dtype uint8, received {received.dtype}", on)
        values = sorted(int(v) for v in np.unique(received))
        expect(set(values) <= {0, 1}, f"the mask should hold only 0 and 1, received the values {values[:6]}", on)
        if inside is not None:
            expect(received[inside] == 1, f"pixel (row {inside[0]}, col {inside[1]}) lies inside the union but is 0", on)
        union = np.logical_or(received, expected).sum()
        iou = np.logical_and(received, expected).sum() / union if union else 1.0
        expect(iou >= MIN_IOU, f"the mask overlaps the reference with IoU {iou:.3f} < {MIN_IOU}\n  expected {int(expected.sum())} pixels set\n  received {int(received.sum())}", on)
    passed(NAME, list(cases()))
