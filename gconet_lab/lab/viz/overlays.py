"""Pictures laid over images: CAMs (Fig. 10), failure cases (Fig. 15) and the applications (Fig. 16-17).

Two kinds of functions: *renderers* turn a tensor or a map into a picture (an RGB uint8 array or a
grey map in [0, 1]), and *figures* lay pictures out with :func:`gconet_lab.lab.viz.grids.prediction_grid`.
All of them are plain functions, so tests and widgets call the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch
from pytorch_grad_cam.utils.image import show_cam_on_image

from gconet_lab.lab.viz.grids import prediction_grid
from gconet_lab.studies.apps import Box, CoSegmentation, crop

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


__all__ = ["FALSE_COLOUR", "MISSED_COLOUR", "cam_figure", "cam_overlay", "cosegmentation_figure", "cutout", "draw_boxes", "error_overlay", "error_regions",
           "failure_figure", "thumbnails_figure"]
