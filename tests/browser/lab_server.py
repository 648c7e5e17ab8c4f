"""Throw-away servers for the browser tests: JupyterLab, and Voila for the classroom apps.

JupyterLab serves a copy of ``notebooks/*.ipynb`` (so neither a test nor an autosave can rewrite
the repository's notebooks) from a temporary folder; each server has its own Jupyter config,
runtime, settings and workspace folders, so nothing of the user's Jupyter setup leaks in. Kernels
run the ``.venv`` interpreter that runs the tests, under the notebooks' fast profile.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = PROJECT_ROOT / "notebooks"

# JupyterLab settings that make a run repeatable: no autosave, every cell in the page (no windowing,
# so each cell's outputs can be found), no news or update pop-ups over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalServer:
    """A server subprocess on a free 127.0.0.1 port: ``start()`` returns once ``ready_url`` answers, ``stop()`` ends it."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / f"{self.name.lower()}.log"
        self.process: subprocess.Popen | None = None
        self.env = dict(os.environ)
        self.env.update(
            JUPYTER_CONFIG_DIR=str(workdir / "config"),
            JUPYTER_DATA_DIR=str(workdir / "data"),  # notebook signatures (trust) too
            JUPYTER_RUNTIME_DIR=str(workdir / "runtime"),
            IPYTHONDIR=str(workdir / "ipython"),
            GCONET_LAB_FAST="1",  # the notebooks' fast profile, as under nbval
            OMP_NUM_THREADS="1",
            PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready_url(self) -> str:
        raise NotImplementedError

    def start(self, timeout: float = 90) -> None:
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(self.command(), env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.ready_url(), timeout=2):
                    return
            except urllib.error.HTTPError:  # an error page is an answer: the server listens
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on {self.url} within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), then SIGKILL if it has not exited after 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class JupyterLabServer(LocalServer):
    """``python -m jupyter lab`` serving a copy of ``notebooks`` from a throw-away root."""

    name = "JupyterLab"

    def __init__(self, workdir: Path, notebooks: list[Path]) -> None:
        super().__init__(workdir)
        self.root = workdir / "root"
        self.token = secrets.token_hex(16)
        (self.root / "notebooks").mkdir(parents=True)
        for notebook in notebooks:
            shutil.copy2(notebook, self.root / "notebooks" / notebook.name)

    def page_url(self, path: str) -> str:
        """The page that opens ``path`` (relative to the served folder) alone: ``reset`` drops the last tabs."""
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"

    def trusted_copy(self, name: str) -> str:
        """``trusted/<name>``: a copy of the notebook that this server's Jupyter trusts (as after "Trust Notebook").

        JupyterLab renders widget views only in trusted notebooks; a fresh clone is not trusted.
        """
        copy = self.root / "trusted" / name
        copy.parent.mkdir(exist_ok=True)
        shutil.copy2(self.root / "notebooks" / name, copy)
        subprocess.run([sys.executable, "-m", "jupyter", "trust", str(copy)], env=self.env, check=True, capture_output=True)
        return f"trusted/{name}"

    def _write_settings(self, settings_dir: Path) -> None:
        for plugin, values in LAB_SETTINGS.items():
            path = settings_dir / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def command(self) -> list[str]:
        settings_dir, workspaces_dir = self.workdir / "settings", self.workdir / "workspaces"
        self._write_settings(settings_dir)
        return [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            f"--port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={settings_dir}", f"--LabApp.workspaces_dir={workspaces_dir}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, read the notebook model
            "--ServerApp.allow_root=True",  # CI runs as root
        ]

    def ready_url(self) -> str:
        return f"{self.url}/api/status?token={self.token}"


class VoilaApp(LocalServer):
    """``voila <notebook>``: the notebook run top to bottom and shown as a web app (code hidden), as ``make app`` does."""

    name = "Voila"

    def __init__(self, workdir: Path, notebook: Path) -> None:
        super().__init__(workdir)
        self.notebook = notebook

    def command(self) -> list[str]:
        return [sys.executable, "-m", "voila", str(self.notebook), "--no-browser", f"--port={self.port}",
                "--Voila.port_retries=0", "--Voila.ip=127.0.0.1", "--VoilaConfiguration.show_tracebacks=True"]

    def ready_url(self) -> str:
        return f"{self.url}/api/status"  # not the app page: each visit of that runs the notebook
