"""Check an output folder *before* long work writes to it, so a full disk fails early.

Training writes its checkpoint at the end of every epoch and prediction writes maps group by group;
without a check, a read-only folder or a full disk is only found after the work is done.
:func:`ensure_writable_folder` creates the folder, writes and deletes a probe file in it, and
compares the free space with what the work will need, raising :class:`OutputFolderError` naming the
folder otherwise. A disk that fills up anyway during the work is reported as :class:`DiskFullError`
(see :func:`is_disk_full`), after the partial file was removed.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["DiskFullError", "OutputFolderError", "ensure_writable_folder", "format_bytes", "is_disk_full"]


class OutputFolderError(OSError):
    """An output folder that cannot be created or written, or lacks the free space needed."""


class DiskFullError(OutputFolderError):
    """The disk filled up while writing; the message says what was kept."""


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` is the operating system's "no space left on device" (ENOSPC) or a quota (EDQUOT)."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def format_bytes(count: int) -> str:
    """``count`` bytes in MiB, e.g. ``"12.3 MiB"``."""
    return f"{count / 2**20:.1f} MiB"


def ensure_writable_folder(folder: str | os.PathLike, needed_bytes: int = 0) -> Path:
    """Create ``folder`` if needed and check that ``needed_bytes`` can be written there.

    Raises :class:`OutputFolderError` naming the folder when it cannot be created (e.g. a path
    under a regular file), a file cannot be written in it (read-only or no permission), or the
    disk holding it has less than ``needed_bytes`` free.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise OutputFolderError(
            f"cannot write to the output folder {folder} ({error.strerror or error}); "
            "choose another folder or fix its permissions"
        ) from error
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise OutputFolderError(
            f"the output folder {folder} has {format_bytes(free)} free but needs about "
            f"{format_bytes(needed_bytes)}; free some space or choose a folder on another disk"
        )
    return folder
