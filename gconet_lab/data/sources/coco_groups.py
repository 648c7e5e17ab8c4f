"""Build COCO-SEG-style co-saliency groups from COCO instance annotations.

COCO-9k and COCO-SEG, two training sets of GCoNet+ (Sec. 4.1, "Train-2" and "Train-3"), are COCO
images grouped by object class. This module applies that recipe to any instance annotations:

* a group is one object class;
* an image joins the group of class c when the union of its c-instances covers at least
  ``min_area`` of the image (small instances are not salient);
* its mask is that union, every instance rasterised with ``cv2.fillPoly`` one polygon at a time
  (one call with several polygons would XOR their overlaps and punch holes);
* groups with fewer than ``min_group_size`` images are dropped and reported.

Two annotation formats are read (``yolo``: YOLO-seg labels such as coco128-seg; ``coco-json``:
COCO instance JSON), by :mod:`gconet_lab.data.sources.coco`.

Output: ``OUT/images/<set>/<class>/<id>.jpg``, ``OUT/gts/<set>/<class>/<id>.png`` (0/255) and
``OUT/groups.csv`` (class name -> folder name). Command line: ``python data_scripts/coco_groups.py --help``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gconet_lab.data.errors import DataError
from gconet_lab.data.sources.coco import (
    AnnotatedImage,
    class_mask,
)
from gconet_lab.data.writer import PlaceMode, place_file, safe_names, sample_paths, write_groups_csv, write_mask_png


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
