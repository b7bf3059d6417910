"""The event loop's default thread pool while a simulation kernel runs.

Strategy code under simulation cannot hand work to a thread: simulated time does not wait
for it, and the thread outlives the run (``loop.run_in_executor(None, ...)`` and
``asyncio.to_thread`` use the loop's default pool, which ``asyncio.run`` joins at exit, so
a blocking call there hangs the process after the run has failed). While a kernel runs,
the loop's default pool refuses work submitted from strategy code at once; everything
else (the S3 stack's DNS lookups, for example) still gets threads.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from types import CodeType
from typing import Any, TypeVar

from .watchdog import in_strategy

T = TypeVar("T")

REFUSED = (
    "handed work to a thread (loop.run_in_executor or asyncio.to_thread) under simulation: "
    "simulated time would not wait for it and the thread would outlive the run; do the "
    "work inline (it is timed by run.callback_timeout), precompute it before the run, or "
    "run the strategy live"
)


class _SimulationPool(ThreadPoolExecutor):
    def __init__(self, drivers: frozenset[CodeType]) -> None:
        super().__init__(thread_name_prefix="streamsim-default")
        self._drivers = drivers

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if in_strategy(sys._getframe(1), self._drivers):
            raise RuntimeError(REFUSED)
        return super().submit(fn, *args, **kwargs)


@contextmanager
def no_threads_for_strategies(
    loop: asyncio.AbstractEventLoop, drivers: Iterable[CodeType]
) -> Iterator[None]:
    """While the block runs, ``loop``'s default pool refuses work from strategy code."""
    previous = getattr(loop, "_default_executor", None)
    pool = _SimulationPool(frozenset(drivers))
    loop.set_default_executor(pool)
    try:
        yield
    finally:
        setattr(loop, "_default_executor", previous)  # noqa: B010 (no public way back)
        pool.shutdown(wait=False)
