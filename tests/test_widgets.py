"""Widgets redraw when a control changes (headless)."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest
from PIL import Image

from gconet_lab.config import make_config
from gconet_lab.lab.viz.grids import prediction_grid
from gconet_lab.lab.widgets import FigureBrowser, decoder_features_browser, failure_browser
from gconet_lab.models import GCoNetPlus


def test_figure_browser_redraws_on_every_change():
    calls = []

    def draw(size: int):
        calls.append(size)
        return prediction_grid([{"map": np.tri(size)}], ["map"])

    slider = widgets.IntSlider(value=4, min=2, max=8)
    browser = FigureBrowser(draw, size=slider)
    first, first_png = browser.figure, bytes(browser.view.value)
    slider.value = 6
    assert calls == [4, 6] and browser.figure is not first
    assert bytes(browser.view.value).startswith(b"\x89PNG") and bytes(browser.view.value) != first_png
    assert browser.figure.axes[0].images[0].get_array().shape == (6, 6)


@pytest.mark.slow
def test_decoder_features_browser_follows_group_image_and_level(write_cosod_set):
    root = write_cosod_set({"a": 3, "b": 2})
    model = GCoNetPlus(make_config("tiny"))
    browser = decoder_features_browser({"A": model, "B": model}, root, "Tiny")
    image, group, level = (browser.controls[name] for name in ("image", "group", "level"))
    assert image.max == 2 and len(browser.figure.axes) == 4 * 8  # two models x (mean, PCA), all six levels
    image.value = 2
    group.value = "b"
    assert image.max == 1 and image.value == 1
    level.value = 0
    assert len(browser.figure.axes) == 4 * 3 and browser.figure.axes[1].get_title() == "p5"


def test_failure_browser_shows_the_ranked_image(write_cosod_set, tmp_path):
    root = write_cosod_set({"a": 3})
    predictions = tmp_path / "preds"
    (predictions / "Tiny" / "a").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((24, 32), 80 * i, np.uint8)).save(predictions / "Tiny" / "a" / f"a_{i:02d}.png")
    per_image = [{"group": "a", "name": f"a_{i:02d}", "S": s, "maxF": s, "maxE": s, "MAE": 1 - s}
                 for i, s in enumerate((0.5, 0.1, 0.9))]
    browser = failure_browser({"Tiny": per_image}, {"A": predictions}, root)
    assert browser.controls["rank"].max == 2 and "a_01" in browser.figure.axes[0].get_ylabel()
    browser.controls["rank"].value = 2
    assert "a_02" in browser.figure.axes[0].get_ylabel() and len(browser.figure.axes) == 4
    shown = bytes(browser.view.value)
    browser.controls["metric"].value = "MAE"  # the same image is the worst by MAE: the title says which ranking
    assert "a_02" in browser.figure.axes[0].get_ylabel() and "by MAE" in browser.figure.axes[0].get_ylabel()
    assert bytes(browser.view.value) != shown


def test_failure_browser_opens_every_set_it_is_given(write_cosod_set, tmp_path):
    write_cosod_set({"a": 3}, set_name="Tiny")
    root = write_cosod_set({"b": 2, "c": 2}, set_name="Groups", seed=1)
    predictions = tmp_path / "preds"
    for set_name, group, count in (("Tiny", "a", 3), ("Groups", "b", 2), ("Groups", "c", 2)):
        (predictions / set_name / group).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((24, 32), 100, np.uint8)).save(predictions / set_name / group / f"{group}_{i:02d}.png")
    records = {set_name: [{"group": group, "name": f"{group}_{i:02d}", "S": 0.1 * i, "maxF": 0.5, "maxE": 0.5, "MAE": 0.5}
                          for group, count in groups for i in range(count)]
               for set_name, groups in (("Tiny", [("a", 3)]), ("Groups", [("b", 2), ("c", 2)]))}
    browser = failure_browser(records, {"A": predictions}, root)
    assert browser.controls["set_name"].options == ("Tiny", "Groups") and browser.controls["rank"].max == 2
    browser.controls["set_name"].value = "Groups"
    assert browser.controls["group"].options == ("b", "c") and browser.controls["group"].value == "b"
    assert browser.controls["rank"].max == 1
    assert browser.figure.axes[0].get_ylabel().startswith("Groups, worst #0 by S: b_00")
    browser.controls["group"].value = "c"
    assert "c_00" in browser.figure.axes[0].get_ylabel()
