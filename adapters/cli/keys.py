"""Keys during a paper replay on a terminal: space (or ``p``) pauses and resumes it.

A thread reads single keys from the terminal, put in cbreak mode for the run and restored
after it, and toggles the :class:`~streamsim.PacedClock`; the kernel sees the pause at its
next pacing step. Nothing changes when stdin is not a terminal or the clock is not paced.
"""

from __future__ import annotations

import select
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from contextlib import contextmanager

import streamsim as ss

#: The keys that pause a running replay and resume a paused one.
PAUSE_KEYS = frozenset(" p")


def on_key(key: str, clock: ss.PacedClock) -> bool:
    """Pause or resume ``clock`` for ``key``; True if the key did something."""
    if key not in PAUSE_KEYS:
        return False
    if clock.paused:
        clock.resume()
    else:
        clock.pause()
    return True


@contextmanager
def space_pauses(clock: object) -> Iterator[bool]:
    """While the block runs, space pauses and resumes ``clock`` (a ``PacedClock``) when
    stdin is a terminal; yields whether the keys are live."""
    stdin = sys.stdin
    if not isinstance(clock, ss.PacedClock) or stdin is None or not stdin.isatty():
        yield False
        return
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                key = stdin.read(1)
                if key:
                    on_key(key, clock)

    tty.setcbreak(fd)
    reader = threading.Thread(target=read, name="streamsim-keys", daemon=True)
    reader.start()
    try:
        yield True
    finally:
        stop.set()
        reader.join(timeout=1.0)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
