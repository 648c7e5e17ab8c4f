"""Pictures laid over images: CAMs (Fig. 10), failure cases (Fig. 15), the applications (Fig. 16-17), one photo in its groups.

Two kinds of functions: *renderers* turn a tensor or a map into a picture (an RGB uint8 array or a
grey map in [0, 1]), and *figures* lay pictures out with :func:`gconet_lab.lab.viz.grids.prediction_grid`.
All of them are plain functions, so tests and widgets call the same code.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch
from pytorch_grad_cam.utils.image import show_cam_on_image

from gconet_lab.lab.viz.grids import prediction_grid
from gconet_lab.studies.apps import Box, CoSegmentation, crop
from gconet_lab.studies.group_test import PhotoInGroups

MISSED_COLOUR = (230, 159, 0)  # orange: co-salient pixels the model missed (false negatives)
FALSE_COLOUR = (0, 114, 178)  # blue: distractor pixels the model marked (false positives)
TIGHT_BOX_COLOUR = (255, 140, 0)  # the paper's orange box (Fig. 17)
ENLARGED_BOX_COLOUR = (220, 20, 20)  # the paper's red box


# ---------------------------------------------------------------------------------------------- renderers
def error_regions(truth: np.ndarray, prediction: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(missed, false): co-salient pixels predicted as background, and background predicted as co-salient.

    ``truth`` and ``prediction`` are maps in [0, 1] or uint8 in [0, 255]; both are cut at ``threshold``.
    """
    def binary(map_: np.ndarray) -> np.ndarray:
        map_ = np.asarray(map_, dtype=np.float32)
        return map_ / 255 >= threshold if map_.max() > 1 else map_ >= threshold

    truth, prediction = binary(truth), binary(prediction)
    return truth & ~prediction, prediction & ~truth


def error_overlay(image: np.ndarray, truth: np.ndarray, prediction: np.ndarray, threshold: float = 0.5,
                  alpha: float = 0.7) -> np.ndarray:
    """The image, greyed, with missed co-salient pixels in orange and false distractor pixels in blue (Fig. 15)."""
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    overlay = grey * 0.6
    for region, colour in zip(error_regions(truth, prediction, threshold), (MISSED_COLOUR, FALSE_COLOUR), strict=True):
        overlay[region] = (1 - alpha) * overlay[region] + alpha * np.array(colour, dtype=np.float32)
    return overlay.astype(np.uint8)


def cam_overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """A class activation map in [0, 1] drawn over the RGB image (grad-cam's jet overlay), resized to it."""
    cam = cv2.resize(np.asarray(cam, dtype=np.float32), (image.shape[1], image.shape[0]))
    return show_cam_on_image(image.astype(np.float32) / 255, cam, use_rgb=True)


def draw_boxes(image: np.ndarray, boxes: Sequence[Box], colours: Sequence[tuple[int, int, int]], thickness: int = 3) -> np.ndarray:
    """A copy of the image with each box outlined in its colour."""
    canvas = np.ascontiguousarray(image).copy()
    for (x0, y0, x1, y1), colour in zip(boxes, colours, strict=True):
        cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), colour, thickness)
    return canvas


def cutout(image: np.ndarray, mask: np.ndarray, background: int = 255) -> np.ndarray:
    """The object on a plain background: the background replacement of Application #1."""
    return np.where(np.asarray(mask, dtype=bool)[..., None], image, np.uint8(background))


# ---------------------------------------------------------------------------------------------- figures
def cam_figure(image: np.ndarray, cams: Mapping[str, Mapping[str, np.ndarray]], inputs: Mapping[str, np.ndarray] | None = None) -> plt.Figure:
    """Fig. 10: one row per explained output (e.g. ACM, RACM, saliency), one column per CAM method.

    ``cams[row][method]`` is a map in [0, 1]; ``inputs[row]`` the image that row's CAM was computed
    on (e.g. the masked image for RACM), drawn first and under the maps (default: ``image``).
    """
    inputs = inputs or {}
    methods = list(next(iter(cams.values())))
    rows = []
    for row_name, by_method in cams.items():
        shown = inputs.get(row_name, image)
        rows.append({"input": shown, **{method: cam_overlay(shown, by_method[method]) for method in methods}})
    return prediction_grid(rows, ["input", *methods], list(cams), cell=1.8)


