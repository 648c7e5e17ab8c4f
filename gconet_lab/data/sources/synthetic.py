"""A synthetic co-saliency set in which the co-salient object can only be found through the group.

Co-salient object detection asks for the objects that recur across a group of images. In real
data the common object is often also the most salient one in each image; CoSal2015, for example,
is "easy to handle with single-SOD methods" because most images hold one salient object
(Sec. 4.5). Here that shortcut is removed:

* a class is a shape x pattern pair (8 shapes x 4 patterns = 32 classes, e.g. ``star_stripes``);
* every image of group g holds 1-2 objects of g's class **and** two distractor classes with 1-2
  objects each, all with the same size range, the same two-colour bright palette and the same
  contrast against a muted background (gradient, smooth noise or broad stripes);
* distractor classes change from image to image, and no distractor class is in every image;
* each class is the target of its own group and a distractor in the others.

So, looking at one image, every object is equally salient and equally frequent; only comparing
the images of a group (the group consensus, Sec. 3.2) tells which class is co-salient. The mask
marks exactly the objects of the group's class. Objects never overlap.

The ``train`` and ``test`` splits use the same classes with independent images. Everything is
derived from ``seed`` (each group from its own seed stream) and vectorised with numpy: 100 images
of 128 x 128 take well under a second to draw and write. Output, in the CoSOD layout::

    OUT/images/<prefix>_train/<class>/<class>_000.png    (and <prefix>_test)
    OUT/gts/<prefix>_train/<class>/<class>_000.png       (0/255 masks)

Command line: ``python data_scripts/synthetic.py data_cache/cosod --n-groups 12 --images-per-group 10``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from gconet_lab.data.writer import check_generated_side, sample_paths, write_mask_png

SHAPES = ("disk", "ring", "square", "triangle", "star", "cross", "diamond", "hexagon")
PATTERNS = ("solid", "stripes", "checker", "dots")
CLASSES = tuple(f"{shape}_{pattern}" for shape in SHAPES for pattern in PATTERNS)
BACKGROUNDS = ("gradient", "stripes", "noise")
SPLITS = ("train", "test")
RADIUS_RANGE = (0.08, 0.13)  # object radius as a fraction of the image size
DISTRACTOR_CLASSES = 2  # distractor classes per image
MAX_INSTANCES = 2  # objects per class in one image: 1 or 2, for targets and distractors alike


@dataclass(frozen=True)
class SceneObject:
    """One drawn object: its class, centre and radius in pixels, rotation in radians."""

    class_index: int
    cx: float
    cy: float
    radius: float
    angle: float
    is_target: bool


def _polygon(rho: np.ndarray, theta: np.ndarray, sides: int, radius: float) -> np.ndarray:
    """Inside a regular polygon with ``sides`` corners on a circle of ``radius``."""
    sector = 2 * np.pi / sides
    return rho * np.cos(np.mod(theta, sector) - sector / 2) <= radius * np.cos(sector / 2)


def shape_inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of ``shape`` in object coordinates (the shape fits in the unit disk)."""
    rho, theta = np.hypot(u, v), np.arctan2(v, u)
    if shape == "disk":
        return rho <= 0.85
    if shape == "ring":
        return (rho >= 0.5) & (rho <= 1.0)
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.7
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.0
    if shape == "triangle":
        return _polygon(rho, theta, 3, 1.0)
    if shape == "hexagon":
        return _polygon(rho, theta, 6, 0.9)
    if shape == "star":
        spike = np.abs(np.mod(theta, 2 * np.pi / 5) / (2 * np.pi / 5) - 0.5) * 2  # 1 at the tips
        return rho <= 0.4 + 0.6 * spike
    if shape == "cross":
        return ((np.abs(u) <= 0.3) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 1.0))
    raise ValueError(f"unknown shape {shape!r}")


