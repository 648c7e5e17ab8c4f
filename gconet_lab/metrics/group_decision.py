"""Does the group decide? The same photo in several groups, one map per group, scored against each mask.

Co-salient object detection segments "the most common salient objects among a group" of images
(Sec. 1), so a co-saliency model should segment, in each image, the object its *group* shares:
in a set where one photo sits in the group of every class it shows, masked with that class only
(COCO-SEG style, Sec. 4.1; the default data's ``COCO-groups``), the photo's map in the group of
cups should match its cup mask, and its map in the group of people its person mask. A model that
ignores its group draws the same map in both groups and cannot do that better than chance.

For every photo in two or more groups of a set, and for each of its groups (a *pair*), the map the
model predicted for the photo in that group is scored with the official S-measure (Eq. 12) against
the photo's mask in that group (*own*) and against its masks in each other group it belongs to
(*others*). :class:`GroupDecision` reports

* the share of pairs whose map is closer to its own mask than to every other mask (Sα strictly
  higher; a tie is not closer), beside its chance level, the mean of 1 / number of groups of the
  photo (50% when every photo is in two groups): what a model that ignores its group scores, since
  the same map in each of a photo's k groups wins in exactly one of them, barring ties;
* the mean Sα against the own mask and against the other masks (each pair's mean over its
  others), and their difference (own - other): how much the group moves the map towards its object.

Photos are identified across groups by file stem; a stem whose masks differ in size names different
images and is left out. :func:`group_decision` reads the maps and masks of a predicted set the way
the evaluation does (:func:`~gconet_lab.metrics.folders.load_pair`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from gconet_lab.metrics.folders import Pairing, load_pair
from gconet_lab.metrics.official import s_measure


@dataclass(frozen=True)
class PairScore:
    """One photo in one of its groups: Sα of its map there against its own mask and each other mask."""

    photo: str
    group: str
    own: float
    others: tuple[float, ...]

    @property
    def closer(self) -> bool:
        """Is the map closer to its own group's mask than to every other group's mask of the photo?"""
        return self.own > max(self.others)


@dataclass(frozen=True)
class GroupDecision:
    """The group-decision measure of a set (module docstring); shares in [0, 1]."""

    photos: int  # photos in two or more groups
    pairs: int  # (photo, group) pairs of these photos
    closer: float  # share of pairs whose map is closer to the own mask than to every other
    chance: float  # that share for a model drawing the same map in every group (barring ties)
    own: float  # mean Sα against the own mask
    other: float  # mean Sα against the other masks

    @property
    def gap(self) -> float:
        """Mean Sα against the own mask minus against the other masks."""
        return self.own - self.other

    def format(self) -> str:
        """One paragraph for the console."""
        return (f"group decision: {self.photos} photos in 2+ groups, {self.pairs} (photo, group) pairs\n"
                f"  map closer to its own group's mask than to every other: {self.closer:.1%} "
                f"(chance {self.chance:.1%})\n"
                f"  Sα own mask {self.own:.4f}, other masks {self.other:.4f}, own - other {self.gap:+.4f}")


def score_photo(photo: str, maps: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> list[PairScore]:
    """The pairs of one photo: ``maps[group]`` is its map in that group, ``masks[group]`` its mask there.

    Maps and masks are HxW arrays in [0, 1], all of one size; the photo must be in two or more groups.
    """
    if len(maps) < 2 or maps.keys() != masks.keys():
        raise ValueError(f"{photo}: needs a map and a mask in each of two or more groups, got maps of "
                         f"{sorted(maps)} and masks of {sorted(masks)}")
    return [PairScore(photo, group, s_measure(map_, masks[group]),
                      tuple(s_measure(map_, masks[other]) for other in masks if other != group))
            for group, map_ in maps.items()]


def summarize(pairs: Sequence[PairScore]) -> GroupDecision:
    """The measure over ``pairs`` (of photos in two or more groups)."""
    if not pairs:
        raise ValueError("no photo in two or more groups: the group-decision measure needs some")
    return GroupDecision(
        photos=len({pair.photo for pair in pairs}),
        pairs=len(pairs),
        closer=float(np.mean([pair.closer for pair in pairs])),
        chance=float(np.mean([1 / (1 + len(pair.others)) for pair in pairs])),
        own=float(np.mean([pair.own for pair in pairs])),
        other=float(np.mean([np.mean(pair.others) for pair in pairs])),
    )


def shared_photos(pairing: Pairing) -> dict[str, dict[str, tuple[str, str]]]:
    """stem -> group -> (prediction, mask) relative paths, for every stem in two or more groups."""
    by_stem: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for pred, mask in pairing.matched:
        path = PurePosixPath(pred)
        by_stem[path.stem][path.parent.as_posix()] = (pred, mask)
    return {stem: groups for stem, groups in sorted(by_stem.items()) if len(groups) >= 2}


def group_decision(pred_root: str | Path, gt_root: str | Path, pairing: Pairing,
                   progress: bool = False) -> GroupDecision | None:
    """The measure of the scored pairs of a predicted set (``<root>/<group>/<name>``), None without shared photos."""
    photos = shared_photos(pairing)
    pairs: list[PairScore] = []
    for stem, groups in tqdm(photos.items(), desc="group decision", unit="photo", disable=not progress):
        loaded = {group: load_pair(Path(pred_root) / pred, Path(gt_root) / mask) for group, (pred, mask) in groups.items()}
        if len({mask.shape for _, mask in loaded.values()}) == 1:  # else: one name, different images
            pairs += score_photo(stem, {g: map_ for g, (map_, _) in loaded.items()},
                                 {g: mask for g, (_, mask) in loaded.items()})
    return summarize(pairs) if pairs else None
