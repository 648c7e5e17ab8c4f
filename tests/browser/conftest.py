"""Fixtures of the browser suite: Chromium (Debian's, by its path), one JupyterLab server, one page per test.

Without Chromium the suite is skipped with one line, except under CI (``$CI`` set), where it fails:
CI must never pass without having looked at the notebooks in a browser (``.ci/run`` also fails when
the log says "browser suite skipped", as it does without Playwright).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_server import NOTEBOOKS, JupyterLabServer

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "outputs" / "browser"


def chromium_executable() -> str | None:
    """``$CHROMIUM`` if set, else the first of ``CHROMIUM_NAMES`` on ``PATH``."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def unavailable(reason: str) -> None:
    message = f"browser suite skipped: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run it: .ci/run installs chromium)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """Chromium driven by Playwright, launched by its executable path (Playwright's own download is never used)."""
    executable = chromium_executable()
    if executable is None or not Path(executable).is_file():
        unavailable("no Chromium found (apt-get install chromium, or set $CHROMIUM to its path)")
    from playwright.sync_api import sync_playwright  # the test modules skip themselves without it

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def lab(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLabServer]:
    """JupyterLab from this interpreter on a free 127.0.0.1 port, serving a copy of the notebooks."""
    server = JupyterLabServer(tmp_path_factory.mktemp("jupyterlab"), sorted(NOTEBOOKS.glob("*.ipynb")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def context(browser):
    """A fresh browser context (cookies, storage) per test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
