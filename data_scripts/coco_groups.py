"""Build COCO-SEG-style co-saliency groups from COCO instance annotations.

COCO-9k and COCO-SEG, two training sets of GCoNet+ (Sec. 4.1, "Train-2" and "Train-3"), are COCO
images grouped by object class. This script applies that recipe to any instance annotations:

* a group is one object class;
* an image joins the group of class c when the union of its c-instances covers at least
  ``min_area`` of the image (small instances are not salient);
* its mask is that union, every instance rasterised with ``cv2.fillPoly`` one polygon at a time
  (one call with several polygons would XOR their overlaps and punch holes);
* groups with fewer than ``min_group_size`` images are dropped and reported.

Two annotation formats are read:

* ``yolo``: YOLO-seg labels (e.g. coco128-seg): ``labels/<id>.txt`` with one instance per line,
  ``class x1 y1 x2 y2 ...`` normalised to [0, 1], and a ``classes.txt`` (line i = class i);
* ``coco-json``: COCO instance JSON (``images``, ``annotations``, ``categories``). Polygons are
  rasterised here; RLE segmentations (e.g. crowds) need ``pycocotools`` and fail with a clear
  error without it. Degenerate COCO polygons (fewer than 3 points) are skipped.

Output: ``OUT/images/<set>/<class>/<id>.jpg``, ``OUT/gts/<set>/<class>/<id>.png`` (0/255) and
``OUT/groups.csv`` (class name -> folder name). Examples::

    python data_scripts/coco_groups.py yolo /path/to/coco128-seg data_cache/cosod --set-name coco128
    python data_scripts/coco_groups.py coco-json instances_val2017.json val2017/ data_cache/cosod
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gconet_lab.data.errors import DataError
from gconet_lab.data.io import image_size
from gconet_lab.data.layout import Skip, is_data_file
from gconet_lab.data.writer import (
    PlaceMode,
    add_writer_arguments,
    place_file,
    safe_names,
    sample_paths,
    write_groups_csv,
    write_mask_png,
)

Shape = np.ndarray | dict  # a (k, 2) polygon in pixel (x, y) coordinates, or a COCO RLE dict


@dataclass
class AnnotatedImage:
    """An image with its instance shapes grouped by class id."""

    path: Path
    height: int
    width: int
    shapes: dict[int, list[Shape]] = field(default_factory=dict)


@dataclass(frozen=True)
class CocoGroupsReport:
    """Counts of a conversion: written groups, dropped groups, images scanned and used."""

    group_sizes: dict[str, int]
    dropped: dict[str, int]
    num_images: int
    num_used: int

    def summary(self) -> str:
        """Multi-line report for the console."""
        pairs = sum(self.group_sizes.values())
        lines = [
            f"{self.num_images} images scanned, {self.num_used} used in "
            f"{len(self.group_sizes)} groups ({pairs} image/mask pairs)"
        ]
        lines += [f"  {name}: {size}" for name, size in sorted(self.group_sizes.items())]
        lines += [f"  dropped {name}: {size} images" for name, size in sorted(self.dropped.items())]
        return "\n".join(lines)


def read_class_names(path: str | Path) -> list[str]:
    """Class names of a YOLO dataset, one per line (line i = class id i)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def parse_yolo_label(
    path: Path, height: int, width: int, num_classes: int
) -> dict[int, list[Shape]]:
    """Parse one YOLO-seg label file into pixel-coordinate polygons grouped by class."""
    shapes: dict[int, list[Shape]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{number}"
        try:
            class_id, coords = int(fields[0]), np.array(fields[1:], dtype=np.float64)
        except ValueError:
            raise DataError(where, "expected 'class x1 y1 x2 y2 ...' with numbers") from None
        if not 0 <= class_id < num_classes:
            raise DataError(
                where, f"class {class_id} is not in classes.txt ({num_classes} classes)"
            )
        if coords.size % 2 or coords.size < 6:
            raise DataError(
                where,
                f"{coords.size} coordinates; a polygon needs >= 3 (x, y) points "
                "(4 numbers is a YOLO detection box, not a segmentation label)",
            )
        polygon = np.clip(coords.reshape(-1, 2), 0.0, 1.0) * (width, height)
        shapes.setdefault(class_id, []).append(polygon)
    return shapes


def read_yolo_seg(
    images_dir: str | Path, labels_dir: str | Path, num_classes: int
) -> tuple[list[AnnotatedImage], list[Skip]]:
    """All images of a YOLO-seg dataset with their polygons, and the label files left out.

    An image without a label file has no objects (YOLO's convention); a label file without an
    image cannot be used and is reported (coco128-seg has two).
    """
    images_dir, labels_dir = Path(images_dir), Path(labels_dir)
    for folder in (images_dir, labels_dir):
        if not folder.is_dir():
            raise DataError(folder, "folder does not exist")
    paths = sorted(p for p in images_dir.iterdir() if is_data_file(p.name))
    stems = {p.stem for p in paths}
    orphans = [
        Skip(label, f"label without an image in {images_dir}")
        for label in sorted(labels_dir.glob("*.txt"))
        if label.stem not in stems
    ]
    result = []
    for path in paths:
        height, width = image_size(path)
        label = labels_dir / f"{path.stem}.txt"
        shapes = parse_yolo_label(label, height, width, num_classes) if label.exists() else {}
        result.append(AnnotatedImage(path, height, width, shapes))
    return result, orphans


def _coco_shapes(annotation: dict[str, Any], json_path: Path) -> list[Shape]:
    """The shapes of one COCO annotation: polygons as (k, 2) arrays, or its RLE dict."""
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, dict):
        try:
            import pycocotools.mask  # noqa: F401  (checked here so the error names the file)
        except ImportError:
            raise DataError(
                json_path,
                f"annotation {annotation.get('id')} is RLE-encoded; `pip install pycocotools` "
                "to decode RLE masks",
            ) from None
        return [segmentation]
    if not isinstance(segmentation, list):
        raise DataError(json_path, f"annotation {annotation.get('id')} has no segmentation")
    return [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in segmentation if len(p) >= 6]


