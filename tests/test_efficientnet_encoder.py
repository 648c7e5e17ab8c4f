"""Tests for the offline EfficientNet-Lite0 encoder.

The weight tests check two different things:

* ``test_logits_match_reference_implementation``: the architecture is the one
  the weights were trained with. Its expected logits were computed once with
  the ``efficientnet_lite_pytorch`` package (the implementation the weight file
  was exported from), on a synthetic image, so this test needs no data.
* ``test_top5_on_real_photos``: the whole chain (file, mapping, normalisation,
  preprocessing) recognises animals in real iCoseg photos.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from gconet_lab.models import efficientnet_encoder
from gconet_lab.models.efficientnet_encoder import (
    NUM_STATE_TENSORS,
    EfficientNetLite0Encoder,
    EfficientNetLite0Stride16Encoder,
    imagenet_preprocessing,
    load_efficientnet_lite0_imagenet_state_dict,
    map_state_dict_by_order,
)

from conftest import shared_root

# iCoseg groups whose name contains the key, and their ImageNet class index.
ICOSEG_IMAGENET_CLASSES: dict[str, int] = {
    "Pandas": 388,  # giant panda
    "Goose": 99,  # goose
    "Elephants": 386,  # African elephant
    "brown_bear": 294,  # brown bear
}
MIN_TOP5_RATE = 0.9


@pytest.fixture(scope="module")
def encoder() -> EfficientNetLite0Encoder:
    """One pretrained encoder in eval mode, shared by the tests of this module."""
    return EfficientNetLite0Encoder(pretrained=True).eval()


@pytest.fixture(scope="module")
def icoseg_images() -> Path:
    """Return the iCoseg image folder; skip locally if absent, fail on CI."""
    images = shared_root() / "data" / "icoseg" / "images"
    if not images.is_dir():
        message = f"iCoseg images not found at {images} (set GCONET_SHARED)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return images


def load_photo(path: Path) -> Tensor:
    """Resize, centre-crop and normalise one photo as the encoder expects."""
    prep = imagenet_preprocessing()
    image = Image.open(path).convert("RGB")
    scale = prep.resize_size / min(image.size)
    width, height = round(image.width * scale), round(image.height * scale)
    image = image.resize((width, height), Image.Resampling.BICUBIC)
    left, top = (width - prep.crop_size) // 2, (height - prep.crop_size) // 2
    image = image.crop((left, top, left + prep.crop_size, top + prep.crop_size))
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
    mean = torch.tensor(prep.mean)
    std = torch.tensor(prep.std)
    return ((pixels - mean) / std).permute(2, 0, 1)


@pytest.mark.parametrize("size", [64, 256])
def test_pyramid_shapes(size: int) -> None:
    encoder = EfficientNetLite0Encoder(pretrained=False).eval()
    with torch.inference_mode():
        features = encoder(torch.randn(2, 3, size, size))
    assert encoder.channels == (16, 24, 40, 112, 320)
    assert encoder.strides == (2, 4, 8, 16, 32)
    assert len(features) == 5
    for feature, channels, stride in zip(
        features, encoder.channels, encoder.strides, strict=True
    ):
        assert feature.shape == (2, channels, size // stride, size // stride)


def test_stride16_encoder_is_the_first_five_stages_of_the_same_network() -> None:
    """Its levels are stages 0-4: the first three and the deepest equal the full encoder's stages 0, 1, 2, 4."""
    full, cut = EfficientNetLite0Encoder().eval(), EfficientNetLite0Stride16Encoder().eval()
    images = torch.randn(2, 3, 96, 64)
    with torch.inference_mode():
        full_levels, cut_levels = full(images), cut(images)
    assert cut.strides == (2, 4, 8, 16, 16)
    for level, channels, stride in zip(cut_levels, cut.channels, cut.strides, strict=True):
        assert level.shape == (2, channels, 96 // stride, 64 // stride)
    for index in range(3):
        assert torch.equal(cut_levels[index], full_levels[index])
    assert torch.equal(cut_levels[4], full_levels[3])
    unused = {name.split(".")[0] for name, p in cut.net.blocks.named_parameters() if not p.requires_grad}
    assert unused == {"5", "6"}  # the stride-32 stages serve classify() only
    assert all(p.requires_grad for p in cut.net.blocks[:5].parameters())
    with torch.inference_mode():
        assert torch.equal(cut.classify(images), full.classify(images))


def test_mapped_state_dict_is_complete() -> None:
    state = load_efficientnet_lite0_imagenet_state_dict()
    assert len(state) == NUM_STATE_TENSORS
    assert next(iter(state)) == "conv_stem.weight"
    assert state["classifier.weight"].shape == (1000, 1280)


def test_wrong_shape_is_reported_by_name() -> None:
    target = {"stem.weight": torch.zeros(8, 3, 3, 3), "stem.bias": torch.zeros(8)}
    source = {"_conv.weight": torch.zeros(8, 3, 3, 3), "_conv.bias": torch.zeros(4)}
    with pytest.raises(
        ValueError, match=r"#1.*'_conv\.bias'.*\(4,\).*'stem\.bias'.*\(8,\)"
    ):
        map_state_dict_by_order(source, target)


def test_wrong_tensor_count_is_reported() -> None:
    target = {"a": torch.zeros(1), "b": torch.zeros(1)}
    with pytest.raises(
        ValueError, match="source has 1 tensors but the target expects 2"
    ):
        map_state_dict_by_order({"a": torch.zeros(1)}, target)


def test_not_pretrained_reads_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("pretrained=False must not read the weight file")

    monkeypatch.setattr(
        efficientnet_encoder, "efficientnet_lite0_weight_file", forbidden
    )
    monkeypatch.setattr(torch, "load", forbidden)
    EfficientNetLite0Encoder(pretrained=False)


def test_logits_match_reference_implementation(
    encoder: EfficientNetLite0Encoder,
) -> None:
    # A smooth synthetic 224 x 224 image, already in the weights' [-1, 1] range.
    ramp = torch.linspace(-1.0, 1.0, 224, dtype=torch.float64)
    ys, xs = torch.meshgrid(ramp, ramp, indexing="ij")
    native = torch.stack(
        [
            torch.sin(3 * math.pi * xs) * torch.cos(2 * math.pi * ys),
            xs * ys,
            torch.cos(math.pi * (xs + ys)),
        ]
    ).float()[None]
    # The reference took [-1, 1] input directly; classify() takes ImageNet
    # normalisation, so go through [0, 1] pixels. (Deliberately not using
    # encoder.input_mean/std: a wrong value there must fail this test.)
    pixels = native * 0.5 + 0.5
    prep = imagenet_preprocessing()
    mean = torch.tensor(prep.mean).view(1, 3, 1, 1)
    std = torch.tensor(prep.std).view(1, 3, 1, 1)
    x = (pixels - mean) / std

    with torch.inference_mode():
        logits = encoder.classify(x)[0]
    values, classes = logits.topk(5)
    assert classes.tolist() == [772, 782, 906, 392, 641]
    torch.testing.assert_close(
        values,
        torch.tensor([5.1643, 5.0944, 4.9842, 4.4561, 4.3224]),
        atol=1e-3,
        rtol=0,
    )


@pytest.mark.slow
@pytest.mark.parametrize("group_key", sorted(ICOSEG_IMAGENET_CLASSES))
def test_top5_on_real_photos(
    encoder: EfficientNetLite0Encoder, icoseg_images: Path, group_key: str
) -> None:
    groups = sorted(
        d for d in icoseg_images.iterdir() if d.is_dir() and group_key in d.name
    )
    assert groups, f"no iCoseg group name contains {group_key!r}"
    imagenet_class = ICOSEG_IMAGENET_CLASSES[group_key]
    for group in groups:
        photos = sorted(group.glob("*.jpg"))
        assert photos, f"no .jpg in {group}"
        with torch.inference_mode():
            logits = encoder.classify(torch.stack([load_photo(p) for p in photos]))
        hits = (logits.topk(5, dim=1).indices == imagenet_class).any(dim=1)
        rate = hits.float().mean().item()
        assert rate >= MIN_TOP5_RATE, f"{group.name}: top-5 rate {rate:.2f}"
