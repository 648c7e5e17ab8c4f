"""The features that the GST loss (Eq. 4-5) and RACM (Eq. 7) see, and a 2-D view of them.

Both Sec. 3.5 and Sec. 3.6 feed the encoder a second time with the images masked by a saliency map,
``F_r = GAP(Phi_theta(G (x) M))``.  :func:`masked_image_features` computes exactly that for any mask
(the model's prediction, as in training, or the ground truth).  :func:`pca_2d` projects such
features onto their two main directions for plotting, and :func:`separation_ratio` summarises in
one number how far apart the groups are, which is what Eq. 5 pushes up.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gconet_lab.models import GCoNetPlus
from gconet_lab.models.classifier import ClassPredictor, mask_images
from gconet_lab.studies.pca import principal_components


def masked_image_features(model: GCoNetPlus, images: Tensor, masks: Tensor) -> Tensor:
    """``F_r``: the pooled deepest encoder features of ``images`` masked by ``masks``, (B, C).

    ``images`` are ImageNet-normalised (B, 3, H, W), ``masks`` in [0, 1] (B, 1, H, W); the images
    are masked the way the model's configuration says (``racm_mask_space``: black or mean colour).
    """
    masked = mask_images(images, masks, model.config.racm_mask_space)
    return ClassPredictor.pool(model.encoder(masked)[-1])


def pca_2d(features: Tensor) -> tuple[Tensor, Tensor]:
    """Project (N, C) features onto their two principal axes (:func:`~gconet_lab.studies.pca.principal_components`).

    Returns the (N, 2) coordinates and the fraction of the total variance each axis explains.
    The sign of each axis is fixed (its largest coordinate is positive), so plots are reproducible.
    """
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"pca_2d needs (N, C) features with N >= 2; got {tuple(features.shape)}")
    points, share = principal_components(features, 2)
    return points.float(), share.float()


def separation_ratio(features: Tensor, labels: Tensor) -> float:
    """Mean distance between samples of different groups over mean distance within a group.

    Above 1, a sample is on average closer to its own group than to the others; the GST loss
    (Eq. 5) trains the encoder to make this ratio larger.
    """
    distances = torch.cdist(features.double(), features.double())
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool)
    within, between = distances[same & off_diagonal], distances[~same]
    if within.numel() == 0 or between.numel() == 0:
        raise ValueError("separation_ratio needs at least two groups and a group with two samples")
    return float(between.mean() / within.mean())


__all__ = ["masked_image_features", "pca_2d", "separation_ratio"]
