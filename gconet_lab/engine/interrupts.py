"""SIGTERM handled like Ctrl-C, so a scheduler, ``docker stop`` or ``timeout`` loses no work.

A cluster scheduler, ``docker stop`` and ``timeout`` end a process with SIGTERM, whose default is
to die at once. Inside :func:`terminate_as_interrupt` it raises :class:`Terminated`, a
``KeyboardInterrupt``, so the training saves its checkpoint exactly as after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; handled like Ctrl-C."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` inside the block (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
