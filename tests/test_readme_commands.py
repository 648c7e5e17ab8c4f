"""Every ```bash block of README.md runs as written after the two set-up commands.

The blocks are read from the README itself, so a command edited there is the command tested. Each
runnable block runs in a fresh folder, its commands in order (later ones use what earlier ones
wrote), through bash, with ``gconet-lab`` on PATH as after ``make demo``. Where a flag allows a
smaller run, it is appended (:data:`SMALLER`); nothing else is changed. Blocks that need several
GPUs or nodes are skipped with the reason (:data:`GPU_ONLY`).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_shared

ROOT = Path(__file__).resolve().parents[1]
SETUP = ["make demo", "make test"]
# Appended to a command that starts with the key: smaller, never different in kind.
SMALLER = {
    "gconet-lab train": "--preset tiny --epochs 1",
    "gconet-lab benchmark": "--repeats 1 --warmup 0 --group-size 2",
}
GPU_ONLY = "torchrun"  # a block with a torchrun line trains on several GPUs or nodes (NCCL), then uses its result


def readme_blocks(text: str) -> list[list[str]]:
    """The commands of every ```bash block, continuation lines joined and comments dropped."""
    blocks = []
    for body in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = body.replace("\\\n", " ")
        commands = [shlex.join(shlex.split(line, comments=True)) for line in joined.splitlines()]
        blocks.append([command for command in commands if command])
    return blocks


BLOCKS = readme_blocks((ROOT / "README.md").read_text())


def smaller(command: str) -> str:
    for prefix, flags in SMALLER.items():
        if command.startswith(prefix + " "):
            return f"{command} {flags}"
    return command


def test_readme_blocks_are_found_and_the_first_is_the_set_up():
    assert len(BLOCKS) >= 3 and BLOCKS[0] == SETUP
    assert readme_blocks("```bash\na --x 1 \\\n  --y 2  # note\n\n# only a comment\nb\n```\n") == [["a --x 1 --y 2", "b"]]


@pytest.fixture
def shell_after_setup(tmp_path) -> dict[str, str]:
    """The environment of a shell after ``make demo``: ``gconet-lab`` and ``python`` of this project on PATH."""
    require_shared("data/icoseg")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in (("gconet-lab", f'"{sys.executable}" -m gconet_lab.cli'), ("python", f'"{sys.executable}"')):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        (bin_dir / name).chmod(0o755)
    (tmp_path / "data_scripts").symlink_to(ROOT / "data_scripts")  # README paths are relative to the clone
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT),
               OMP_NUM_THREADS="1", GCONET_SHARED=str(require_shared("")))
    return env


@pytest.mark.slow
@pytest.mark.parametrize("index", range(1, len(BLOCKS)), ids=lambda i: f"block{i}")
def test_readme_block_runs_as_written(index, tmp_path, shell_after_setup):
    block = BLOCKS[index]
    if any(command.startswith(GPU_ONLY) for command in block):
        pytest.skip(f"needs several GPUs or nodes (torchrun, NCCL) and the full training sets: {block[0][:60]}...")
    work = tmp_path
    for command in block:
        run = smaller(command)
        result = subprocess.run(["bash", "-c", run], cwd=work, env=shell_after_setup, capture_output=True, text=True,
                                timeout=1800)
        assert result.returncode == 0, f"`{run}` failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
