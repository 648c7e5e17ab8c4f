"""gconet_lab.data.sources.benchmarks and data_scripts/benchmarks.py: registry facts and offline archive verification/extraction."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from gconet_lab.data.errors import DataError
from gconet_lab.data.sources import benchmarks as bench

SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "benchmarks.py"
GOOD = {
    "data/images/Tiny/cat/c1.jpg": b"x",
    "data/images/Tiny/cat/c2.jpg": b"x",
    "data/images/Tiny/cat/Thumbs.db": b"x",
    "data/gts/Tiny/cat/c1.png": b"x",
    "data/gts/Tiny/cat/c2.png": b"x",
    "data/images/Tiny/dog/d1.png": b"x",
    "data/gts/Tiny/dog/d1.png": b"x",
    "__MACOSX/data/images/Tiny/dog/._d1.png": b"x",
}


def make_archive(path: Path, members: dict[str, bytes]) -> Path:
    """A .zip or .tar.gz (by suffix) holding ``members`` (name -> bytes)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    else:
        with tarfile.open(path, "w:gz") as archive:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


def test_registry_holds_the_six_sets_with_paper_counts() -> None:
    sets = bench.BENCHMARKS
    assert set(sets) == {"DUTS_class", "COCO-9k", "COCO-SEG", "CoCA", "CoSOD3k", "CoSal2015"}
    assert (sets["CoCA"].n_groups, sets["CoCA"].n_images) == (80, 1295)
    assert (sets["CoSOD3k"].n_groups, sets["CoSOD3k"].n_images) == (160, 3316)
    assert (sets["CoSal2015"].n_groups, sets["CoSal2015"].n_images) == (50, 2015)
    assert (sets["DUTS_class"].n_groups, sets["DUTS_class"].n_images) == (291, 8250)
    assert (sets["COCO-9k"].n_groups, sets["COCO-9k"].n_images) == (65, 9213)
    assert sets["COCO-SEG"].n_groups == 78 and sets["COCO-SEG"].n_images is None
    assert "drive.google.com" in sets["CoCA"].instructions()


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_good_archive_verifies_and_extracts(tmp_path: Path, suffix: str) -> None:
    archive = make_archive(tmp_path / f"tiny{suffix}", GOOD)
    report = bench.verify_archive(archive, "Tiny", sha256=bench.sha256_of(archive))
    assert report.ok, report.summary()
    assert (report.prefix, report.n_groups, report.n_images) == ("data", 2, 3)
    root, indexed = bench.extract_and_verify(archive, "Tiny", tmp_path / "out")
    assert root == tmp_path / "out" / "data"
    assert [g.name for g in indexed.groups] == ["cat", "dog"] and indexed.num_images == 3


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_missing_mask_is_reported(tmp_path: Path, suffix: str) -> None:
    members = {k: v for k, v in GOOD.items() if k != "data/gts/Tiny/cat/c2.png"}
    report = bench.verify_archive(make_archive(tmp_path / f"a{suffix}", members), "Tiny")
    assert not report.ok and report.problems == ["data/images/Tiny/cat/c2.jpg: no mask"]
    with pytest.raises(DataError, match=rf"a{suffix}: archive failed verification"):
        bench.extract_and_verify(tmp_path / f"a{suffix}", "Tiny", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing unpacked


def test_wrong_structure_is_reported(tmp_path: Path) -> None:
    flat = {"Tiny/cat/c1.jpg": b"x", "Tiny/cat/c1.png": b"x"}
    report = bench.verify_archive(make_archive(tmp_path / "flat.zip", flat), "Tiny")
    assert any("expected images/Tiny/<group>/ and gts/Tiny/<group>/" in p for p in report.problems)
    loose = dict(GOOD, **{"data/images/Tiny/loose.jpg": b"x"})
    report = bench.verify_archive(make_archive(tmp_path / "loose.zip", loose), "Tiny")
    assert report.problems == ["data/images/Tiny/loose.jpg: not directly inside a group folder"]


def test_bad_checksum_is_reported(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "tiny.zip", GOOD)
    report = bench.verify_archive(archive, "Tiny", sha256="0" * 64)
    assert len(report.problems) == 1 and report.problems[0].startswith("SHA-256 mismatch")


def test_known_set_counts_are_checked(tmp_path: Path) -> None:
    members = {k.replace("Tiny", "CoCA"): v for k, v in GOOD.items()}
    report = bench.verify_archive(make_archive(tmp_path / "coca.zip", members), "CoCA")
    assert report.problems == ["2 groups, CoCA has 80", "3 images, CoCA has 1295"]


def test_unsafe_member_and_non_archive(tmp_path: Path) -> None:
    report = bench.verify_archive(
        make_archive(tmp_path / "evil.tar.gz", dict(GOOD, **{"../x.jpg": b"x"})), "Tiny"
    )
    assert report.problems == ["unsafe member path '../x.jpg'"]
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not an archive")
    with pytest.raises(DataError, match=r"junk\.zip: not a readable"):
        bench.verify_archive(junk, "Tiny")


def test_cli_verify_exit_codes_and_manual_fetch(data_script, tmp_path: Path, capsys) -> None:
    good = make_archive(tmp_path / "good.zip", GOOD)
    with pytest.raises(SystemExit) as exit_good:
        data_script("benchmarks").main(["verify", str(good), "--name", "Tiny"])
    assert exit_good.value.code == 0 and "OK" in capsys.readouterr().out
    bad = make_archive(tmp_path / "bad.zip", {"x/images/Tiny/a/1.jpg": b"x"})
    with pytest.raises(SystemExit) as exit_bad:
        data_script("benchmarks").main(["verify", str(bad), "--name", "Tiny"])
    assert exit_bad.value.code == 1 and "FAILED" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="Download by hand"):
        data_script("benchmarks").main(["fetch", "CoCA", "--dest", str(tmp_path)])


def test_cli_fetch_from_a_url_then_verify_and_extract(data_script, tmp_path: Path, capsys) -> None:
    source = make_archive(tmp_path / "src.zip", GOOD)
    data_script("benchmarks").main(["fetch", "Tiny", "--url", source.as_uri(), "--dest", str(tmp_path / "data")])
    assert "Tiny: 2 groups, 3 images" in capsys.readouterr().out
    assert (tmp_path / "data" / "src.zip").is_file()
    assert (tmp_path / "data" / "data" / "gts" / "Tiny" / "dog" / "d1.png").is_file()
    bad = make_archive(tmp_path / "bad.zip", {"x/images/Tiny/a/1.jpg": b"x"})
    with pytest.raises(SystemExit) as stopped:
        data_script("benchmarks").main(["extract", str(bad), "--name", "Tiny", "--dest", str(tmp_path / "never")])
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and error.count("\n") == 1 and "bad.zip: archive failed verification" in error


@pytest.mark.slow
def test_script_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    )
    assert "verify" in result.stdout and "fetch" in result.stdout
