"""gconet_lab.data.sources.icoseg (and data_scripts/icoseg.py) on the real iCoseg copy: 28 groups, 481 pairs, 5 skipped, safe names."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gconet_lab.data.layout import index_set
from gconet_lab.data.sources.icoseg import convert_icoseg
from gconet_lab.data.writer import safe_name

SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "icoseg.py"


@pytest.fixture(scope="module")
def converted(tmp_path_factory, request):
    source = request.getfixturevalue("icoseg_root")
    out = tmp_path_factory.mktemp("icoseg_out")
    return source, out, convert_icoseg(source, out, mode="symlink")


def test_counts_and_skip_report(converted) -> None:
    _, _, report = converted
    assert len(report.group_sizes) == 28
    assert report.num_pairs == 481
    skipped = report.index_report.skipped
    assert len(skipped) == 5 and all(s.reason.startswith("no mask") for s in skipped)
    assert all("Christ the Redeemer" in str(s.path) for s in skipped)
    ignored = {s.path.name for s in report.index_report.ignored}
    assert ignored == {"Thumbs.db", "markings"}


def test_output_is_a_valid_cosod_set_with_safe_names(converted) -> None:
    _, out, _ = converted
    indexed = index_set(out, "iCoseg")
    assert len(indexed.groups) == 28 and indexed.num_images == 481
    for group in indexed.groups:
        assert group.name == safe_name(group.name)
        assert not set(group.name) & set(" ,'/:\\()\"")


def test_masks_are_0_255_and_match_the_source(converted) -> None:
    source, out, report = converted
    original = "022 Goose-Riverside Cemetery, Marshalltown, Iowa-cmlburnett"
    safe = report.names[original]
    assert safe == "022_Goose-Riverside_Cemetery_Marshalltown_Iowa-cmlburnett"
    written = sorted((out / "gts" / "iCoseg" / safe).iterdir())[0]
    mask = Image.open(written)
    values = np.asarray(mask)
    assert mask.mode == "L" and set(np.unique(values)) <= {0, 255}
    raw = np.asarray(Image.open(source / "ground_truth" / original / written.name))
    np.testing.assert_array_equal(values > 0, raw)


def test_groups_csv_maps_original_to_safe(converted) -> None:
    _, out, report = converted
    with (out / "groups.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 28
    assert {r["original"]: r["safe"] for r in rows} == report.names
    assert {r["set"] for r in rows} == {"iCoseg"}


@pytest.mark.slow
def test_rerun_is_idempotent(converted) -> None:
    source, out, _ = converted
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    convert_icoseg(source, out, mode="symlink")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


@pytest.mark.slow
def test_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    )
    assert "iCoseg" in result.stdout and "--mode" in result.stdout
