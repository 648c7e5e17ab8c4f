"""Copy-paste co-saliency groups cut from segmented COCO photos (after Kong et al., arXiv 2108.02093).

Co-saliency training sets are small (COCO128 gives a few dozen groups). Kong et al.'s
group-cut-paste answers this with synthetic groups: objects of one class are cut out of segmented
photos and pasted onto other photos, so every image comes with an exact mask. This module applies
the idea to the instance polygons of coco128-seg:

* **cut-outs**: every instance polygon of a photo, rasterised as in COCO-SEG
  (:func:`~gconet_lab.data.sources.coco.class_mask`), gives RGB pixels and an exact binary alpha,
  opened with a 3 x 3 square to drop the one-pixel lines YOLO-seg draws between the parts of a
  multi-part instance (it merges them into one polygon).
  Tiny instances (area below ``min_area`` of the photo or a side below ``min_side`` pixels) and
  truncated ones (touching the photo border) are dropped;
* **groups**: a group is one class with at least ``min_instances`` cut-outs. Each image of the
  group is a ``size`` x ``size`` crop of another COCO photo (its own objects stay: natural
  distractors) that holds *no* instance of the group's class (it would be an unlabelled target),
  with 1-2 cut-outs of the group's class (targets) and 1-3 of other classes (distractors, of
  distinct classes drawn uniformly) pasted in random order, each with a random scale, position,
  horizontal flip and colour jitter;
* **shared backgrounds**: with probability ``shared_background`` a group is a *photo session*:
  all its images are crops of one background photo, as in benchmarks whose groups come from one
  photographer's series (iCoseg's planes in one sky, CoSOD3k's and CoCA's scenes). The background,
  its own objects included, is then common to the whole group without being the target: a model
  has to tell the pasted class from what merely recurs;
* **masks**: exactly the pixels where a pasted target is visible: an object pasted later covers
  the ones before it. A layout in which a target keeps less than ``min_visible`` of its pixels is
  drawn again (after a few tries the targets are pasted last).
* **edges**: with ``feather = 0`` pastes are hard-edged, so mask and pixels agree exactly; the
  price is a visible cut edge, a cue a model can learn that real photos do not have. With
  ``feather > 0`` every paste is blended through its alpha blurred by a Gaussian of a random
  sigma in ``[0, feather]`` pixels (Dwibedi et al., "Cut, Paste and Learn", ICCV 2017, found
  such blending essential); the mask stays the hard alpha, so it marks the edge's middle.

Only coco128-seg pixels are used (iCoseg is the test set; the API takes one COCO folder).
Everything follows from ``seed``; each group draws from its own seed stream. Folder names are the
class names when every class has one group (so classes are shared by name with COCO128-SEG);
with several groups per class they are ``<class>_<k>`` and the set's class file
(:data:`~gconet_lab.data.layout.CLASS_FILE`) gives each group its class. Output, in the CoSOD
layout: ``OUT/images/<set>/<group>/<group>_000.jpg`` and ``OUT/gts/<set>/<group>/<group>_000.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from gconet_lab.data.errors import DataError
from gconet_lab.data.io import read_image
from gconet_lab.data.layout import CLASS_FILE
from gconet_lab.data.sources.coco import (
    AnnotatedImage,
    class_mask,
    read_class_names,
    read_yolo_seg,
)
from gconet_lab.data.writer import check_generated_side, safe_names, sample_paths, write_class_file, write_mask_png

LAYOUT_TRIES = 10  # random layouts tried before the targets are pasted last
BRIDGE_KERNEL = np.ones((3, 3), np.uint8)  # opening with it drops 1-pixel lines from an alpha


@dataclass(frozen=True)
class Cutout:
    """One object instance cut out of its photo: RGB pixels and the exact alpha of its polygon."""

    rgb: np.ndarray  # (h, w, 3) uint8
    alpha: np.ndarray  # (h, w) bool
    class_id: int
    source: str  # "<photo stem>#<instance number in its label file order>"
    blend: np.ndarray | None = None  # (h, w) float32 opacity when pasted; None: the hard alpha


@dataclass(frozen=True)
class Paste:
    """A (transformed) cut-out placed with its top-left corner at pixel (top, left)."""

    cutout: Cutout
    top: int
    left: int
    is_target: bool


@dataclass(frozen=True)
class PasteOptions:
    """How cut-outs are chosen and pasted (defaults: the ``CopyPaste`` set of the pipeline)."""

    min_area: float = 0.005  # least instance area, as a fraction of its photo
    min_side: int = 16  # least side of an instance's bounding box, in photo pixels
    border: int = 2  # instances within this many pixels of the photo border are truncated
    min_instances: int = 2  # a class needs this many cut-outs to make a group
    targets: tuple[int, int] = (1, 2)  # pasted objects of the group's class per image (inclusive)
    distractors: tuple[int, int] = (1, 3)  # pasted objects of other classes per image (inclusive)
    object_size: tuple[float, float] = (0.25, 0.6)  # long side of a pasted object / image side
    max_upscale: float = 2.0  # a cut-out is never enlarged more than this
    jitter: float = 0.2  # saturation and brightness factors drawn in [1 - jitter, 1 + jitter]
    hue_shift: int = 6  # hue shift drawn in [-hue_shift, hue_shift] (OpenCV hue: 180 = full turn)
    min_visible: float = 0.5  # least visible fraction of every pasted target
    feather: float = 0.0  # largest Gaussian sigma (pixels) of a paste's blended edge; 0: hard edges
    shared_background: float = 0.0  # probability that all images of a group crop one background photo

    def __post_init__(self) -> None:
        if not 1 <= self.targets[0] <= self.targets[1]:
            raise ValueError(f"targets must be (low, high) with 1 <= low <= high, not {self.targets}")
        if not 0 <= self.distractors[0] <= self.distractors[1]:
            raise ValueError(f"distractors must be (low, high) with 0 <= low <= high, not {self.distractors}")
        low, high = self.object_size
        if not 0 < low <= high <= 1:
            raise ValueError("object_size must be (low, high) with 0 < low <= high <= 1")
        if self.min_instances < 1:
            raise ValueError(f"min_instances must be at least 1, not {self.min_instances}")
        if not 0 <= self.min_visible <= 1 or not 0 <= self.jitter < 1:
            raise ValueError("need 0 <= min_visible <= 1 and 0 <= jitter < 1")
        if not 0 <= self.feather <= 16:
            raise ValueError(f"feather must be a sigma in [0, 16] pixels, not {self.feather}")
        if not 0 <= self.shared_background <= 1:
            raise ValueError(f"shared_background must be a probability, not {self.shared_background}")


@dataclass(frozen=True)
class CopyPasteReport:
    """What a generation wrote: group -> class, the background photos used, and the pool sizes."""

    set_name: str
    group_classes: dict[str, str]
    backgrounds: dict[str, tuple[str, ...]]  # group -> background photo stem of each image
    images_per_group: int
    size: int
    num_cutouts: int
    num_classes: int  # classes with enough cut-outs to make a group

    def summary(self) -> str:
        """One line for the console, then the groups."""
        classes = len(set(self.group_classes.values()))
        lines = [
            f"{self.set_name}: {len(self.group_classes)} groups of {classes} classes x "
            f"{self.images_per_group} images ({len(self.group_classes) * self.images_per_group} "
            f"image/mask pairs, {self.size} px) from {self.num_cutouts} cut-outs of "
            f"{self.num_classes} eligible classes"
        ]
        lines += [f"  {group}: class {name}" for group, name in sorted(self.group_classes.items())]
        return "\n".join(lines)


def cut_instances(
    images: Sequence[AnnotatedImage], options: PasteOptions = PasteOptions()
) -> list[Cutout]:
    """Every instance polygon of ``images`` large enough and not truncated, as a :class:`Cutout`."""
    cutouts = []
    for image in images:
        photo: np.ndarray | None = None
        for class_id, shapes in sorted(image.shapes.items()):
            for number, polygon in enumerate(shapes):
                if isinstance(polygon, dict):
                    continue  # an RLE crowd region, not an object outline
                (x0, y0), (x1, y1) = polygon.min(axis=0), polygon.max(axis=0)
                margin = options.border
                truncated = min(x0, y0) <= margin or max(x1 - image.width, y1 - image.height) >= -1 - margin
                if truncated or min(x1 - x0, y1 - y0) < options.min_side:
                    continue
                polygon_mask = class_mask([polygon], image.height, image.width)
                alpha = cv2.morphologyEx(polygon_mask, cv2.MORPH_OPEN, BRIDGE_KERNEL).astype(bool)
                if alpha.mean() < options.min_area:
                    continue
                photo = read_image(image.path) if photo is None else photo
                rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
                box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
                cutouts.append(Cutout(photo[box], alpha[box], class_id, f"{image.path.stem}#{number}"))
    return cutouts


def transform_cutout(
    cutout: Cutout, long_side: float, options: PasteOptions, rng: np.random.Generator
) -> Cutout:
    """Scale ``cutout`` to a ``long_side`` (enlarging at most ``max_upscale``), flip and jitter it."""
    height, width = cutout.alpha.shape
    scale = min(long_side / max(height, width), options.max_upscale)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    rgb = cv2.resize(cutout.rgb, size, interpolation=interpolation)
    alpha = cv2.resize(cutout.alpha.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) >= 0.5
    if not alpha.any():  # a sliver thinner than a pixel after scaling: keep its centre
        alpha[alpha.shape[0] // 2, alpha.shape[1] // 2] = True
    if rng.random() < 0.5:
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.integers(-options.hue_shift, options.hue_shift + 1)) % 180
    hsv[..., 1:] *= rng.uniform(1 - options.jitter, 1 + options.jitter, size=2)
    hsv = np.clip(np.round(hsv), 0, 255).astype(np.uint8)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    alpha = np.ascontiguousarray(alpha)
    if options.feather == 0:
        return Cutout(rgb, alpha, cutout.class_id, cutout.source)
    return feather_cutout(Cutout(rgb, alpha, cutout.class_id, cutout.source), rng.uniform(0, options.feather))


def feather_cutout(cutout: Cutout, sigma: float) -> Cutout:
    """``cutout`` with a soft edge: its alpha blurred by a Gaussian of ``sigma`` pixels as the opacity.

    The cut-out is first padded by 3 sigma (alpha with zeros, pixels by repeating the border ones)
    so the blur can reach outside its tight box.
    """
    pad = round(3 * sigma)
    if pad == 0:
        return cutout
    rgb = cv2.copyMakeBorder(cutout.rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    alpha = np.pad(cutout.alpha, pad)
    blend = cv2.GaussianBlur(alpha.astype(np.float32), (2 * pad + 1, 2 * pad + 1), sigma)
    return Cutout(rgb, alpha, cutout.class_id, cutout.source, blend)


def compose(canvas: np.ndarray, pastes: Sequence[Paste]) -> tuple[np.ndarray, np.ndarray]:
    """Paste in order onto a copy of ``canvas``; returns (image, owner).

    ``owner`` holds the index of the paste seen at each pixel, -1 where the canvas shows. Parts of
    a paste outside the canvas are cut off.
    """
    image, owner = canvas.copy(), np.full(canvas.shape[:2], -1, np.int32)
    height, width = owner.shape
    for index, paste in enumerate(pastes):
        h, w = paste.cutout.alpha.shape
        top, left = max(paste.top, 0), max(paste.left, 0)
        bottom, right = min(paste.top + h, height), min(paste.left + w, width)
        if bottom <= top or right <= left:
            continue
        inner = np.s_[top - paste.top : bottom - paste.top, left - paste.left : right - paste.left]
        alpha = paste.cutout.alpha[inner]
        if paste.cutout.blend is None:
            image[top:bottom, left:right][alpha] = paste.cutout.rgb[inner][alpha]
        else:
            opacity = paste.cutout.blend[inner][..., None]
            region = image[top:bottom, left:right]
            region[:] = np.round(opacity * paste.cutout.rgb[inner] + (1 - opacity) * region).astype(np.uint8)
        owner[top:bottom, left:right][alpha] = index
    return image, owner


def target_mask(owner: np.ndarray, pastes: Sequence[Paste]) -> np.ndarray:
    """The pixels where a pasted target is visible, as a bool (H, W) mask."""
    return np.isin(owner, [i for i, paste in enumerate(pastes) if paste.is_target])


def _visible_enough(owner: np.ndarray, pastes: Sequence[Paste], min_visible: float) -> bool:
    """Whether every target shows at least ``min_visible`` of its pixels."""
    counts = np.bincount(owner.ravel() + 1, minlength=len(pastes) + 1)[1:]
    return all(
        counts[i] >= min_visible * paste.cutout.alpha.sum()
        for i, paste in enumerate(pastes)
        if paste.is_target
    )


def draw_image(
    targets: Sequence[Cutout],
    distractors: Sequence[Sequence[Cutout]],
    background: np.ndarray,
    size: int,
    options: PasteOptions,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One (image, mask): a ``size`` x ``size`` crop of ``background`` with cut-outs pasted on it.

    ``targets`` are the cut-outs of the group's class; ``distractors`` holds one list of cut-outs
    per other class. Distractors are of distinct classes drawn uniformly, so that no class
    (``person`` has a quarter of the coco128 cut-outs) recurs across a group as a second common
    object. ``background`` must have a short side of ``size``.
    """
    top = rng.integers(background.shape[0] - size + 1)
    left = rng.integers(background.shape[1] - size + 1)
    canvas = background[top : top + size, left : left + size]
    if rng.random() < 0.5:
        canvas = canvas[:, ::-1]
    count = min(int(rng.integers(options.targets[0], options.targets[1] + 1)), len(targets))
    picked = [(targets[i], True) for i in rng.choice(len(targets), count, replace=False)]
    count = min(int(rng.integers(options.distractors[0], options.distractors[1] + 1)), len(distractors))
    for pool in (distractors[i] for i in rng.choice(len(distractors), count, replace=False)):
        picked.append((pool[rng.integers(len(pool))], False))
    chosen = [
        (transform_cutout(cutout, rng.uniform(*options.object_size) * size, options, rng), is_target)
        for cutout, is_target in picked
    ]
    for attempt in range(LAYOUT_TRIES + 1):
        order = (
            rng.permutation(len(chosen))
            if attempt < LAYOUT_TRIES
            else sorted(range(len(chosen)), key=lambda i: chosen[i][1])  # targets last
        )
        pastes = [
            Paste(
                cutout,
                int(rng.integers(max(size - cutout.alpha.shape[0], 0) + 1)),  # a feathered cut-out's
                int(rng.integers(max(size - cutout.alpha.shape[1], 0) + 1)),  # margin may overhang
                is_target,
            )
            for cutout, is_target in (chosen[i] for i in order)
        ]
        image, owner = compose(canvas, pastes)
        if _visible_enough(owner, pastes, options.min_visible):
            break
    return image, target_mask(owner, pastes)


