"""The group test on real photos: one photo in several groups, one map per group (Sec. 1, Sec. 4.1).

In a COCO-SEG-style set (the default data's ``COCO-groups``) a photo sits in the group of every
class it shows, masked with that class only, so the pixels of a photo do not say which object counts:
only its group does. This module picks such photos, predicts each of their groups as one batch, as
the evaluation does (Sec. 4.3), and collects the photo's map, GAM's attention (Sec. 3.2) and the GCM
head's maps (Sec. 3.3, Eq. 2) in each of its groups. :mod:`gconet_lab.metrics.group_decision` scores the
maps; :func:`group_decision_of` applies it to maps held in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gconet_lab.data import GroupTestDataset, read_image, read_mask
from gconet_lab.data.layout import Group, Sample
from gconet_lab.inference.evaluate import saliency_to_uint8
from gconet_lab.metrics.group_decision import GroupDecision, PairScore, score_photo, summarize


def shared_samples(groups: Iterable[Group]) -> dict[str, dict[str, Sample]]:
    """stem -> group -> sample, for every photo (file stem) in two or more of ``groups``.

    Photos are matched by stem, as :func:`gconet_lab.metrics.group_decision.shared_photos` matches
    the predicted files; stems and groups are sorted.
    """
    by_stem: dict[str, dict[str, Sample]] = defaultdict(dict)
    for group in groups:
        for sample in group.samples:
            by_stem[sample.stem][group.name] = sample
    return {stem: dict(sorted(groups.items())) for stem, groups in sorted(by_stem.items()) if len(groups) >= 2}


def overlap(mask_a: np.ndarray, mask_b: np.ndarray) -> float:
    """Intersection over union of two masks cut at 0.5 (0 when both are empty)."""
    a, b = np.asarray(mask_a) >= 0.5, np.asarray(mask_b) >= 0.5
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def two_group_photos(groups: Sequence[Group], count: int, max_overlap: float = 0.05,
                     max_group_size: int | None = None) -> list[dict[str, Sample]]:
    """The ``count`` photos that show two objects best: group -> sample for each, by a fixed rule.

    Candidates are the photos in exactly two groups whose two masks have one size and overlap at
    most ``max_overlap`` (IoU), in groups of at most ``max_group_size`` images (any size if None).
    They are ranked by the area share of the smaller of the two masks, largest first, then by stem:
    both objects large, and apart.
    """
    sizes = {group.name: len(group) for group in groups}
    ranked: list[tuple[float, str, dict[str, Sample]]] = []
    for stem, samples in shared_samples(groups).items():
        if len(samples) != 2 or (max_group_size is not None and max(sizes[g] for g in samples) > max_group_size):
            continue
        mask_a, mask_b = (read_mask(sample.mask) for sample in samples.values())
        if mask_a.shape != mask_b.shape or overlap(mask_a, mask_b) > max_overlap:
            continue
        ranked.append((-min(float((mask_a >= 0.5).mean()), float((mask_b >= 0.5).mean())), stem, samples))
    return [samples for _, _, samples in sorted(ranked, key=lambda item: item[:2])[:count]]


@dataclass
class PhotoInGroups:
    """One photo as each of its groups shows it: its mask there and what the model made of it there."""

    stem: str
    image: np.ndarray  # RGB uint8 at the original size
    masks: dict[str, np.ndarray]  # group -> mask in [0, 1] at the original size
    maps: dict[str, np.ndarray]  # group -> co-saliency map in [0, 1] (8-bit, as the evaluation writes it)
    attention: dict[str, np.ndarray]  # group -> GAM's attention A_S on the photo's cells, (h, w)

    @property
    def groups(self) -> list[str]:
        return list(self.masks)


@torch.inference_mode()
def photo_in_groups(model: nn.Module, groups: Mapping[str, Group], samples: Mapping[str, Sample]) -> PhotoInGroups:
    """Predict each group of a photo as one batch (Sec. 4.3) and keep the photo's map and GAM attention there.

    ``samples`` is group -> the photo's sample in it (e.g. an item of :func:`two_group_photos`),
    ``groups`` the set's groups by name. The model runs in eval mode with ``return_intermediates=True``.
    """
    masks, maps, attention = {}, {}, {}
    for name, sample in samples.items():
        item = GroupTestDataset([groups[name]], model.config.image_size)[0]
        index = item["names"].index(sample.stem)
        output = model.eval()(item["images"], return_intermediates=True)
        height, width = (int(v) for v in item["sizes"][index])
        maps[name] = saliency_to_uint8(output.saliency[index], (height, width)) / np.float32(255)
        masks[name] = read_mask(sample.mask)
        if output.intermediates.gam_attention is not None:
            attention[name] = output.intermediates.gam_attention[index, 0].float().numpy()
    return PhotoInGroups(next(iter(samples.values())).stem, read_image(next(iter(samples.values())).image),
                         masks, maps, attention)


def map_change(photo: PhotoInGroups) -> float:
    """Mean absolute difference between the photo's maps in its first two groups, in [0, 1]."""
    first, second = (photo.maps[name] for name in photo.groups[:2])
    return float(np.abs(first - second).mean())


