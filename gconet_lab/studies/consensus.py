"""Does a trained model use its group consensus? Two probes of GAM (Sec. 3.2).

GAM condenses a group into one consensus vector E and the decoder sees the deepest features only as
F (x) E. Two questions tell whether a trained model relies on it:

* **Where does the attention go?** :func:`attention_mass` splits GAM's attention A_S over regions of
  the images (target, distractors, background), as :func:`~gconet_lab.studies.distractors.mass_fractions`
  does for a saliency map at full size. Attention that sits on the background yields a background consensus.
* **Does the decoder read E?** Inside :func:`replaced_consensus`, GAM hands the decoder a consensus of
  our choosing: another group's (:func:`group_consensus`), zeros, or the one GAM would pool from the
  ground truth's cells (:func:`region_consensus`, an oracle). If the maps do not change, the model
  ignores the group.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gconet_lab.models.gam import GAMOutput


def attention_mass(attention: Tensor, regions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Share of a group's attention mass (N, 1, h, w) inside each region, masks (N, H, W) at image size.

    Each attention cell gives a region the part of its mass that the region covers of the cell
    (the masks area-pooled to the h x w grid), so the shares do not depend on the mask size. They are
    over the whole group: the paper's group-wide softmax may put all its mass in one image.
    """
    masks = {name: np.asarray(mask, dtype=bool) for name, mask in regions.items()}
    shapes = {mask.shape for mask in masks.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3 or next(iter(shapes))[0] != attention.shape[0]:
        raise ValueError(
            f"regions must be (N, H, W) masks for the {attention.shape[0]} images of the attention; got shapes {shapes}"
        )
    weights = attention.detach().float().cpu()[:, 0]
    total = float(weights.sum())
    if total <= 0:
        raise ValueError("the attention is zero everywhere: no mass to split")
    cover = {name: F.adaptive_avg_pool2d(torch.from_numpy(mask).float()[:, None], weights.shape[-2:])[:, 0]
             for name, mask in masks.items()}
    return {name: float((weights * part).sum()) / total for name, part in cover.items()}


def _gam_of(model: nn.Module) -> nn.Module:
    """``model.gam``, or a ValueError for a model built without it (``use_gam=False``)."""
    gam = getattr(model, "gam", None)
    if gam is None:
        raise ValueError("the model has no GAM (use_gam=False): it computes no consensus")
    return gam


@contextmanager
def replaced_consensus(model: nn.Module, consensus: Tensor) -> Iterator[None]:
    """Within the block, ``model.gam`` returns ``consensus`` (1, C, 1, 1) instead of the group's own.

    The attention maps stay the model's own; only what the decoder (and GCM) receive changes. The
    hook is removed on exit, also after an error.
    """
    gam = _gam_of(model)

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: GAMOutput) -> GAMOutput:
        if consensus.shape != output.consensus.shape:
            raise ValueError(f"replacement consensus has shape {tuple(consensus.shape)}; "
                             f"GAM produces {tuple(output.consensus.shape)}")
        return GAMOutput(consensus=consensus.to(output.consensus), attention=output.attention)

    handle = gam.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@torch.inference_mode()
def group_consensus(model: nn.Module, images: Tensor) -> Tensor:
    """The consensus E (1, C, 1, 1) that ``model`` (in eval mode) computes for one group of images."""
    return _gam_of(model)(model.encoder(images)[-1]).consensus


@torch.inference_mode()
def region_consensus(model: nn.Module, images: Tensor, region: np.ndarray) -> Tensor:
    """The consensus GAM would compute if all its attention lay on ``region`` (N, H, W), e.g. the ground truth.

    The attention is the region's cover of each cell of the deepest level, normalised to sum to one
    over the group as the paper's group-wide softmax does; GAM's own pooling (step 6) turns it into E.
    An oracle: what the decoder makes of a consensus that is exactly the co-salient object.
    """
    gam = _gam_of(model)
    if not hasattr(gam, "consensus"):
        raise ValueError(f"the model's GAM ({type(gam).__name__}) has no consensus(features, attention) step: "
                         "there is no pooling to apply to the region")
    region = np.asarray(region, dtype=bool)
    if region.ndim != 3 or region.shape[0] != images.shape[0] or not region.any():
        raise ValueError(f"region must be a non-empty (N, H, W) mask for the {images.shape[0]} images; "
                         f"got shape {region.shape}")
    features = model.encoder(images)[-1]
    mask = torch.as_tensor(region, dtype=features.dtype, device=features.device)[:, None]
    cover = F.adaptive_avg_pool2d(mask, features.shape[-2:])
    return gam.consensus(features, cover / cover.sum())


__all__ = ["attention_mass", "group_consensus", "region_consensus", "replaced_consensus"]
