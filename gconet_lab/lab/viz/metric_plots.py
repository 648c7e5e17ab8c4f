"""Plots of numbers: training losses, threshold curves, binarised maps, the S-measure split, two models per image.

Plain functions returning matplotlib figures; the numbers come from :mod:`gconet_lab.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from gconet_lab.metrics import THRESHOLDS, ImageMetrics


def image_curves(metrics: ImageMetrics) -> dict[str, np.ndarray]:
    """One image's curves in the layout of ``OfficialEvaluator.curves()`` (threshold, precision, recall, F, E)."""
    return {"threshold": THRESHOLDS.astype(np.float64), "precision": metrics.precision, "recall": metrics.recall,
            "f_measure": metrics.f_curve, "e_measure": metrics.e_curve}


def metric_curves_figure(curves: Mapping[str, Mapping[str, np.ndarray]], width: float = 10.0) -> plt.Figure:
    """Precision-recall, F(t) and E(t) for one or more predictions, the maxima (maxF, maxE) marked.

    ``curves`` maps a label to a dict with ``threshold``, ``precision``, ``recall``, ``f_measure``
    and ``e_measure`` arrays (``OfficialEvaluator.curves()`` or :func:`image_curves`).
    """
    figure, (pr_axis, f_axis, e_axis) = plt.subplots(1, 3, figsize=(width, width / 3.2))
    for label, curve in curves.items():
        line, = pr_axis.plot(curve["recall"], curve["precision"], label=label)
        for axis, key, name in ((f_axis, "f_measure", "maxF"), (e_axis, "e_measure", "maxE")):
            values = curve[key]
            best = int(np.argmax(values))
            axis.plot(curve["threshold"], values, color=line.get_color(), label=label)
            axis.plot(curve["threshold"][best], values[best], "o", color=line.get_color(), markersize=4)
            axis.annotate(f"{name} {values[best]:.3f}", (curve["threshold"][best], values[best]), fontsize=7,
                          xytext=(3, -10), textcoords="offset points", color=line.get_color())
    pr_axis.set(xlabel="recall", ylabel="precision", title="precision-recall", xlim=(0, 1.02), ylim=(0, 1.02))
    f_axis.set(xlabel="threshold t", ylabel="F-measure (Eq. 13)", title="F over thresholds", ylim=(0, 1.02))
    e_axis.set(xlabel="threshold t", ylabel="E-measure (Eq. 14)", title="E over thresholds", ylim=(0, 1.02))
    for axis in (pr_axis, f_axis, e_axis):
        axis.title.set_fontsize(9)
    if len(curves) > 1:
        pr_axis.legend(fontsize=7)
    figure.tight_layout()
    return figure


def threshold_strip(pred_norm: np.ndarray, gt: np.ndarray, thresholds: Sequence[float], titles: Sequence[str] | None = None,
                    cell: float = 2.0) -> plt.Figure:
    """The binary maps ``pred_norm >= t`` for a few thresholds, the ground truth's outline in red."""
    figure, axes = plt.subplots(1, len(thresholds), figsize=(cell * len(thresholds), cell * 0.85), squeeze=False)
    for index, threshold in enumerate(thresholds):
        axis = axes[0][index]
        axis.imshow(pred_norm >= threshold, cmap="gray", vmin=0, vmax=1)
        axis.contour(gt, levels=[0.5], colors=["red"], linewidths=0.7)
        axis.set_title(titles[index] if titles else f"t = {threshold:.2f}", fontsize=7)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    return figure


def s_measure_figure(pred_norm: np.ndarray, gt: np.ndarray, centroid: tuple[int, int],
                     other_centroid: tuple[int, int] | None = None, cell: float = 3.0) -> plt.Figure:
    """The S-measure's views: object (foreground / background) and region (four blocks at the centroid).

    ``centroid`` is the official 0-based (column X, row Y); ``other_centroid`` (e.g. pysodmetrics'
    ``X + 1, Y + 1``) is drawn dashed.
    """
    foreground = gt >= 0.5
    figure, axes = plt.subplots(1, 3, figsize=(cell * 3, cell * 0.8))
    axes[0].imshow(np.where(foreground, pred_norm, np.nan), cmap="viridis", vmin=0, vmax=1)
    axes[0].set_title("object view: p on the foreground", fontsize=8)
    axes[1].imshow(np.where(foreground, np.nan, 1 - pred_norm), cmap="viridis", vmin=0, vmax=1)
    axes[1].set_title("object view: 1 - p on the background", fontsize=8)
    axes[2].imshow(pred_norm, cmap="gray", vmin=0, vmax=1)
    axes[2].contour(gt, levels=[0.5], colors=["red"], linewidths=0.7)
    x, y = centroid
    axes[2].axvline(x - 0.5, color="yellow", linewidth=1)
    axes[2].axhline(y - 0.5, color="yellow", linewidth=1)
    if other_centroid is not None:
        axes[2].axvline(other_centroid[0] - 0.5, color="cyan", linewidth=1, linestyle="--")
        axes[2].axhline(other_centroid[1] - 0.5, color="cyan", linewidth=1, linestyle="--")
    axes[2].set_title("region view: four blocks at the centroid", fontsize=8)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    return figure


__all__ = ["image_curves", "metric_curves_figure", "s_measure_figure", "threshold_strip"]


def loss_curves(history: Sequence[dict[str, float]], terms: Sequence[str] | None = None, smooth: int = 1) -> plt.Figure:
    """Per-term training losses against the step (Eq. 11's terms), optionally moving-averaged."""
    terms = terms or [k for k in ("total", "bce", "iou", "gcm", "gst", "acm", "racm") if k in history[0]]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    steps = np.array([record["step"] for record in history])
    for term in terms:
        values = np.array([record[term] for record in history], dtype=float)
        if smooth > 1 and len(values) >= smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
            axis.plot(steps[smooth - 1:], values, label=term)
        else:
            axis.plot(steps, values, label=term)
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss (unweighted)")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    return figure


def paired_scores_figure(per_image_a: Sequence[dict], per_image_b: Sequence[dict], names: tuple[str, str],
                         metric: str = "S") -> plt.Figure:
    """Two models on the same images: one point per image, ``metric`` of model A against model B.

    Records are matched by (group, name); points above the diagonal are images where B scores higher.
    """
    scores_b = {(record["group"], record["name"]): record[metric] for record in per_image_b}
    pairs = np.array([(record[metric], scores_b[(record["group"], record["name"])]) for record in per_image_a])
    figure, axis = plt.subplots(figsize=(3.6, 3.6))
    axis.scatter(pairs[:, 0], pairs[:, 1], s=10, alpha=0.7)
    low, high = float(np.nanmin(pairs)), float(np.nanmax(pairs))
    axis.plot([low, high], [low, high], color="grey", linewidth=1)
    axis.set_xlabel(f"{names[0]}: {metric}")
    axis.set_ylabel(f"{names[1]}: {metric}")
    figure.tight_layout()
    return figure