def photos_decision(photos: Iterable[PhotoInGroups]) -> GroupDecision:
    """The group-decision measure (Sα against the own vs the other masks) of these photos' maps."""
    return summarize([pair for photo in photos for pair in score_photo(photo.stem, photo.maps, photo.masks)])


@torch.inference_mode()
def predict_groups(model: nn.Module, groups: Sequence[Group]) -> dict[str, dict[str, np.ndarray]]:
    """group -> stem -> map in [0, 1] at the image's size, each group predicted as one batch (8-bit, as evaluated)."""
    maps: dict[str, dict[str, np.ndarray]] = {}
    for item in GroupTestDataset(groups, model.config.image_size):
        saliency = model.eval()(item["images"]).saliency
        maps[item["group"]] = {stem: saliency_to_uint8(map_, (int(h), int(w))) / np.float32(255)
                               for stem, map_, (h, w) in zip(item["names"], saliency, item["sizes"], strict=True)}
    return maps


def group_decision_of(maps: Mapping[str, Mapping[str, np.ndarray]], groups: Sequence[Group]) -> GroupDecision | None:
    """The group-decision measure of the predicted ``maps`` (:func:`predict_groups`) over the photos they share.

    A photo counts when it is in two or more of the predicted groups, scored among those groups only;
    with every group of a set predicted this is the measure :func:`~gconet_lab.inference.evaluate.evaluate_model`
    reports. A stem whose masks differ in size names different images and is left out, as there.
    """
    pairs: list[PairScore] = []
    for stem, samples in shared_samples(group for group in groups if group.name in maps).items():
        masks = {name: read_mask(sample.mask) for name, sample in samples.items()}
        if len({mask.shape for mask in masks.values()}) == 1:
            pairs += score_photo(stem, {name: maps[name][stem] for name in samples}, masks)
    return summarize(pairs) if pairs else None


@torch.inference_mode()
def gcm_maps(model: nn.Module, groups: Mapping[str, Group], samples: Mapping[str, Sample]) -> dict[str, np.ndarray]:
    """group -> the GCM head's map (Sec. 3.3) of the photo's features times that group's consensus E.

    For each group of the photo, E is GAM's consensus of the whole group (as in training, one GAM
    pass per group); the head then reads F_x * E_g for the photo x. In a training batch of groups
    A and B, the map with E_A is the photo's M+ in group A and the map with E_B its M-, which Eq. 2
    drives to zero. Maps are sigmoids in [0, 1] at the photo's size.
    """
    model = model.eval()
    stem = next(iter(samples.values())).stem
    products, size = [], (0, 0)
    for name in samples:
        item = GroupTestDataset([groups[name]], model.config.image_size)[0]
        index = item["names"].index(stem)
        features = model.encoder(item["images"])[-1]
        consensus = model.gam(features).consensus
        products.append(features[index][None] * consensus)
        size = (int(item["sizes"][index][0]), int(item["sizes"][index][1]))
    logits = model.gcm_head(products[0], torch.cat(products[1:]), size)  # one map per product: the head is per image
    return {name: torch.sigmoid(logit[0]).float().numpy() for name, logit in zip(samples, logits, strict=True)}


__all__ = ["PhotoInGroups", "gcm_maps", "group_decision_of", "map_change", "overlap", "photo_in_groups", "photos_decision",
           "predict_groups", "shared_samples", "two_group_photos"]
