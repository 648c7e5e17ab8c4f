"""Every widget notebook, Run All in JupyterLab: no error output, every widget view rendered, every control redraws.

A widget notebook passes only if each of its dropdowns, sliders and toggles changes the image shown
in its widget view: that is what nbval, which never renders a widget, cannot see. The notebooks
without widgets are not run here a second time: nbval runs every notebook and compares its outputs
with the stored ones, and test_stored_outputs.py renders those stored outputs in JupyterLab.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="browser suite skipped: Python Playwright is not installed (pip install -e '.[dev]')")

from lab_server import NOTEBOOKS
from notebook_page import NotebookPage, find_controls, image_digest

pytestmark = pytest.mark.browser

RUN_TIMEOUT = 900  # seconds for one notebook's Run All under the fast profile (about a minute each on 2 cores)


def uses_widgets(path: Path) -> bool:
    """Whether a code cell of the notebook imports ipywidgets or the project's widgets."""
    cells = json.loads(path.read_text())["cells"]
    return any("ipywidgets" in "".join(cell["source"]) or "gconet_lab.lab.widgets" in "".join(cell["source"])
               for cell in cells if cell["cell_type"] == "code")


def widget_notebooks() -> list[Path]:
    """The notebooks whose code uses widgets, in order."""
    return [path for path in sorted(NOTEBOOKS.glob("*.ipynb")) if uses_widgets(path)]


def test_some_notebooks_use_widgets():
    assert len(widget_notebooks()) >= 3, "the widget notebooks (05, 12, 14) are no longer found"


@pytest.mark.parametrize("path", widget_notebooks(), ids=lambda path: path.stem)
def test_run_all_renders_and_redraws(lab, context, screenshots, path: Path):
    notebook = NotebookPage(context, lab, f"notebooks/{path.name}")
    views = notebook.widget_views()
    try:
        completed = notebook.run_all(RUN_TIMEOUT)
        assert notebook.errors() == []
        assert completed, "Run All stopped before the last cell"
        assert notebook.widget_errors() == 0, "a widget view shows 'Error displaying widget'"
        assert views.count() > 0, "the notebook uses widgets but shows none"
        for view in views.all():
            controls = find_controls(view)
            if controls:
                assert image_digest(view), "a widget view with controls shows no image"
            for control in controls:
                assert notebook.change_redraws(view, control), f"changing {control.kind} {control.label!r} left the image as it was"
                print(f"{path.stem}: {control.kind} {control.label!r} redraws")
        assert notebook.widget_errors() == 0, "a widget view shows 'Error displaying widget' after a change"
    finally:
        figures = notebook.page.locator(".jp-OutputArea-output img")
        focus = views.first if views.count() else figures.last if figures.count() else None
        notebook.screenshot(screenshots / f"{path.stem}.png", focus)
        notebook.close()
