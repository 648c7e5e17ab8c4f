"""Which two groups, and which of their images, form each training batch (Sec. 4.3, Eq. 16).

GCoNet+ trains on batches made of two *different* groups A and B: "we randomly pick N samples
from two different groups", with

    N = min(#groupA, #groupB, 32)                                    (Eq. 16)

(the official code caps at 26 instead of 32, reference C.4). The first N images of a batch come
from A and the last N from B; the GCM (Sec. 3.3) and the GST loss (Eq. 5) rely on that split.

:class:`GroupPairSampler` makes these choices and nothing else: each epoch visits every group once
as group A in a seeded random order, draws the partner B uniformly among groups of a *different
class*, samples N images of each without replacement, and a seed for the augmentation of that
step. All of it is derived from ``(seed, epoch)``, so runs are reproducible and independent of
the number of DataLoader workers (the sampler runs in the main process). The official code visits
group A in ``os.listdir`` order instead, and only B is random (reference B.5, C.24).

Class identity is the group *name*, indexed in sorted order: two training sets that both contain
a group "airplane" give it one class index, and such groups are never paired as A and B. (The
official code indexes each set's groups in listdir order, so DUTS_class and COCO-SEG indices
collide in one classifier, reference B.5.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Sampler

from gconet_lab.data.layout import Group, Skip


@dataclass(frozen=True)
class PairDraw:
    """One training step: group indices, the image indices taken from each, augmentation seed."""

    group_a: int
    group_b: int
    images_a: tuple[int, ...]
    images_b: tuple[int, ...]
    seed: int


def group_size_n(size_a: int, size_b: int, max_group_size: int) -> int:
    """Images taken from each group: N = min(#A, #B, max_group_size) (Eq. 16)."""
    return min(size_a, size_b, max_group_size)


def class_names_of(groups: Sequence[Group]) -> list[str]:
    """Sorted distinct group names: class index = position in this list (ACM/RACM labels)."""
    return sorted({group.name for group in groups})


def filter_small_groups(
    groups: Sequence[Group], min_group_size: int
) -> tuple[list[Group], list[Skip]]:
    """Drop groups with fewer than ``min_group_size`` images, reporting each one.

    A group of one image cannot be split into anchor and positive halves for the GST loss
    (Eq. 5), which is why training uses ``min_group_size=2`` by default.
    """
    kept = [group for group in groups if len(group) >= min_group_size]
    skipped = [
        Skip(
            _group_folder(group), f"{len(group)} images, fewer than min_group_size={min_group_size}"
        )
        for group in groups
        if len(group) < min_group_size
    ]
    return kept, skipped


def _group_folder(group: Group) -> Path:
    """The image folder of a group (``<set>/<group>`` for a group without samples)."""
    return group.samples[0].image.parent if group.samples else Path(group.set_name, group.name)


class GroupPairSampler(Sampler[PairDraw]):
    """Yields one :class:`PairDraw` per group per epoch (see the module docstring)."""

    def __init__(
        self,
        group_sizes: Sequence[int],
        class_ids: Sequence[int],
        max_group_size: int = 32,
        seed: int = 0,
    ) -> None:
        if len(group_sizes) != len(class_ids):
            raise ValueError("group_sizes and class_ids must have the same length")
        if min(group_sizes, default=0) < 1 or max_group_size < 1:
            raise ValueError("every group and max_group_size must hold at least one image")
        self.group_sizes = list(group_sizes)
        self.class_ids = np.asarray(class_ids)
        if len(np.unique(self.class_ids)) < 2:
            raise ValueError("training needs groups of at least two different classes (Eq. 16)")
        self.max_group_size = max_group_size
        self.seed = seed
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Make the next iteration produce epoch ``epoch`` from its draw ``start`` on.

        ``start > 0`` resumes inside an epoch: the draws before it are computed (so the random
        stream is the same) but not yielded, so their images are never loaded.
        """
        if not 0 <= start <= len(self.group_sizes):
            raise ValueError(f"start must be in 0..{len(self.group_sizes)} (steps per epoch), got {start}")
        self.epoch = epoch
        self.start = start

    def __len__(self) -> int:
        """Steps in a whole epoch (one per group), whatever ``start`` is."""
        return len(self.group_sizes)

    def __iter__(self) -> Iterator[PairDraw]:
        """The draws of the current epoch from ``start`` on; then the epoch advances, ``start`` resets."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch]))
        start, self.start = self.start, 0
        self.epoch += 1
        for index, a in enumerate(rng.permutation(len(self.group_sizes))):
            partners = np.flatnonzero(self.class_ids != self.class_ids[a])
            b = int(rng.choice(partners))
            n = group_size_n(self.group_sizes[a], self.group_sizes[b], self.max_group_size)
            draw = PairDraw(
                group_a=int(a),
                group_b=b,
                images_a=tuple(int(i) for i in rng.choice(self.group_sizes[a], n, replace=False)),
                images_b=tuple(int(i) for i in rng.choice(self.group_sizes[b], n, replace=False)),
                seed=int(rng.integers(2**63)),
            )
            if index >= start:
                yield draw
