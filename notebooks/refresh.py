"""Re-run notebooks under the fast profile and store their outputs, figures included, for nbval and readers.

    python notebooks/refresh.py notebooks/03_group_affinity_module.ipynb [...]

The stored outputs are what nbval compares in CI (``GCONET_LAB_FAST=1``; it compares text, never
images) and what a reader sees on GitHub or in a fresh clone before running anything. Figures are
kept as PNG, shrunk to keep the repository small: at most :data:`MAX_WIDTH` pixels wide and reduced
to a 256-colour palette (plots and overlays lose nothing visible); SVG and JPEG copies are dropped.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import time
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor
from PIL import Image

MAX_WIDTH = 900
DROPPED_IMAGE_KEYS = ("image/jpeg", "image/svg+xml")


def shrink_png(encoded: str, max_width: int = MAX_WIDTH) -> str:
    """A base64 PNG at most ``max_width`` wide, with a 256-colour palette when that is smaller, as base64 again."""
    original = base64.b64decode(encoded)
    image = Image.open(io.BytesIO(original)).convert("RGB")
    candidates = [original]
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)), Image.Resampling.LANCZOS)
        candidates = []
    for version in (image, image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)):
        buffer = io.BytesIO()
        version.save(buffer, format="PNG", optimize=True)
        candidates.append(buffer.getvalue())
    return base64.b64encode(min(candidates, key=len)).decode("ascii")


def shrink_images(notebook: nbformat.NotebookNode) -> None:
    """Shrink every PNG output in place (:func:`shrink_png`) and drop the other image formats."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for key in DROPPED_IMAGE_KEYS:
                data.pop(key, None)
            if "image/png" in data:
                data["image/png"] = shrink_png(data["image/png"])
                output.get("metadata", {}).pop("image/png", None)  # the figure's size in the page follows the PNG


def refresh(path: Path, timeout: int = 1200) -> float:
    """Execute ``path`` in its own folder under the fast profile; returns the seconds it took."""
    os.environ["GCONET_LAB_FAST"] = "1"
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(notebook, {"metadata": {"path": str(path.parent)}})
    elapsed = time.perf_counter() - started
    shrink_images(notebook)
    nbformat.write(notebook, path)
    return elapsed


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {refresh(Path(name)):.0f}s")
