"""One group as model-ready tensors, with its masks: what the module walkthroughs feed the modules."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from gconet_lab.data.datasets import load_sample
from gconet_lab.data.layout import Group, Sample
from gconet_lab.data.transforms import TrainTransform


def load_samples(samples: Sequence[Sample], size: int) -> tuple[Tensor, Tensor]:
    """Images (n, 3, S, S), ImageNet-normalised, and soft masks (n, 1, S, S): resized only, no augmentation."""
    resize = TrainTransform(size, config=None)
    pairs = [resize(*load_sample(sample), rng=None) for sample in samples]
    return torch.stack([image for image, _ in pairs]), torch.stack([mask for _, mask in pairs])


def load_group(group: Group, size: int, limit: int | None = None) -> tuple[Tensor, Tensor]:
    """The first ``limit`` images of ``group`` (all when None) and their masks, via :func:`load_samples`."""
    return load_samples(group.samples[:limit], size)
