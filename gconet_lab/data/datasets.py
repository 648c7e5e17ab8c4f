"""PyTorch datasets: two-group training batches and one-group-per-item test batches.

Training (Sec. 4.3, Eq. 16): every item is a whole batch of 2N images, N from group A then N from
group B, chosen by :class:`~gconet_lab.data.sampling.GroupPairSampler`. Items are keyed by the
sampler's :class:`~gconet_lab.data.sampling.PairDraw`, which also carries the augmentation seed,
so a batch depends only on ``(seed, epoch, step)``. Use ``DataLoader(batch_size=None)``:
the dataset already returns batches (see :func:`make_train_loader`).

Testing (Sec. 4.3, "the exact number of images in the given group as the batch size"): every
item is one complete group, resized to S x S without augmentation, together with each image's
original (H, W) so predictions can be resized back before evaluation (as the official test.py does).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from gconet_lab.data.cache import DEFAULT_MAX_BYTES, ResizedSampleCache
from gconet_lab.data.errors import DataError
from gconet_lab.data.io import read_image, read_mask
from gconet_lab.data.layout import Group, IndexedSet, Sample
from gconet_lab.data.sampling import (
    GroupPairSampler,
    PairDraw,
    class_names_of,
    filter_small_groups,
)
from gconet_lab.data.sources.manifest import sha256_of
from gconet_lab.data.transforms import (
    OFFICIAL_AUGMENT,
    AugmentConfig,
    TrainTransform,
    prepare_image,
)


def load_sample(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Read an (image, mask) pair; a mask of another size is resized to the image (warning)."""
    image, mask = read_image(sample.image), read_mask(sample.mask)
    height, width = image.shape[:2]
    if mask.shape != (height, width):
        warnings.warn(
            f"{sample.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but image {sample.image} is "
            f"{width}x{height}; resizing the mask to the image",
            stacklevel=2,
        )
        mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.Resampling.BILINEAR))
    return image, mask


