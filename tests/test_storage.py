"""gconet_lab.engine.storage and run_folder: output folders checked before any work, a full disk, one training
per folder."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from gconet_lab.config import make_config
from gconet_lab.engine.checkpoint import estimated_checkpoint_bytes, read_training_checkpoint
from gconet_lab.engine.storage import OutputFolderError
from gconet_lab.engine.train import read_log
from gconet_lab.inference.evaluate import predict_dataset, write_group
from gconet_lab.models import GCoNetPlus

from conftest import random_batches, tiny_trainer


def _path_under_a_regular_file(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "a_file").write_text("not a folder")
    return tmp_path / "a_file" / "run"


def _read_only_folder(tmp_path: Path, monkeypatch) -> Path:
    """Tests run as root, for whom chmod does not block writes: make the probe write fail instead."""
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("gconet_lab.engine.storage.tempfile.mkstemp", refuse)
    return tmp_path / "run"


def _full_disk(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr("gconet_lab.engine.storage.shutil.disk_usage", lambda path: SimpleNamespace(free=1024))
    return tmp_path / "run"


@pytest.mark.parametrize(
    "make_bad_folder, message",
    [(_path_under_a_regular_file, r"cannot write to the output folder .* \(Not a directory\)"),
     (_read_only_folder, r"cannot write to the output folder .* \(Permission denied\)"),
     (_full_disk, "has 0.0 MiB free but needs about")],
)
def test_unusable_output_folder_fails_before_any_work(tmp_path, monkeypatch, make_bad_folder, message):
    out = make_bad_folder(tmp_path, monkeypatch)
    steps = []
    with pytest.raises(OutputFolderError, match=message) as error:
        tiny_trainer(random_batches(2), out, callbacks=[steps.append]).fit()
    assert str(out) in str(error.value) and steps == []
    if make_bad_folder is not _full_disk:  # predictions need write access, not a size estimate
        def no_group_before_the_check():
            raise AssertionError("a group was predicted before the folder was checked")
            yield

        with pytest.raises(OutputFolderError, match=re.escape(str(out))):
            predict_dataset(GCoNetPlus(make_config("tiny")), no_group_before_the_check(), out, progress=False)


def test_free_space_check_counts_the_second_copy_of_the_atomic_save(tmp_path, monkeypatch):
    trainer = tiny_trainer(random_batches(1), tmp_path / "run", epochs=2)
    free = int(1.5 * estimated_checkpoint_bytes(trainer.model))  # one copy fits, the save beside it does not
    usage = type("Usage", (), {"free": free})
    monkeypatch.setattr("gconet_lab.engine.storage.shutil.disk_usage", lambda path: usage)
    with pytest.raises(OutputFolderError, match="free but needs about"):
        trainer.fit(1)


def _disk_fills_after(monkeypatch, saves: int) -> None:
    """``torch.save`` works ``saves`` times, then writes a few bytes and fails with ENOSPC."""
    real_save, calls = torch.save, []

    def save(payload, file, *args, **kwargs):
        calls.append(1)
        if len(calls) <= saves:
            return real_save(payload, file, *args, **kwargs)
        file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save)


@pytest.mark.slow
def test_disk_full_during_training_keeps_the_last_checkpoint_and_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    trainer = tiny_trainer(random_batches(2), run, epochs=2)
    _disk_fills_after(monkeypatch, saves=1)  # the end of epoch 1 is saved, the end of epoch 2 is not
    with pytest.raises(OutputFolderError, match=r"full after step 4: .*checkpoint\.pt still holds step 2") as error:
        trainer.fit(2)
    assert error.value.__cause__ is None and error.value.__suppress_context__  # no chained traceback
    monkeypatch.undo()
    assert read_training_checkpoint(run / "checkpoint.pt")["step"] == 2
    assert sorted(p.name for p in run.iterdir() if p.name.endswith(".tmp")) == []


def test_disk_full_while_predicting_leaves_no_partial_png(tmp_path, monkeypatch):
    def partial_save(self, path, *args, **kwargs):
        Path(path).write_bytes(b"")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", partial_save)
    with pytest.raises(OutputFolderError, match="is full"):
        write_group([np.zeros((4, 4), np.uint8)], ["a"], tmp_path / "maps")
    assert list((tmp_path / "maps").iterdir()) == []


@pytest.mark.slow
def test_a_second_training_in_the_same_folder_is_refused_naming_the_first(tmp_path):
    run = tmp_path / "run"
    refusals = []

    def start_another_run(record):
        if record["step"] == 0:
            with pytest.raises(OutputFolderError, match=rf"{run} is in use by another training \(process {os.getpid()}") as error:
                tiny_trainer(random_batches(1), run, epochs=2).fit(1)
            refusals.append(error.value)

    tiny_trainer(random_batches(2), run, callbacks=[start_another_run], epochs=2).fit(1)
    assert len(refusals) == 1 and len(read_log(run)) == 2
    tiny_trainer(random_batches(2), run, epochs=2).fit(2)  # the lock is released when the first run ends