def plan_groups(
    class_ids: Sequence[int], class_names: Sequence[str], n_groups: int | None, seed: int
) -> dict[str, int]:
    """Group folder -> class id: one group per class, or ``n_groups`` spread over the classes.

    Fewer groups than classes take a seeded random subset of the classes; more groups cycle
    through them. A class with one group names it; groups sharing a class are ``<class>_<k>``.
    """
    if n_groups is None:
        chosen = sorted(class_ids)
    elif n_groups < 1:
        raise ValueError(f"groups must be at least 1, not {n_groups}")
    elif n_groups <= len(class_ids):
        chosen = sorted(np.random.default_rng(seed).permutation(sorted(class_ids))[:n_groups].tolist())
    else:
        chosen = [sorted(class_ids)[i % len(class_ids)] for i in range(n_groups)]
    folders = safe_names(class_names[c] for c in set(chosen))
    plan: dict[str, int] = {}
    for class_id in sorted(set(chosen)):
        count, folder = chosen.count(class_id), folders[class_names[class_id]]
        names = [folder] if count == 1 else [f"{folder}_{k}" for k in range(1, count + 1)]
        other_folders = set(folders.values()) - {folder}
        taken = [name for name in names if name in plan or name in other_folders]
        if taken:
            raise ValueError(f"group folder {taken[0]!r} would name two groups; rename the class")
        plan.update(dict.fromkeys(names, class_id))
    return plan


