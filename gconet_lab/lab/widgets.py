"""Widgets for the analysis notebooks: thin wiring of controls to the plain figure functions.

:class:`FigureBrowser` redraws a figure whenever a control changes; the builders below only choose
the controls and what to draw, with the functions of :mod:`gconet_lab.lab.viz.overlays`. Tests change
control values headless and check that the figure is redrawn.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from gconet_lab.data import read_mask
from gconet_lab.lab.viz.feature_maps import DECODER_LEVELS, decoder_features_figure
from gconet_lab.lab.viz.overlays import failure_figure
from gconet_lab.metrics import METRICS
from gconet_lab.models import GCoNetPlus
from gconet_lab.studies.analysis import (
    GroupBatch,
    GroupPrediction,
    group_names,
    load_group_batch,
    predict_with_features,
    worst_images,
)


class FigureBrowser:
    """Controls above a figure: ``draw(**values)`` runs once now and again after every control change.

    The figure is shown as a PNG in an ``ipywidgets.Image``, so redrawing needs no output capture.
    """

    def __init__(self, draw: Callable[..., plt.Figure], **controls: widgets.ValueWidget) -> None:
        self.draw, self.controls = draw, controls
        self.view = widgets.Image(format="png")
        self.figure: plt.Figure | None = None
        self.widget = widgets.VBox([widgets.HBox(list(controls.values())), self.view])
        for control in controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self, _change: dict | None = None) -> None:
        """Draw the figure for the current values and show it in place of the last one."""
        self.figure = self.draw(**self.values())
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        plt.close(self.figure)  # shown by the image widget only, not again by the inline backend
        self.view.value = buffer.getvalue()

    def _ipython_display_(self) -> None:
        display(self.widget)


def image_slider(description: str = "image") -> widgets.IntSlider:
    return widgets.IntSlider(value=0, min=0, max=0, description=description, continuous_update=False)


def follow_group(group: widgets.Dropdown, slider: widgets.IntSlider, count: Callable[[str], int]) -> None:
    """Keep ``slider``'s range to the images of the selected group (registered before the browser redraws)."""
    def update(_change: dict | None = None) -> None:
        slider.max = count(group.value) - 1

    update()
    group.observe(update, names="value")


def decoder_features_browser(models: Mapping[str, GCoNetPlus], data_dir: str | Path, set_name: str) -> FigureBrowser:
    """Fig. 2 for any image of any group: choose the group, the image and one decoder level or all of them."""
    image_size = next(iter(models.values())).config.image_size

    @lru_cache(maxsize=4)
    def predicted(group: str) -> tuple[GroupBatch, dict[str, GroupPrediction]]:
        batch = load_group_batch(data_dir, set_name, group, image_size)
        return batch, {name: predict_with_features(model, batch) for name, model in models.items()}

    def draw(group: str, image: int, level: int | None) -> plt.Figure:
        batch, predictions = predicted(group)
        index = min(image, len(batch) - 1)
        by_model = {name: (p.features_of(index), p.saliency[index]) for name, p in predictions.items()}
        levels = range(len(DECODER_LEVELS)) if level is None else [level]
        return decoder_features_figure(batch.images[index], batch.masks[index], by_model, levels)

    group = widgets.Dropdown(options=group_names(data_dir, set_name), description="group")
    image = image_slider()
    follow_group(group, image, lambda name: len(predicted(name)[0]))
    level = widgets.Dropdown(options=[("all", None), *((name, i) for i, name in enumerate(DECODER_LEVELS))], description="level")
    return FigureBrowser(draw, group=group, image=image, level=level)


def failure_browser(per_image: Mapping[str, list[dict]], prediction_roots: Mapping[str, str | Path],
                    data_dir: str | Path) -> FigureBrowser:
    """Fig. 15: the worst images of each group of each set by a metric, with every model's prediction and errors.

    ``per_image`` maps a set's name (e.g. ``iCoseg``, or ``COCO-groups``, the group test) to its records
    (:attr:`gconet_lab.metrics.Evaluation.per_image`, usually the first model's), which rank the images;
    ``prediction_roots`` maps a model's name to the folder of its predicted sets, ``<root>/<set>/<group>/<name>.png``
    (:func:`gconet_lab.inference.evaluate.predict_dataset`). Choose the set, then its group.
    """
    groups_of = {set_name: sorted({record["group"] for record in records}) for set_name, records in per_image.items()}

    @lru_cache(maxsize=4)
    def loaded(set_name: str, group: str) -> GroupBatch:
        return load_group_batch(data_dir, set_name, group, image_size=32)  # only the original images are shown

    def draw(set_name: str, group: str, rank: int, metric: str) -> plt.Figure:
        ranked = worst_images(per_image[set_name], group, metric)
        rank = min(rank, len(ranked) - 1)
        record = ranked[rank]
        batch = loaded(set_name, group)
        index = batch.stems.index(record["name"])
        predictions = {name: read_mask(Path(root) / set_name / group / f"{record['name']}.png")
                       for name, root in prediction_roots.items()}
        # the ranking is in the title: when one image is the worst by every metric, changing the metric still shows
        scores = ", ".join(f"{name} {record[name]:.3f}" for name in METRICS)
        title = f"{set_name}, worst #{rank} by {metric}: {record['name']}: {scores}"
        return failure_figure(batch.images[index], batch.masks[index], predictions, title)

    def count(group_name: str) -> int:
        return sum(record["group"] == group_name for record in per_image[set_control.value])

    def change_set(change: dict) -> None:  # registered before the browser redraws: the set's groups first
        group.options = groups_of[change["new"]]
        rank.max = count(group.value) - 1  # also when the new set's first group has the old group's name

    set_control = widgets.Dropdown(options=list(per_image), description="set")
    group = widgets.Dropdown(options=groups_of[set_control.value], description="group")
    rank = image_slider("rank (0 = worst)")
    set_control.observe(change_set, names="value")
    follow_group(group, rank, count)
    metric = widgets.Dropdown(options=list(METRICS), description="worst by")
    return FigureBrowser(draw, set_name=set_control, group=group, rank=rank, metric=metric)


__all__ = ["FigureBrowser", "decoder_features_browser", "failure_browser", "follow_group"]
