"""One notebook open in JupyterLab in a real browser: run it, read its outputs, move its controls.

The notebook's model (cells and their outputs as nbformat JSON) is read through ``window.jupyterapp``
(exposed by the test server); everything about rendering (widget views, images, error messages)
is read from the page itself, as a user sees it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lab_server import JupyterLabServer
from playwright.sync_api import BrowserContext, Locator, Page

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
IMAGE_TYPES = ("image/png", "image/jpeg")
WIDGET_ERROR = "Error displaying widget"

# Finds the notebook panel of `path`, keeps it as window.__panel and counts the kernel's returns to idle.
ATTACH = """(path) => {
    const app = window.jupyterapp;
    if (!app) return false;
    const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
    if (!panel || !panel.context.isReady || !panel.sessionContext.isReady) return false;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    if (!kernel || kernel.status !== 'idle' || panel.content.widgets.length !== panel.content.model.cells.length) return false;
    if (window.__panel !== panel) {
        window.__panel = panel;
        window.__idle = 0;
        panel.sessionContext.statusChanged.connect((_, status) => { if (status === 'idle') window.__idle += 1; });
    }
    return true;
}"""
KERNEL_STATE = "() => [window.__panel.sessionContext.session.kernel.status, window.__idle]"
CELLS = """() => {
    const cells = window.__panel.content.model.cells, result = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        result.push({type: cell.type, outputs: cell.type === 'code' ? cell.outputs.toJSON() : []});
    }
    return result;
}"""
RUN_ALL = """() => {
    window.__runAll = undefined;
    window.jupyterapp.shell.activateById(window.__panel.id);
    window.jupyterapp.commands.execute('notebook:run-all-cells').then(
        ok => { window.__runAll = {ok: ok !== false}; },
        error => { window.__runAll = {ok: false, error: String(error)}; });
}"""
# SHA-256 of the bytes behind every <img> under an element (blob: and data: URLs alike), '' for an empty one.
IMAGE_DIGEST = """async (element) => {
    const digests = [];
    for (const img of element.querySelectorAll('img')) {
        if (!img.getAttribute('src')) { digests.push(''); continue; }
        const bytes = await (await fetch(img.src)).arrayBuffer();
        const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
        digests.push(bytes.byteLength ? Array.from(hash, b => b.toString(16).padStart(2, '0')).join('') : '');
    }
    return digests.join(',');
}"""


@dataclass
class Control:
    """One control of a widget view: its kind, its label and its element."""

    kind: str  # "dropdown", "slider", "toggle" (a button) or "checkbox"
    label: str
    element: Locator


def image_digest(element: Locator) -> str:
    """SHA-256 of each image under ``element``, comma-separated ('' for an empty one)."""
    return element.evaluate(IMAGE_DIGEST)


def shows_new_images(view: Locator, before: str, seconds: float, poll: float) -> bool:
    """Whether, within ``seconds``, ``view`` shows images other than the digest ``before``, none of them empty."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        after = image_digest(view)
        if after != before and "" not in after.split(","):
            return True
        time.sleep(poll)
    return False


def find_controls(view: Locator) -> list[Control]:
    """The dropdowns, sliders, toggle buttons and checkboxes inside a widget view, kind by kind."""
    kinds = {"dropdown": ".widget-dropdown", "slider": ".widget-slider", "toggle": ".widget-toggle-button",
             "checkbox": ".widget-checkbox"}
    found = []
    for kind, selector in kinds.items():
        for i in range(view.locator(selector).count()):
            element = view.locator(selector).nth(i)
            label = element.locator(".widget-label").first
            found.append(Control(kind, (label if label.count() else element).inner_text(), element))
    return found


def control_moves(control: Control) -> Iterator[Callable[[], bool]]:
    """User actions on the control, each returning whether it changed the value: other options, slider steps, a click."""
    if control.kind == "dropdown":
        select = control.element.locator("select")
        current = select.evaluate("s => s.selectedIndex")
        for index in range(select.locator("option").count()):
            if index != current:
                yield lambda index=index: bool(select.select_option(index=index))
    elif control.kind == "slider":
        handle, readout = control.element.locator(".noUi-handle"), control.element.locator(".widget-readout")

        def press(key: str) -> bool:
            shown = readout.inner_text()
            handle.focus()
            handle.press(key)
            return readout.inner_text() != shown  # at an end of its range the slider does not move

        for key in ("ArrowRight", "ArrowRight", "ArrowLeft", "ArrowLeft", "ArrowLeft"):
            yield lambda key=key: press(key)
    elif control.kind == "checkbox":
        yield lambda: control.element.locator("input").click() or True
    else:
        yield lambda: control.element.click() or True


