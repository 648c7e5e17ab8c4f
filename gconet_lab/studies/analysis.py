"""One test group in memory, and the per-image records that rank its failures (Sec. 4.3, Fig. 15).

The analysis notebooks look at one group at a time: the model sees all of its images as one batch
(Sec. 4.3), while the pictures show the images and masks at their original sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gconet_lab.data import GroupTestDataset, index_set, read_image, read_mask
from gconet_lab.inference.evaluate import saliency_to_uint8


@dataclass
class GroupBatch:
    """A group as the model sees it (``inputs``) and as a person sees it (``images``, ``masks``)."""

    name: str
    stems: list[str]
    inputs: torch.Tensor  # (n, 3, S, S), ImageNet-normalised
    images: list[np.ndarray]  # RGB uint8 at the original sizes
    masks: list[np.ndarray]  # float in [0, 1] at the original sizes

    def __len__(self) -> int:
        return len(self.stems)


def group_names(data_dir: str | Path, set_name: str) -> list[str]:
    """The set's group names, sorted."""
    return [group.name for group in index_set(data_dir, set_name).groups]


def load_group_batch(data_dir: str | Path, set_name: str, group: str, image_size: int) -> GroupBatch:
    """Read one group of a CoSOD-layout set: model inputs at ``image_size`` and the original images and masks.

    The inputs are prepared exactly as in evaluation (:class:`~gconet_lab.data.GroupTestDataset`).
    For the tensors alone (images and masks at one size), use :func:`gconet_lab.data.group_tensors.load_group`.
    """
    groups = {g.name: g for g in index_set(data_dir, set_name).groups}
    if group not in groups:
        raise KeyError(f"no group {group!r} in {set_name}; groups: {', '.join(sorted(groups))}")
    item = GroupTestDataset([groups[group]], image_size)[0]
    return GroupBatch(group, item["names"], item["images"], [read_image(path) for path in item["image_paths"]],
                      [read_mask(path) for path in item["mask_paths"]])


@dataclass
class GroupPrediction:
    """One forward pass over a group: co-saliency maps at the original sizes and the decoder's features."""

    saliency: list[np.ndarray]  # float in [0, 1], one per image, at its original size
    decoder_features: list[torch.Tensor]  # GCoNetIntermediates.decoder_features: (n, C, h, w) per level, coarse to fine

    def features_of(self, index: int) -> list[torch.Tensor]:
        """The decoder features of one image, (C, h, w) per level."""
        return [level[index] for level in self.decoder_features]


@torch.no_grad()
def predict_with_features(model: torch.nn.Module, batch: GroupBatch) -> GroupPrediction:
    """Predict the group as one batch (Sec. 4.3), keeping the intermediates (``return_intermediates=True``)."""
    output = model.eval()(batch.inputs, return_intermediates=True)
    maps = [saliency_to_uint8(map_, image.shape[:2]) / np.float32(255) for map_, image in zip(output.saliency, batch.images, strict=True)]
    return GroupPrediction(maps, output.intermediates.decoder_features)


LOWER_IS_BETTER = frozenset({"MAE"})


def worst_images(per_image: list[dict], group: str, metric: str = "S") -> list[dict]:
    """The group's records from :attr:`gconet_lab.metrics.Evaluation.per_image`, worst ``metric`` first.

    A NaN score (a degenerate mask, see :func:`gconet_lab.metrics.s_measure`) counts as the worst.
    """
    records = [record for record in per_image if record["group"] == group]
    if not records:
        raise KeyError(f"no per-image record of group {group!r}")
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    return sorted(records, key=lambda record: -np.inf if np.isnan(record[metric]) else sign * record[metric])


__all__ = ["GroupBatch", "GroupPrediction", "group_names", "load_group_batch", "predict_with_features", "worst_images"]
