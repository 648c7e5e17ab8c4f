"""Feature-space plots draw what they are given (headless)."""

from __future__ import annotations

import numpy as np

from gconet_lab.lab.viz.embeddings import embedding_panels, pair_matrix


def test_embedding_panels_draw_one_series_per_group_in_each_panel():
    points = np.arange(12, dtype=float).reshape(6, 2)
    figure = embedding_panels({"before": points, "after": -points}, [0, 0, 1, 1, 2, 2], ["a", "b", "c"])
    before, after = figure.axes
    assert [a.get_title() for a in (before, after)] == ["before", "after"]
    assert len(after.collections) == 3 and after.get_legend() is not None
    assert np.array_equal(after.collections[1].get_offsets(), -points[2:4])


def test_pair_matrix_writes_finite_values_only():
    values = np.array([[np.nan, 0.5], [0.25, np.nan]])
    axis = pair_matrix(values, ["x", "y"], "loss").axes[0]
    assert sorted(text.get_text() for text in axis.texts) == ["0.25", "0.50"]
