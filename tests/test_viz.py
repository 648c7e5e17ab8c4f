"""Plot helpers draw what they are given (headless)."""

from __future__ import annotations

import numpy as np

from gconet_lab.lab.viz.grids import prediction_grid
from gconet_lab.lab.viz.metric_plots import loss_curves


def test_prediction_grid_has_a_panel_per_row_and_column():
    row = {"image": np.zeros((8, 8, 3), np.uint8), "ground truth": np.full((8, 8), 255, np.uint8), "model": np.ones((8, 8))}
    figure = prediction_grid([row, row], ["image", "ground truth", "model"], titles=["a", "b"])
    axes = figure.axes
    assert len(axes) == 6 and axes[0].get_title() == "image" and axes[3].get_ylabel() == "b"


def test_loss_curves_plot_each_present_term():
    history = [{"step": i, "total": 10.0 - i, "bce": 1.0, "iou": 0.5} for i in range(12)]
    axis = loss_curves(history, smooth=3).axes[0]
    assert [line.get_label() for line in axis.lines] == ["total", "bce", "iou"]
    assert len(axis.lines[0].get_xdata()) == 10  # moving average of 3 over 12 steps
