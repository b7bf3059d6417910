"""The watchdog: a wall-clock budget for strategy code that runs without awaiting.

A callback that loops without awaiting (``while True: pass``) or blocks the thread
(``time.sleep(60)``, a blocking socket) would hang a run forever: the kernel drives
strategy code synchronously, and the live runtime's event loop cannot turn while it runs.

The runtime bumps :attr:`Progress.calls` each time it enters strategy code (one attribute
increment per callback, about 25 ns; the live runtime also bumps it from a heartbeat on
its event loop). A monitor thread samples the counter a few times per budget. When it has
not moved for longer than the budget *and* the main thread's stack shows strategy code
entered through one of the runtime's driver frames (so the kernel waiting for data, or
doing its own work, never counts), the monitor interrupts that thread: with a signal on
the main thread (which also breaks ``time.sleep`` and other blocking calls), else with an
asynchronous exception (CPython's ``PyThreadState_SetAsyncExc``, which waits for the
blocking call to return). The strategy code sees :class:`CallbackOverrun`, a
``BaseException`` so a strategy's own ``except Exception`` cannot swallow it, and the
runtime turns it into a :class:`~streamsim.errors.StrategyError` naming the strategy and
the callback.
"""

from __future__ import annotations

import ctypes
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Iterable
from types import CodeType, FrameType, TracebackType
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)

#: The default budget (wall seconds) a callback may run without awaiting.
DEFAULT_CALLBACK_TIMEOUT = 10.0
#: The signal that interrupts the main thread (its previous handler is kept and chained).
WATCHDOG_SIGNAL: int | None = getattr(signal, "SIGUSR2", None)
#: Samples of the counter per budget (the error comes at most budget / SAMPLES late).
SAMPLES = 4


class CallbackOverrun(BaseException):
    """Raised inside strategy code that ran past the watchdog's budget without awaiting."""

    def __init__(self, budget: float) -> None:
        super().__init__(
            f"ran more than {budget:g} s of wall-clock time without awaiting (the "
            "watchdog's budget, run.callback_timeout; a loop without an await or a "
            "blocking call such as time.sleep or blocking I/O?)"
        )
        self.budget = budget


class Progress:
    """The counter a runtime bumps each time it enters strategy code."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0


def check_timeout(value: float | None, key: str = "callback_timeout") -> float | None:
    """``value`` as a budget in seconds (``None`` when disabled), or a :class:`ConfigError`."""
    if value is None or value == 0:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigError(
            f"{key}: expected wall-clock seconds > 0 (0 or None disables the watchdog), "
            f"got {value!r}"
        )
    return float(value)


def in_strategy(frame: FrameType | None, drivers: frozenset[CodeType]) -> bool:
    """Whether ``frame``'s stack runs strategy code entered through a driver frame."""
    while frame is not None:
        if frame.f_code in drivers:
            return True
        frame = frame.f_back
    return False


class Watchdog:
    """While the ``with`` block runs, interrupt strategy code past ``budget`` seconds.

    ``progress`` is the runtime's counter; ``drivers`` are the code objects of the
    runtime's frames that call into strategy code (a driver frame on the stack means
    strategy code runs now). ``budget=None`` makes this a no-op.
    """

    def __init__(
        self, budget: float | None, progress: Progress, drivers: Iterable[CodeType]
    ) -> None:
        self.budget = budget
        self.progress = progress
        self.drivers = frozenset(drivers)
        self.fired = 0
        self._target = 0
        self._pending: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous: Any = None
        self._signal: int | None = None

    def __enter__(self) -> Watchdog:
        if self.budget is None:
            return self
        self._target = threading.get_ident()
        self._signal = (
            WATCHDOG_SIGNAL if threading.current_thread() is threading.main_thread() else None
        )
        if self._signal is not None:
            self._previous = signal.signal(self._signal, self._on_signal)
        self._thread = threading.Thread(target=self._watch, name="streamsim-watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._pending = None
        if self._signal is not None:
            signal.signal(self._signal, self._previous)

    # -- the monitor thread ------------------------------------------------------------------

    def _watch(self) -> None:
        assert self.budget is not None
        tick = min(self.budget / SAMPLES, 1.0)
        # A bump can come up to one tick late (the live heartbeat), so wait one more.
        limit = self.budget + tick
        last = self.progress.calls
        since = time.monotonic()
        fired = 0
        while not self._stop.wait(tick):
            calls = self.progress.calls
            now = time.monotonic()
            if calls != last:
                last, since, fired = calls, now, 0
                continue
            if now - since < limit or not self._stuck():
                continue
            since = now  # fire again after another budget if the strategy swallows it
            fired += 1
            if fired > 1:
                log.warning(
                    "watchdog: strategy code still runs %g s after being interrupted "
                    "(does it catch BaseException?)",
                    (fired - 1) * limit,
                )
            self._interrupt(calls)

    def _stuck(self) -> bool:
        frame = sys._current_frames().get(self._target)
        return in_strategy(frame, self.drivers)

    def _interrupt(self, calls: int) -> None:
        log.debug("watchdog: strategy code ran past %g s without awaiting", self.budget)
        if self._signal is not None:
            self._pending = calls
            signal.pthread_kill(self._target, self._signal)
        else:
            self.fired += 1
            budget = float(self.budget or 0)
            # An asynchronous exception is raised from its class: bind the budget to one.
            overrun = type(
                "CallbackOverrun",
                (CallbackOverrun,),
                {"__init__": lambda exc: CallbackOverrun.__init__(exc, budget)},
            )
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._target), ctypes.py_object(overrun)
            )

    # -- the main thread ---------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        pending, self._pending = self._pending, None
        if pending is None:  # not ours: whoever handled this signal before still does
            if callable(self._previous):
                self._previous(signum, frame)
            return
        if pending != self.progress.calls or not in_strategy(frame, self.drivers):
            return  # the callback returned meanwhile: nothing to interrupt
        self.fired += 1
        assert self.budget is not None
        raise CallbackOverrun(self.budget)
