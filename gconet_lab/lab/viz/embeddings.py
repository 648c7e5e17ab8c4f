"""Plots for the feature-space notebooks (GST, Sec. 3.5; RACM, Sec. 3.6): plain functions returning figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def embedding_panels(panels: Mapping[str, np.ndarray | torch.Tensor], labels: Sequence[int], names: Sequence[str],
                     cell: float = 3.2) -> plt.Figure:
    """Side-by-side 2-D scatter plots (e.g. before / after training), one colour per group.

    ``panels`` maps a title to (N, 2) points; ``labels[i]`` indexes ``names`` for point i.
    """
    labels = np.asarray(labels)
    figure, axes = plt.subplots(1, len(panels), figsize=(cell * len(panels) + 1.8, cell), squeeze=False)
    colours = plt.get_cmap("tab10")
    for axis, (title, points) in zip(axes[0], panels.items(), strict=True):
        points = np.asarray(points)
        for index, name in enumerate(names):
            chosen = labels == index
            axis.scatter(points[chosen, 0], points[chosen, 1], s=18, color=colours(index % 10), label=name)
        axis.set_title(title, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return figure


def pair_matrix(values: np.ndarray, names: Sequence[str], title: str, cell: float = 0.8) -> plt.Figure:
    """A square heat map with its numbers, rows and columns labelled by ``names`` (NaN cells stay blank)."""
    values = np.asarray(values, dtype=float)
    size = max(3.0, cell * len(names) + 1.5)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(values, cmap="viridis")
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            axis.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color="white")
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    axis.set_yticks(range(len(names)), names, fontsize=7)
    axis.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    return figure


__all__ = ["embedding_panels", "pair_matrix"]
