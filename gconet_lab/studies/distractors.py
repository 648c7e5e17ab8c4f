"""Where the distractors are in a Synthetic set, and how much of a saliency map falls on them.

The Synthetic sets (:mod:`gconet_lab.data.sources.synthetic`) hold, in every image, the group's objects and
equally salient objects of other classes; the ground truth marks only the group's objects.  To
measure whether a model highlights the co-salient object or a distractor we also need the
distractors' masks.  Every Synthetic group is drawn from its own seed stream, so
:func:`replay_group` draws it again, checks that the pixels match the stored files, and returns
each image's objects; :func:`objects_mask` turns objects into a mask and :func:`mass_fractions`
splits a saliency map's total mass over masks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from gconet_lab.data import Group, read_image
from gconet_lab.data.sources.synthetic import (
    CLASSES,
    SPLITS,
    SceneObject,
    distractor_plan,
    object_mask,
    render_scene,
)


def replay_group(group: Group, seed: int = 0) -> list[list[SceneObject]]:
    """The objects drawn in each image of a Synthetic ``group`` (generated with ``seed``).

    Raises ``ValueError`` if the group is not a Synthetic group or its images differ from the
    re-drawn ones (another seed, or edited files).
    """
    split = group.set_name.rsplit("_", 1)[-1]
    if split not in SPLITS or group.name not in CLASSES:
        raise ValueError(f"{group.set_name}/{group.name} is not a group of a Synthetic set")
    target = CLASSES.index(group.name)
    size = read_image(group.samples[0].image).shape[0]
    rng = np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split), target]))
    scenes = []
    for sample, distractors in zip(group.samples, distractor_plan(rng, target, len(group)), strict=True):
        image, _, objects = render_scene(rng, size, target, distractors)
        if not np.array_equal(image, read_image(sample.image)):
            raise ValueError(f"{sample.image} does not match its re-drawn scene: not generated with seed={seed}?")
        scenes.append(objects)
    return scenes


def object_classes(objects: Iterable[SceneObject]) -> list[str]:
    """The class names present in one image, sorted."""
    return sorted({CLASSES[obj.class_index] for obj in objects})


def objects_mask(objects: Iterable[SceneObject], size: int, classes: Iterable[str] | None = None) -> np.ndarray:
    """Boolean (size, size) mask of the objects of ``classes`` (all objects when None)."""
    wanted = None if classes is None else {CLASSES.index(name) for name in classes}
    mask = np.zeros((size, size), dtype=bool)
    for obj in objects:
        if wanted is None or obj.class_index in wanted:
            mask |= object_mask(obj, size)
    return mask


def mass_fractions(saliency: np.ndarray, regions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The share of ``saliency``'s total mass inside each region (regions should not overlap).

    A map that lights every object equally puts on each region its share of the object area, so
    compare with ``mass_fractions(objects_mask(...), regions)``.
    """
    saliency = np.asarray(saliency, dtype=np.float64)
    total = saliency.sum()
    if total <= 0:
        raise ValueError("the saliency map is zero everywhere: no mass to split")
    return {name: float(saliency[region].sum() / total) for name, region in regions.items()}


__all__ = ["mass_fractions", "object_classes", "objects_mask", "replay_group"]
