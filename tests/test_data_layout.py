"""gconet_lab.data.layout: pairing by stem, ignored files, missing/empty errors and skip reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from gconet_lab.data.errors import DataError
from gconet_lab.data.layout import index_dirs, index_set, index_sets, list_sets, pair_by_stem


def test_index_pairs_sorted_groups_and_samples(write_cosod_set) -> None:
    root = write_cosod_set({"zebra": 3, "apple": 2})
    indexed = index_set(root, "Tiny")
    assert [g.name for g in indexed.groups] == ["apple", "zebra"]
    assert indexed.num_images == 5
    sample = indexed.groups[1].samples[0]
    assert (sample.stem, sample.group) == ("zebra_00", "zebra")
    assert sample.image.name == "zebra_00.jpg" and sample.mask.name == "zebra_00.png"
    assert sample.image.parent == root / "images" / "Tiny" / "zebra"
    assert not indexed.report.skipped and not indexed.report.ignored


def test_non_image_files_and_subfolders_are_ignored_and_reported(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 2})
    group_dir = root / "images" / "Tiny" / "cat"
    (group_dir / "Thumbs.db").write_bytes(b"\0")
    (group_dir / ".DS_Store").write_bytes(b"\0")
    (group_dir / "markings").mkdir()
    (root / "gts" / "Tiny" / "notes.txt").write_text("hi")
    indexed = index_set(root, "Tiny")
    assert indexed.num_images == 2
    ignored = {s.path.name: s.reason for s in indexed.report.ignored}
    assert set(ignored) == {"Thumbs.db", ".DS_Store", "markings", "notes.txt"}
    assert ignored["markings"] == "sub-folder inside a group folder"


def test_upper_case_suffixes_pair(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 1})
    image = root / "images" / "Tiny" / "cat" / "cat_00.jpg"
    image.rename(image.with_suffix(".JPG"))
    assert index_set(root, "Tiny").groups[0].samples[0].image.name == "cat_00.JPG"


def test_missing_mask_is_an_error_naming_the_image(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 3})
    (root / "gts" / "Tiny" / "cat" / "cat_01.png").unlink()
    with pytest.raises(DataError, match=r"cat_01\.jpg: no mask \(expected .*cat_01\.png\)"):
        index_set(root, "Tiny")


def test_missing_mask_is_skipped_and_reported(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 3})
    (root / "gts" / "Tiny" / "cat" / "cat_01.png").unlink()
    indexed = index_set(root, "Tiny", on_missing="skip")
    assert [s.stem for s in indexed.groups[0].samples] == ["cat_00", "cat_02"]
    assert [s.path.name for s in indexed.report.skipped] == ["cat_01.jpg"]
    assert "cat_01.jpg" in indexed.report.summary()


def test_mask_without_image(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 2})
    (root / "images" / "Tiny" / "cat" / "cat_00.jpg").unlink()
    with pytest.raises(DataError, match=r"cat_00\.png: mask without an image"):
        index_set(root, "Tiny")
    assert index_set(root, "Tiny", on_missing="skip").num_images == 1


def test_empty_group_is_an_error_or_a_reported_skip(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 2})
    (root / "images" / "Tiny" / "empty").mkdir()
    (root / "gts" / "Tiny" / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: group has no image/mask pairs"):
        index_set(root, "Tiny")
    indexed = index_set(root, "Tiny", on_missing="skip")
    assert [g.name for g in indexed.groups] == ["cat"]
    assert indexed.report.skipped[0].path.name == "empty"


def test_group_folder_on_one_side_only(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 2})
    (root / "images" / "Tiny" / "dog").mkdir()
    with pytest.raises(DataError, match=r"dog: no mask folder"):
        index_set(root, "Tiny")


def test_error_counts_further_problems(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 3})
    for i in range(3):
        (root / "gts" / "Tiny" / "cat" / f"cat_0{i}.png").unlink()
    with pytest.raises(DataError, match="and 3 more"):  # 3 images + the now empty group
        index_set(root, "Tiny")


def test_two_files_with_one_stem_are_ambiguous(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"grp: two files share the stem 'a': a\.jpg, a\.png"):
        pair_by_stem(["a.jpg", "a.png"], ["a.png"], tmp_path / "grp")


def test_missing_set_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"images[/\\]Nope: images folder does not exist"):
        index_set(tmp_path, "Nope")


def test_plain_images_and_gts_dirs(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 2})
    indexed = index_dirs(root / "images" / "Tiny", root / "gts" / "Tiny")
    assert indexed.name == "Tiny" and indexed.num_images == 2


def test_list_and_index_several_sets(write_cosod_set) -> None:
    write_cosod_set({"cat": 2}, set_name="A")
    root = write_cosod_set({"dog": 2}, set_name="B")
    assert list_sets(root) == ["A", "B"]
    assert [s.groups[0].name for s in index_sets(root, ["B", "A"])] == ["dog", "cat"]


def test_on_missing_is_validated(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 1})
    with pytest.raises(ValueError, match="on_missing"):
        index_set(root, "Tiny", on_missing="ignore")  # type: ignore[arg-type]


def test_class_file_gives_groups_their_class(write_cosod_set) -> None:
    root = write_cosod_set({"dog_1": 1, "dog_2": 1, "cat": 1})
    assert {g.name: g.class_name for g in index_set(root, "Tiny").groups} == {
        "cat": "cat", "dog_1": "dog_1", "dog_2": "dog_2"  # no class file: class = folder name
    }
    (root / "images" / "Tiny" / "classes.csv").write_text("group,class\ndog_1,dog\ndog_2,dog\n")
    indexed = index_set(root, "Tiny")
    assert {g.name: g.class_name for g in indexed.groups} == {"cat": "cat", "dog_1": "dog", "dog_2": "dog"}
    assert not indexed.report.ignored  # the class file is data, not a stray file


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("group,class\nwolf,dog\n", "do not exist: wolf"),
        ("group,class\ndog_1,dog\ndog_1,cat\n", "classes.csv:3: group 'dog_1' is listed twice"),
        ("group,class\ndog_1,\n", "classes.csv:2: empty group or class name"),
        ("name,label\ndog_1,dog\n", "header must be 'group,class'"),
    ],
)
def test_bad_class_file_is_an_error_naming_it(write_cosod_set, text: str, problem: str) -> None:
    root = write_cosod_set({"dog_1": 1})
    (root / "images" / "Tiny" / "classes.csv").write_text(text)
    with pytest.raises(DataError, match=problem):
        index_set(root, "Tiny")