def read_coco_json(
    json_path: str | Path, images_dir: str | Path
) -> tuple[list[AnnotatedImage], dict[int, str]]:
    """Images of a COCO instance JSON with their shapes, and the category id -> name map."""
    json_path, images_dir = Path(json_path), Path(images_dir)
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
        categories = {int(c["id"]): str(c["name"]) for c in data["categories"]}
        images = {
            int(i["id"]): AnnotatedImage(
                images_dir / i["file_name"], int(i["height"]), int(i["width"])
            )
            for i in data["images"]
        }
        annotations = data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(json_path, f"not a COCO instance annotation file ({error!r})") from error
    for annotation in annotations:
        try:
            image_id, category_id = int(annotation["image_id"]), int(annotation["category_id"])
        except (KeyError, TypeError, ValueError):
            raise DataError(json_path, f"annotation {annotation!r:.60} lacks ids") from None
        image = images.get(image_id)
        if image is None or category_id not in categories:
            raise DataError(
                json_path,
                f"annotation {annotation.get('id')} refers to an unknown image or category",
            )
        image.shapes.setdefault(category_id, []).extend(_coco_shapes(annotation, json_path))
    return [images[key] for key in sorted(images)], categories


def _decode_rle(rle: dict, height: int, width: int) -> np.ndarray:
    """Decode a COCO RLE (compressed or not) with pycocotools into a (H, W) uint8 mask."""
    from pycocotools import mask as mask_utils

    decoded = mask_utils.decode(mask_utils.frPyObjects(rle, height, width))
    return np.asarray(decoded, dtype=np.uint8).reshape(height, width)


def class_mask(shapes: Sequence[Shape], height: int, width: int) -> np.ndarray:
    """Union of the instances of one class as a (H, W) uint8 mask with values 0/1.

    Vertices keep 4 fractional bits (``shift=4``). ``cv2.fillPoly`` also fills the pixels the
    outline passes through, so a mask can be up to one pixel wider than the exact polygon.
    """
    mask = np.zeros((height, width), np.uint8)
    for shape in shapes:
        if isinstance(shape, dict):
            mask |= _decode_rle(shape, height, width)
        else:
            points = np.round(shape * 16).astype(np.int32)
            cv2.fillPoly(mask, [points], 1, lineType=cv2.LINE_8, shift=4)
    return mask


