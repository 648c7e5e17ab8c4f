"""Read images and ground-truth masks from disk into plain numpy arrays.

GCoNet+ consumes RGB images and soft saliency masks in [0, 1] (Sec. 4.3; the official loader
opens images with ``convert('RGB')`` and masks with ``convert('L')``, as the official dataset and evaluation loaders do).
Real datasets store these in many PNG/JPEG flavours, so both readers normalise every mode
Pillow can open:

================  ===================================  =========================================
PIL mode          :func:`read_image`                   :func:`read_mask`
================  ===================================  =========================================
``1``             black/white to RGB                   ``False``/``True`` -> 0.0/1.0
``L``, ``P``      grey / palette colours to RGB        luma / 255, or as is if only {0, 1}
``RGB``           unchanged                            grey pixels: luma, like ``convert('L')``
``RGBA``, ``LA``  alpha dropped                        alpha dropped, then as above
``I;16``, ``I``   16 bits: most significant byte       value / 65535; as 8 bits if all <= 255
================  ===================================  =========================================

Design choices (documented because they change pixel values):

* RGBA images **drop** the alpha channel instead of compositing on black. This matches the
  official ``convert('RGB')`` and keeps the pixels a mask was drawn on.
* 48-bit RGB PNGs are reduced to 8 bits by Pillow itself (most significant byte); 16-bit grey
  images use the same rule, so both paths agree.
* 8-bit masks whose values are all in {0, 1} (a common way to save binary masks) are taken as
  already being in [0, 1]; any other 8-bit mask is divided by 255. An all-zero mask is 0 either way.
* A 16-bit mask whose values all fit in 8 bits ({0, 1}, {0, 255}: an 8-bit mask saved as a
  16-bit PNG, e.g. by OpenCV from a ``uint16`` array) is read by the 8-bit rule, as the official
  ``convert('L')`` reads it; divided by 65535 it would be an almost empty mask (every value below
  0.004), a silently wrong target and score.
* EXIF orientation is **not** applied: masks are drawn on the stored pixels, and the official
  code does not apply it either.
* A *colour* mask (RGB, RGBA or palette pixels whose channels differ by more than
  ``COLOUR_TOLERANCE`` grey levels, e.g. a red overlay, class colours, or a cut-out photo whose
  mask is its alpha channel) is refused: its luma would be a wrong soft mask (a pure red object
  reads as 0.3, below the S-measure's 0.5). Grey masks saved as RGB, JPEG noise included, are read.

Unreadable, truncated or corrupt files, and paths that are not regular files (a FIFO or a device
would block the read), raise :class:`DataError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from gconet_lab.data.errors import DataError

__all__ = ["DataError", "image_size", "read_image", "read_mask"]

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
COLOUR_TOLERANCE = 32  # largest channel spread (grey levels) of a pixel of a grey mask saved in colour


def _open_decoded(path: str | Path) -> Image.Image:
    """Open ``path`` with Pillow and decode every pixel now, so truncation is caught here.

    Pillow decodes lazily; calling ``load()`` forces the decoder to run so a truncated or
    corrupt file fails inside this function, with its name, not later in a worker process.
    """
    _check_regular_file(path)
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise DataError(path, "file does not exist") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(path, f"cannot decode image ({error})") from error
    return image


def _check_regular_file(path: str | Path) -> None:
    """Refuse a path that exists but is not a regular file (opening a FIFO would wait forever)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise DataError(path, "not a regular file (a folder, FIFO, socket or device)")
    if path.is_symlink() and not path.exists():
        raise DataError(path, "a broken link or a link loop")


def _sixteen_bit_array(image: Image.Image, path: str | Path) -> np.ndarray:
    """The pixels of a 16-bit grey image as uint16, checking they fit in 16 bits."""
    values = np.asarray(image)
    if values.min() < 0 or values.max() > 65535:
        raise DataError(path, f"mode {image.mode} values outside the 16-bit range 0..65535")
    return values.astype(np.uint16)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as an RGB ``uint8`` array of shape (H, W, 3); see the module table."""
    image = _open_decoded(path)
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = (_sixteen_bit_array(image, path) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "F":
        raise DataError(path, "32-bit float images are not supported as input images")
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def read_mask(path: str | Path) -> np.ndarray:
    """Read a ground-truth mask as ``float32`` (H, W) in [0, 1]; see the module table.

    Soft masks stay soft: GCoNet+ trains on soft targets and never binarises them
    (the official dataset.py).
    """
    image = _open_decoded(path)
    if image.mode == "1":
        return np.asarray(image, dtype=np.float32)
    if image.mode in _SIXTEEN_BIT_MODES:
        values = _sixteen_bit_array(image, path)
        return _unit_mask(values) if values.max() <= 255 else values.astype(np.float32) / 65535.0
    if image.mode == "F":
        raise DataError(path, "32-bit float masks are not supported; save masks as 8/16-bit PNG")
    if image.mode in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr", "HSV", "LAB"):
        colour = np.asarray(image.convert("RGB"), dtype=np.int16)
        if (colour.max(axis=2) - colour.min(axis=2)).max() > COLOUR_TOLERANCE:
            raise DataError(path, "a colour mask (its pixels are not grey); save the mask as a grey or 1-bit PNG "
                                  "(for a cut-out, its alpha channel)")
    return _unit_mask(np.asarray(image.convert("L"), dtype=np.uint8))


def _unit_mask(values: np.ndarray) -> np.ndarray:
    """A mask of 8-bit values in [0, 1]: as is when all are in {0, 1}, else divided by 255."""
    if values.max() <= 1:
        return values.astype(np.float32)
    return values.astype(np.float32) / 255.0


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file, read from its header only (no decoding)."""
    _check_regular_file(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise DataError(path, "file does not exist") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(path, f"cannot read image header ({error})") from error
    return height, width
