"""A notebook opened as cloned, before anything runs, shows the outputs stored in its .ipynb, figures included.

Every stored output must appear in its cell, and every stored figure as an ``<img>`` of exactly the
stored bytes. A fresh clone is not trusted, so JupyterLab shows a widget output as its text line;
once the notebook is trusted the stored widget state must render, with its image.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="browser suite skipped: Python Playwright is not installed (pip install -e '.[dev]')")
from lab_server import NOTEBOOKS
from notebook_page import IMAGE_TYPES, WIDGET_ERROR, WIDGET_VIEW, NotebookPage
from playwright.sync_api import Locator, expect

pytestmark = pytest.mark.browser

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def merged_streams(outputs: list[dict]) -> list[dict]:
    """The outputs as JupyterLab shows them: consecutive stream outputs of one name make one output."""
    merged: list[dict] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if output["output_type"] == "stream" and previous and previous["output_type"] == "stream" and previous["name"] == output["name"]:
            merged[-1] = {**previous, "text": "".join(previous["text"]) + "".join(output["text"])}
        else:
            merged.append(output)
    return merged


def visible_line(text: str | list[str]) -> str:
    """A line of ``text`` as the page shows it: the last non-empty one, without ANSI colours or carriage returns."""
    lines = [ANSI.sub("", line.split("\r")[-1]).strip() for line in "".join(text).split("\n")]
    return next((line for line in reversed(lines) if line), "")


def stored_pictures(state: dict, model_id: str) -> int:
    """How many pictures the stored widget ``model_id`` shows, its children's included: one per Image
    widget, and one per image an Output widget holds (e.g. the figure of ``interact``)."""
    model = state[model_id]
    if model["model_name"] == "OutputModel":
        own = sum(any(mime in output.get("data", {}) for mime in IMAGE_TYPES) for output in model["state"].get("outputs", []))
    else:
        own = model["model_name"] == "ImageModel"
    children = [child.removeprefix("IPY_MODEL_") for child in model["state"].get("children", [])]
    return own + sum(stored_pictures(state, child) for child in children)


def stored_widget_state(notebook: dict) -> dict:
    """The widget models saved in the notebook's metadata, by model id."""
    return notebook["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})


def check_output(output: dict, element: Locator, widget_state: dict, trusted: bool) -> None:
    data, shown = output.get("data", {}), " ".join(element.inner_text().split())
    if output["output_type"] == "stream":
        assert " ".join(visible_line(output["text"]).split()) in shown
    elif output["output_type"] == "error":
        assert output["ename"] in shown
    elif image := next((mime for mime in IMAGE_TYPES if mime in data), None):
        sources = element.locator("img").evaluate_all("images => images.map(img => img.getAttribute('src'))")
        stored_bytes = "".join("".join(data[image]).split())  # base64 without the line breaks it may be stored with
        assert f"data:{image};base64,{stored_bytes}" in ["".join(source.split()) for source in sources], "stored figure not shown"
    elif WIDGET_VIEW in data and trusted:
        model_id = data[WIDGET_VIEW]["model_id"]
        assert model_id in widget_state, "widget output stored without its widget state"
        expect(element.locator(".jupyter-widgets").first).to_be_visible()  # views render from the state asynchronously
        expect(element.locator("img")).to_have_count(stored_pictures(widget_state, model_id))
        for image in element.locator("img").all():
            expect(image).not_to_have_js_property("naturalWidth", 0)  # decoded: the stored bytes are a picture
        assert WIDGET_ERROR not in element.inner_text()
    elif set(data) <= {"text/plain", WIDGET_VIEW}:
        assert " ".join(visible_line(data["text/plain"]).split()) in shown


def with_widget_state() -> list[Path]:
    return [path for path in sorted(NOTEBOOKS.glob("*.ipynb")) if stored_widget_state(json.loads(path.read_text()))]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.stem)
def test_stored_outputs_render(lab, context, path: Path):
    check_notebook(NotebookPage(context, lab, f"notebooks/{path.name}"), path, trusted=False)


@pytest.mark.parametrize("path", with_widget_state(), ids=lambda path: path.stem)
def test_stored_widgets_render_once_trusted(lab, context, path: Path):
    check_notebook(NotebookPage(context, lab, lab.trusted_copy(path.name)), path, trusted=True)


def check_notebook(notebook: NotebookPage, path: Path, trusted: bool) -> None:
    """Cell by cell, the page shows what ``path`` stores."""
    stored = json.loads(path.read_text())
    widget_state = stored_widget_state(stored)
    try:
        for index, cell in enumerate(stored["cells"]):
            if cell["cell_type"] != "code":
                continue
            expected, rendered = merged_streams(cell["outputs"]), notebook.code_cell_outputs(index)
            assert rendered.count() == len(expected), f"cell {index}: {rendered.count()} outputs shown, {len(expected)} stored"
            for output, element in zip(expected, rendered.all()):
                check_output(output, element, widget_state, trusted)
        assert notebook.widget_errors() == 0
    finally:
        notebook.close()
