"""Read instance annotations of COCO photos: YOLO-seg labels or COCO instance JSON, and rasterise them.

Both formats end as :class:`AnnotatedImage` objects whose shapes are grouped by class id, one
shape per instance (a YOLO-seg label line) or per polygon of a COCO annotation:

* ``yolo``: YOLO-seg labels (e.g. coco128-seg): ``labels/<id>.txt`` with one instance per line,
  ``class x1 y1 x2 y2 ...`` normalised to [0, 1], and a ``classes.txt`` (line i = class i);
* ``coco-json``: COCO instance JSON (``images``, ``annotations``, ``categories``). Uncompressed
  RLE (``counts`` a list of run lengths: the crowds of COCO's instance files) is decoded here;
  compressed RLE (``counts`` a string) needs ``pycocotools`` and fails with a clear error without
  it. Degenerate COCO polygons (fewer than 3 points) are skipped.

Users: :mod:`gconet_lab.data.sources.coco_groups` (COCO-SEG-style groups, Sec. 4.1) and
:mod:`gconet_lab.data.sources.copy_paste` (copy-paste groups).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gconet_lab.data.errors import DataError
from gconet_lab.data.io import image_size
from gconet_lab.data.layout import Skip, is_data_file

Shape = np.ndarray | dict  # a (k, 2) polygon in pixel (x, y) coordinates, or a COCO RLE dict


@dataclass
class AnnotatedImage:
    """An image with its instance shapes grouped by class id."""

    path: Path
    height: int
    width: int
    shapes: dict[int, list[Shape]] = field(default_factory=dict)


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
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        height, width = segmentation.get("size", (0, 0))
        if sum(segmentation["counts"]) != height * width:
            raise DataError(json_path, f"annotation {annotation.get('id')}: its RLE runs do not add up to "
                                       f"its size {height} x {width}")
        return [segmentation]
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
    """Decode a COCO RLE into a (H, W) uint8 mask: uncompressed here, compressed with pycocotools.

    Uncompressed ``counts`` are run lengths over the pixels in column-major order, alternating
    0 and 1 and starting with 0.
    """
    if isinstance(rle["counts"], list):
        runs = np.repeat(np.arange(len(rle["counts"])) % 2, rle["counts"]).astype(np.uint8)
        return runs.reshape((height, width), order="F")
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
