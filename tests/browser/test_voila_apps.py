"""The classroom apps, as ``make app`` serves them: notebooks 14 (failure cases) and 12 (decoder feature maps) in Voila.

Voila runs the notebook top to bottom and shows its outputs as a page, code hidden. An app passes if
the page shows no error output, every widget view rendered, and each control of its browsers
changes the image shown.
"""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="browser suite skipped: Python Playwright is not installed (pip install -e '.[dev]')")
pytest.importorskip("voila", reason="the Voila apps need voila (pip install -e .)")

from lab_server import NOTEBOOKS, VoilaApp
from notebook_page import WIDGET_ERROR, control_moves, find_controls, image_digest, shows_new_images

pytestmark = pytest.mark.browser

APPS = ("14_failure_cases.ipynb", "12_decoder_feature_maps.ipynb")
APP_TIMEOUT = 900  # seconds for Voila to run a notebook under the fast profile
REDRAW_TIMEOUT = 120  # seconds for the kernel to redraw after a control moved
# Voila streams the page while it runs the notebook ("load" fires once every cell ran); the widget views
# render in the page after that. An exception shows as its traceback (or Voila's own line without one).
CONTROLS = ".jupyter-widgets .widget-dropdown, .jupyter-widgets .widget-slider"
ERRORS = ("Traceback (most recent call last)", "There was an error when executing cell")

def redraws(view, control) -> bool:
    """Move ``control`` until the images in ``view`` change; False if no move of it changes them."""
    before = image_digest(view)
    return any(move() and shows_new_images(view, before, seconds=REDRAW_TIMEOUT, poll=0.5) for move in control_moves(control))


@pytest.mark.parametrize("name", APPS, ids=lambda name: name.split("_")[0])
def test_app_renders_and_redraws(context, screenshots, tmp_path, name: str):
    app = VoilaApp(tmp_path, NOTEBOOKS / name)
    app.start()
    page = context.new_page()
    try:
        page.goto(app.url, timeout=APP_TIMEOUT * 1000, wait_until="load")
        for error in ERRORS:
            assert page.get_by_text(error).count() == 0, f"the notebook failed in Voila:\n{page.get_by_text(error).first.inner_text()}"
        page.wait_for_selector(CONTROLS, timeout=60_000)
        views = page.locator(".jp-OutputArea-output:has(> .jupyter-widgets)")
        with_controls = [view for view in views.all() if find_controls(view)]
        assert with_controls, f"the app shows no widget with controls:\n{app.log()}"
        assert page.get_by_text(WIDGET_ERROR).count() == 0, "a widget view shows 'Error displaying widget'"
        for view in with_controls:
            assert image_digest(view), "a widget view with controls shows no image"
            for control in find_controls(view):
                assert redraws(view, control), f"changing {control.kind} {control.label!r} left the image as it was"
                print(f"app {name}: {control.kind} {control.label!r} redraws")
        assert page.get_by_text(WIDGET_ERROR).count() == 0, "a widget view shows 'Error displaying widget' after a change"
    finally:
        views = page.locator(".jp-OutputArea-output:has(> .jupyter-widgets)")
        if views.count():
            views.last.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"app_{name.split('.')[0]}.png"))
        page.close()
        app.stop()
