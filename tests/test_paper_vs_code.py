"""The paper-vs-code differences: one source, generated documents, tables read from the configurations,
and weight copying that isolates the differences."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from gconet_lab.config import make_config
from gconet_lab.models import GCoNetPlus
from gconet_lab.studies.paper_vs_code import (
    DIFFERENCE_IDS,
    DIFFERENCES,
    NOT_OPTIONS,
    Difference,
    copy_matching_weights,
    difference_options,
    difference_rows,
    official_option_names,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_table_covers_every_option_the_official_variant_changes():
    assert set(difference_options()) == official_option_names()
    assert len(difference_options()) == len(set(difference_options()))
    assert len(DIFFERENCE_IDS) == len(DIFFERENCES)  # ids are unique
    assert {f"C{n}" for n in range(1, 32)} <= set(DIFFERENCE_IDS)
    assert {row for row, _ in NOT_OPTIONS} == {d.id for d in DIFFERENCES if not d.options}


def test_a_difference_is_either_an_option_or_says_where_the_library_stands():
    with pytest.raises(ValueError, match="either"):
        Difference("C0", "topic", paper="p", code="c", source="s")
    with pytest.raises(ValueError, match="either"):
        Difference("C0", "topic", paper="p", code="c", source="s", options=("lr",), library="both")


def test_generated_documents_are_current():
    spec = importlib.util.spec_from_file_location("make_paper_vs_code", ROOT / "docs" / "make_paper_vs_code.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    for path, text in generator.generated().items():
        assert path.read_text() == text, f"{path.name} is stale: run `python docs/make_paper_vs_code.py`"
    for difference in DIFFERENCES:
        assert f"| {difference.id} |" in (ROOT / "docs" / "paper_vs_code.md").read_text()


def test_difference_rows_read_the_configurations():
    rows = {row["option"]: row for row in difference_rows("paper")}
    assert (rows["gam_embedding_kernel"]["paper"], rows["gam_embedding_kernel"]["official"]) == (3, 1)
    assert (rows["max_group_size"]["paper"], rows["max_group_size"]["official"]) == (32, 26)
    assert rows["gst_margin"]["row"] == "C14"
    assert DIFFERENCE_IDS["C14"].options == ("gst_margin",)
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