class GroupPairDataset(Dataset[dict[str, Any]]):
    """Training batches of two different groups (Eq. 16), indexed by :class:`PairDraw`.

    Each item is a dict:

    * ``images``: float (2N, 3, S, S), augmented and ImageNet-normalised;
    * ``masks``: float (2N, 1, S, S), soft, in [0, 1];
    * ``class_ids``: long (2N,), the index of each group's class in :attr:`class_names` (ACM/RACM
      targets); groups of one class share it and are never drawn together;
    * ``groups``: ``[name of A, name of B]``.

    Groups with fewer than ``min_group_size`` images are dropped and listed in :attr:`skipped`.
    ``class_names`` defaults to the sorted classes of the kept groups (:attr:`Group.class_name`);
    pass one shared list when several datasets must use the same classifier indices.

    Every image is decoded and resized to S x S once and kept in memory up to ``cache_bytes``
    (:mod:`~gconet_lab.data.cache`); the augmentation then runs on the S x S arrays. (The official
    code augments at full size and resizes last: flips and colour changes are the same either
    way; a rotation of the resized image differs by the aspect-ratio change.)
    """

    def __init__(
        self,
        groups: Sequence[Group],
        image_size: int = 256,
        augment: AugmentConfig | None = OFFICIAL_AUGMENT,
        class_names: Sequence[str] | None = None,
        min_group_size: int = 2,
        cache_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.groups, self.skipped = filter_small_groups(groups, min_group_size)
        if not self.groups:
            raise ValueError(f"no training group has at least {min_group_size} images")
        self.class_names = (
            list(class_names) if class_names is not None else class_names_of(self.groups)
        )
        index = {name: i for i, name in enumerate(self.class_names)}
        unknown = sorted({g.class_name for g in self.groups} - index.keys())
        if unknown:
            raise ValueError(f"classes missing from class_names: {', '.join(unknown)}")
        self.class_ids = [index[group.class_name] for group in self.groups]
        self.transform = TrainTransform(image_size, augment)
        self.cache = ResizedSampleCache(image_size, cache_bytes)

    def __len__(self) -> int:
        """Steps per epoch: every group is group A once."""
        return len(self.groups)

    def make_sampler(self, max_group_size: int = 32, seed: int = 0, rank: int = 0, world_size: int = 1,
                     shared_photo_p: float = 0.0) -> GroupPairSampler:
        """The sampler that yields this dataset's keys (``max_group_size`` 32: paper; 26: code), or process ``rank``'s share of them.

        ``shared_photo_p > 0`` pairs groups that share photos (told apart by their files' SHA-256), see
        :mod:`~gconet_lab.data.sampling`.
        """
        sizes = [len(group) for group in self.groups]
        photos = [[sha256_of(sample.image) for sample in group.samples] for group in self.groups] if shared_photo_p else None
        return GroupPairSampler(sizes, self.class_ids, max_group_size, seed, rank, world_size, photos, shared_photo_p)

    def __getitem__(self, draw: PairDraw) -> dict[str, Any]:
        rng = np.random.default_rng(draw.seed)
        images, masks, class_ids = [], [], []
        both_objects = [self._both_objects(draw, k) for k in range(draw.shared)]  # once per shared photo
        for group_index, picks in ((draw.group_a, draw.images_a), (draw.group_b, draw.images_b)):
            group = self.groups[group_index]
            for k, i in enumerate(picks):
                image, mask = self.cache.get(group.samples[i], load_sample)
                if k < draw.shared:  # one photo in both halves: augmented alike, the crop keeps both objects
                    image, mask = self.transform(image, mask, np.random.default_rng([draw.seed, k]), both_objects[k])
                else:
                    image, mask = self.transform(image, mask, rng)
                images.append(image)
                masks.append(mask)
                class_ids.append(self.class_ids[group_index])
        return {
            "images": torch.stack(images),
            "masks": torch.stack(masks),
            "class_ids": torch.tensor(class_ids, dtype=torch.long),
            "groups": [self.groups[draw.group_a].name, self.groups[draw.group_b].name],
        }

    def _both_objects(self, draw: PairDraw, k: int) -> np.ndarray:
        """The union of the two masks of shared photo ``k`` (image k of both halves)."""
        _, mask_a = self.cache.get(self.groups[draw.group_a].samples[draw.images_a[k]], load_sample)
        _, mask_b = self.cache.get(self.groups[draw.group_b].samples[draw.images_b[k]], load_sample)
        if mask_a.shape != mask_b.shape:
            names = f"{self.groups[draw.group_a].name} and {self.groups[draw.group_b].name}"
            raise ValueError(f"shared photo {k} of groups {names} has two mask sizes: {mask_a.shape}, {mask_b.shape}")
        return np.maximum(mask_a, mask_b)


class GroupTestDataset(Dataset[dict[str, Any]]):
    """One item per group: all of its images as one batch, no augmentation (Sec. 4.3).

    Each item is a dict: ``images`` float (n, 3, S, S) ImageNet-normalised; ``sizes`` long
    (n, 2), each image's original (H, W); ``names`` (file stems); ``group``; ``set_name``;
    ``image_paths`` and ``mask_paths`` (str), so predictions can be resized back and written as
    ``<set>/<group>/<name>.png``.
    """

    def __init__(self, groups: Sequence[Group] | IndexedSet, image_size: int = 256) -> None:
        self.groups = list(groups.groups if isinstance(groups, IndexedSet) else groups)
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> dict[str, Any]:
        group = self.groups[index]
        images = [read_image(sample.image) for sample in group.samples]
        return {
            "images": torch.stack([prepare_image(image, self.image_size) for image in images]),
            "sizes": torch.tensor([image.shape[:2] for image in images], dtype=torch.long),
            "names": [sample.stem for sample in group.samples],
            "group": group.name,
            "set_name": group.set_name,
            "image_paths": [str(sample.image) for sample in group.samples],
            "mask_paths": [str(sample.mask) for sample in group.samples],
        }


def make_train_loader(
    sets: Sequence[IndexedSet],
    image_size: int = 256,
    max_group_size: int = 32,
    seed: int = 0,
    num_workers: int = 0,
    min_group_size: int = 2,
    augment: AugmentConfig | None = OFFICIAL_AUGMENT,
    class_names: Sequence[str] | None = None,
    rank: int = 0,
    world_size: int = 1,
    shared_photo_p: float = 0.0,
) -> DataLoader:
    """A loader of two-group batches over the groups of all ``sets`` combined.

    Iterating it once is one epoch; the next iteration is the next epoch (call
    ``loader.sampler.set_epoch(e)`` to resume at epoch ``e``). Batches are identical for a given
    ``seed`` whatever ``num_workers`` is. ``loader.dataset.class_names`` gives the classifier size.
    In data-parallel training, process ``rank`` of ``world_size`` gets its share of every epoch.
    ``shared_photo_p``: the share of batches whose two groups share photos (:mod:`~gconet_lab.data.sampling`).
    """
    groups = [group for indexed in sets for group in indexed.groups]
    try:
        dataset = GroupPairDataset(groups, image_size, augment, class_names, min_group_size)
        sampler = dataset.make_sampler(max_group_size, seed, rank, world_size, shared_photo_p)
    except ValueError as error:  # too few groups of two images, or of two classes, for Eq. 16
        folders = ", ".join(str(indexed.groups[0].samples[0].image.parent.parent) for indexed in sets if indexed.groups)
        raise DataError(folders or "the training sets", f"cannot form two-group training batches: {error}") from None
    return DataLoader(dataset, batch_size=None, sampler=sampler, num_workers=num_workers)


def make_test_loader(
    indexed: IndexedSet | Sequence[Group], image_size: int = 256, num_workers: int = 0
) -> DataLoader:
    """A loader that yields one whole group per step, in sorted group order."""
    dataset = GroupTestDataset(indexed, image_size)
    return DataLoader(dataset, batch_size=None, shuffle=False, num_workers=num_workers)