def plan_groups(
    images: Sequence[AnnotatedImage], min_area: float, min_group_size: int
) -> tuple[dict[int, list[int]], dict[int, int]]:
    """(class -> indices of member images, class -> size of each dropped group)."""
    members: dict[int, list[int]] = {}
    for index, image in enumerate(images):
        for class_id, shapes in image.shapes.items():
            if class_mask(shapes, image.height, image.width).mean() >= min_area:
                members.setdefault(class_id, []).append(index)
    kept = {c: m for c, m in sorted(members.items()) if len(m) >= min_group_size}
    dropped = {c: len(m) for c, m in sorted(members.items()) if len(m) < min_group_size}
    return kept, dropped


def write_groups(
    images: Sequence[AnnotatedImage],
    class_names: Mapping[int, str],
    out: str | Path,
    set_name: str,
    min_area: float = 0.05,
    min_group_size: int = 4,
    mode: PlaceMode = "copy",
) -> CocoGroupsReport:
    """Group ``images`` by class (module recipe); write them in the CoSOD layout under ``out``."""
    members, dropped = plan_groups(images, min_area, min_group_size)
    folders = safe_names(class_names[c] for c in members)
    for class_id, indices in members.items():
        folder = folders[class_names[class_id]]
        for index in indices:
            image = images[index]
            if not image.path.is_file():
                raise DataError(image.path, "image named in the annotations does not exist")
            suffix = image.path.suffix.lower()
            image_path, mask_path = sample_paths(out, set_name, folder, image.path.stem, suffix)
            place_file(image.path, image_path, mode)
            write_mask_png(class_mask(image.shapes[class_id], image.height, image.width), mask_path)
    write_groups_csv(Path(out) / "groups.csv", set_name, folders)
    return CocoGroupsReport(
        group_sizes={folders[class_names[c]]: len(m) for c, m in members.items()},
        dropped={class_names[c]: size for c, size in dropped.items()},
        num_images=len(images),
        num_used=len({i for m in members.values() for i in m}),
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description="Build COCO-SEG-style co-saliency groups (group = class, mask = union of the "
        "class's instances) in the CoSOD layout OUT/images/<set>/<class>/, OUT/gts/<set>/<class>/."
    )
    sub = parser.add_subparsers(dest="format", required=True)
    yolo = sub.add_parser(
        "yolo", help="YOLO-seg dataset: images/<split>, labels/<split>, classes.txt"
    )
    yolo.add_argument("root", type=Path, help="dataset root, e.g. coco128-seg")
    yolo.add_argument("out", type=Path, help="output root (e.g. data_cache/cosod, git-ignored)")
    yolo.add_argument("--split", default="train2017", help="sub-folder of images/ and labels/")
    coco = sub.add_parser("coco-json", help="COCO instance JSON plus its image folder")
    coco.add_argument("json", type=Path, help="instances_*.json")
    coco.add_argument("images", type=Path, help="folder holding the JSON's file_name images")
    coco.add_argument("out", type=Path, help="output root (e.g. data_cache/cosod, git-ignored)")
    for command in (yolo, coco):
        add_writer_arguments(command, "COCO-SEG")
        command.add_argument(
            "--min-area",
            type=float,
            default=0.05,
            help="least fraction of the image a class must cover (default 0.05)",
        )
        command.add_argument(
            "--min-group-size",
            type=int,
            default=4,
            help="drop groups with fewer images (default 4)",
        )
    args = parser.parse_args(argv)
    skipped: list[Skip] = []
    if args.format == "yolo":
        names = read_class_names(args.root / "classes.txt")
        images, skipped = read_yolo_seg(
            args.root / "images" / args.split, args.root / "labels" / args.split, len(names)
        )
        class_names: Mapping[int, str] = dict(enumerate(names))
    else:
        images, class_names = read_coco_json(args.json, args.images)
    report = write_groups(
        images, class_names, args.out, args.set_name, args.min_area, args.min_group_size, args.mode
    )
    print(report.summary())
    for skip in skipped:
        print(f"  skipped {skip.path}: {skip.reason}")


if __name__ == "__main__":
    main()
