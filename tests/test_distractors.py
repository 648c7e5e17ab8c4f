"""Re-drawing Synthetic scenes recovers every object; mass fractions split a map by regions."""

from __future__ import annotations

import numpy as np
import pytest

from gconet_lab.data import index_set, read_mask
from gconet_lab.data.sources.synthetic import CLASSES, generate
from gconet_lab.studies.distractors import (
    mass_fractions,
    object_classes,
    objects_mask,
    replay_group,
)


@pytest.fixture(scope="module")
def synthetic_test(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate(root, n_groups=2, images_per_group=3, size=64, seed=5)
    return index_set(root, "Synthetic_test")


def test_replayed_target_objects_are_the_ground_truth(synthetic_test):
    for group in synthetic_test.groups:
        scenes = replay_group(group, seed=5)
        assert len(scenes) == len(group)
        for objects, sample in zip(scenes, group.samples, strict=True):
            assert group.name in object_classes(objects) and len(object_classes(objects)) == 3  # target + 2 distractors
            assert np.array_equal(objects_mask(objects, 64, [group.name]), read_mask(sample.mask) > 0.5)
            distractors = objects_mask(objects, 64, set(object_classes(objects)) - {group.name})
            assert distractors.any() and not (distractors & (read_mask(sample.mask) > 0.5)).any()


def test_replay_refuses_another_seed_and_other_sets(synthetic_test, tmp_path):
    with pytest.raises(ValueError, match="seed=6"):
        replay_group(synthetic_test.groups[0], seed=6)
    foreign = synthetic_test.groups[0].__class__(name="cat", set_name="COCO", samples=synthetic_test.groups[0].samples)
    with pytest.raises(ValueError, match="not a group of a Synthetic set"):
        replay_group(foreign)


def test_objects_mask_without_classes_is_the_union_of_all(synthetic_test):
    objects = replay_group(synthetic_test.groups[0], seed=5)[0]
    every = objects_mask(objects, 64)
    parts = [objects_mask(objects, 64, [name]) for name in object_classes(objects)]
    assert np.array_equal(every, np.logical_or.reduce(parts))
    assert set(object_classes(objects)) <= set(CLASSES)


def test_mass_fractions_by_hand():
    saliency = np.array([[1.0, 3.0], [0.0, 4.0]])
    left, right = np.array([[True, False], [True, False]]), np.array([[False, True], [False, True]])
    assert mass_fractions(saliency, {"left": left, "right": right}) == pytest.approx({"left": 0.125, "right": 0.875})
    with pytest.raises(ValueError, match="zero everywhere"):
        mass_fractions(np.zeros((2, 2)), {"left": left})
