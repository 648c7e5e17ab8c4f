"""Evaluation figures draw what they are given (headless)."""

from __future__ import annotations

import numpy as np

from gconet_lab.lab.viz.metric_plots import image_curves, metric_curves_figure, s_measure_figure, threshold_strip
from gconet_lab.metrics import THRESHOLDS, OfficialEvaluator, evaluate_image


def _pair():
    gt = np.zeros((20, 30), np.float32)
    gt[5:15, 8:20] = 1.0
    pred = np.clip(gt * 0.7 + np.linspace(0, 0.3, 30, dtype=np.float32)[None], 0, 1)
    return pred, gt


def test_image_curves_have_the_evaluator_layout():
    pred, gt = _pair()
    curves = image_curves(evaluate_image(pred, gt))
    evaluator = OfficialEvaluator()
    evaluator.add(pred, gt)
    assert set(curves) == set(evaluator.curves())
    for key, values in evaluator.curves().items():
        assert np.allclose(curves[key], values)
    assert len(curves["threshold"]) == len(THRESHOLDS)


def test_metric_curves_figure_marks_each_maximum():
    pred, gt = _pair()
    curves = image_curves(evaluate_image(pred, gt))
    figure = metric_curves_figure({"a": curves, "b": curves})
    pr_axis, f_axis, e_axis = figure.axes
    assert len(pr_axis.lines) == 2 and len(f_axis.lines) == 4  # a curve and its maximum per prediction
    assert f_axis.texts[0].get_text() == f"maxF {curves['f_measure'].max():.3f}"
    assert pr_axis.get_legend() is not None


def test_threshold_strip_and_s_measure_figure():
    pred, gt = _pair()
    strip = threshold_strip(pred, gt, [0.2, 0.5], titles=["low", "high"])
    assert [axis.get_title() for axis in strip.axes] == ["low", "high"]
    figure = s_measure_figure(pred, gt, (14, 10), other_centroid=(15, 11))
    assert len(figure.axes) == 3 and len(figure.axes[2].lines) == 4  # two split lines per centroid
