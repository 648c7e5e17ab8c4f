"""gconet_lab.data.datasets and sampling: two-group batches (Eq. 16), class ids, seeds, tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gconet_lab.data.datasets import (
    GroupPairDataset,
    GroupTestDataset,
    load_sample,
    make_test_loader,
    make_train_loader,
)
from gconet_lab.data.layout import index_set
from gconet_lab.data.sampling import GroupPairSampler, group_size_n
from gconet_lab.data.transforms import AugmentConfig

SIZES = {"ant": 3, "bee": 5, "cat": 7, "dog": 2, "eel": 1}


@pytest.fixture
def tiny_set(write_cosod_set):
    return index_set(write_cosod_set(SIZES), "Tiny")


def batches(loader) -> list[dict]:
    return list(loader)


def test_batches_hold_two_different_groups_of_n_images(tiny_set) -> None:
    loader = make_train_loader([tiny_set], image_size=16, max_group_size=4, seed=0)
    names = loader.dataset.class_names
    assert names == ["ant", "bee", "cat", "dog"]  # "eel" (1 image) is filtered out
    seen_a = []
    for batch in batches(loader):
        a, b = batch["groups"]
        assert a != b
        n = group_size_n(SIZES[a], SIZES[b], 4)
        assert (
            batch["images"].shape == (2 * n, 3, 16, 16) and batch["images"].dtype == torch.float32
        )
        assert batch["masks"].shape == (2 * n, 1, 16, 16)
        assert batch["masks"].min() >= 0.0 and batch["masks"].max() <= 1.0
        expected = [names.index(a)] * n + [names.index(b)] * n
        assert batch["class_ids"].dtype == torch.long and batch["class_ids"].tolist() == expected
        seen_a.append(a)
    assert sorted(seen_a) == names  # one epoch = every group once as group A


def test_group_size_follows_eq_16() -> None:
    assert group_size_n(40, 50, 32) == 32
    assert group_size_n(40, 50, 26) == 26  # the official code's cap
    assert group_size_n(3, 50, 32) == 3


def test_small_groups_are_filtered_with_a_report(tiny_set) -> None:
    dataset = GroupPairDataset(tiny_set.groups, image_size=8, min_group_size=3)
    assert [g.name for g in dataset.groups] == ["ant", "bee", "cat"]
    assert [s.path.name for s in dataset.skipped] == ["dog", "eel"]
    assert "fewer than min_group_size=3" in dataset.skipped[0].reason
    everything = GroupPairDataset(tiny_set.groups, image_size=8, min_group_size=1)
    assert len(everything) == 5 and not everything.skipped


def test_same_seed_same_batches_other_seed_other_batches(tiny_set) -> None:
    first = batches(make_train_loader([tiny_set], image_size=16, max_group_size=4, seed=3))
    again = batches(make_train_loader([tiny_set], image_size=16, max_group_size=4, seed=3))
    other = batches(make_train_loader([tiny_set], image_size=16, max_group_size=4, seed=4))
    for x, y in zip(first, again, strict=True):
        assert x["groups"] == y["groups"] and torch.equal(x["images"], y["images"])
        assert torch.equal(x["masks"], y["masks"])
    assert any(
        x["groups"] != y["groups"]
        or x["images"].shape != y["images"].shape
        or not torch.equal(x["images"], y["images"])
        for x, y in zip(first, other, strict=True)
    )


def test_epochs_advance_and_can_be_replayed(tiny_set) -> None:
    loader = make_train_loader([tiny_set], image_size=8, max_group_size=4, seed=0)
    epoch0, epoch1 = batches(loader), batches(loader)
    assert [b["groups"] for b in epoch0] != [b["groups"] for b in epoch1]
    loader.sampler.set_epoch(1)
    assert all(
        torch.equal(x["images"], y["images"]) for x, y in zip(batches(loader), epoch1, strict=True)
    )


def test_workers_do_not_change_the_batches(tiny_set) -> None:
    single = batches(make_train_loader([tiny_set], image_size=8, max_group_size=4, seed=5))
    multi = batches(
        make_train_loader([tiny_set], image_size=8, max_group_size=4, seed=5, num_workers=2)
    )
    assert [b["groups"] for b in single] == [b["groups"] for b in multi]
    assert all(torch.equal(x["images"], y["images"]) for x, y in zip(single, multi, strict=True))


def test_class_ids_span_all_training_sets(write_cosod_set) -> None:
    write_cosod_set({"cat": 2, "dog": 2}, set_name="A")
    root = write_cosod_set({"ant": 2, "cat": 3}, set_name="B")
    sets = [index_set(root, "A"), index_set(root, "B")]
    loader = make_train_loader(sets, image_size=8, seed=0)
    assert loader.dataset.class_names == ["ant", "cat", "dog"]  # "cat" of A and B: one class
    for batch in batches(loader):
        assert set(batch["groups"]) != {"cat"}  # the two cats are never paired


def test_groups_of_one_class_share_its_id_and_are_never_paired(write_cosod_set) -> None:
    write_cosod_set({"dog": 2, "ant": 2}, set_name="Coco")
    root = write_cosod_set({"dog_1": 3, "dog_2": 2, "cat": 2}, set_name="Paste")
    (root / "images" / "Paste" / "classes.csv").write_text("group,class\ndog_1,dog\ndog_2,dog\n")
    loader = make_train_loader([index_set(root, "Coco"), index_set(root, "Paste")], image_size=8, seed=0)
    names = loader.dataset.class_names
    assert names == ["ant", "cat", "dog"]  # three dog groups (two sets), one class
    dogs = {"dog", "dog_1", "dog_2"}
    for _ in range(5):
        for batch in batches(loader):
            a, b = batch["groups"]
            assert not {a, b} <= dogs
            ids = batch["class_ids"].tolist()
            assert (ids[0] == names.index("dog")) == (a in dogs) and ids[0] != ids[-1]


def test_partner_is_never_the_same_class() -> None:
    sampler = GroupPairSampler([4, 4, 4], class_ids=[0, 0, 1], seed=0)
    for _ in range(10):
        for draw in sampler:
            assert (draw.group_a == 2) != (draw.group_b == 2)
            assert len(set(draw.images_a)) == len(draw.images_a)  # without replacement
    with pytest.raises(ValueError, match="two different classes"):
        GroupPairSampler([4, 4], class_ids=[0, 0])


def test_explicit_class_names_must_cover_the_groups(tiny_set) -> None:
    dataset = GroupPairDataset(
        tiny_set.groups, image_size=8, class_names=["x", "ant", "bee", "cat", "dog"]
    )
    assert dataset.class_ids == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="missing from class_names: dog"):
        GroupPairDataset(tiny_set.groups, image_size=8, class_names=["ant", "bee", "cat"])


def test_test_dataset_yields_whole_groups_with_original_sizes(write_cosod_set) -> None:
    indexed = index_set(write_cosod_set({"cat": 3, "dog": 2}, size=(30, 44)), "Tiny")
    items = list(make_test_loader(indexed, image_size=16))
    assert [item["group"] for item in items] == ["cat", "dog"]
    cat = items[0]
    assert cat["images"].shape == (3, 3, 16, 16)
    assert cat["sizes"].dtype == torch.long and cat["sizes"].tolist() == [[30, 44]] * 3
    assert cat["names"] == ["cat_00", "cat_01", "cat_02"]
    assert cat["set_name"] == "Tiny"
    assert cat["mask_paths"][1].endswith("cat_01.png") and cat["image_paths"][1].endswith(
        "cat_01.jpg"
    )
    assert len(GroupTestDataset(indexed.groups)) == 2


def test_mask_of_another_size_is_resized_with_a_warning(write_cosod_set) -> None:
    sample = index_set(write_cosod_set({"cat": 1}), "Tiny").groups[0].samples[0]
    Image.fromarray(np.full((12, 16), 255, np.uint8)).save(sample.mask)
    with pytest.warns(UserWarning, match="cat_00.png: mask is 16x12"):
        image, mask = load_sample(sample)
    assert mask.shape == image.shape[:2]


def test_shared_photo_pairs_put_one_photo_in_both_halves() -> None:
    # groups 0 (class 0) and 1 (class 1) share photos "p" and "q"; group 2 (class 2) shares none
    photos = [["p", "q", "a0", "a1"], ["b0", "q", "p"], ["c0", "c1", "c2"]]
    sampler = GroupPairSampler([4, 3, 3], class_ids=[0, 1, 2], max_group_size=3, seed=0, photos=photos,
                               shared_photo_p=1.0)
    for _ in range(5):
        for draw in sampler:
            if draw.group_a == 2:  # nothing shared: a partner of any other class, as without the option
                assert draw.group_b in (0, 1)
                continue
            assert {draw.group_a, draw.group_b} == {0, 1}
            keys_a = [photos[draw.group_a][i] for i in draw.images_a]
            keys_b = [photos[draw.group_b][j] for j in draw.images_b]
            assert {"p", "q"} <= set(keys_a) & set(keys_b)  # both shared photos in both halves
            assert len(draw.images_a) == len(draw.images_b) == 3 and len(set(draw.images_a)) == 3


def test_shared_photo_pairs_off_keep_the_papers_draws_and_check_their_inputs() -> None:
    plain = GroupPairSampler([4, 3, 3], class_ids=[0, 1, 2], seed=3)
    off = GroupPairSampler([4, 3, 3], class_ids=[0, 1, 2], seed=3, photos=[["p"] * 4, ["p"] * 3, ["p"] * 3])
    assert list(plain) == list(off)  # shared_photo_p = 0: the same random stream
    with pytest.raises(ValueError, match="one key per image"):
        GroupPairSampler([4, 3], class_ids=[0, 1], photos=[["p"], ["q"]], shared_photo_p=0.5)
    with pytest.raises(ValueError, match="probability"):
        GroupPairSampler([4, 3], class_ids=[0, 1], shared_photo_p=1.5)


def test_loader_finds_one_photo_in_two_class_groups_by_its_content(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 3, "dog": 3})
    images, gts = root / "images" / "Tiny", root / "gts" / "Tiny"
    for folder in (images, gts):  # the first cat photo is also a dog photo, under another name
        suffix = ".png" if folder == gts else next((images / "cat").iterdir()).suffix
        first = sorted((folder / "cat").iterdir())[0]
        (folder / "dog" / f"shared{suffix}").write_bytes(first.read_bytes())
    loader = make_train_loader([index_set(root, "Tiny")], image_size=8, max_group_size=4, seed=0, shared_photo_p=1.0)
    groups = [group.name for group in loader.dataset.groups]
    cat, dog = groups.index("cat"), groups.index("dog")
    stems = {name: [sample.stem for sample in loader.dataset.groups[i].samples] for name, i in (("cat", cat), ("dog", dog))}
    assert loader.sampler.shared == {cat: {dog: [(0, stems["dog"].index("shared"))]},
                                     dog: {cat: [(stems["dog"].index("shared"), 0)]}}
    for draw in loader.sampler:
        assert 0 in (draw.images_a if draw.group_a == cat else draw.images_b)
        assert stems["dog"].index("shared") in (draw.images_a if draw.group_a == dog else draw.images_b)


def test_a_shared_photo_is_augmented_alike_in_both_halves(write_cosod_set) -> None:
    root = write_cosod_set({"cat": 3, "dog": 3}, size=(24, 32))
    images, gts = root / "images" / "Tiny", root / "gts" / "Tiny"
    for folder in (images, gts):  # the first cat photo is also a dog photo
        suffix = ".png" if folder == gts else next((images / "cat").iterdir()).suffix
        first = sorted((folder / "cat").iterdir())[0]
        (folder / "dog" / f"shared{suffix}").write_bytes(first.read_bytes())
    loader = make_train_loader([index_set(root, "Tiny")], image_size=16, max_group_size=3, seed=0, shared_photo_p=1.0,
                               augment=AugmentConfig(zoom_p=1.0))
    for draw in loader.sampler:
        batch, n = loader.dataset[draw], len(draw.images_a)
        assert draw.shared == 1  # the shared photo leads both halves
        assert torch.equal(batch["images"][0], batch["images"][n])  # one crop, flip, rotation and colour change
        assert not torch.equal(batch["images"][1], batch["images"][n + 1])  # other photos: their own


# --- resuming inside an epoch ---------------------------------------------------------------------


def test_sampler_resumes_inside_an_epoch_with_the_same_draws():
    sampler = GroupPairSampler([3, 4, 5, 2], class_ids=[0, 1, 2, 3], seed=1)
    sampler.set_epoch(2)
    whole = list(sampler)
    sampler.set_epoch(2, start=3)
    assert list(sampler) == whole[3:]
    assert len(list(sampler)) == 4  # the next epoch starts from its first draw again
    with pytest.raises(ValueError, match="start must be in 0..4"):
        sampler.set_epoch(0, start=5)
