"""gconet_lab.inference.predict_folder through `gconet-lab predict`: which folders are groups, and nothing to predict."""

from __future__ import annotations

from gconet_lab.cli import main

from conftest import write_checkpoint


def test_predict_reads_loose_images_beside_a_sub_folder_and_says_so(write_cosod_set, tmp_path, capsys):
    root = write_cosod_set({"ant": 3})
    photos = root / "images" / "Tiny" / "ant"
    (photos / "backup").mkdir()  # an empty sub-folder beside the images
    checkpoint = write_checkpoint(tmp_path / "run" / "checkpoint.pt")
    main(["predict", "--checkpoint", str(checkpoint), "--images", str(photos), "--out", str(tmp_path / "maps")])
    assert sorted(p.name for p in (tmp_path / "maps").glob("*.png")) == ["ant_00.png", "ant_01.png", "ant_02.png"]
    assert "one group of 3 images" in capsys.readouterr().err


def test_predict_with_nothing_to_predict_fails(tmp_path, cli_error):
    (tmp_path / "photos" / "empty").mkdir(parents=True)
    (tmp_path / "photos" / "scan.tif").write_bytes(b"II*\x00")
    checkpoint = write_checkpoint(tmp_path / "run" / "checkpoint.pt")
    line = cli_error(["predict", "--checkpoint", str(checkpoint), "--images", str(tmp_path / "photos"),
                      "--out", str(tmp_path / "maps")])
    assert "photos: nothing to predict" in line
