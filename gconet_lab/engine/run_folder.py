"""One training run per output folder: a lock, and a log that reads as one run after a resume.

* :func:`lock_run_folder` takes an exclusive lock on ``<out>/.lock`` for as long as a training
  writes the folder. A second training (or a resume) of the same folder is refused with a message
  naming the process that holds it, instead of interleaving ``log.jsonl`` and overwriting the
  checkpoint. The lock is an ``flock`` on an open file, so the system drops it when the process
  ends, even when it is killed; the file's text (process id, host, start time) is only for the message.
* :func:`truncate_log` drops the records of steps at or after the step a resumed run restarts
  from: a run killed after its last checkpoint logged steps that the resumed run trains again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from gconet_lab.engine.storage import OutputFolderError

LOCK_NAME = ".lock"


class RunFolderBusyError(OutputFolderError):
    """Another process is training into the same output folder."""


@contextlib.contextmanager
def lock_run_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the run folder's lock inside the ``with`` block; :class:`RunFolderBusyError` if another run holds it."""
    path = Path(folder) / LOCK_NAME
    with open(path, "a+", encoding="utf-8") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            raise RunFolderBusyError(
                f"the output folder {folder} is in use by another training ({holder}); "
                "wait for it to finish or choose another --out"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"process {os.getpid()} on {socket.gethostname()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        file.flush()
        try:
            yield path
        finally:
            file.seek(0)
            file.truncate()
            fcntl.flock(file, fcntl.LOCK_UN)


def truncate_log(path: str | os.PathLike, step: int) -> int:
    """Keep the records of ``log.jsonl`` at ``path`` with ``"step" < step``; returns how many were dropped.

    A line cut short by a kill is dropped too. The file is rewritten through a temporary file and
    a rename, so it stays whole if this is interrupted.
    """
    path = Path(path)
    if not path.exists():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            dropped += 1
            continue
        if record.get("step", step) < step:
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        os.replace(temporary, path)
    return dropped
