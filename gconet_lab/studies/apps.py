"""Two uses of co-saliency maps (paper Sec. 5): content-aware co-segmentation and automatic thumbnails.

* **Co-segmentation** (Application #1, Fig. 16): each co-saliency map is binarised with an adaptive
  threshold, twice the map's mean as in frequency-tuned salient region detection (the paper's
  [125]), and the binary map initialises GrabCut (the paper's [124], OpenCV's ``cv2.grabCut``),
  which redraws the outline from the image's own colours.
* **Automatic thumbnails** (Application #2, Fig. 17): the bounding box of the binarised map (the
  paper's orange box) is enlarged (the red box) and cropped from the image.

Maps are float arrays in [0, 1] or uint8 in [0, 255]; images are RGB uint8, all (H, W) alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from gconet_lab.data import Group, GroupTestDataset, read_image, read_mask
from gconet_lab.inference.evaluate import predict_group

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1 and y1 exclusive


def adaptive_threshold(saliency: np.ndarray, factor: float = 2.0) -> np.ndarray:
    """The binary map ``saliency >= factor * mean(saliency)`` (boolean, same shape).

    The threshold is capped at the map's maximum, so a map that is not all zero keeps at least
    its peak; an all-zero map gives an empty mask.
    """
    saliency = np.asarray(saliency, dtype=np.float64)
    peak = float(saliency.max())
    if peak <= 0:
        return np.zeros(saliency.shape, dtype=bool)
    return saliency >= min(factor * float(saliency.mean()), peak)


def grabcut(image: np.ndarray, initial: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Refine a binary map with GrabCut initialised from it (boolean result, same shape).

    Pixels inside ``initial`` start as probable foreground, the others as probable background, so
    GrabCut may move either: its colour models (two Gaussian mixtures) and graph cut decide. A map
    that is empty or full gives GrabCut nothing to separate and is returned unchanged. OpenCV's
    random generator is seeded so that the result is reproducible.
    """
    initial = np.asarray(initial, dtype=bool)
    if initial.all() or not initial.any():
        return initial.copy()
    labels = np.where(initial, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    background_model, foreground_model = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)
    cv2.grabCut(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), labels, None, background_model, foreground_model,
                iterations, cv2.GC_INIT_WITH_MASK)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two binary maps (a soft ground truth is cut at 0.5); 1.0 if both are empty."""
    prediction = np.asarray(prediction, dtype=bool)
    truth = np.asarray(truth) >= 0.5
    union = np.logical_or(prediction, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(prediction, truth).sum() / union)


@dataclass
class CoSegmentation:
    """Application #1 on one image: the thresholded map and GrabCut's refinement of it (boolean)."""

    threshold: np.ndarray
    grabcut: np.ndarray


def cosegment(image: np.ndarray, saliency: np.ndarray, factor: float = 2.0, iterations: int = 5) -> CoSegmentation:
    """Adaptive threshold of the co-saliency map, then GrabCut initialised from it (Sec. 5, Fig. 16)."""
    binary = adaptive_threshold(saliency, factor)
    return CoSegmentation(binary, grabcut(image, binary, iterations))


def evaluate_cosegmentation(model: torch.nn.Module, groups: Sequence[Group], image_size: int,
                            max_images: int | None = None, device: str = "cpu") -> list[dict]:
    """IoU against the ground truth before and after GrabCut, one record per image.

    Each group is predicted as one batch (Sec. 4.3) and its maps are resized to the images'
    original sizes, as in evaluation; ``max_images`` keeps the first images of each group.
    Records: group, name, iou_threshold, iou_grabcut.
    """
    records = []
    dataset = GroupTestDataset(groups, image_size)
    for group, item in zip(groups, dataset, strict=True):
        maps = predict_group(model, item["images"], item["sizes"].tolist(), device)
        for sample, saliency in list(zip(group.samples, maps, strict=True))[:max_images]:
            image, truth = read_image(sample.image), read_mask(sample.mask)
            result = cosegment(image, saliency)
            records.append({"group": group.name, "name": sample.stem,
                            "iou_threshold": iou(result.threshold, truth), "iou_grabcut": iou(result.grabcut, truth)})
    return records


def bounding_box(mask: np.ndarray) -> Box | None:
    """The smallest box around the mask's pixels (the paper's orange box), or None for an empty mask."""
    mask = np.asarray(mask, dtype=np.uint8)
    if not mask.any():
        return None
    x, y, width, height = cv2.boundingRect(mask)
    return x, y, x + width, y + height


def enlarge_box(box: Box, scale: float, height: int, width: int) -> Box:
    """The box scaled by ``scale`` about its centre and clipped to the image (the paper's red box)."""
    x0, y0, x1, y1 = box
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = (x1 - x0) * scale / 2, (y1 - y0) * scale / 2
    return (max(0, round(centre_x - half_w)), max(0, round(centre_y - half_h)),
            min(width, round(centre_x + half_w)), min(height, round(centre_y + half_h)))


def thumbnail_boxes(saliency: np.ndarray, scale: float = 1.3, factor: float = 2.0) -> tuple[Box, Box] | None:
    """The tight box of the thresholded co-saliency map and its enlargement (Fig. 17), or None if empty."""
    box = bounding_box(adaptive_threshold(saliency, factor))
    if box is None:
        return None
    return box, enlarge_box(box, scale, *np.shape(saliency)[:2])


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    """The thumbnail: the part of ``image`` inside ``box``."""
    x0, y0, x1, y1 = box
    return image[y0:y1, x0:x1]


__all__ = ["Box", "CoSegmentation", "adaptive_threshold", "bounding_box", "cosegment", "crop", "enlarge_box",
           "evaluate_cosegmentation", "grabcut", "iou", "thumbnail_boxes"]
