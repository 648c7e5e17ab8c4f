"""gconet_lab.data.sources.synthetic (and data_scripts/synthetic.py): masks mark only the group's class, distractors present, seeded."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gconet_lab.data.io import read_image, read_mask
from gconet_lab.data.layout import index_set
from gconet_lab.data.sources import synthetic as syn

SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "synthetic.py"


def test_mask_is_exactly_the_union_of_the_target_objects() -> None:
    rng = np.random.default_rng(0)
    for target in (0, 9, 31):
        image, mask, objects = syn.render_scene(rng, 96, target, distractors=[3, 17])
        assert image.shape == (96, 96, 3) and image.dtype == np.uint8
        targets = [o for o in objects if o.is_target]
        distractors = [o for o in objects if not o.is_target]
        assert targets and all(o.class_index == target for o in targets)
        assert {o.class_index for o in distractors} == {3, 17}  # every distractor class is drawn
        union = np.zeros_like(mask)
        for obj in targets:
            union |= syn.object_mask(obj, 96)
        np.testing.assert_array_equal(mask, union)
        for obj in distractors:
            distractor = syn.object_mask(obj, 96)
            assert distractor.sum() > 20 and not (distractor & mask).any()


def test_targets_and_distractors_share_size_and_count_ranges() -> None:
    rng = np.random.default_rng(1)
    counts = {True: [], False: []}
    for _ in range(40):
        _, _, objects = syn.render_scene(rng, 128, 5, distractors=[1, 2])
        for flag in (True, False):
            per_class = {}
            for obj in objects:
                if obj.is_target == flag:
                    per_class[obj.class_index] = per_class.get(obj.class_index, 0) + 1
                    assert 0.08 * 128 <= obj.radius <= 0.13 * 128
            counts[flag] += per_class.values()
    assert set(counts[True]) == set(counts[False]) == {1, 2}  # repetition is no cue either


def test_no_distractor_class_is_in_every_image_of_a_group() -> None:
    for seed in range(20):
        plan = syn.distractor_plan(np.random.default_rng(seed), target=4, n_images=3)
        assert all(4 not in classes and len(classes) == 2 for classes in plan)
        assert not set.intersection(*(set(classes) for classes in plan))


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.png")):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_generate_writes_train_and_test_splits_deterministically(tmp_path: Path) -> None:
    written = syn.generate(tmp_path / "a", n_groups=3, images_per_group=4, size=64, seed=7)
    syn.generate(tmp_path / "b", n_groups=3, images_per_group=4, size=64, seed=7)
    syn.generate(tmp_path / "c", n_groups=3, images_per_group=4, size=64, seed=8)
    assert list(written) == ["Synthetic_train", "Synthetic_test"]
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")
    train, test = (
        index_set(tmp_path / "a", "Synthetic_train"),
        index_set(tmp_path / "a", "Synthetic_test"),
    )
    assert (
        [g.name for g in train.groups]
        == [g.name for g in test.groups]
        == sorted(written["Synthetic_train"])
    )
    assert train.num_images == test.num_images == 12
    sample = train.groups[0].samples[0]
    assert read_image(sample.image).shape == (64, 64, 3)
    assert set(np.unique(read_mask(sample.mask))) == {0.0, 1.0}
    assert tree_digest(tmp_path / "a" / "images" / "Synthetic_train") != tree_digest(
        tmp_path / "a" / "images" / "Synthetic_test"
    )


def test_bad_parameters_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_groups"):
        syn.generate(tmp_path, n_groups=33)
    with pytest.raises(ValueError, match="at least 2 images"):
        syn.generate(tmp_path, images_per_group=1)
    with pytest.raises(ValueError, match="at least 32 pixels"):
        syn.generate(tmp_path, size=16)


@pytest.mark.slow
def test_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    )
    assert "--images-per-group" in result.stdout
