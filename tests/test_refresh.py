"""notebooks/refresh.py keeps every figure, shrunk: bounded width, never larger than needed, other formats dropped."""

from __future__ import annotations

import base64
import importlib.util
import io
from pathlib import Path

import nbformat
import numpy as np
from PIL import Image

spec = importlib.util.spec_from_file_location("refresh", Path(__file__).resolve().parents[1] / "notebooks" / "refresh.py")
refresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(refresh)


def encoded_png(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decoded(encoded: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(encoded)))


def test_a_wide_figure_is_scaled_down_to_the_maximum_width_keeping_its_aspect():
    wide = np.zeros((300, 1800, 3), np.uint8)
    wide[:, 900:] = (200, 30, 30)
    image = decoded(refresh.shrink_png(encoded_png(wide), max_width=600))
    assert image.size == (600, 100)
    assert np.asarray(image.convert("RGB"))[50, 500].tolist() == [200, 30, 30]


def test_a_small_figure_is_never_made_larger():
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    original = encoded_png(noise)
    assert len(refresh.shrink_png(original)) <= len(original)


def test_a_plot_with_few_colours_gets_smaller():
    plot = np.full((400, 600, 3), 255, np.uint8)
    plot[np.arange(400), np.arange(400) + 100] = (31, 119, 180)
    original = encoded_png(plot)
    assert len(refresh.shrink_png(original)) < len(original)


def test_shrink_images_keeps_png_and_text_and_drops_other_formats():
    output = nbformat.v4.new_output("display_data", data={"image/png": encoded_png(np.zeros((10, 10, 3), np.uint8)),
                                                           "image/svg+xml": "<svg/>", "text/plain": "<Figure>"})
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[output])])
    refresh.shrink_images(notebook)
    assert set(notebook.cells[0].outputs[0].data) == {"image/png", "text/plain"}