def pattern_first_colour(pattern: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Where the pattern shows the object's first colour (elsewhere: its second colour)."""
    if pattern == "solid":
        return np.ones(u.shape, dtype=bool)
    if pattern == "stripes":
        return np.sin(2 * np.pi * u / 0.5) >= 0
    if pattern == "checker":
        return (np.floor(u / 0.45) + np.floor(v / 0.45)) % 2 == 0
    if pattern == "dots":
        return np.hypot(np.mod(u, 0.5) - 0.25, np.mod(v, 0.5) - 0.25) >= 0.13
    raise ValueError(f"unknown pattern {pattern!r}")


def _local_frame(obj: SceneObject, size: int) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """The object's bounding box in the image and the object coordinates of its pixels."""
    y0, y1 = max(int(obj.cy - obj.radius) - 1, 0), min(int(obj.cy + obj.radius) + 2, size)
    x0, x1 = max(int(obj.cx - obj.radius) - 1, 0), min(int(obj.cx + obj.radius) + 2, size)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = (xs + 0.5 - obj.cx) / obj.radius, (ys + 0.5 - obj.cy) / obj.radius
    cos, sin = np.cos(obj.angle), np.sin(obj.angle)
    return (slice(y0, y1), slice(x0, x1)), cos * dx + sin * dy, -sin * dx + cos * dy


def object_mask(obj: SceneObject, size: int) -> np.ndarray:
    """Full-image boolean mask of one object."""
    box, u, v = _local_frame(obj, size)
    mask = np.zeros((size, size), dtype=bool)
    mask[box] = shape_inside(SHAPES[obj.class_index // len(PATTERNS)], u, v)
    return mask


def _bright_colours(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` saturated, bright RGB colours in [0, 1] with distinct random hues."""
    hues = (rng.random() + np.arange(count) / count + rng.uniform(-0.1, 0.1, count)) % 1.0
    hsv = np.stack(
        [hues * 180, rng.uniform(0.65, 1.0, count) * 255, rng.uniform(0.8, 1.0, count) * 255], 1
    )
    return cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0].astype(np.float32) / 255


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A muted (H, W, 3) float background: linear gradient, broad stripes or smooth noise."""
    low, high = rng.uniform(0.15, 0.4, 3), rng.uniform(0.35, 0.55, 3)
    kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    if kind == "noise":
        cells = rng.random((int(rng.integers(3, 8)),) * 2).astype(np.float32)
        weight = cv2.resize(cells, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    else:
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
        direction = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(direction) * xs + np.sin(direction) * ys
        if kind == "gradient":
            weight = (ramp - ramp.min()) / np.ptp(ramp)
        else:
            weight = 0.5 + 0.5 * np.sin(2 * np.pi * ramp / rng.uniform(0.15, 0.35))
    return low + (high - low) * weight[:, :, None]


def _place(
    rng: np.random.Generator, classes: Sequence[int], target: int, size: int
) -> list[SceneObject] | None:
    """Non-overlapping objects for ``classes`` (one entry per object); None if they do not fit."""
    placed: list[SceneObject] = []
    for class_index in classes:
        radius = rng.uniform(*RADIUS_RANGE) * size
        for _ in range(100):
            cx, cy = rng.uniform(radius + 1, size - radius - 1, 2)
            if all(np.hypot(cx - o.cx, cy - o.cy) > radius + o.radius + 2 for o in placed):
                angle = rng.uniform(0, 2 * np.pi)
                placed.append(
                    SceneObject(class_index, cx, cy, radius, angle, class_index == target)
                )
                break
        else:
            return None
    return placed


def render_scene(
    rng: np.random.Generator, size: int, target: int, distractors: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, list[SceneObject]]:
    """One image: RGB uint8, boolean mask of the target-class objects, and the objects drawn."""
    counts = rng.integers(1, MAX_INSTANCES + 1, len(distractors) + 1)
    classes = [c for c, n in zip([target, *distractors], counts, strict=True) for _ in range(n)]
    objects = None
    while objects is None:
        objects = _place(rng, [classes[i] for i in rng.permutation(len(classes))], target, size)
    image = background(rng, size)
    mask = np.zeros((size, size), dtype=bool)
    for obj in objects:
        box, u, v = _local_frame(obj, size)
        inside = shape_inside(SHAPES[obj.class_index // len(PATTERNS)], u, v)
        first = pattern_first_colour(PATTERNS[obj.class_index % len(PATTERNS)], u, v)
        colours = _bright_colours(rng, 2)
        paint = np.where(first[:, :, None], colours[0], colours[1])
        image[box] = np.where(inside[:, :, None], paint, image[box])
        if obj.is_target:
            mask[box] |= inside
    image += rng.normal(0.0, 0.02, image.shape).astype(np.float32)
    return (image.clip(0, 1) * 255 + 0.5).astype(np.uint8), mask, objects


def distractor_plan(rng: np.random.Generator, target: int, n_images: int) -> list[list[int]]:
    """Distractor classes per image: never the target, and none present in every image."""
    others = np.array([c for c in range(len(CLASSES)) if c != target])
    while True:
        plan = [
            sorted(int(c) for c in rng.choice(others, DISTRACTOR_CLASSES, replace=False))
            for _ in range(n_images)
        ]
        if not set.intersection(*(set(p) for p in plan)):
            return plan


def generate_group(
    out: Path, set_name: str, target: int, n_images: int, size: int, seed: Sequence[int]
) -> None:
    """Draw one group of class ``target`` from its own seed stream and write it under ``out``."""
    rng = np.random.default_rng(np.random.SeedSequence(list(seed)))
    name = CLASSES[target]
    for i, distractors in enumerate(distractor_plan(rng, target, n_images)):
        image, mask, _ = render_scene(rng, size, target, distractors)
        image_path, mask_path = sample_paths(out, set_name, name, f"{name}_{i:03d}", ".png")
        image_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(image_path, compress_level=1)
        write_mask_png(mask, mask_path)


def generate(
    out: str | Path,
    n_groups: int = 12,
    images_per_group: int = 10,
    size: int = 128,
    seed: int = 0,
    prefix: str = "Synthetic",
) -> dict[str, list[str]]:
    """Write the train and test splits under ``out``; returns set name -> group names."""
    if not 2 <= n_groups <= len(CLASSES):
        raise ValueError(f"n_groups must be in 2..{len(CLASSES)}, not {n_groups}")
    if images_per_group < 2:
        raise ValueError("a co-saliency group needs at least 2 images")
    check_generated_side(size)
    targets = sorted(np.random.default_rng(seed).permutation(len(CLASSES))[:n_groups].tolist())
    written = {}
    for split_index, split in enumerate(SPLITS):
        set_name = f"{prefix}_{split}"
        for target in targets:
            generate_group(
                Path(out), set_name, target, images_per_group, size, (seed, split_index, target)
            )
        written[set_name] = [CLASSES[t] for t in targets]
    return written
