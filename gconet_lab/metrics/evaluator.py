"""Dataset-level aggregation of the official metrics.

The official evaluator (eval-co-sod's ``evaluator.py``) reports one number per dataset:

* ``S`` and ``MAE`` are means over images. The official code lets one degenerate mask make
  the dataset S NaN; here every per-image number is finite (see ``s_measure``), and
  :meth:`OfficialEvaluator.add` refuses, naming the image, one that is not.
* The F and E curves (one value per threshold) are averaged over images first. ``maxF`` and
  ``maxE`` are the maxima of those mean curves, and ``meanF`` and ``meanE`` their means. This is
  *not* the mean of per-image maxima: one threshold has to work for the whole dataset.

Every image counts once: groups are ignored in the dataset numbers. ``per_group`` applies the
same protocol to each group on its own, as if it were a small dataset.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import numpy as np

from gconet_lab.metrics.official import THRESHOLDS, ImageMetrics, evaluate_image

__all__ = ["METRICS", "REPORTED_METRICS", "OfficialEvaluator", "summarize"]

METRICS = ("S", "maxF", "maxE", "MAE")
"""The four dataset numbers of the paper's tables (S-alpha, max F-beta, max E-xi, MAE; MAE: lower is better).

The one order of this library; a table in another order (Table 3's) derives its order from this one."""
REPORTED_METRICS = (*METRICS[:2], "meanF", METRICS[2], "meanE", METRICS[3])
"""Every dataset number :func:`summarize` reports: :data:`METRICS` and the mean of each curve beside its maximum."""


def summarize(images: list[ImageMetrics]) -> dict[str, float]:
    """The dataset numbers of the official protocol for a list of per-image metrics."""
    if not images:
        raise ValueError("no images to summarise")
    f_curve = np.mean([m.f_curve for m in images], axis=0)
    e_curve = np.mean([m.e_curve for m in images], axis=0)
    return {
        "S": float(np.mean([m.s for m in images])),
        "maxF": float(f_curve.max()),
        "meanF": float(f_curve.mean()),
        "maxE": float(e_curve.max()),
        "meanE": float(e_curve.mean()),
        "MAE": float(np.mean([m.mae for m in images])),
        "n": len(images),
    }


class OfficialEvaluator:
    """Accumulate images one at a time, then read dataset, per-group and per-image results.

    Example::

        evaluator = OfficialEvaluator()
        for name, pred, gt in pairs:  # float32 maps in [0, 1], name like "group/image.png"
            evaluator.add(pred, gt, name=name)
        print(evaluator.results()["maxF"])
    """

    def __init__(self) -> None:
        self._images: list[ImageMetrics] = []
        self._names: list[tuple[str, str]] = []  # (group, image name) per image

    def __len__(self) -> int:
        return len(self._images)

    def add(
        self, pred: np.ndarray, gt: np.ndarray, name: str = "", group: str | None = None
    ) -> ImageMetrics:
        """Evaluate one image and remember it.

        ``name`` is the image's path relative to the dataset root, e.g. ``"cat/001.png"``.
        Its folder is the group unless ``group`` is given.
        """
        metrics = evaluate_image(pred, gt)
        numbers = [metrics.s, metrics.mae, *metrics.f_curve, *metrics.e_curve]
        if not np.isfinite(numbers).all():
            raise ValueError(f"{name or 'image'}: its metrics are not finite; it would spoil the set's numbers")
        path = PurePosixPath(name)
        self._images.append(metrics)
        self._names.append((path.parent.name if group is None else group, path.stem))
        return metrics

    def results(self) -> dict[str, float]:
        """Dataset numbers: S, maxF, meanF, maxE, meanE, MAE, and the image count n."""
        return summarize(self._images)

    def curves(self) -> dict[str, np.ndarray]:
        """Mean curves over all images, for plotting: threshold, precision, recall, F, E."""
        if not self._images:
            raise ValueError("no images added")
        return {
            "threshold": THRESHOLDS.astype(np.float64),
            "precision": np.mean([m.precision for m in self._images], axis=0),
            "recall": np.mean([m.recall for m in self._images], axis=0),
            "f_measure": np.mean([m.f_curve for m in self._images], axis=0),
            "e_measure": np.mean([m.e_curve for m in self._images], axis=0),
        }

    def per_image(self) -> list[dict]:
        """One plain dict per image: group, name, S, maxF, maxE, MAE (its own curves' maxima)."""
        return [
            {"group": group, "name": name, "S": m.s, "maxF": m.max_f, "maxE": m.max_e, "MAE": m.mae}
            for (group, name), m in zip(self._names, self._images, strict=True)
        ]

    def per_group(self) -> list[dict]:
        """One plain dict per group (sorted by name): the dataset numbers of that group alone."""
        by_group: dict[str, list[ImageMetrics]] = {}
        for (group, _), metrics in zip(self._names, self._images, strict=True):
            by_group.setdefault(group, []).append(metrics)
        return [{"group": group, **summarize(by_group[group])} for group in sorted(by_group)]
