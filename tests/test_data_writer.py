"""gconet_lab.data.writer: safe folder names, groups.csv, mask PNGs, copy/symlink placement."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gconet_lab.data.writer import (
    place_file,
    safe_name,
    safe_names,
    sample_paths,
    write_groups_csv,
    write_mask_png,
)


@pytest.mark.parametrize(
    ("original", "safe"),
    [
        (
            "022 Goose-Riverside Cemetery, Marshalltown, Iowa-cmlburnett",
            "022_Goose-Riverside_Cemetery_Marshalltown_Iowa-cmlburnett",
        ),
        (
            "012 Stonehenge-Salisbury Cathedral and Stonehenge-Sou'wester",
            "012_Stonehenge-Salisbury_Cathedral_and_Stonehenge-Souwester",
        ),
        (
            "042 Statue of Liberty-Liberty Enlightening the World (Groups)-EricaJoy",
            "042_Statue_of_Liberty-Liberty_Enlightening_the_World_Groups-EricaJoy",
        ),
        ("traffic light", "traffic_light"),
        ("a/b:c\\d", "abcd"),
        ("Zürich  café", "Zurich_cafe"),
        (" .hidden ", "hidden"),
        ("CON", "CON_"),
        ("nul.txt", "nul_.txt"),
        ("brown_bear", "brown_bear"),
    ],
)
def test_safe_name_mapping(original: str, safe: str) -> None:
    assert safe_name(original) == safe


def test_safe_names_refuse_collisions() -> None:
    assert safe_names(["a b", "c"]) == {"a b": "a_b", "c": "c"}
    with pytest.raises(ValueError, match="'a b' and 'a, b' both map to folder 'a_b'"):
        safe_names(["a b", "a, b"])
    with pytest.raises(ValueError, match="both map"):
        safe_names(["Dog", "dog"])  # one folder on Windows and macOS
    with pytest.raises(ValueError, match="no letters or digits"):
        safe_name("'/,")


def test_groups_csv_replaces_only_its_own_set(tmp_path: Path) -> None:
    path = tmp_path / "groups.csv"
    write_groups_csv(path, "A", {"x y": "x_y"})
    write_groups_csv(path, "B", {"p, q": "p_q"})
    write_groups_csv(path, "A", {"z": "z"})
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {"set": "A", "original": "z", "safe": "z"},
        {"set": "B", "original": "p, q", "safe": "p_q"},
    ]


def test_mask_png_is_0_255(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "m.png"
    write_mask_png(np.array([[0.2, 0.5], [0.7, 1.0]]), path)
    image = Image.open(path)
    assert image.mode == "L"
    np.testing.assert_array_equal(np.asarray(image), [[0, 255], [255, 255]])


def test_place_file_copies_or_links_and_replaces(tmp_path: Path) -> None:
    src = tmp_path / "src.jpg"
    src.write_bytes(b"one")
    dst = tmp_path / "out" / "dst.jpg"
    place_file(src, dst, "symlink")
    assert dst.is_symlink() and dst.read_bytes() == b"one"
    place_file(src, dst, "copy")
    assert not dst.is_symlink() and dst.read_bytes() == b"one"
    with pytest.raises(ValueError, match="mode"):
        place_file(src, dst, "move")  # type: ignore[arg-type]


def test_sample_paths_follow_the_layout(tmp_path: Path) -> None:
    image, mask = sample_paths(tmp_path, "Set", "grp", "001", ".jpg")
    assert image == tmp_path / "images" / "Set" / "grp" / "001.jpg"
    assert mask == tmp_path / "gts" / "Set" / "grp" / "001.png"
