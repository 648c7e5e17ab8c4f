"""A lean inference path for GCoNet+: the maps of ``GCoNetPlus.eval()``, computed with less work.

The paper times inference at 3.5 ms per batch of two 256x256 images on an A100 (Table 4, "250
fps"). The reference eager forward (:class:`~gconet_lab.models.GCoNetPlus` in eval mode) already
runs only encoder -> GAM consensus -> FPN decoder -> CEM: GCM "can be fully discarded" at test time
(Sec. 3.3), and ACM/RACM (Sec. 3.6) only train the encoder. The official code is different here:
it still runs the ACM classifier and the whole RACM re-encoding (a second encoder pass over the
masked images) at inference (difference C20 in :mod:`gconet_lab.studies.paper_vs_code`), so its timings include them.

:class:`FastGCoNet` runs that same eval forward on a leaner copy of the model:

* **No training-only modules at all.** The GCM head, the ACM/RACM classifier and the RACM mask head
  (``GCoNetPlus.TRAINING_ONLY_MODULES``) are dropped from the copy, so their parameters cost no memory.
* **BatchNorm folded into the convolutions.** In eval mode a BN layer is a fixed per-channel affine
  map ``y = gamma (x - mean) / sqrt(var + eps) + beta``, so ``BN(conv(x))`` is one convolution with
  rescaled weights and a shifted bias (:func:`torch.nn.utils.fusion.fuse_conv_bn_eval`). VGG16-BN,
  the decoder blocks and the CEM branches lose every BN layer (29 beside 37 convolutions in the
  ``paper`` preset; about a tenth of the eager CPU time in a profile on 2 cores).
* **Channels-last memory format.** oneDNN (CPU) and cuDNN (tensor cores) convolutions work natively
  on NHWC tensors; with the default NCHW layout they reorder activations on every call.
* **Inference mode**: no autograd bookkeeping, no intermediate outputs.
* Optionally :func:`torch.compile` (``make_fast_model(model, compile=True)``).
* Optionally **bfloat16** or **float16** (``precision="bf16"``, ``"fp16"``; the words of
  :mod:`gconet_lab.engine.precision`): a copy of the folded weights in that dtype, fed images in it;
  oneDNN runs bf16 convolutions natively on CPUs that have AVX-512 BF16 or AMX, and tensor cores run
  both on GPUs. A precision the device would only emulate raises
  :class:`~gconet_lab.engine.precision.PrecisionUnsupportedError`. bfloat16 keeps 8 bits of mantissa,
  so maps differ from float32 by up to about 1e-2 (more where the CEM's steep step sits on a pixel);
  the maps come back in float32. float32 stays the default and keeps the parity below. The path
  computes in its own precision: an autocast around it is switched off inside.

Why the maps are the same: each change is an identity in exact arithmetic; in float32 only the
rounding differs (a few units in the last place of the CEM's logits). The CEM (Eq. 3) amplifies
that: ``M = sigmoid(k (P - T))`` has slope up to ``k / 4 = 75``, so a 1-ulp change of P near 0.5
(6e-8) moves M by up to 4.5e-6. Where maps are mid-range the difference is therefore a few 1e-6,
the float32 floor: running the reference itself in channels-last differs from it as much. The
tests check 1e-5 on such maps. The CEM's k fallback (k=300 -> 50 when ``exp(-k (P - T))``
overflows anywhere in the batch, difference C10) is decided by the same
:func:`~gconet_lab.models.differentiable_binarization` on the same whole batch, so a group falls
back here exactly when it falls back in the reference (unless a pixel sits within rounding of the
overflow bound).
"""

from __future__ import annotations

import copy
from itertools import pairwise
from typing import cast

import torch
from timm.layers import BatchNormAct2d
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from gconet_lab.engine.precision import resolve_precision
from gconet_lab.models import GCoNetOutput, GCoNetPlus

FAST_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
FOLDABLE_NORMS = (nn.BatchNorm2d, BatchNormAct2d)
"""Exactly these types are folded; another BatchNorm2d subclass may do more than normalise."""


def remainder_after_folding(norm: nn.BatchNorm2d) -> nn.Module:
    """What a BN layer still has to do once its affine map lives in the convolution before it.

    Plain BatchNorm2d: nothing. timm's ``BatchNormAct2d`` (EfficientNet encoder) applies its
    dropout and activation after normalising, and those stay.
    """
    if isinstance(norm, BatchNormAct2d):
        return nn.Sequential(norm.drop, norm.act)
    return nn.Identity()


