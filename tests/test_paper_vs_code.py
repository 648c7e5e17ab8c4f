"""The paper-vs-code table is read from the configurations, and weight copying isolates the differences."""

from __future__ import annotations

import torch

from gconet_lab.config import make_config
from gconet_lab.models import GCoNetPlus
from gconet_lab.paper_vs_code import (
    DIFFERENCES,
    NOT_OPTIONS,
    copy_matching_weights,
    difference_options,
    difference_rows,
    official_option_names,
)


def test_the_table_covers_every_option_the_official_variant_changes():
    assert set(difference_options()) == official_option_names()
    assert len(difference_options()) == len(set(difference_options()))
    rows = {row for row, _ in NOT_OPTIONS} | {difference.row for difference in DIFFERENCES}
    assert {"C1", "C5", "C6", "C7", "C10", "C11", "C13", "C14", "C17", "C19", "C20"} <= rows


def test_difference_rows_read_the_configurations():
    rows = {row["option"]: row for row in difference_rows("paper")}
    assert (rows["gam_embedding_kernel"]["paper"], rows["gam_embedding_kernel"]["official"]) == (3, 1)
    assert (rows["max_group_size"]["paper"], rows["max_group_size"]["official"]) == (32, 26)
    assert rows["gst_margin"]["row"] == "C14"
    cpu = {row["option"]: row for row in difference_rows("cpu")}
    assert cpu["max_group_size"]["paper"] == cpu["max_group_size"]["official"] == make_config("cpu").max_group_size


def test_copy_matching_weights_leaves_only_the_differing_layers():
    torch.manual_seed(0)
    paper = GCoNetPlus(make_config("tiny"))
    official = GCoNetPlus(make_config("tiny", variant="official"))
    kept = copy_matching_weights(paper, official)
    assert kept == ["gam.query.weight", "gam.key.weight", "gam.output_conv.weight", "gam.output_conv.bias",
                    "racm_mask_head.weight", "racm_mask_head.bias"]
    paper_state, official_state = paper.state_dict(), official.state_dict()
    for name, value in official_state.items():
        if name not in kept:
            assert torch.equal(value, paper_state[name]), name
    # the biases of the embeddings have the same shape for both kernels, so they are shared
    assert torch.equal(official.gam.query.bias, paper.gam.query.bias)
