"""The official F and E curves written plainly: one pass over the pixels per threshold.

This is how the eval-co-sod evaluator (paper Sec. 4.2; its ``evaluator.py``) computes them: for each of
the 255 thresholds ``t``, binarise ``B = p >= t`` and sum over all pixels. It is 255 passes over
the image, where :mod:`gconet_lab.metrics.official` needs one histogram. Its only use is as the
yardstick the fast code must equal (``gconet_lab.benchmark.benchmark_evaluation``); S and MAE
involve no thresholds and come from the official module unchanged.
"""

from __future__ import annotations

import numpy as np

from gconet_lab.metrics.official import (
    BETA2,
    EPS,
    THRESHOLDS,
    ImageMetrics,
    mae,
    normalize_prediction,
    s_measure,
)

__all__ = ["plain_curves", "plain_evaluate_image"]


def plain_curves(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F (Eq. 13) and E (Eq. 14) at each threshold, by brute force (float32 maps)."""
    p = normalize_prediction(pred)
    gt = np.asarray(gt, dtype=np.float32)
    g = gt - np.float32(gt.mean(dtype=np.float64))
    precision, recall, e_curve = (np.empty(len(THRESHOLDS)) for _ in range(3))
    for i, threshold in enumerate(THRESHOLDS):
        binary = (p >= threshold).astype(np.float32)
        true_positive = (binary * gt).sum(dtype=np.float64)
        precision[i] = true_positive / (binary.sum(dtype=np.float64) + EPS)
        recall[i] = true_positive / (gt.sum(dtype=np.float64) + EPS)
        fm = binary - np.float32(binary.mean(dtype=np.float64))
        align = 2 * g * fm / (g * g + fm * fm + np.float32(EPS))
        e_curve[i] = ((align + 1) * (align + 1) / 4).sum(dtype=np.float64) / (gt.size - 1 + EPS)
    with np.errstate(invalid="ignore"):
        f_curve = (1 + BETA2) * precision * recall / (BETA2 * precision + recall)
    return precision, recall, np.nan_to_num(f_curve, nan=0.0), e_curve


def plain_evaluate_image(pred: np.ndarray, gt: np.ndarray) -> ImageMetrics:
    """The same :class:`ImageMetrics` as :func:`~gconet_lab.metrics.evaluate_image`, the slow way."""
    precision, recall, f_curve, e_curve = plain_curves(pred, gt)
    return ImageMetrics(s=s_measure(pred, gt), mae=mae(pred, gt), precision=precision, recall=recall,
                        f_curve=f_curve, e_curve=e_curve)