def _resize_short_side(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized so that its short side is ``size`` pixels."""
    height, width = image.shape[:2]
    scale = size / min(height, width)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    return cv2.resize(image, new, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _check_no_stale_groups(out: Path, set_name: str, groups: Sequence[str]) -> None:
    """Refuse to mix with groups of an earlier generation that this one would not overwrite."""
    for kind in ("images", "gts"):
        folder = out / kind / set_name
        stale = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        stale = [name for name in stale if name not in groups]
        if stale:
            raise DataError(
                folder,
                f"holds groups this generation does not write ({', '.join(stale[:5])}); "
                "delete the set or choose another set name",
            )


def write_copy_paste(
    coco: str | Path,
    out: str | Path,
    set_name: str = "CopyPaste",
    groups: int | None = None,
    images_per_group: int = 10,
    size: int = 256,
    seed: int = 0,
    options: PasteOptions = PasteOptions(),
    split: str = "train2017",
) -> CopyPasteReport:
    """Generate copy-paste groups from the coco128-seg folder ``coco`` and write them under ``out``.

    ``groups=None`` makes one group per eligible class; see the module docstring for the recipe.
    """
    if images_per_group < 2:
        raise ValueError(f"images_per_group must be at least 2 (a group), not {images_per_group}")
    check_generated_side(size)
    coco, out = Path(coco), Path(out)
    if not (coco / "classes.txt").is_file():
        raise DataError(coco, "not a coco128-seg folder (no classes.txt)")
    names = read_class_names(coco / "classes.txt")
    images, _ = read_yolo_seg(coco / "images" / split, coco / "labels" / split, len(names))
    cutouts = cut_instances(images, options)
    by_class: dict[int, list[Cutout]] = {}
    for cutout in cutouts:
        by_class.setdefault(cutout.class_id, []).append(cutout)
    eligible = [c for c, pool in sorted(by_class.items()) if len(pool) >= options.min_instances]
    eligible = [c for c in eligible if any(c not in image.shapes for image in images)]
    if len(eligible) < 2:
        raise DataError(coco, f"only {len(eligible)} classes have {options.min_instances} usable instances")
    plan = plan_groups(eligible, names, groups, seed)
    _check_no_stale_groups(out, set_name, list(plan))
    backgrounds = [_resize_short_side(read_image(image.path), size) for image in images]
    used: dict[str, tuple[str, ...]] = {}
    for group_index, (folder, class_id) in enumerate(plan.items()):
        rng = np.random.default_rng([seed, group_index])
        allowed = [i for i, image in enumerate(images) if class_id not in image.shapes]
        distractors = [pool for other, pool in sorted(by_class.items()) if other != class_id]
        stems = []
        # drawn only when asked for, so that groups without the option keep their random stream
        session = options.shared_background > 0 and rng.random() < options.shared_background
        session_photo = int(rng.choice(allowed)) if session else None
        for number in range(images_per_group):
            photo = int(rng.choice(allowed)) if session_photo is None else session_photo
            image, mask = draw_image(by_class[class_id], distractors, backgrounds[photo], size, options, rng)
            image_path, mask_path = sample_paths(out, set_name, folder, f"{folder}_{number:03d}", ".jpg")
            image_path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(image_path, quality=95)
            write_mask_png(mask, mask_path)
            stems.append(images[photo].path.stem)
        used[folder] = tuple(stems)
    class_folders = safe_names(names[c] for c in set(plan.values()))
    classes = {folder: class_folders[names[c]] for folder, c in plan.items()}
    class_file = out / "images" / set_name / CLASS_FILE
    if any(folder != name for folder, name in classes.items()):
        write_class_file(class_file, classes)
    elif class_file.exists():
        class_file.unlink()  # left by an earlier generation of this set with several groups per class
    return CopyPasteReport(set_name, classes, used, images_per_group, size, len(cutouts), len(eligible))

