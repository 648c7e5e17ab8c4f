"""The group test on real photos: choosing photos in two groups, their maps and GCM maps in each group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gconet_lab.config import make_config
from gconet_lab.data import GroupTestDataset, index_set
from gconet_lab.models import GCoNetPlus
from gconet_lab.studies.group_test import (
    PhotoInGroups,
    gcm_maps,
    group_decision_of,
    map_change,
    overlap,
    photo_in_groups,
    photos_decision,
    predict_groups,
    shared_samples,
    two_group_photos,
)

H, W = 24, 32


def box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((H, W), np.float32)
    mask[y0:y1, x0:x1] = 1
    return mask


# group -> stem -> mask: "apart" shows a large left object (group a) and a large right one (group b);
# "small" a small one beside a large one; "touching" two objects that overlap; "only_a" is in one group
MASKS = {
    "a": {"apart": box(0, 24, 0, 14), "small": box(0, 6, 0, 6), "touching": box(0, 24, 0, 20), "only_a": box(0, 12, 0, 12)},
    "b": {"apart": box(0, 24, 16, 32), "small": box(0, 24, 10, 32), "touching": box(0, 24, 10, 32)},
}


@pytest.fixture
def shared_set(tmp_path: Path) -> Path:
    """A CoSOD-layout set ``Shared`` whose photos sit in one or two groups with a different mask in each."""
    rng = np.random.default_rng(0)
    photos = {stem: rng.integers(0, 256, (H, W, 3)).astype(np.uint8) for stem in ("apart", "small", "touching", "only_a")}
    for group, masks in MASKS.items():
        for stem, mask in masks.items():
            for side, array, suffix in (("images", photos[stem], ".jpg"), ("gts", (mask * 255).astype(np.uint8), ".png")):
                path = tmp_path / side / "Shared" / group / f"{stem}{suffix}"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(path, quality=95)
    return tmp_path


def test_shared_samples_are_the_photos_in_two_or_more_groups(shared_set: Path) -> None:
    shared = shared_samples(index_set(shared_set, "Shared").groups)
    assert list(shared) == ["apart", "small", "touching"]
    assert list(shared["apart"]) == ["a", "b"] and shared["apart"]["b"].mask.parent.name == "b"


def test_overlap_is_intersection_over_union() -> None:
    assert overlap(box(0, 24, 0, 16), box(0, 24, 16, 32)) == 0.0
    assert overlap(box(0, 24, 0, 16), box(0, 24, 8, 24)) == pytest.approx(1 / 3)
    assert overlap(np.zeros((H, W)), np.zeros((H, W))) == 0.0


def test_two_group_photos_ranks_apart_photos_by_their_smaller_object(shared_set: Path) -> None:
    groups = index_set(shared_set, "Shared").groups
    chosen = two_group_photos(groups, count=5)
    assert [next(iter(samples.values())).stem for samples in chosen] == ["apart", "small"]  # "touching" overlaps
    assert [next(iter(s.values())).stem for s in two_group_photos(groups, count=1)] == ["apart"]
    assert two_group_photos(groups, count=5, max_group_size=3) == []  # group a holds four photos


@pytest.fixture
def tiny_model() -> GCoNetPlus:
    torch.manual_seed(0)
    return GCoNetPlus(make_config("tiny", image_size=64)).eval()


def test_photo_in_groups_keeps_the_map_of_the_whole_group_batch(shared_set: Path, tiny_model: GCoNetPlus) -> None:
    groups = index_set(shared_set, "Shared").groups
    by_name = {group.name: group for group in groups}
    photo = photo_in_groups(tiny_model, by_name, shared_samples(groups)["apart"])
    assert photo.stem == "apart" and photo.groups == ["a", "b"] and photo.image.shape == (H, W, 3)
    np.testing.assert_array_equal(photo.masks["b"], MASKS["b"]["apart"])
    predicted = predict_groups(tiny_model, groups)
    for group in ("a", "b"):  # the map of the photo predicted with its whole group, 8-bit as evaluated
        assert photo.maps[group].shape == (H, W) and np.all((photo.maps[group] * 255) % 1 == 0)
        np.testing.assert_array_equal(photo.maps[group], predicted[group]["apart"])
        assert photo.attention[group].ndim == 2
    assert map_change(photo) == pytest.approx(float(np.abs(photo.maps["a"] - photo.maps["b"]).mean()))


def test_group_decision_of_scores_each_photo_among_the_predicted_groups(shared_set: Path) -> None:
    groups = index_set(shared_set, "Shared").groups
    own = {group: {stem: mask.copy() for stem, mask in masks.items()} for group, masks in MASKS.items()}
    deciding = group_decision_of(own, groups)  # each map is its group's mask: always closer
    assert (deciding.photos, deciding.pairs, deciding.closer, deciding.chance) == (3, 6, 1.0, 0.5)
    assert deciding.gap > 0
    blind = {group: {stem: MASKS["a"].get(stem, mask) for stem, mask in masks.items()} for group, masks in MASKS.items()}
    assert group_decision_of(blind, groups).closer == 0.5  # the same map in both groups wins in one of them
    assert group_decision_of({"a": own["a"]}, groups) is None  # one group predicted: no photo shared


def test_photos_decision_matches_the_set_measure() -> None:
    photo = PhotoInGroups("p", np.zeros((H, W, 3), np.uint8), {"a": MASKS["a"]["apart"], "b": MASKS["b"]["apart"]},
                          {"a": MASKS["a"]["apart"], "b": MASKS["a"]["apart"]}, {})
    decision = photos_decision([photo])
    assert (decision.photos, decision.pairs, decision.closer, decision.chance) == (1, 2, 0.5, 0.5)
    assert map_change(photo) == 0


def test_gcm_maps_are_the_head_on_the_photo_times_each_group_consensus(shared_set: Path, tiny_model: GCoNetPlus) -> None:
    groups = index_set(shared_set, "Shared").groups
    by_name = {group.name: group for group in groups}
    maps = gcm_maps(tiny_model, by_name, shared_samples(groups)["apart"])
    size = tiny_model.config.image_size
    assert list(maps) == ["a", "b"] and all(m.shape == (H, W) and 0 <= m.min() <= m.max() <= 1 for m in maps.values())
    with torch.inference_mode():
        item = GroupTestDataset([by_name["b"]], size)[0]  # by hand: group b's consensus on the photo's features
        features = tiny_model.encoder(item["images"])[-1]
        product = features[item["names"].index("apart")][None] * tiny_model.gam(features).consensus
        expected = torch.sigmoid(tiny_model.gcm_head(product, product, (H, W))[0, 0]).numpy()
    np.testing.assert_allclose(maps["b"], expected, atol=1e-5)
