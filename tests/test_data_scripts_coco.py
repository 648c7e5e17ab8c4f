"""gconet_lab.data.sources.coco_groups and .coco, data_scripts/coco_groups.py: COCO-SEG-style groups from YOLO-seg (real coco128) and COCO JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gconet_lab.data.errors import DataError
from gconet_lab.data.io import read_mask
from gconet_lab.data.layout import index_set
from gconet_lab.data.sources import coco as source
from gconet_lab.data.sources import coco_groups as coco

SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "coco_groups.py"


def test_coco128_groups(coco128_root: Path, tmp_path: Path) -> None:
    names = source.read_class_names(coco128_root / "classes.txt")
    images, skipped = source.read_yolo_seg(
        coco128_root / "images" / "train2017", coco128_root / "labels" / "train2017", len(names)
    )
    assert len(names) == 80 and len(images) == 128
    assert sorted(s.path.name for s in skipped) == ["000000000656.txt", "000000000659.txt"]
    report = coco.write_groups(images, dict(enumerate(names)), tmp_path, "coco128", mode="symlink")
    assert report.group_sizes["person"] == 41 and len(report.group_sizes) == 12
    assert sum(report.group_sizes.values()) == 93 and report.num_used == 70
    assert all(size >= 4 for size in report.group_sizes.values())
    assert report.dropped["airplane"] == 3
    indexed = index_set(tmp_path, "coco128")
    assert indexed.num_images == 93
    assert "dining_table" in [g.name for g in indexed.groups]
    for sample in indexed.groups[0].samples:  # every kept mask covers at least 5% of its image
        assert read_mask(sample.mask).mean() >= 0.05


def test_coco128_without_area_filter_matches_raw_label_counts(coco128_root: Path) -> None:
    names = source.read_class_names(coco128_root / "classes.txt")
    images, _ = source.read_yolo_seg(
        coco128_root / "images" / "train2017", coco128_root / "labels" / "train2017", len(names)
    )
    members, _ = coco.plan_groups(images, min_area=0.0, min_group_size=1)
    assert len(members[names.index("person")]) == 61  # 62 label files, one without its image
    assert len(members[names.index("car")]) == 12


def test_overlapping_instances_are_united_not_xored() -> None:
    square = np.array([[2, 2], [12, 2], [12, 12], [2, 12]], np.float64)
    one, other = source.class_mask([square], 20, 20), source.class_mask([square + 5], 20, 20)
    both = source.class_mask([square, square + 5], 20, 20)
    assert both[9, 9] == 1  # inside both squares: a single fillPoly call would leave a hole here
    np.testing.assert_array_equal(both, one | other)


def test_yolo_label_errors_name_file_and_line(tmp_path: Path) -> None:
    label = tmp_path / "x.txt"
    label.write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataError, match=r"x\.txt:2: 4 coordinates.*detection box"):
        source.parse_yolo_label(label, 10, 10, 80)
    label.write_text("99 0.1 0.1 0.5 0.1 0.5 0.5\n")
    with pytest.raises(DataError, match=r"x\.txt:1: class 99 is not in classes.txt"):
        source.parse_yolo_label(label, 10, 10, 80)


def make_coco_json(root: Path, segmentation_of_last: object | None = None) -> Path:
    """Five 40x40 images: 'kite' fills the left half of 4; 'ant' is big in one, tiny elsewhere."""
    images, annotations = [], []
    for i in range(5):
        Image.fromarray(np.full((40, 40, 3), 50 * i, np.uint8)).save(root / f"{i:03d}.jpg")
        images.append({"id": i + 1, "file_name": f"{i:03d}.jpg", "height": 40, "width": 40})
        if i < 4:  # two overlapping kite instances covering the left half
            annotations.append(
                {
                    "id": 10 * i + 1,
                    "image_id": i + 1,
                    "category_id": 7,
                    "segmentation": [[0, 0, 20, 0, 20, 30, 0, 30]],
                    "iscrowd": 0,
                }
            )
            annotations.append(
                {
                    "id": 10 * i + 2,
                    "image_id": i + 1,
                    "category_id": 7,
                    "segmentation": [[0, 20, 20, 20, 20, 40, 0, 40], [1, 1, 2, 2]],
                    "iscrowd": 0,
                }
            )
        ant = [0, 0, 40, 0, 0, 40] if i == 4 else [30, 30, 32, 30, 32, 32]  # big once, else tiny
        annotations.append(
            {
                "id": 10 * i + 3,
                "image_id": i + 1,
                "category_id": 3,
                "segmentation": [ant],
                "iscrowd": 0,
            }
        )
    if segmentation_of_last is not None:
        annotations[-1]["segmentation"] = segmentation_of_last
    data = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 3, "name": "ant"}, {"id": 7, "name": "kite"}],
    }
    path = root / "instances.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_json_groups(tmp_path: Path) -> None:
    json_path = make_coco_json(tmp_path)
    images, categories = source.read_coco_json(json_path, tmp_path)
    assert categories == {3: "ant", 7: "kite"} and len(images) == 5
    report = coco.write_groups(images, categories, tmp_path / "out", "COCO-SEG")
    assert report.group_sizes == {"kite": 4} and report.dropped == {"ant": 1}
    mask = read_mask(tmp_path / "out" / "gts" / "COCO-SEG" / "kite" / "000.png")
    assert mask[:, :20].mean() == 1.0 and mask[:, 22:].max() == 0.0  # union of the two halves


def test_compressed_rle_without_pycocotools_names_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pycocotools", None)
    monkeypatch.setitem(sys.modules, "pycocotools.mask", None)
    json_path = make_coco_json(tmp_path, segmentation_of_last={"size": [40, 40], "counts": "0`h0"})
    with pytest.raises(
        DataError, match=r"instances\.json: annotation 43 is RLE-encoded; `pip install pycocotools`"
    ):
        source.read_coco_json(json_path, tmp_path)


def test_uncompressed_rle_is_decoded_without_pycocotools(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pycocotools", None)
    monkeypatch.setitem(sys.modules, "pycocotools.mask", None)
    counts = [0, 20 * 40, 20 * 40]  # column-major: the left half is 1
    json_path = make_coco_json(tmp_path, segmentation_of_last={"size": [40, 40], "counts": counts})
    images, _ = source.read_coco_json(json_path, tmp_path)
    mask = source.class_mask(images[4].shapes[3], 40, 40)
    assert mask[:, :20].all() and not mask[:, 20:].any()
    json_path = make_coco_json(tmp_path, segmentation_of_last={"size": [40, 40], "counts": [0, 20 * 40]})
    with pytest.raises(DataError, match=r"instances\.json: annotation 43: its RLE runs do not add up to its size"):
        source.read_coco_json(json_path, tmp_path)


def test_a_photo_of_two_classes_joins_both_groups_with_a_mask_each(tmp_path: Path) -> None:
    json_path = make_coco_json(tmp_path)
    data = json.loads(json_path.read_text())
    for annotation in data["annotations"]:
        if annotation["category_id"] == 3:  # every ant as large as the right half
            annotation["segmentation"] = [[24, 0, 40, 0, 40, 40, 24, 40]]
    json_path.write_text(json.dumps(data))
    images, categories = source.read_coco_json(json_path, tmp_path)
    report = coco.write_groups(images, categories, tmp_path / "out", "COCO-groups", min_group_size=3)
    assert report.group_sizes == {"ant": 5, "kite": 4} and report.num_used == 5
    kite = read_mask(tmp_path / "out" / "gts" / "COCO-groups" / "kite" / "001.png")
    ant = read_mask(tmp_path / "out" / "gts" / "COCO-groups" / "ant" / "001.png")
    assert kite[:, :20].all() and not kite[:, 21:].any()  # the same photo, masked with each class alone
    assert ant[:, 24:].all() and not ant[:, :23].any()  # (fillPoly fills the outline: one pixel wider)


def test_missing_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere: folder does not exist"):
        source.read_yolo_seg(tmp_path / "nowhere", tmp_path, 80)
    json_path = make_coco_json(tmp_path)
    (tmp_path / "002.jpg").unlink()
    images, categories = source.read_coco_json(json_path, tmp_path)
    with pytest.raises(DataError, match=r"002\.jpg: image named in the annotations does not exist"):
        coco.write_groups(images, categories, tmp_path / "out", "COCO-SEG")


def test_bad_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{ not json")
    with pytest.raises(DataError, match=r"broken\.json: not a COCO instance annotation file"):
        source.read_coco_json(path, tmp_path)


@pytest.mark.slow
def test_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "yolo", "--help"], capture_output=True, text=True, check=True
    )
    assert "--min-area" in result.stdout
