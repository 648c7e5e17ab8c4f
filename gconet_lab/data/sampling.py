"""Which two groups, and which of their images, form each training batch (Sec. 4.3, Eq. 16).

GCoNet+ trains on batches made of two *different* groups A and B: "we randomly pick N samples
from two different groups", with

    N = min(#groupA, #groupB, 32)                                    (Eq. 16)

(the official code caps at 26 instead of 32, difference C4 in :mod:`gconet_lab.studies.paper_vs_code`). The first N images of a batch come
from A and the last N from B; the GCM (Sec. 3.3) and the GST loss (Eq. 5) rely on that split.

:class:`GroupPairSampler` makes these choices and nothing else: each epoch visits every group once
as group A in a seeded random order, draws the partner B uniformly among groups of a *different
class*, samples N images of each without replacement, and a seed for the augmentation of that
step. All of it is derived from ``(seed, epoch)``, so runs are reproducible and independent of
the number of DataLoader workers (the sampler runs in the main process). The official code visits
group A in ``os.listdir`` order instead, and only B is random (difference C24).

Several processes (data-parallel training, :mod:`gconet_lab.engine.distributed`) share one epoch: every
process computes the same draws and keeps every ``world_size``-th one (:func:`draw_of_micro_batch`).

**Shared-photo pairs** (``shared_photo_p``; not in the paper). In COCO-SEG-style sets a photo sits
in the group of every class it shows, masked with that class only. With probability
``shared_photo_p`` a draw pairs group A with a group B of another class that shares photos with it,
and puts those photos in *both* halves of the batch, each half with its own group's mask: a map
that ignores the group (the same blob for the rider and the motorbike) is then wrong in one half,
so only reading the group's consensus (GAM) lowers the loss. Such a photo is augmented alike in
both halves (:attr:`PairDraw.shared`): with its own crop, flip or colours in each half, the crop
that keeps the own object whole would tell the halves apart without the group. The photos are
told apart by content (``photos``: one key per image, e.g. a hash of its bytes), and the extra
random draws happen only when the option is on, so the batches of ``shared_photo_p=0`` stay those
of the paper's sampler.

Class identity is the group's *class* (:attr:`Group.class_name`: its folder name unless the set's
class file says otherwise, :mod:`gconet_lab.data.layout`), indexed in sorted order: two training
sets that both contain a group "airplane", or the groups ``dog_1`` and ``dog_2`` of class ``dog``
in one set, share one class index, and such groups are never paired as A and B. (The official
code indexes each set's groups in listdir order, so DUTS_class and COCO-SEG indices collide in one
classifier, difference C31.)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Sampler

from gconet_lab.data.layout import Group, Skip


@dataclass(frozen=True)
class PairDraw:
    """One training step: group indices, the image indices taken from each, augmentation seed.

    ``shared``: the first ``shared`` images of both halves are the same photos (image k of A is image
    k of B, each with its own group's mask), so they are augmented alike.
    """

    group_a: int
    group_b: int
    images_a: tuple[int, ...]
    images_b: tuple[int, ...]
    seed: int
    shared: int = 0


def group_size_n(size_a: int, size_b: int, max_group_size: int) -> int:
    """Images taken from each group: N = min(#A, #B, max_group_size) (Eq. 16)."""
    return min(size_a, size_b, max_group_size)


def draw_of_micro_batch(micro_batch: int, rank: int, world_size: int) -> int:
    """The draw (counted from where the epoch starts) that process ``rank`` trains as its ``micro_batch``-th.

    With accumulation A, optimizer step s is micro-batches s*A .. s*A+A-1 of every process, i.e. the
    draws s*W*A .. (s+1)*W*A-1 (W = ``world_size``): which two-group batches a step learns from
    depends on W*A only, so 2 processes with A = 1 and 1 process with A = 2 train the same pairs.
    """
    return micro_batch * world_size + rank


def class_names_of(groups: Sequence[Group]) -> list[str]:
    """Sorted distinct classes of the groups: class index = position in this list (ACM/RACM labels)."""
    return sorted({group.class_name for group in groups})


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
        rank: int = 0,
        world_size: int = 1,
        photos: Sequence[Sequence[Hashable]] | None = None,
        shared_photo_p: float = 0.0,
    ) -> None:
        if not 0 <= shared_photo_p <= 1:
            raise ValueError(f"shared_photo_p must be a probability in [0, 1], got {shared_photo_p}")
        if photos is not None and [len(keys) for keys in photos] != list(group_sizes):
            raise ValueError("photos must hold one key per image of every group")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1} (world_size - 1), got {rank}")
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
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.start = 0
        self.shared_photo_p = shared_photo_p
        self.shared = shared_photos(photos, self.class_ids) if photos is not None and shared_photo_p > 0 else {}

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Make the next iteration produce epoch ``epoch`` from its draw ``start`` on.

        ``start > 0`` resumes inside an epoch: the draws before it are computed (so the random
        stream is the same) but not yielded, so their images are never loaded. ``start`` counts the
        draws of all processes, so a run can resume with another number of processes.
        """
        if not 0 <= start <= len(self.group_sizes):
            raise ValueError(f"start must be in 0..{len(self.group_sizes)} (steps per epoch), got {start}")
        self.epoch = epoch
        self.start = start

    def __len__(self) -> int:
        """This process's draws in a whole epoch (one per group, shared by the processes), whatever ``start`` is."""
        return len(self.group_sizes) // self.world_size

    def __iter__(self) -> Iterator[PairDraw]:
        """This process's draws of the current epoch from ``start`` on; then the epoch advances, ``start`` resets.

        Every process yields as many draws, so all take the same number of steps; the last
        ``(groups - start) % world_size`` draws of the epoch are left out.
        """
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch]))
        start, self.start = self.start, 0
        self.epoch += 1
        draws = [self._draw(int(a), rng) for a in rng.permutation(len(self.group_sizes))]  # no images loaded
        for micro_batch in range((len(draws) - start) // self.world_size):
            yield draws[start + draw_of_micro_batch(micro_batch, self.rank, self.world_size)]

    def _draw(self, a: int, rng: np.random.Generator) -> PairDraw:
        """Group A = ``a``, a partner B of another class, N images of each (Eq. 16), an augmentation seed."""
        if self.shared.get(a) and rng.random() < self.shared_photo_p:
            return self._draw_shared(a, rng)
        partners = np.flatnonzero(self.class_ids != self.class_ids[a])
        b = int(rng.choice(partners))
        n = group_size_n(self.group_sizes[a], self.group_sizes[b], self.max_group_size)
        return PairDraw(
            group_a=a,
            group_b=b,
            images_a=tuple(int(i) for i in rng.choice(self.group_sizes[a], n, replace=False)),
            images_b=tuple(int(i) for i in rng.choice(self.group_sizes[b], n, replace=False)),
            seed=int(rng.integers(2**63)),
        )

    def _draw_shared(self, a: int, rng: np.random.Generator) -> PairDraw:
        """A partner B that shares photos with A, those photos in both halves, the rest of each drawn at random."""
        partners = sorted(self.shared[a])
        b = partners[int(rng.integers(len(partners)))]
        n = group_size_n(self.group_sizes[a], self.group_sizes[b], self.max_group_size)
        pairs = self.shared[a][b]
        common = [pairs[k] for k in rng.permutation(len(pairs))[:n]]

        def fill(group: int, taken: list[int]) -> tuple[int, ...]:
            rest = np.setdiff1d(np.arange(self.group_sizes[group]), taken)
            return tuple(taken) + tuple(int(i) for i in rng.choice(rest, n - len(taken), replace=False))

        return PairDraw(
            group_a=a,
            group_b=b,
            images_a=fill(a, [i for i, _ in common]),
            images_b=fill(b, [j for _, j in common]),
            seed=int(rng.integers(2**63)),
            shared=len(common),
        )


def shared_photos(photos: Sequence[Sequence[Hashable]], class_ids: np.ndarray) -> dict[int, dict[int, list[tuple[int, int]]]]:
    """``{a: {b: [(i, j), ...]}}``: image i of group a and image j of group b are one photo, a and b of two classes."""
    where: dict[Hashable, list[tuple[int, int]]] = {}
    for group, keys in enumerate(photos):
        for image, key in enumerate(keys):
            where.setdefault(key, []).append((group, image))
    shared: dict[int, dict[int, list[tuple[int, int]]]] = {}
    for places in where.values():
        for a, i in places:
            for b, j in places:
                if class_ids[a] != class_ids[b]:
                    shared.setdefault(a, {}).setdefault(b, []).append((i, j))
    return shared
