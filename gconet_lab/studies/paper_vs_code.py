"""The differences between the GCoNet+ paper and its official code: the one source of truth.

:data:`DIFFERENCES` holds every known difference, each with a stable id (``C1`` ... ``C31``; the
code's comments cite these ids), what the paper says, what the official code does, where (file and
line of the official GCoNet_plus repository at commit 6adfe2a, unless another repository is named),
and either the :class:`~gconet_lab.config.GCoNetConfig` options that switch it
(``variant="official"`` sets them all) or where the library stands. Everything else is generated
from it: ``docs/paper_vs_code.md`` and the README's summary (``python docs/make_paper_vs_code.py``;
``tests/test_paper_vs_code.py`` checks both are current) and notebook 11's tables
(:func:`difference_rows`). :func:`copy_matching_weights` gives two variants the same weights
wherever their layers agree, so that a comparison isolates the one difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from gconet_lab.config import OFFICIAL_OVERRIDES, OFFICIAL_RECIPE, make_config


@dataclass(frozen=True)
class Difference:
    """One difference between the paper and the official code."""

    id: str  # "C6": stable, cited by the code's comments
    topic: str
    paper: str  # what the paper says (section, equation)
    code: str  # what the official code does
    source: str  # official file:line
    options: tuple[str, ...] = ()  # the options that switch it, when it is one
    library: str = ""  # where the library stands, when it is not an option

    def __post_init__(self) -> None:
        if bool(self.options) == bool(self.library):
            raise ValueError(f"{self.id}: give either the options that switch it or where the library stands")


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "C1", "training data of the default script",
        paper="ablations and the Train-1 rows use DUTS_class alone; Table 3 adds combinations such as Train-1,3",
        code="`--trainset DUTS_class` trains on DUTS_class and COCO-SEG together: one batch of each per step, "
             "their losses added before one backward pass; no switch trains on DUTS_class alone",
        source="train.py:70-95, 211-358",
        library="a data choice, not a model option: `gconet-lab train --sets ...` picks the sets, pooled in one sampler",
    ),
    Difference(
        "C2", "epochs", paper="320 epochs (Sec. 4.3)",
        code="350 epochs; every checkpoint from epoch 300 on is tested", source="gco.sh:10-11",
        options=("epochs",),
    ),
    Difference(
        "C3", "learning rate (heads; backbone x0.01 in the code)",
        paper="Adam, learning rate 3e-4, betas (0.9, 0.99) (Sec. 4.3)",
        code="1e-4 x batch size / 16 = 1.625e-4 for VGG16-BN with a batch of 26; the backbone's parameter group "
             "gets 1/100 of it",
        source="config.py:47-48, 96; train.py:131-135", options=("lr", "backbone_lr_scale"),
    ),
    Difference(
        "C4", "group size cap N of Eq. 16", paper="N = min(#A, #B, 32) images per group (Eq. 16)",
        code="N = min(#A, #B, 26)", source="config.py:48; dataset.py:60", options=("max_group_size",),
    ),
    Difference(
        "C5", "backbone frozen in the code", paper="not mentioned, which reads as fine-tuning the encoder",
        code="the rule meant to keep conv5_3 trainable matches no parameter name, so the whole encoder is frozen; "
             "its BatchNorm layers still run in train mode and update their running statistics",
        source="train.py:142-145", options=("freeze_backbone",),
    ),
    Difference(
        "C6", "GAM embeddings theta, phi", paper="3x3 convolutions with 512 channels (Sec. 3.2)",
        code="1x1 convolutions", source="models/modules.py:183-184", options=("gam_embedding_kernel",),
    ),
    Difference(
        "C7", "GAM softmax, 1/sqrt(C) scale, extra 1x1 conv",
        paper="a softmax of the affinity, then a product with the features (Eq. 1)",
        code="the affinity is divided by sqrt(C) after the max and mean steps, the softmax runs over each image's "
             "h*w positions separately, and an additional 1x1 convolution follows the attention before pooling",
        source="models/modules.py:213-218", options=("gam_softmax", "gam_scale", "gam_output_conv"),
    ),
    Difference(
        "C8", "consensus x features", paper="the consensus meets the features by depth-wise correlation (Sec. 3.2)",
        code="a channel-wise product of the features and the consensus", source="models/modules.py:120-133",
        library="equivalent (a 1x1 depth-wise correlation is a channel-wise product); the library uses the product",
    ),
    Difference(
        "C9", "GCM loss normalisation", paper="the focal loss averaged over the N images (Eq. 2)",
        code="pytorch_toolbelt's BinaryFocalLoss (gamma 2, no alpha) on logits with soft targets, averaged over "
             "all 4N*H*W elements", source="train.py:209, 263",
        library="both variants take the code's mean over all 4N*H*W elements",
    ),
    Difference(
        "C10", "CEM k fallback",
        paper="k = 300; when the loss becomes NaN, k = 50 is used for that propagation (Sec. 3.4, 4.3)",
        code="k falls back to 50 when exp(-300 (P - T)) overflows anywhere in the batch during the forward pass, "
             "for the whole batch and at inference too; the loss is never checked for NaN",
        source="models/modules.py:396-403",
        library="both variants follow the code: the whole batch, whenever exp overflows, also at inference",
    ),
    Difference(
        "C11", "RACM mask: final map vs separate 1x1 head",
        paper="the images are masked with the final prediction (the CEM output) (Sec. 3.6, Eq. 7)",
        code="the mask is the sigmoid of a separate, unsupervised 1x1 convolution on the finest decoder features",
        source="models/GCoNet_plus.py:105-106, 205-209", options=("racm_mask",),
    ),
    Difference(
        "C12", "classification weights ACM / RACM", paper="both cross-entropies weighted by lambda_5 = 3 (Eq. 11)",
        code="ACM weighted 3, RACM weighted 10 (2.5 x 4 after the config's rescaling)",
        source="config.py:76, 81-82", options=("lambda_acm", "lambda_racm"),
    ),
    Difference(
        "C13", "GST features: masked images (F_r) vs raw images",
        paper="the encoder features of the masked images (Sec. 3.5)",
        code="the globally pooled deepest features of the raw, unmasked images",
        source="config.py:37; models/GCoNet_plus.py:125-128, 248-249", options=("gst_features",),
    ),
    Difference(
        "C13b", "GST effect in the official recipe",
        paper="the GST loss makes the features more discriminative (Sec. 3.5, ablations)",
        code="with the frozen encoder (C5) and raw-image features (C13), nothing trainable lies upstream of the "
             "triplet loss: it is logged but gives no gradient; the ACM loss likewise trains only the classifier",
        source="train.py:142-145; config.py:37",
        library="`gradient_reach` in notebook 11 shows which parameters each loss reaches in either variant",
    ),
    Difference(
        "C14", "GST margin alpha", paper="margin 1.0 (Sec. 4.3)", code="margin 0.1",
        source="config.py:38; loss.py:174-176", options=("gst_margin",),
    ),
    Difference(
        "C15", "GST triplets",
        paper="Eq. 4 subtracts the negative distance from the positive one without a hinge; Eq. 5 pairs the halves "
              "of the groups in its own way",
        code="the standard hinge max(0, d(a, p) - d(a, n) + margin), anchor and positive the two halves of a group, "
             "negative the first half of the other group, in both directions; the middle image of an odd group is "
             "left out and a group of one gives NaN", source="loss.py:213-220",
        library="both variants use the code's hinge on the two halves of each group",
    ),
    Difference(
        "C16", "loss weights lambda (BCE, IoU, GST)",
        paper="lambda_1..lambda_5 = 30, 0.5, 250, 3, 3 for BCE, IoU, GCM, GST and classification (Eq. 11)",
        code="the config multiplies the weights by 4: BCE 120, IoU 2, GCM 250, GST 12, ACM 3, RACM 10",
        source="config.py:75-83", options=("lambda_bce", "lambda_iou", "lambda_gst"),
    ),
    Difference(
        "C17", "IoU loss: mean vs sum over the batch", paper="1 minus the IoU averaged over the batch (Eq. 10)",
        code="the sum over the batch of (1 - IoU), so its weight grows with the batch of 2N images",
        source="loss.py:129-140", options=("iou_reduction",),
    ),
    Difference(
        "C18", "BCE reduction", paper="written as a sum over pixels (Eq. 9)", code="`nn.BCELoss()`, a mean",
        source="loss.py:195-197",
        library="both variants take the mean: the paper's sum is a scale that the weights absorb",
    ),
    Difference(
        "C19", "what the mask multiplies: RGB image vs normalised tensor",
        paper="the network's output multiplies the original images (Sec. 3.6)",
        code="the mask of C11 multiplies the ImageNet-normalised input tensor",
        source="models/GCoNet_plus.py:205-209", options=("racm_mask_space",),
    ),
    Difference(
        "C20", "ACM/RACM at inference", paper="GCM can be discarded at test time (Sec. 3.3)",
        code="GCM is skipped in eval mode, but the ACM classifier and the whole RACM re-encoding (a second encoder "
             "pass) still run at inference, also in the speed benchmark's copy",
        source="models/GCoNet_plus.py:124-129, 196-227",
        library="the library skips ACM and RACM in eval mode (the code still runs them)",
    ),
    Difference(
        "C21", "unused parameters", paper="-",
        code="conv_out1 and three layers of CoAttLayer (788,001 parameters) are built and saved but never affect the "
             "output", source="models/GCoNet_plus.py; models/modules.py",
        library="not built; official checkpoints still load (their entries are dropped)",
    ),
    Difference(
        "C22", "image size", paper="256 x 256 (Sec. 4.3)",
        code="the argparse default is 224; the training script passes 256", source="train.py:48; test.py:82; gco.sh",
        library="256 in both variants of the paper preset",
    ),
    Difference(
        "C23", "learning-rate schedule", paper="not mentioned",
        code="StepLR with a step of 3000 epochs, stepped once per epoch: the rate never decays",
        source="config.py:103; train.py:139, 388", library="a constant learning rate in both variants",
    ),
    Difference(
        "C24", "group sampling", paper="N images drawn at random from two different groups (Eq. 16)",
        code="group A follows the unsorted `os.listdir` order every epoch; only group B is random",
        source="train.py:80; dataset.py:39-72",
        library="the library draws a seeded permutation of the groups each epoch",
    ),
    Difference(
        "C25", "augmentation", paper="flipping, colour enhancement and rotation (Sec. 4.3)",
        code="the same three, in the order flip (p 0.5), rotate (p 0.2, -15..14 degrees, bicubic for image and "
             "mask), colour enhancement always on (brightness and contrast 0.5-1.5, colour 0-2, sharpness 0-3); "
             "then a resize that keeps soft masks", source="dataset.py:28-36, 98-110; preproc.py",
        library="reproduced in `gconet_lab.data.transforms` in the same order",
    ),
    Difference(
        "C26", "model selection", paper="not described",
        code="epochs 300-349 are tested on the test sets and the checkpoint with the best mean relative max "
             "E-measure gain over GCoNet is kept", source="sort_results.py:9-110",
        library="not reproduced: training keeps one checkpoint, the last",
    ),
    Difference(
        "C27", "F-measure formula", paper="(1 + beta^2) P R / (beta^2 (P + R)), a misprint (Sec. 4.2)",
        code="(1 + beta^2) P R / (beta^2 P + R)", source="evaluation/evaluator.py:154",
        library="the code's formula, in `gconet_lab.metrics`",
    ),
    Difference(
        "C28", "CEM layout", paper="two branches of two conv-BN-ReLU, a 1x1 convolution and a sigmoid (Fig. 7)",
        code="the same, on the 32-channel finest decoder features at full resolution",
        source="models/modules.py:371-387", library="matches; nothing to switch",
    ),
    Difference(
        "C29", "BatchNorm placement", paper="BN after every convolution but the 1x1 ones (Sec. 4.4)",
        code="as the paper in the decoder blocks and the CEM; the lateral half-DS layers have no BN and the block's "
             "output BN has no ReLU after it", source="models/modules.py",
        library="the official layout (`gconet_lab/models/blocks.py`), so official checkpoints load",
    ),
    Difference(
        "C30", "speed", paper="3.5 ms per batch of two 256 x 256 images on an A100, about 250 fps (Table 4)",
        code="the speed repository's first notebook printed 3.8 ms per frame (266 fps), ACM and RACM included (C20)",
        source="CoSOD_fps_collection test_fps.ipynb (first commit)",
        library="notebook 17 and `gconet-lab benchmark` measure this machine; no number is quoted",
    ),
    Difference(
        "C31", "training classes", paper="291 DUTS_class groups (Sec. 4.1)",
        code="a 291-way linear classifier; COCO-SEG batches (C1) reuse its logits, so their labels collide with "
             "DUTS_class ones", source="models/GCoNet_plus.py:96-100; dataset.py:116",
        library="`num_classes` is the number of training groups of the chosen sets",
    ),
)


DIFFERENCE_IDS = {difference.id: difference for difference in DIFFERENCES}
NOT_OPTIONS: tuple[tuple[str, str], ...] = tuple((d.id, d.library) for d in DIFFERENCES if not d.options)
"""(id, where the library stands) for every difference that is not an option."""


def difference_options() -> list[str]:
    """Every option named in :data:`DIFFERENCES`, in table order."""
    return [option for difference in DIFFERENCES for option in difference.options]


def difference_rows(preset: str = "paper") -> list[dict[str, Any]]:
    """One row per option: the difference's id, its topic, the paper value and the official value.

    Values are read from ``make_config(preset)`` and ``make_config(preset, variant="official")``,
    so the table always shows what the library actually runs. (The ``cpu`` and ``tiny`` presets
    keep their own training scale: the recipe rows C2-C4 then show equal values.)
    """
    paper, official = make_config(preset), make_config(preset, variant="official")
    return [{"row": difference.id, "topic": difference.topic, "option": option,
             "paper": getattr(paper, option), "official": getattr(official, option)}
            for difference in DIFFERENCES for option in difference.options]


def official_option_names() -> set[str]:
    """Every option that ``variant="official"`` changes (``variant`` itself left out)."""
    return (set(OFFICIAL_OVERRIDES) | set(OFFICIAL_RECIPE)) - {"variant"}


def cell(text: str) -> str:
    """``text`` as one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    """``docs/paper_vs_code.md``: every difference with the paper's choice, the code's, the source and the switch."""
    lines = [
        "# The GCoNet+ paper vs its official code",
        "",
        "Generated from `gconet_lab/studies/paper_vs_code.py` (`DIFFERENCES`) by `python docs/make_paper_vs_code.py`;",
        "edit the module, not this file. Sources are files and lines of the official GCoNet_plus repository",
        "(commit 6adfe2a) unless another repository is named. `make_config(..., variant=\"official\")` sets",
        "every option of the last column; each can also be set alone.",
        "",
        "| Id | Topic | Paper | Official code | Source | Option, or the library |",
        "|---|---|---|---|---|---|",
    ]
    for d in DIFFERENCES:
        switch = ", ".join(f"`{option}`" for option in d.options) if d.options else d.library
        lines.append(f"| {d.id} | {cell(d.topic)} | {cell(d.paper)} | {cell(d.code)} | {cell(d.source)} | {cell(switch)} |")
    return "\n".join(lines) + "\n"


