"""gconet_lab.data.sources.copy_paste and data_scripts/copy_paste.py: copy-paste co-saliency groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gconet_lab.data.datasets import make_train_loader
from gconet_lab.data.errors import DataError
from gconet_lab.data.io import read_mask
from gconet_lab.data.layout import CLASS_FILE, index_set
from gconet_lab.data.sources.coco import AnnotatedImage, class_mask
from gconet_lab.data.sources.copy_paste import (
    Cutout,
    Paste,
    PasteOptions,
    compose,
    cut_instances,
    draw_image,
    feather_cutout,
    plan_groups,
    target_mask,
    write_copy_paste,
)

# A fake coco128-seg: 4 noise photos of 80 x 100 with square instances of classes a, b, c.
# Photos without a class (its only possible backgrounds): a -> p2; b -> p1; c -> p0, p3.
PHOTO_CLASSES = {"p0": (0, 1), "p1": (0, 2), "p2": (1, 2), "p3": (0, 1)}
NO_JITTER = PasteOptions(jitter=0.0, hue_shift=0)


def square(x: float, y: float, side: float) -> np.ndarray:
    return np.array([[x, y], [x + side, y], [x + side, y + side], [x, y + side]], np.float64)


@pytest.fixture
def fake_coco(tmp_path: Path) -> Path:
    root = tmp_path / "coco"
    (root / "images" / "train2017").mkdir(parents=True)
    (root / "labels" / "train2017").mkdir(parents=True)
    (root / "classes.txt").write_text("a\nb\nc\n")
    rng = np.random.default_rng(0)
    for stem, classes in PHOTO_CLASSES.items():
        pixels = rng.integers(0, 256, (80, 100, 3)).astype(np.uint8)
        Image.fromarray(pixels).save(root / "images" / "train2017" / f"{stem}.jpg", quality=95)
        lines = [
            f"{c} " + " ".join(f"{v:.4f}" for v in (square(10 + 45 * i, 15, 30) / (100, 80)).ravel())
            for i, c in enumerate(classes)
        ]
        (root / "labels" / "train2017" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    return root


def solid(colour: tuple[int, int, int], height: int, width: int, class_id: int) -> Cutout:
    rgb = np.broadcast_to(np.array(colour, np.uint8), (height, width, 3)).copy()
    return Cutout(rgb, np.ones((height, width), bool), class_id, "solid")


def test_compose_mask_is_the_visible_part_of_the_targets() -> None:
    canvas = np.zeros((40, 40, 3), np.uint8)
    target, other = solid((255, 0, 0), 20, 20, 0), solid((0, 0, 255), 10, 30, 1)
    pastes = [Paste(target, 5, 5, True), Paste(other, 10, 20, False), Paste(target, 30, 30, True)]
    image, owner = compose(canvas, pastes)
    expected = np.zeros((40, 40), bool)
    expected[5:25, 5:25] = True
    expected[10:20, 20:40] = False  # the distractor pasted later covers part of the first target
    expected[30:40, 30:40] = True  # the last target is cut off by the canvas border
    np.testing.assert_array_equal(target_mask(owner, pastes), expected)
    np.testing.assert_array_equal(np.all(image == (255, 0, 0), axis=-1), expected)
    assert np.all(image[12, 35] == (0, 0, 255)) and np.all(image[0, 0] == 0)


def test_drawn_mask_is_exactly_where_target_pixels_show() -> None:
    """Known cut-outs (solid red targets, blue distractors, no jitter): mask == red pixels."""
    rng = np.random.default_rng(0)
    targets = [solid((255, 0, 0), 30, 20, 0), solid((255, 0, 0), 12, 40, 0)]
    distractors = [[solid((0, 0, 255), 25, 25, 1)], [solid((0, 0, 255), 40, 10, 2)]]
    background = np.full((64, 90, 3), (0, 255, 0), np.uint8)
    for _ in range(20):
        image, mask = draw_image(targets, distractors, background, 64, NO_JITTER, rng)
        assert image.shape == (64, 64, 3) and mask.shape == (64, 64)
        assert mask.any()
        np.testing.assert_array_equal(mask, np.all(image == (255, 0, 0), axis=-1))


def test_targets_stay_visible_when_layouts_keep_covering_them() -> None:
    """Huge distractors cover any target; after the random tries the targets are pasted last."""
    options = PasteOptions(jitter=0.0, hue_shift=0, object_size=(1.0, 1.0), targets=(1, 1),
                           distractors=(2, 2), min_visible=1.0)
    targets = [solid((255, 0, 0), 8, 8, 0)]
    distractors = [[solid((0, 0, 255), 50, 50, 1)], [solid((0, 0, 255), 50, 50, 2)]]
    image, mask = draw_image(targets, distractors, np.zeros((32, 32, 3), np.uint8), 32, options,
                             np.random.default_rng(0))
    assert mask.sum() == 16 * 16  # the 8 x 8 target is enlarged by max_upscale = 2 and fully visible


def test_feathered_paste_blends_its_edge_and_keeps_the_hard_mask() -> None:
    """A white 20 x 20 square feathered with sigma 2 on black: the mask is still the square, the
    pixels ramp across its edge (the Gaussian's half-opacity falls on the edge), and far from the
    edge the paste is opaque inside and absent outside."""
    soft = feather_cutout(solid((255, 255, 255), 20, 20, 0), sigma=2.0)
    assert soft.alpha.shape == (32, 32) and soft.blend is not None  # padded by 3 sigma = 6
    image, owner = compose(np.zeros((40, 40, 3), np.uint8), [Paste(soft, 4, 4, True)])
    mask = target_mask(owner, [Paste(soft, 4, 4, True)])
    expected = np.zeros((40, 40), bool)
    expected[10:30, 10:30] = True
    np.testing.assert_array_equal(mask, expected)
    row = image[20, :, 0].astype(int)
    assert row[20] == 255 and row[2] == 0  # opaque centre; untouched outside the padded paste
    assert 0 < row[8] < row[9] < row[10] < row[11] < 255  # a ramp across the edge at column 10
    assert abs((row[9] + row[10]) / 2 - 127.5) < 20  # half opacity at the edge
    hard = solid((255, 255, 255), 20, 20, 0)
    assert feather_cutout(hard, sigma=0.1) is hard  # a sigma under a sixth of a pixel changes nothing


def test_feathered_draws_stay_deterministic_and_in_bounds() -> None:
    options = PasteOptions(feather=3.0, object_size=(0.9, 1.0))  # padded cut-outs overhang the canvas
    targets = [solid((255, 0, 0), 30, 20, 0)]
    distractors = [[solid((0, 0, 255), 25, 25, 1)]]
    background = np.full((48, 60, 3), (0, 255, 0), np.uint8)
    first = draw_image(targets, distractors, background, 48, options, np.random.default_rng(3))
    second = draw_image(targets, distractors, background, 48, options, np.random.default_rng(3))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert first[0].shape == (48, 48, 3) and first[1].any()
    with pytest.raises(ValueError, match="feather"):
        PasteOptions(feather=-1.0)


def test_cutouts_have_the_polygon_alpha_and_tiny_or_truncated_instances_are_dropped(tmp_path: Path) -> None:
    photo = np.random.default_rng(1).integers(0, 256, (60, 80, 3)).astype(np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    inside, tiny, truncated = square(20, 10, 30), square(60, 40, 4), square(0, 30, 25)
    image = AnnotatedImage(path, 60, 80, {3: [inside, tiny], 5: [truncated]})
    (cutout,) = cut_instances([image], PasteOptions(min_side=8))
    alpha = class_mask([inside], 60, 80).astype(bool)
    rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
    box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    np.testing.assert_array_equal(cutout.alpha, alpha[box])
    np.testing.assert_array_equal(cutout.rgb, photo[box])
    assert cutout.class_id == 3 and cutout.source == "photo#0"


def test_one_pixel_bridges_of_merged_polygons_are_dropped(tmp_path: Path) -> None:
    """YOLO-seg joins the parts of an instance by a zero-width bridge; the cut-out keeps the parts only."""
    path = tmp_path / "photo.png"
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(path)
    parts = [(5, 5), (15, 5), (15, 10), (35, 10), (35, 5), (45, 5), (45, 15), (35, 15), (35, 10),
             (15, 10), (15, 15), (5, 15)]  # two squares, the bridge drawn there and back on row 10
    polygon = np.array(parts, np.float64)
    assert class_mask([polygon], 40, 60)[10, 25] == 1  # the rasterised polygon has the bridge
    (cutout,) = cut_instances([AnnotatedImage(path, 40, 60, {0: [polygon]})], PasteOptions(min_side=5))
    assert not cutout.alpha[:, 13:30].any()  # no bridge between the squares
    assert cutout.alpha[:, :10].all() and cutout.alpha[:, -10:].all()  # both squares whole


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generation_is_deterministic_from_the_seed(fake_coco: Path, tmp_path: Path) -> None:
    trees = []
    for name, seed in (("first", 0), ("again", 0), ("other", 1)):
        write_copy_paste(fake_coco, tmp_path / name, images_per_group=3, size=48, seed=seed)
        trees.append(tree_bytes(tmp_path / name))
    assert trees[0] == trees[1]
    assert trees[0].keys() == trees[2].keys() and trees[0] != trees[2]


def test_groups_use_only_backgrounds_without_their_class(fake_coco: Path, tmp_path: Path) -> None:
    report = write_copy_paste(fake_coco, tmp_path, images_per_group=6, size=48, seed=0)
    assert report.group_classes == {"a": "a", "b": "b", "c": "c"} and report.num_cutouts == 8
    assert set(report.backgrounds["a"]) == {"p2"} and set(report.backgrounds["b"]) == {"p1"}
    assert set(report.backgrounds["c"]) <= {"p0", "p3"}
    indexed = index_set(tmp_path, "CopyPaste")
    assert [g.name for g in indexed.groups] == ["a", "b", "c"] and indexed.num_images == 18
    for group in indexed.groups:
        assert group.class_name == group.name
        for sample in group.samples:
            assert read_mask(sample.mask).max() == 1.0  # every image holds target pixels
    assert not (tmp_path / "images" / "CopyPaste" / CLASS_FILE).exists()
    assert report.summary().splitlines()[0].startswith("CopyPaste: 3 groups of 3 classes x 6 images")


def test_several_groups_per_class_get_a_class_file(fake_coco: Path, tmp_path: Path) -> None:
    write_copy_paste(fake_coco, tmp_path, groups=5, images_per_group=2, size=40, seed=0)
    indexed = index_set(tmp_path, "CopyPaste")
    classes = {g.name: g.class_name for g in indexed.groups}
    assert classes == {"a_1": "a", "a_2": "a", "b_1": "b", "b_2": "b", "c": "c"}
    assert not indexed.report.ignored  # the class file is not an unknown file
    loader = make_train_loader([indexed], image_size=16, seed=0)
    assert loader.dataset.class_names == ["a", "b", "c"]
    for _ in range(3):
        for batch in loader:
            a, b = batch["groups"]
            assert classes[a] != classes[b]  # two groups of one class are never A and B
    with pytest.raises(DataError, match="a_1"):  # a later generation must not mix with these groups
        write_copy_paste(fake_coco, tmp_path, images_per_group=2, size=40, seed=0)


def test_group_folders_name_classes_and_never_collide() -> None:
    assert plan_groups([0, 1, 2], ["a", "hot dog", "c"], None, seed=0) == {"a": 0, "hot_dog": 1, "c": 2}
    assert plan_groups([0, 1], ["a", "b"], 3, seed=0) == {"a_1": 0, "a_2": 0, "b": 1}
    assert len(plan_groups([0, 1, 2], ["a", "b", "c"], 2, seed=0)) == 2
    with pytest.raises(ValueError, match="'dog_1' would name two groups"):
        plan_groups([0, 1], ["dog", "dog_1"], 3, seed=0)


def test_real_coco128_groups(coco128_root: Path, tmp_path: Path) -> None:
    report = write_copy_paste(coco128_root, tmp_path, groups=6, images_per_group=2, size=64, seed=0)
    names = (coco128_root / "classes.txt").read_text().split("\n")
    for group, stems in report.backgrounds.items():
        class_id = str(names.index(report.group_classes[group].replace("_", " ")))
        for stem in stems:
            label = coco128_root / "labels" / "train2017" / f"{stem}.txt"
            lines = label.read_text().splitlines() if label.exists() else []
            assert all(line.split()[0] != class_id for line in lines if line.strip())
    indexed = index_set(tmp_path, "CopyPaste")
    assert len(indexed.groups) == 6
    assert all(read_mask(s.mask).any() for g in indexed.groups for s in g.samples)


@pytest.mark.slow
def test_shared_background_makes_photo_sessions_and_leaves_other_groups_alone(coco128_root: Path, tmp_path: Path) -> None:
    def backgrounds(name: str, probability: float) -> dict[str, tuple[str, ...]]:
        options = PasteOptions(shared_background=probability)
        return write_copy_paste(coco128_root, tmp_path / name, groups=8, images_per_group=4, size=48, seed=3,
                                options=options).backgrounds

    independent, sessions, some = backgrounds("off", 0.0), backgrounds("all", 1.0), backgrounds("half", 0.5)
    assert sum(len(set(stems)) > 1 for stems in independent.values()) >= 6  # 128 photos: repeats are rare
    assert all(len(set(stems)) == 1 for stems in sessions.values())  # one photo per group
    shared = [group for group, stems in some.items() if len(set(stems)) == 1]
    assert 1 <= len(shared) <= 7
    with pytest.raises(ValueError, match="probability"):
        PasteOptions(shared_background=1.5)


def test_cli_writes_groups_and_reports_bad_input_on_one_line(
    data_script, fake_coco: Path, tmp_path: Path, capsys
) -> None:
    cli = data_script("copy_paste")
    cli.main(["--coco", str(fake_coco), "--out", str(tmp_path / "out"), "--groups", "2",
              "--images-per-group", "2", "--size", "40", "--set-name", "CP"])
    assert capsys.readouterr().out.startswith("CP: 2 groups of 2 classes x 2 images")
    assert len(index_set(tmp_path / "out", "CP").groups) == 2
    for argv, problem in (
        (["--coco", str(tmp_path / "nowhere")], "no classes.txt"),
        (["--coco", str(fake_coco), "--images-per-group", "1"], "images_per_group"),
        (["--coco", str(fake_coco), "--min-instances", "9"], "usable instances"),
        (["--coco", str(fake_coco), "--distractors", "3", "1"], "distractors must be (low, high)"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*argv, "--out", str(tmp_path / "bad")])
        error = capsys.readouterr().err
        assert exit_info.value.code == 2 and problem in error and error.count("\n") == 1
