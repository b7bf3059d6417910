"""Ctrl-C during a simulated ``streamsim run``: the first ends the run cleanly at the
simulated time reached (its results are written), a second aborts it (exit 130)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from streamsim.run.halt import Halt


@contextmanager
def first_ctrl_c_halts(halt: Halt) -> Iterator[None]:
    """While the run goes, SIGINT requests ``halt``; once it has, SIGINT raises
    :class:`KeyboardInterrupt` as usual. Outside the main thread signals cannot be
    caught, so nothing changes there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if halt.requested:
            raise KeyboardInterrupt
        halt.request()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