def failure_figure(image: np.ndarray, truth: np.ndarray, predictions: Mapping[str, np.ndarray],
                   title: str = "", threshold: float = 0.5) -> plt.Figure:
    """Fig. 15: image, ground truth, then each model's prediction and its error overlay."""
    row = {"image": image, "ground truth": truth}
    for name, prediction in predictions.items():
        row[name] = prediction
        row[f"{name} errors"] = error_overlay(image, truth, prediction, threshold)
    figure = prediction_grid([row], list(row), [title] if title else None, cell=2.0)
    legend = [Patch(color=np.array(MISSED_COLOUR) / 255, label="missed co-salient"),
              Patch(color=np.array(FALSE_COLOUR) / 255, label="false distractor")]
    figure.legend(handles=legend, loc="lower center", ncol=2, fontsize=7, frameon=False)
    figure.subplots_adjust(bottom=0.15)
    return figure


def cosegmentation_figure(images: Sequence[np.ndarray], saliencies: Sequence[np.ndarray],
                          results: Sequence[CoSegmentation], truths: Sequence[np.ndarray]) -> plt.Figure:
    """Fig. 16: per image, the co-saliency map, its threshold, GrabCut's mask, the ground truth and the cut-out."""
    rows = [{"image": image, "co-saliency": saliency, "threshold": result.threshold.astype(np.float32),
             "GrabCut": result.grabcut.astype(np.float32), "ground truth": truth, "cut-out": cutout(image, result.grabcut)}
            for image, saliency, result, truth in zip(images, saliencies, results, truths, strict=True)]
    return prediction_grid(rows, list(rows[0]))


def thumbnails_figure(images: Sequence[np.ndarray], boxes: Sequence[tuple[Box, Box]]) -> plt.Figure:
    """Fig. 17: each image with its tight (orange) and enlarged (red) box, and the thumbnail cut by the red box."""
    rows = []
    for image, (tight, enlarged) in zip(images, boxes, strict=True):
        rows.append({"boxes": draw_boxes(image, [tight, enlarged], [TIGHT_BOX_COLOUR, ENLARGED_BOX_COLOUR]),
                     "thumbnail": crop(image, enlarged)})
    return prediction_grid(rows, ["boxes", "thumbnail"], cell=2.0)


def photo_in_groups_figure(photos: Sequence[PhotoInGroups], layers: Mapping[str, Sequence[Mapping[str, np.ndarray]]] | None = None,
                           heatmaps: Collection[str] = ("attention",), cell: float = 1.7) -> plt.Figure:
    """The group test (Sec. 1): one row per photo, the photo, then for each of its groups each layer there.

    ``layers`` maps a layer's name to one ``{group: picture}`` per photo (default: the photo's mask and
    its map in each group, from the :class:`~gconet_lab.studies.group_test.PhotoInGroups`). A layer named
    in ``heatmaps`` (e.g. GAM's attention on the h x w cells) is scaled to its maximum and drawn over the
    photo (:func:`cam_overlay`); the others are drawn as they are. Each panel is titled ``group: layer``;
    a row with fewer groups than the others leaves its last panels empty.
    """
    layers = layers or {"mask": [photo.masks for photo in photos], "map": [photo.maps for photo in photos]}
    for name, pictures in layers.items():
        if len(pictures) != len(photos):
            raise ValueError(f"layer {name!r} has {len(pictures)} entries for {len(photos)} photos")
    columns = 1 + max(len(photo.groups) for photo in photos) * len(layers)
    figure, axes = plt.subplots(len(photos), columns, figsize=(cell * columns, cell * len(photos)), squeeze=False)
    for row, photo in enumerate(photos):
        panels = [("photo", photo.image)]
        for group in photo.groups:
            for name, pictures in layers.items():
                picture = np.asarray(pictures[row][group])
                if name in heatmaps:
                    picture = cam_overlay(photo.image, picture / picture.max() if picture.max() > 0 else picture)
                panels.append((f"{group}: {name}", picture))
        for axis in axes[row]:
            axis.set_axis_off()
        for axis, (title, picture) in zip(axes[row], panels, strict=False):
            axis.imshow(picture, cmap=None if picture.ndim == 3 else "gray", vmin=0, vmax=255 if picture.max() > 1 else 1)
            axis.set_title(title, fontsize=7)
        axes[row][0].set_axis_on()
        axes[row][0].set_xticks([])
        axes[row][0].set_yticks([])
        axes[row][0].set_ylabel(photo.stem, fontsize=6)
    figure.tight_layout()
    return figure


__all__ = ["FALSE_COLOUR", "MISSED_COLOUR", "cam_figure", "cam_overlay", "cosegmentation_figure", "cutout", "draw_boxes", "error_overlay", "error_regions",
           "failure_figure", "photo_in_groups_figure", "thumbnails_figure"]
