"""gconet_lab.data.layout: pairing by stem, ignored files, missing/empty errors and skip reports."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from PIL import Image

from gconet_lab.data import make_train_loader, read_image
from gconet_lab.data.errors import DataError
from gconet_lab.data.layout import index_dirs, index_set, index_sets, list_sets, pair_by_stem
from gconet_lab.models import CheckpointError
from gconet_lab.models.weights import gconet_plus


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


# --- unsupported formats, non-regular files, two files with one stem ------------------------------


def test_image_in_an_unsupported_format_is_named_as_such(write_cosod_set):
    root = write_cosod_set({"ant": 2, "bee": 2})
    image = root / "images" / "Tiny" / "ant" / "ant_00.jpg"
    Image.open(image).save(image.with_suffix(".tif"))
    image.unlink()
    with pytest.raises(DataError, match=r"ant_00\.png: its image .*ant_00\.tif is in an unsupported image format \.tif"):
        index_set(root, "Tiny")


@pytest.fixture
def no_hang():
    """Fail, rather than hang, a test whose code blocks on opening a FIFO."""
    def timeout(signum, frame):
        raise TimeoutError("blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_a_fifo_named_like_an_image_is_skipped_and_listed_never_read(write_cosod_set, tmp_path, no_hang):
    root = write_cosod_set({"ant": 2, "bee": 2})
    fifo = root / "images" / "Tiny" / "ant" / "ant_02.jpg"
    os.mkfifo(fifo)
    os.mkfifo(root / "gts" / "Tiny" / "ant" / "ant_02.png")
    indexed = index_set(root, "Tiny")
    assert [len(group) for group in indexed.groups] == [2, 2]
    assert fifo in [skip.path for skip in indexed.report.ignored]
    with pytest.raises(DataError, match=r"ant_02\.jpg: not a regular file"):
        read_image(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        gconet_plus(fifo)
    make_train_loader([indexed], image_size=64, max_group_size=4)


def test_two_masks_with_one_stem_name_the_mask_folder(write_cosod_set, data_script, tmp_path, cli_error):
    root = write_cosod_set({"ant": 2, "bee": 2})
    masks = root / "gts" / "Tiny" / "ant"
    Image.open(root / "images" / "Tiny" / "ant" / "ant_00.jpg").save(masks / "ant_00.jpg")  # a photo beside its mask
    with pytest.raises(DataError, match=rf"^{re.escape(str(masks))}: two files share the stem 'ant_00'"):
        index_set(root, "Tiny")
    icoseg = tmp_path / "icoseg"
    icoseg.mkdir()
    (icoseg / "images").symlink_to(root / "images" / "Tiny")
    (icoseg / "ground_truth").symlink_to(root / "gts" / "Tiny")
    line = cli_error([str(icoseg), str(tmp_path / "out")], main=data_script("icoseg").main)
    assert "ground_truth/ant: two files share the stem 'ant_00'" in line
