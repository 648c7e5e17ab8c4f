"""Shared test fixtures: where the read-only real data lives, and small models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from gconet_lab.config import make_config
from gconet_lab.data.sources.locate import shared_folder
from gconet_lab.engine.train import Trainer
from gconet_lab.models import GCoNetPlus


def shared_root() -> Path:
    """The read-only shared folder (:func:`~gconet_lab.data.sources.locate.shared_folder`); absent: ``../shared``, for the message."""
    return shared_folder() or Path("../shared")


def require_shared(relative: str) -> Path:
    """A path under shared/: missing data fails under CI and skips elsewhere."""
    path = shared_root() / relative
    if not path.exists():
        message = f"real data not found at {path}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must have ../shared beside the clone)")
        pytest.skip(message)
    return path


@pytest.fixture
def shared() -> Path:
    return require_shared("")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _machine_independent_bf16(monkeypatch) -> None:
    """No test reads GCONET_LAB_NATIVE_BF16 from the outer environment: each branch is set by the test itself."""
    monkeypatch.delenv("GCONET_LAB_NATIVE_BF16", raising=False)


@pytest.fixture
def native_bf16(monkeypatch) -> None:
    """bf16 reported native (``GCONET_LAB_NATIVE_BF16=1``): bf16 paths run on any CPU, emulated if need be."""
    monkeypatch.setenv("GCONET_LAB_NATIVE_BF16", "1")


@pytest.fixture
def tiny_config():
    return make_config("tiny")


# --- data package fixtures -------------------------------------------------------------------


@pytest.fixture(scope="session")
def icoseg_root() -> Path:
    """The raw iCoseg copy under shared/data (read-only)."""
    return require_shared("data/icoseg")


@pytest.fixture(scope="session")
def coco128_root() -> Path:
    """The coco128-seg copy under shared/data (read-only)."""
    return require_shared("data/coco128-seg")


@pytest.fixture(scope="session")
def data_script():
    """Import the command line ``data_scripts/<name>.py`` (a standalone script, not a package) to call its ``main``;
    the logic behind it is imported from :mod:`gconet_lab.data.sources`."""
    import importlib.util
    import sys

    def load(name: str):
        module_name = f"data_scripts_{name}"
        if module_name not in sys.modules:
            path = Path(__file__).resolve().parents[1] / "data_scripts" / f"{name}.py"
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module  # dataclasses look their module up here
            spec.loader.exec_module(module)
        return sys.modules[module_name]

    return load


@pytest.fixture
def write_cosod_set(tmp_path: Path):
    """Write a tiny CoSOD-layout set: ``{group: n_images}`` -> ``root/images|gts/<set>/<group>/``.

    Image i of a group is a (h, w) RGB array whose red channel is 200 inside a random box and 30
    outside; its mask (0/255 PNG) is that box. Returns the data root.
    """
    import numpy as np
    from PIL import Image

    def write(groups: dict[str, int], set_name: str = "Tiny", size: tuple[int, int] = (24, 32), seed: int = 0):
        rng = np.random.default_rng(seed)
        root = tmp_path / "cosod"
        for group, count in groups.items():
            for i in range(count):
                h, w = size
                mask = np.zeros((h, w), np.uint8)
                y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
                mask[y : y + h // 2, x : x + w // 2] = 255
                image = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
                image[..., 0] = np.where(mask > 0, 200, 30)
                for side, array, suffix in (("images", image, ".jpg"), ("gts", mask, ".png")):
                    path = root / side / set_name / group / f"{group}_{i:02d}{suffix}"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(array).save(path, quality=95)
        return root

    return write


def tiny_trainer(loader, out_dir, callbacks=(), epochs: int = 1) -> Trainer:
    """A seeded tiny-preset trainer on ``loader`` whose configuration says ``epochs``."""
    config = make_config("tiny", epochs=epochs)
    torch.manual_seed(0)
    return Trainer(GCoNetPlus(config), config, loader, out_dir, device="cpu", callbacks=callbacks, progress=False)


def random_batches(steps: int, n: int = 2) -> list[dict]:
    """``steps`` two-group batches of ``n`` random 64x64 images each, with random masks (no files)."""
    return [
        {"images": torch.randn(2 * n, 3, 64, 64), "masks": (torch.rand(2 * n, 1, 64, 64) > 0.5).float(),
         "class_ids": torch.tensor([0] * n + [1] * n), "groups": ["a", "b"]}
        for _ in range(steps)
    ]


def write_checkpoint(path: Path, model: GCoNetPlus | None = None) -> Path:
    """A gconet_lab checkpoint of an untrained tiny model (or ``model``) at ``path``."""
    from gconet_lab.engine.checkpoint import save_training_checkpoint
    from gconet_lab.engine.train import make_optimizer

    config = make_config("tiny")
    model = model or GCoNetPlus(config)
    save_training_checkpoint(path, model=model, optimizer=make_optimizer(model, config), scaler=None,
                             config=model.config, epoch=1, step=0, batch_in_epoch=0)
    return path


@pytest.fixture
def cli_error(capsys):
    """``cli_error(argv, main=gconet_lab.cli.main)`` runs a command line expecting a user error: exit status 2,
    the error one line, the last on stderr, and no traceback; it returns that line. Notes the command printed
    before it (such as the precision ``auto`` chose) may precede it."""
    from gconet_lab.cli import main as gconet_lab_main

    def run(argv: list[str], main=gconet_lab_main) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert [line for line in lines if ": error: " in line or line.startswith("Traceback")] == lines[-1:], lines
        return lines[-1]

    return run