def fold_batch_norms(module: nn.Module) -> nn.Module:
    """Fold every BatchNorm2d into the Conv2d registered just before it, in place; returns ``module``.

    The layers of every GCoNet+ block are registered in the order their forward applies them
    (``nn.Sequential`` stages, ``conv_in, bn_in, ...`` in the decoder blocks, timm's
    ``conv_pw, bn1, conv_dw, bn2, ...``), so a Conv2d child directly followed by a BatchNorm2d child
    feeds that BN. ``tests/test_fast_inference.py`` checks the resulting maps for every preset.
    """
    for (conv_name, conv), (norm_name, norm) in pairwise(list(module.named_children())):
        if isinstance(conv, nn.Conv2d) and type(norm) in FOLDABLE_NORMS and norm.track_running_stats:
            if norm.training:
                raise ValueError(f"{norm_name}: fold BatchNorm in eval mode only (training uses batch statistics)")
            setattr(module, conv_name, fuse_conv_bn_eval(conv, norm))
            setattr(module, norm_name, remainder_after_folding(norm))
    for child in module.children():
        fold_batch_norms(child)
    return module


class FastGCoNet(nn.Module):
    """GCoNet+ for inference only: one group per batch in, co-saliency maps out (see the module doc).

    It runs the eval forward of :class:`~gconet_lab.models.GCoNetPlus` itself, on a copy of
    ``model`` without its training-only modules and with every BatchNorm folded, so any change to
    the model's eval path applies here too. ``FastGCoNet(model)(images).saliency`` equals
    ``model.eval()(images).saliency`` to float32 rounding; it is a drop-in replacement in
    :func:`gconet_lab.inference.evaluate.predict_group`. The copy shares nothing with ``model``: later
    training of ``model`` does not change it.
    """

    def __init__(self, model: GCoNetPlus, channels_last: bool = True, precision: str = "fp32") -> None:
        super().__init__()
        self.config = model.config
        self.precision = resolve_precision(precision, next(model.parameters()).device)
        self.dtype = FAST_DTYPES[self.precision]
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        lean = copy.deepcopy(model).eval()
        for name in GCoNetPlus.TRAINING_ONLY_MODULES:
            if hasattr(lean, name):
                delattr(lean, name)
        self.model = fold_batch_norms(lean)
        self.requires_grad_(False)
        self.eval()
        self.to(dtype=self.dtype, memory_format=self.memory_format)

    def train(self, mode: bool = True) -> FastGCoNet:
        if mode:
            raise RuntimeError("FastGCoNet is inference only (its BatchNorm is folded); train the GCoNetPlus it came from")
        return super().train(False)

    @torch.inference_mode()
    def forward(self, images: Tensor) -> GCoNetOutput:
        """Saliency maps (B, 1, H, W) of one group of ImageNet-normalised images (B, 3, H, W)."""
        with torch.autocast(images.device.type, enabled=False):  # the copy's dtype is the precision
            output = self.model(images.to(self.dtype).contiguous(memory_format=self.memory_format))
        return GCoNetOutput(saliency=output.saliency.float())


def make_fast_model(model: GCoNetPlus, channels_last: bool = True, compile: bool = False, precision: str = "fp32") -> nn.Module:
    """The fast inference path of ``model`` in ``precision``; ``compile=True`` also wraps it in :func:`torch.compile`.

    ``precision`` is resolved on the model's device (``auto``: fp16 on CUDA, fp32 elsewhere); one the
    device would only emulate raises :class:`~gconet_lab.engine.precision.PrecisionUnsupportedError`.

    Compiling pays off for many calls of one input size (it compiles again for new sizes; on CPU
    it needs a C++ compiler). The CEM's overflow check splits the compiled graph in two.
    """
    fast = FastGCoNet(model, channels_last=channels_last, precision=precision)
    return cast(nn.Module, torch.compile(fast)) if compile else fast


def max_abs_difference(model: GCoNetPlus, fast: nn.Module, images: Tensor) -> float:
    """Largest ``|M_reference - M_fast|`` over all pixels of one group (the parity the tests bound)."""
    model.eval()
    with torch.inference_mode():
        reference = model(images).saliency
        return (reference - fast(images).saliency).abs().max().item()
