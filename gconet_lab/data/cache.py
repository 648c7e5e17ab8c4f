"""Decode and resize each training image once per run: an in-memory cache of S x S arrays.

A training step reads 2N images (Eq. 16); decoding a JPEG and augmenting it at its full size costs
more than a forward pass of the ``cpu`` preset. :class:`ResizedSampleCache` keeps every (image,
mask) pair decoded and already resized to the network's S x S input, so from the second epoch on
a batch costs only the augmentation of small arrays. Images are resized exactly as at test time
(:func:`~gconet_lab.data.transforms.image_to_tensor`: bilinear with antialiasing), so whether an
item is cached or not (the cache stops growing at ``max_bytes``) never changes a batch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from gconet_lab.data.layout import Sample

Loader = Callable[[Sample], tuple[np.ndarray, np.ndarray]]
DEFAULT_MAX_BYTES = 2 * 1024**3


def resize_pair(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """An RGB uint8 image and a float mask in [0, 1], both resized to (size, size), bilinear."""
    bilinear = Image.Resampling.BILINEAR
    image = np.asarray(Image.fromarray(image).resize((size, size), bilinear))
    mask = np.asarray(Image.fromarray(mask.astype(np.float32)).resize((size, size), bilinear))
    return image, mask


class ResizedSampleCache:
    """(image, mask) arrays of ``size`` x ``size`` by sample, up to ``max_bytes`` in memory."""

    def __init__(self, size: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._pairs: dict[Sample, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._pairs)

    def get(self, sample: Sample, load: Loader) -> tuple[np.ndarray, np.ndarray]:
        """The resized pair of ``sample``, read with ``load`` and resized on its first use."""
        pair = self._pairs.get(sample)
        if pair is None:
            pair = resize_pair(*load(sample), self.size)
            nbytes = pair[0].nbytes + pair[1].nbytes
            if self.bytes + nbytes <= self.max_bytes:
                self._pairs[sample] = pair
                self.bytes += nbytes
        return pair
