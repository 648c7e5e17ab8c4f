"""Pictures for looking inside a trained model: decoder features (Fig. 2), CAMs (Fig. 10),
failure cases (Fig. 15) and the applications (Fig. 16-17).

Two kinds of functions: *renderers* turn a tensor or a map into a picture (an RGB uint8 array or a
grey map in [0, 1]), and *figures* lay pictures out with :func:`gconet_lab.lab.viz.grids.prediction_grid`.
All of them are plain functions, so tests and widgets call the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch
from pytorch_grad_cam.utils.image import show_cam_on_image

from gconet_lab.lab.viz.grids import prediction_grid
from gconet_lab.studies.apps import Box, CoSegmentation, crop
from gconet_lab.studies.pca import pca_rgb

DECODER_LEVELS = ("p5", "p4", "p3", "p2", "p1", "p0")  # GCoNetIntermediates.decoder_features, coarse to fine
MISSED_COLOUR = (230, 159, 0)  # orange: co-salient pixels the model missed (false negatives)
FALSE_COLOUR = (0, 114, 178)  # blue: distractor pixels the model marked (false positives)
TIGHT_BOX_COLOUR = (255, 140, 0)  # the paper's orange box (Fig. 17)
ENLARGED_BOX_COLOUR = (220, 20, 20)  # the paper's red box


# ---------------------------------------------------------------------------------------------- renderers
def normalize(values: np.ndarray) -> np.ndarray:
    """Min-max scaling to [0, 1] (a constant array becomes zeros)."""
    values = np.asarray(values, dtype=np.float32)
    span = float(values.max() - values.min())
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def channel_mean(features: torch.Tensor) -> np.ndarray:
    """One image's features (C, h, w) averaged over channels and scaled to [0, 1]: where the level responds."""
    return normalize(features.detach().float().mean(dim=0).cpu().numpy())


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
def decoder_features_figure(image: np.ndarray, truth: np.ndarray,
                            models: Mapping[str, tuple[Sequence[torch.Tensor], np.ndarray]],
                            levels: Sequence[int] = tuple(range(len(DECODER_LEVELS)))) -> plt.Figure:
    """Fig. 2: decoder features of one image at the chosen levels, two rows per model.

    ``models`` maps a model's name to (its decoder features of this image, one (C, h, w) tensor per
    level, coarse to fine; its prediction). The first row of a model shows the channel mean, the
    second the PCA image; the first column holds the image and the ground truth, the last the prediction.
    """
    columns = ["image | GT", *(DECODER_LEVELS[level] for level in levels), "prediction"]
    rows, titles = [], []
    for name, (features, prediction) in models.items():
        for kind, render, first in (("mean", channel_mean, image), ("PCA", pca_rgb, truth)):
            row = {"image | GT": first, "prediction": prediction}
            row.update({DECODER_LEVELS[level]: render(features[level]) for level in levels})
            rows.append(row)
            titles.append(f"{name}: {kind}")
    return prediction_grid(rows, columns, titles, cell=1.4)


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


__all__ = ["DECODER_LEVELS", "FALSE_COLOUR", "MISSED_COLOUR", "cam_figure", "cam_overlay", "channel_mean",
           "cosegmentation_figure", "cutout", "decoder_features_figure", "draw_boxes", "error_overlay", "error_regions",
           "failure_figure", "normalize", "paired_scores_figure", "thumbnails_figure"]
