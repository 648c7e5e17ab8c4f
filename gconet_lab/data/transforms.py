"""Joint image/mask augmentation and the model's input normalisation.

Sec. 4.3 of the paper lists three augmentations: horizontal flip, colour enhancement and rotation.
The official code fixes the details (difference C25 in :mod:`gconet_lab.studies.paper_vs_code`), reproduced here in the same order:

0. (not in the paper or the official code; off unless ``zoom_p`` > 0, the CPU recipe's choice) a random
   crop that keeps the whole object, resized back (:func:`random_object_crop`);
1. horizontal flip with probability 0.5 (image and mask together);
2. rotation with probability 0.2 by an integer angle in [-15, 15) degrees, bicubic for image
   *and* mask, black/zero fill, same size (image and mask together);
3. colour enhancement, always, image only: brightness and contrast factors in {0.5, 0.6, ..., 1.5},
   colour (saturation) in {0.0, ..., 2.0}, sharpness in {0.0, ..., 3.0}, applied in that order;
4. resize to (S, S) ignoring the aspect ratio (bilinear with antialiasing), ``ToTensor`` and
   ImageNet normalisation for the image; the mask is resized the same way and stays soft.

All randomness comes from a ``numpy.random.Generator`` passed in by the caller, so a seed fixes
every augmented batch (no global random state is touched).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageEnhance

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# (enhancer, smallest factor x10, largest factor x10), inclusive, in the official order.
_ENHANCEMENTS = (
    (ImageEnhance.Brightness, 5, 15),
    (ImageEnhance.Contrast, 5, 15),
    (ImageEnhance.Color, 0, 20),
    (ImageEnhance.Sharpness, 0, 30),
)


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the training augmentation (defaults: the official code, difference C25)."""

    flip_p: float = 0.5
    rotate_p: float = 0.2
    max_angle: int = 15
    enhance: bool = True
    zoom_p: float = 0.0  # not in the paper or the official code: see random_object_crop


OFFICIAL_AUGMENT = AugmentConfig()


def object_crop_box(mask: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int, int] | None:
    """A random box (left, top, right, bottom) that holds the whole object (mask > 0.5); None for an empty mask.

    Each side lies uniformly between the object's bounding box and the image border.
    """
    rows, cols = np.nonzero(mask > 0.5)
    if cols.size == 0:
        return None
    height, width = mask.shape
    left, top = rng.uniform(0, cols.min()), rng.uniform(0, rows.min())
    right, bottom = rng.uniform(cols.max() + 1, width), rng.uniform(rows.max() + 1, height)
    return int(left), int(top), int(np.ceil(right)), int(np.ceil(bottom))


def random_object_crop(
    image: Image.Image, mask: Image.Image, rng: np.random.Generator, p: float, keep: np.ndarray | None = None
) -> tuple[Image.Image, Image.Image]:
    """With probability ``p`` crop an :func:`object_crop_box` of both, resized back to the image's size.

    The object is never cut and fills more of the picture on average, as in the test images of
    iCoseg. ``keep`` (default: the mask) is the region the box holds whole, e.g. the objects of
    every group a photo is drawn in. An empty region is left uncropped. With ``p`` 0 no random
    number is drawn, so the official augmentation's draws are unchanged.
    """
    if p <= 0 or rng.random() >= p:
        return image, mask
    box = object_crop_box(np.asarray(mask) if keep is None else keep, rng)
    if box is None:
        return image, mask
    bilinear = Image.Resampling.BILINEAR
    return image.resize(image.size, bilinear, box), mask.resize(mask.size, bilinear, box)


def random_hflip(
    image: Image.Image, mask: Image.Image, rng: np.random.Generator, p: float
) -> tuple[Image.Image, Image.Image]:
    """Mirror image and mask left-right together with probability ``p``."""
    if rng.random() < p:
        flip = Image.Transpose.FLIP_LEFT_RIGHT
        return image.transpose(flip), mask.transpose(flip)
    return image, mask


def random_rotate(
    image: Image.Image, mask: Image.Image, rng: np.random.Generator, p: float, max_angle: int
) -> tuple[Image.Image, Image.Image]:
    """With probability ``p`` rotate both by the same integer angle in [-max_angle, max_angle).

    Bicubic interpolation overshoots at edges; the uint8 image is clipped by Pillow, the float
    mask is clipped here so it stays in [0, 1] (as the official 8-bit mask would).
    """
    if rng.random() < p:
        angle = int(rng.integers(-max_angle, max_angle))
        bicubic = Image.Resampling.BICUBIC
        rotated_mask = np.clip(np.asarray(mask.rotate(angle, bicubic)), 0.0, 1.0)
        return image.rotate(angle, bicubic), Image.fromarray(rotated_mask)
    return image, mask


def color_enhance(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Random brightness, contrast, colour and sharpness (image only; factors in 0.1 steps)."""
    for enhancer, low, high in _ENHANCEMENTS:
        factor = int(rng.integers(low, high + 1)) / 10.0
        image = enhancer(image).enhance(factor)
    return image


def image_to_tensor(image: Image.Image, size: int) -> torch.Tensor:
    """Resize an RGB image to (size, size) and return the ImageNet-normalised (3, S, S) tensor."""
    resized = image.resize((size, size), Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (pixels - mean) / std


def mask_to_tensor(mask: Image.Image, size: int) -> torch.Tensor:
    """Resize a float ('F') mask in [0, 1] to (size, size); return a soft (1, S, S) tensor.

    Bilinear weights are non-negative, so the result stays in [0, 1]: never binarised.
    """
    resized = mask.resize((size, size), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.array(resized, dtype=np.float32))[None]


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """Undo the ImageNet normalisation of (..., 3, H, W) tensors: RGB in [0, 1], for display."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(3, 1, 1)
    return (images * std + mean).clamp(0.0, 1.0)


def prepare_image(image: np.ndarray, size: int) -> torch.Tensor:
    """Test-time input: an RGB uint8 array to the normalised (3, S, S) tensor, no augmentation."""
    return image_to_tensor(Image.fromarray(image), size)


class TrainTransform:
    """Training-time joint augmentation of one (image, mask) pair, then resize and normalise."""

    def __init__(self, size: int, config: AugmentConfig | None = OFFICIAL_AUGMENT) -> None:
        """``config=None`` disables augmentation (resize and normalise only)."""
        self.size = size
        self.config = config

    def __call__(
        self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, keep: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment an RGB uint8 (H, W, 3) image and float (H, W) mask; return (3,S,S), (1,S,S).

        ``keep``: the region a crop must hold whole (:func:`random_object_crop`; default: the mask).
        """
        image_pil, mask_pil = Image.fromarray(image), Image.fromarray(mask.astype(np.float32))
        cfg = self.config
        if cfg is not None:
            image_pil, mask_pil = random_object_crop(image_pil, mask_pil, rng, cfg.zoom_p, keep)
            image_pil, mask_pil = random_hflip(image_pil, mask_pil, rng, cfg.flip_p)
            image_pil, mask_pil = random_rotate(
                image_pil, mask_pil, rng, cfg.rotate_p, cfg.max_angle
            )
            if cfg.enhance:
                image_pil = color_enhance(image_pil, rng)
        return image_to_tensor(image_pil, self.size), mask_to_tensor(mask_pil, self.size)
