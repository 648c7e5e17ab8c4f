"""Text and figures for the data walkthrough (notebook 01): the CoSOD layout, groups, batches, augmentation.

Plain functions: the text helpers return strings or lists of dicts (so notebooks can print and
assert on them), the plotting helpers return matplotlib figures (tests call them headless).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from gconet_lab.data import AugmentConfig, IndexedSet, denormalize
from gconet_lab.data.layout import is_data_file
from gconet_lab.data.transforms import _ENHANCEMENTS, OFFICIAL_AUGMENT, object_crop_box


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, floatfmt: str = ".4f") -> str:
    """A plain-text table of dicts: one column per key (the first row's keys unless ``columns``).

    Floats use ``floatfmt``; everything else ``str``. Columns are as wide as their widest cell.
    """
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return format(float(value), floatfmt)
        return str(value)

    cells = [[cell(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    numeric = [all(isinstance(row.get(column), int | float | np.integer | np.floating) for row in rows) for column in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(values) for values in cells)])


def _data_files(folder: Path) -> list[str]:
    return sorted(name.name for name in folder.iterdir() if name.is_file() and is_data_file(name.name))


def layout_tree(root: str | Path, sets: Sequence[str], groups_per_set: int = 2, files_per_group: int = 2) -> str:
    """The CoSOD layout of ``root`` as an indented tree, relative to ``root``, cut to a few entries.

    ``images/<set>/<group>/<name>.jpg`` and ``gts/<set>/<group>/<name>.png`` side by side; skipped
    entries are summarised as ``... (n more groups)`` / ``... (n more files)``.
    """
    root = Path(root)
    lines: list[str] = []
    for side in ("images", "gts"):
        lines.append(f"{side}/")
        for set_name in sets:
            groups = sorted(p.name for p in (root / side / set_name).iterdir() if p.is_dir())
            lines.append(f"    {set_name}/  ({len(groups)} groups)")
            for group in groups[:groups_per_set]:
                files = _data_files(root / side / set_name / group)
                lines.append(f"        {group}/  ({len(files)} files)")
                lines += [f"            {name}" for name in files[:files_per_group]]
                if len(files) > files_per_group:
                    lines.append(f"            ... ({len(files) - files_per_group} more files)")
            if len(groups) > groups_per_set:
                lines.append(f"        ... ({len(groups) - groups_per_set} more groups)")
    return "\n".join(lines)


def set_summary(sets: Sequence[IndexedSet]) -> list[dict[str, Any]]:
    """One row per indexed set: groups, images, and the smallest, median and largest group."""
    rows = []
    for indexed in sets:
        sizes = np.array([len(group) for group in indexed.groups])
        rows.append({"set": indexed.name, "groups": len(sizes), "images": int(sizes.sum()), "min": int(sizes.min()),
                     "median": float(np.median(sizes)), "max": int(sizes.max())})
    return rows


def overlay_mask(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 40, 40), alpha: float = 0.5) -> np.ndarray:
    """An RGB uint8 image with a soft mask in [0, 1] (or 0..255) tinted over it in ``colour``."""
    mask = np.asarray(mask, dtype=np.float32)
    if mask.max() > 1:
        mask = mask / 255.0
    weight = (alpha * mask)[..., None]
    blended = image.astype(np.float32) * (1 - weight) + np.asarray(colour, np.float32) * weight
    return blended.clip(0, 255).astype(np.uint8)


ENHANCEMENT_NAMES = ("brightness", "contrast", "colour", "sharpness")
_ENHANCEMENT_RANGES = tuple((low, high) for _, low, high in _ENHANCEMENTS)  # factor x10, inclusive, in the transform's order


def augmentation_events(rng: np.random.Generator, config: AugmentConfig = OFFICIAL_AUGMENT,
                        mask: np.ndarray | None = None) -> dict[str, Any]:
    """What ``TrainTransform`` does with a generator in this state: replays its draws, in its order.

    Returns ``{"flip": bool, "angle": int or None, "brightness": f, "contrast": f, "colour": f,
    "sharpness": f}`` (no enhancement factors when ``config.enhance`` is False), and with
    ``config.zoom_p`` > 0 ``"crop"``: the box cropped around the object or None; that needs the
    (H, W) ``mask`` the transform gets. Pass a generator seeded like the one given to the
    transform; this one is consumed.
    """
    events: dict[str, Any] = {}
    if config.zoom_p > 0:
        if mask is None:
            raise ValueError("augmentation_events needs the mask when config.zoom_p > 0: the crop depends on the object")
        events["crop"] = object_crop_box(mask, rng) if rng.random() < config.zoom_p else None
    events["flip"] = bool(rng.random() < config.flip_p)
    rotate = rng.random() < config.rotate_p
    events["angle"] = int(rng.integers(-config.max_angle, config.max_angle)) if rotate else None
    if config.enhance:
        for name, (low, high) in zip(ENHANCEMENT_NAMES, _ENHANCEMENT_RANGES, strict=True):
            events[name] = int(rng.integers(low, high + 1)) / 10.0
    return events


def describe_events(events: Mapping[str, Any]) -> str:
    """A short label for :func:`augmentation_events`: ``crop, flip, rot -7, b1.2 c0.8 col1.5 sh2.1``."""
    parts = ["crop"] if events.get("crop") else []
    parts.append("flip" if events["flip"] else "no flip")
    if events["angle"] is not None:
        parts.append(f"rot {events['angle']:+d}")
    factors = [f"{short}{events[name]:.1f}" for name, short in zip(ENHANCEMENT_NAMES, ("b", "c", "col", "sh"), strict=True)
               if name in events]
    return ", ".join(parts) + ("\n" + " ".join(factors) if factors else "")


def _hide_ticks(axis: plt.Axes) -> None:
    axis.set_xticks([])
    axis.set_yticks([])


def group_montage(images: Sequence[np.ndarray], masks: Sequence[np.ndarray], title: str = "", cell: float = 1.5) -> plt.Figure:
    """One group: images in the first row, their masks in the second (RGB uint8 images, masks in [0, 1])."""
    figure, axes = plt.subplots(2, len(images), figsize=(cell * len(images), cell * 2.1), squeeze=False)
    for column, (image, mask) in enumerate(zip(images, masks, strict=True)):
        axes[0][column].imshow(image)
        axes[1][column].imshow(mask, cmap="gray", vmin=0, vmax=1)
        for axis in axes[:, column]:
            _hide_ticks(axis)
    axes[0][0].set_ylabel("image", fontsize=8)
    axes[1][0].set_ylabel("mask", fontsize=8)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def group_size_histogram(sets: Sequence[IndexedSet], max_group_size: int | None = None) -> plt.Figure:
    """Histogram of images per group for each set; a dashed line at ``max_group_size`` (the cap of Eq. 16)."""
    figure, axes = plt.subplots(1, len(sets), figsize=(3.2 * len(sets), 2.6), squeeze=False)
    for axis, indexed in zip(axes[0], sets, strict=True):
        sizes = [len(group) for group in indexed.groups]
        axis.hist(sizes, bins=range(0, max(sizes) + 2), color="tab:blue")
        if max_group_size is not None:
            axis.axvline(max_group_size, color="k", linestyle="--", linewidth=1)
        axis.set_title(indexed.name, fontsize=9)
        axis.set_xlabel("images per group", fontsize=8)
    axes[0][0].set_ylabel("groups", fontsize=8)
    figure.tight_layout()
    return figure


def batch_figure(batch: Mapping[str, Any], per_group: int = 6, cell: float = 1.4) -> plt.Figure:
    """A two-group training batch (Eq. 16): group A in the first row, group B in the second, masks tinted.

    ``batch`` is an item of ``make_train_loader`` (images (2N, 3, S, S) normalised, masks (2N, 1, S, S),
    class_ids, groups).
    """
    images = denormalize(batch["images"]).permute(0, 2, 3, 1).numpy()
    masks = batch["masks"][:, 0].numpy()
    n = len(images) // 2
    shown = min(per_group, n)
    figure, axes = plt.subplots(2, shown, figsize=(cell * shown, cell * 2.2), squeeze=False)
    for row, start in enumerate((0, n)):
        for column in range(shown):
            index = start + column
            axis = axes[row][column]
            axis.imshow(overlay_mask((images[index] * 255).astype(np.uint8), masks[index]))
            axis.set_title(f"#{index} class {int(batch['class_ids'][index])}", fontsize=7)
            _hide_ticks(axis)
        axes[row][0].set_ylabel(f"group {'AB'[row]}: {batch['groups'][row][:18]}", fontsize=7)
    figure.tight_layout()
    return figure


def tensor_pair_to_display(image: torch.Tensor, mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """A normalised (3, S, S) image and its (1, S, S) mask -> RGB uint8 (S, S, 3) and float (S, S)."""
    rgb = (denormalize(image).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return rgb, mask[0].numpy()


def augmentation_grid(draws: Sequence[tuple[torch.Tensor, torch.Tensor]], titles: Sequence[str] | None = None,
                      cell: float = 1.5) -> plt.Figure:
    """Several augmented draws of one (image, mask) pair: image, mask and the mask's outline on the image.

    Each draw is a model-ready ``(image (3, S, S), mask (1, S, S))`` pair from ``TrainTransform``.
    """
    figure, axes = plt.subplots(3, len(draws), figsize=(cell * len(draws), cell * 3.1), squeeze=False)
    for column, (image, mask) in enumerate(draws):
        rgb, soft = tensor_pair_to_display(image, mask)
        axes[0][column].imshow(rgb)
        axes[1][column].imshow(soft, cmap="gray", vmin=0, vmax=1)
        axes[2][column].imshow(rgb)
        axes[2][column].contour(soft, levels=[0.5], colors=["red"], linewidths=0.8)
        if titles:
            axes[0][column].set_title(titles[column], fontsize=7)
        for axis in axes[:, column]:
            _hide_ticks(axis)
    for row, label in enumerate(("image", "mask", "mask outline")):
        axes[row][0].set_ylabel(label, fontsize=8)
    figure.tight_layout()
    return figure


__all__ = [
    "ENHANCEMENT_NAMES", "augmentation_events", "augmentation_grid", "batch_figure", "describe_events", "format_table", "group_montage", "group_size_histogram", "layout_tree",
    "overlay_mask", "set_summary", "tensor_pair_to_display",
]