class NotebookPage:
    """A browser page with the notebook ``path`` (relative to the served folder) open and its kernel started."""

    def __init__(self, context: BrowserContext, server: JupyterLabServer, path: str, timeout: float = 300) -> None:
        self.name = Path(path).stem
        self.page: Page = context.new_page()
        self.page.goto(server.page_url(path))
        self.page.wait_for_function(ATTACH, arg=path, timeout=timeout * 1000, polling=500)

    # --- the notebook's model ----------------------------------------------------------------

    def cells(self) -> list[dict]:
        """Every cell as ``{"type", "outputs"}``, outputs as nbformat JSON."""
        return self.page.evaluate(CELLS)

    def errors(self) -> list[str]:
        """``"cell <i>: <ename>: <evalue>"`` for every error output."""
        return [f"cell {i}: {output['ename']}: {output['evalue']}"
                for i, cell in enumerate(self.cells()) for output in cell["outputs"] if output["output_type"] == "error"]

    # --- running -------------------------------------------------------------------------------

    def kernel_state(self) -> tuple[str, int]:
        """The kernel's status and how many times it has gone back to idle since the page opened."""
        status, idle = self.page.evaluate(KERNEL_STATE)
        return status, idle

    def run_all(self, timeout: float) -> bool:
        """Run > Run All Cells, wait until every cell ran (or one failed) and the kernel is idle; False if one failed."""
        self.page.evaluate(RUN_ALL)
        self.page.wait_for_function("() => window.__runAll !== undefined", timeout=timeout * 1000, polling=1000)
        self.page.wait_for_function(f"() => ({KERNEL_STATE})()[0] === 'idle'", timeout=60_000, polling=500)
        return self.page.evaluate("() => window.__runAll.ok")

    # --- what the page shows -------------------------------------------------------------------

    def code_cell_outputs(self, index: int) -> Locator:
        """The rendered outputs of cell ``index`` (markdown cells count in the index, as in the .ipynb).

        Only the cell's own outputs: an Output widget inside a widget view has output areas of its own.
        """
        cell = self.page.locator(".jp-Notebook .jp-Cell").nth(index)
        return cell.locator(".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output")

    def widget_views(self) -> Locator:
        """Every output that holds a rendered widget view."""
        return self.page.locator(".jp-OutputArea-output:has(> .jupyter-widgets)")

    def widget_errors(self) -> int:
        return self.page.get_by_text(WIDGET_ERROR).count()

    def change_redraws(self, view: Locator, control: Control, timeout: float = 180) -> bool:
        """Move ``control`` until the images in ``view`` change; False if no move of it changes them.

        After each move the kernel must have handled it (gone busy and back to idle) before the
        images are compared, so a half-drawn view is never mistaken for a redraw.
        """
        before = image_digest(view)
        for move in control_moves(control):
            _, idle_before = self.kernel_state()
            if not move():
                continue
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                status, idle = self.kernel_state()
                if status == "idle" and idle > idle_before:
                    break
                time.sleep(0.25)
            else:
                raise AssertionError(f"{self.name}: the kernel never handled a change of {control.kind} {control.label!r}")
            if shows_new_images(view, before, seconds=5, poll=0.25):  # the view renders the update after the idle message
                return True
        return False

    def screenshot(self, path: Path, focus: Locator | None = None) -> None:
        """The visible page, scrolled to ``focus`` (a widget view, a figure) when given."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if focus is not None:
            focus.scroll_into_view_if_needed()
        self.page.screenshot(path=str(path))

    def close(self) -> None:
        """Shut the notebook's kernel down and close the page."""
        self.page.evaluate("() => window.__panel.sessionContext.shutdown()")
        self.page.close()
