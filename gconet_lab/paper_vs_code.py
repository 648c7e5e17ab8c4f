"""The paper-vs-official-code differences (reference section C) as data, for notebook 11.

:data:`DIFFERENCES` lists every row of section C that changes behaviour and is a named option of
:class:`~gconet_lab.config.GCoNetConfig`, with the row number, so a notebook can print the table
from the configurations themselves (:func:`difference_rows`) and flip one option at a time.
:data:`NOT_OPTIONS` lists the rows that are not options, with where the library stands.
:func:`copy_matching_weights` gives two variants the same weights wherever their layers agree, so
that a comparison isolates the one difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from .config import OFFICIAL_OVERRIDES, OFFICIAL_RECIPE, make_config


@dataclass(frozen=True)
class Difference:
    """One behaviour-changing row of reference section C and the options that switch it."""

    row: str  # "C6"
    topic: str
    options: tuple[str, ...]


DIFFERENCES: tuple[Difference, ...] = (
    Difference("C2", "epochs", ("epochs",)),
    Difference("C3", "learning rate (heads; backbone x0.01 in the code)", ("lr", "backbone_lr_scale")),
    Difference("C4", "group size cap N of Eq. 16", ("max_group_size",)),
    Difference("C5", "backbone frozen in the code", ("freeze_backbone",)),
    Difference("C6", "GAM embeddings theta, phi", ("gam_embedding_kernel",)),
    Difference("C7", "GAM softmax, 1/sqrt(C) scale, extra 1x1 conv", ("gam_softmax", "gam_scale", "gam_output_conv")),
    Difference("C11", "RACM mask: final map vs separate 1x1 head", ("racm_mask",)),
    Difference("C12", "classification weights ACM / RACM", ("lambda_acm", "lambda_racm")),
    Difference("C13", "GST features: masked images (F_r) vs raw images", ("gst_features",)),
    Difference("C14", "GST margin alpha", ("gst_margin",)),
    Difference("C16", "loss weights lambda (BCE, IoU, GST)", ("lambda_bce", "lambda_iou", "lambda_gst")),
    Difference("C17", "IoU loss: mean vs sum over the batch", ("iou_reduction",)),
    Difference("C19", "what the mask multiplies: RGB image vs normalised tensor", ("racm_mask_space",)),
)

NOT_OPTIONS: tuple[tuple[str, str], ...] = (
    ("C1", "joint DUTS_class + COCO-SEG batches: a data choice (`gconet-lab train --sets ...`), not a model option"),
    ("C8", "consensus x features: the code's channel product is the paper's 1x1 depth-wise correlation (equivalent)"),
    ("C9", "GCM focal loss: the library takes the code's mean over all 4N*H*W elements in both variants"),
    ("C10", "CEM k fallback: both variants follow the code (whole batch, whenever exp overflows, also at inference)"),
    ("C15", "GST triplets: both variants use the code's standard hinge with the two halves of each group"),
    ("C18", "BCE: both codes and both variants take the mean, the paper writes a sum (a scale absorbed by lambda)"),
    ("C20", "ACM/RACM at inference: the library skips them in eval mode (the code still runs them)"),
    ("C21", "unused official parameters (788,001) are not built; official checkpoints still load"),
    ("C22-C23", "image size 256 and a constant learning rate in both"),
    ("C24", "group A order: the library draws a seeded permutation each epoch (the code uses listdir order)"),
    ("C26-C27", "model selection on the test sets (not reproduced) and the F-measure typo (the code's formula is used)"),
)


def difference_options() -> list[str]:
    """Every option named in :data:`DIFFERENCES`, in table order."""
    return [option for difference in DIFFERENCES for option in difference.options]


def difference_rows(preset: str = "paper") -> list[dict[str, Any]]:
    """One row per option: the section C row, the topic, the paper value and the official value.

    Values are read from ``make_config(preset)`` and ``make_config(preset, variant="official")``,
    so the table always shows what the library actually runs. (The ``cpu`` and ``tiny`` presets
    keep their own training scale: the recipe rows C2-C4 then show equal values.)
    """
    paper, official = make_config(preset), make_config(preset, variant="official")
    rows = []
    for difference in DIFFERENCES:
        for option in difference.options:
            rows.append({"row": difference.row, "topic": difference.topic, "option": option,
                         "paper": getattr(paper, option), "official": getattr(official, option)})
    return rows


def official_option_names() -> set[str]:
    """Every option that ``variant="official"`` changes (``variant`` itself left out)."""
    return (set(OFFICIAL_OVERRIDES) | set(OFFICIAL_RECIPE)) - {"variant"}


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
    "DIFFERENCES", "Difference", "NOT_OPTIONS", "copy_matching_weights", "difference_options", "difference_rows",
    "official_option_names",
]