def render_readme_summary() -> str:
    """The README's short table: the differences that are options, with their options."""
    lines = ["| Id | Difference | Options (`variant=\"official\"` sets them all) |", "|---|---|---|"]
    for d in DIFFERENCES:
        if d.options:
            lines.append(f"| {d.id} | {cell(d.topic)} | {', '.join(f'`{option}`' for option in d.options)} |")
    return "\n".join(lines) + "\n"


def copy_matching_weights(source: nn.Module, target: nn.Module) -> list[str]:
    """Copy every parameter and buffer of ``source`` into ``target`` where name and shape agree.

    Returns the names of ``target``'s entries that kept their own values (layers that exist only
    in ``target`` or have another shape there), i.e. exactly where the two models differ.
    """
    source_state = source.state_dict()
    target_state = target.state_dict()
    kept = []
    for name, value in target_state.items():
        if name in source_state and source_state[name].shape == value.shape:
            target_state[name] = source_state[name].clone()
        else:
            kept.append(name)
    target.load_state_dict(target_state)
    return kept


__all__ = [
    "DIFFERENCES", "DIFFERENCE_IDS", "Difference", "NOT_OPTIONS", "copy_matching_weights", "difference_options",
    "difference_rows", "official_option_names", "render_markdown", "render_readme_summary",
]
