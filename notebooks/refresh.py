"""Re-run notebooks under the fast profile and store their outputs for nbval, without figure payloads.

    python notebooks/refresh.py notebooks/03_group_affinity_module.ipynb [...]

The stored outputs are what nbval compares in CI (``GCONET_LAB_FAST=1``).  Figures are dropped
from the stored file (nbval never compares images, and they would bloat the repository); their
``text/plain`` line stays so the cell still shows that it drew a figure.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor

IMAGE_KEYS = ("image/png", "image/jpeg", "image/svg+xml")


def strip_images(notebook: nbformat.NotebookNode) -> None:
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for key in IMAGE_KEYS:
                output.get("data", {}).pop(key, None)


def refresh(path: Path, timeout: int = 1200) -> float:
    """Execute ``path`` in its own folder under the fast profile; returns the seconds it took."""
    os.environ["GCONET_LAB_FAST"] = "1"
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(notebook, {"metadata": {"path": str(path.parent)}})
    elapsed = time.perf_counter() - started
    strip_images(notebook)
    nbformat.write(notebook, path)
    return elapsed


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {refresh(Path(name)):.0f}s")
