"""Plotting helpers: plain functions that return matplotlib figures (tests call them headless)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def prediction_grid(rows: Sequence[dict[str, np.ndarray]], columns: Sequence[str], titles: Sequence[str] | None = None,
                    cell: float = 1.6) -> plt.Figure:
    """One row per image, one column per key of ``columns`` (e.g. image, ground truth, predictions).

    Each row is a dict from column name to an RGB uint8 image or a grey map in [0, 255] or [0, 1].
    """
    figure, axes = plt.subplots(len(rows), len(columns), figsize=(cell * len(columns), cell * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, name in enumerate(columns):
            axis = axes[r][c]
            picture = row[name]
            axis.imshow(picture, cmap=None if picture.ndim == 3 else "gray", vmin=0, vmax=255 if picture.max() > 1 else 1)
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(name, fontsize=8)
        if titles:
            axes[r][0].set_ylabel(titles[r], fontsize=6)
    figure.tight_layout()
    return figure


