"""Feature and module maps: GAM attention (Eq. 1), GCM maps (Eq. 2), CEM binarization (Eq. 3), decoder features (Fig. 2).

Plain functions that return matplotlib figures, so notebooks call them once for a static figure
and widgets only wire a slider to them; tests call them headless.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from gconet_lab.data import denormalize
from gconet_lab.lab.viz.grids import prediction_grid
from gconet_lab.models.cem import differentiable_binarization, uncertain_fraction
from gconet_lab.studies.pca import pca_rgb

DECODER_LEVELS = ("p5", "p4", "p3", "p2", "p1", "p0")  # GCoNetIntermediates.decoder_features, coarse to fine


def display_images(images: Tensor) -> np.ndarray:
    """ImageNet-normalised (N, 3, H, W) model inputs -> (N, H, W, 3) RGB floats in [0, 1] for ``imshow``."""
    return denormalize(images.detach().cpu()).permute(0, 2, 3, 1).numpy()


def resize_maps(maps: Tensor, size: tuple[int, int]) -> np.ndarray:
    """(N, 1, h, w) maps -> (N, H, W) float array, bilinearly resized to draw over (H, W) images."""
    resized = F.interpolate(maps.detach().float().cpu(), size=size, mode="bilinear", align_corners=False)
    return resized[:, 0].numpy()


def effective_count(weights: Tensor) -> float:
    """exp(entropy) of a distribution: how many equally weighted entries it is worth (1 for one-hot, n for uniform).

    Tells how many of the group's pixels GAM's softmax (Sec. 3.2) really attends to.
    """
    p = weights.detach().flatten().double()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def group_map_grid(images: np.ndarray, rows: Mapping[str, Tensor], heatmaps: Collection[str] = (),
                   column_titles: Sequence[str] | None = None, cell: float = 1.3) -> plt.Figure:
    """The group's images in the first row, then one row per named stack of maps (N, 1, h, w).

    Rows named in ``heatmaps`` (e.g. GAM's attention A_S) are divided by the row's maximum, one
    scale for the whole group as the group-wide softmax intends, and drawn over the images; the
    other rows (masks, predicted maps) are grey maps on the fixed range [0, 1].
    """
    n, height, width = images.shape[:3]
    figure, axes = plt.subplots(1 + len(rows), n, figsize=(cell * n, cell * (1 + len(rows))), squeeze=False)
    for column, image in enumerate(images):
        axes[0][column].imshow(image)
        if column_titles:
            axes[0][column].set_title(column_titles[column], fontsize=7)
    axes[0][0].set_ylabel("image", fontsize=8)
    for row, (name, maps) in enumerate(rows.items(), start=1):
        pictures = resize_maps(maps, (height, width))
        if name in heatmaps:
            pictures = pictures / max(float(pictures.max()), 1e-12)
        for column, picture in enumerate(pictures):
            axis = axes[row][column]
            if name in heatmaps:
                axis.imshow(images[column])
                axis.imshow(picture, cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0)
            else:
                axis.imshow(picture, cmap="gray", vmin=0.0, vmax=1.0)
        axes[row][0].set_ylabel(name, fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    return figure


def affinity_heatmap(matrix: Tensor, block: int = 1, labels: Sequence[str] | None = None, title: str = "",
                     ax: plt.Axes | None = None) -> plt.Figure:
    """A matrix with a line between every ``block`` rows and columns (one block per image).

    With ``block = h*w`` this draws the group affinity S of Eq. 1 (N*h*w x N*h*w) so every
    image-pair block S(n, m) is visible; with ``block = 1`` an N x N image-to-image matrix.
    ``labels`` names the blocks.
    """
    figure, axis = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.2, 3.6))
    values = matrix.detach().float().cpu().numpy()
    shown = axis.imshow(values, cmap="viridis")
    figure.colorbar(shown, ax=axis, fraction=0.046)
    for edge in np.arange(block, values.shape[0], block) - 0.5:
        axis.axhline(edge, color="white", linewidth=0.6)
    for edge in np.arange(block, values.shape[1], block) - 0.5:
        axis.axvline(edge, color="white", linewidth=0.6)
    centres = np.arange(values.shape[0] // block) * block + (block - 1) / 2
    if labels is not None:
        axis.set_yticks(centres, labels, fontsize=7)
        axis.set_xticks(centres[: values.shape[1] // block], labels[: values.shape[1] // block], fontsize=7, rotation=90)
    else:
        axis.set_xticks([])
        axis.set_yticks([])
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def binarization_explorer(image: np.ndarray, probability: Tensor, threshold: Tensor, k: float,
                          k_fallback: float = 50.0) -> plt.Figure:
    """One image through Eq. 3 at steepness ``k``: P, T, M = 1 / (1 + exp(-k (P - T))), its curve and histogram.

    ``probability`` and ``threshold`` are the CEM's (1, 1, h, w) maps for the image. M is computed
    by the library's :func:`~gconet_lab.models.cem.differentiable_binarization`, so a ``k`` that
    overflows float32 falls back to ``k_fallback`` here exactly as in the model; the title says so.
    """
    saliency, k_used = differentiable_binarization(probability, threshold, k, k_fallback)
    size = image.shape[:2]
    figure, axes = plt.subplots(1, 6, figsize=(14, 2.6))
    panels = (("image", None), ("P (probability)", probability), ("T (threshold)", threshold),
              (f"M, k = {k_used:g}" + (f" (asked {k:g})" if k_used != k else ""), saliency))
    for axis, (title, maps) in zip(axes, panels):
        if maps is None:
            axis.imshow(image)
        else:
            axis.imshow(resize_maps(maps, size)[0], cmap="gray", vmin=0.0, vmax=1.0)
        axis.set_title(title, fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    gap = torch.linspace(-1.0, 1.0, 401)
    axes[4].plot(gap, torch.sigmoid(gap), label="sigmoid (k = 1)", color="grey")
    axes[4].plot(gap, torch.sigmoid(k_used * gap), label=f"DB, k = {k_used:g}")
    axes[4].set_xlabel("P - T", fontsize=8)
    axes[4].legend(fontsize=6)
    axes[4].set_title("Eq. 3 as a function of P - T", fontsize=8)
    axes[5].hist(saliency.detach().flatten().numpy(), bins=20, range=(0.0, 1.0), color="tab:orange")
    axes[5].set_yscale("log")
    axes[5].set_title(f"M: {uncertain_fraction(saliency).mean():.0%} uncertain", fontsize=8)
    figure.tight_layout()
    return figure


def pixel_histograms(maps: Mapping[str, Tensor], bins: int = 20) -> plt.Figure:
    """One histogram of predicted pixel values per named set of maps (the loss comparison of Fig. 6)."""
    figure, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps), 2.8), sharey=True, squeeze=False)
    for axis, (name, values) in zip(axes[0], maps.items()):
        axis.hist(values.detach().flatten().float().numpy(), bins=bins, range=(0.0, 1.0))
        axis.set_yscale("log")
        axis.set_xlabel("predicted value", fontsize=8)
        axis.set_title(f"{name}\n{uncertain_fraction(values.reshape(1, -1))[0]:.0%} of pixels in (0.1, 0.9)", fontsize=8)
    figure.tight_layout()
    return figure


def normalize(values: np.ndarray) -> np.ndarray:
    """Min-max scaling to [0, 1] (a constant array becomes zeros)."""
    values = np.asarray(values, dtype=np.float32)
    span = float(values.max() - values.min())
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def channel_mean(features: torch.Tensor) -> np.ndarray:
    """One image's features (C, h, w) averaged over channels and scaled to [0, 1]: where the level responds."""
    return normalize(features.detach().float().mean(dim=0).cpu().numpy())


def decoder_features_figure(image: np.ndarray, truth: np.ndarray,
                            models: Mapping[str, tuple[Sequence[torch.Tensor], np.ndarray]],
                            levels: Sequence[int] = tuple(range(len(DECODER_LEVELS)))) -> plt.Figure:
    """Fig. 2: decoder features of one image at the chosen levels, two rows per model.

    ``models`` maps a model's name to (its decoder features of this image, one (C, h, w) tensor per
    level, coarse to fine; its prediction). The first row of a model shows the channel mean, the
    second the PCA image; the first column holds the image and the ground truth, the last the prediction.
    """
    columns = ["image | GT", *(DECODER_LEVELS[level] for level in levels), "prediction"]
    rows, titles = [], []
    for name, (features, prediction) in models.items():
        for kind, render, first in (("mean", channel_mean, image), ("PCA", pca_rgb, truth)):
            row = {"image | GT": first, "prediction": prediction}
            row.update({DECODER_LEVELS[level]: render(features[level]) for level in levels})
            rows.append(row)
            titles.append(f"{name}: {kind}")
    return prediction_grid(rows, columns, titles, cell=1.4)
