"""What a simulated task can wait on.

Inside a simulated world (virtual or paced clock) strategy code runs as plain coroutines
driven by the kernel, not as event-loop tasks. An ``await`` on one of these objects yields
it up to the kernel, which parks the task and resumes it when the simulation reaches the
moment: no event-loop round trip, and time moves only when every task is parked.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol


class Wakeable(Protocol):
    """A parked task the kernel can schedule to resume."""

    def wake(self) -> None: ...


class _NextEvent:
    """Yielded by an idle callback runner: 'give me the next event'."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEXT_EVENT"


NEXT_EVENT = _NextEvent()


class Sleep:
    """Awaitable: park until simulated time ``until`` (ns)."""

    __slots__ = ("until",)

    def __init__(self, until: int) -> None:
        self.until = until

    def __await__(self) -> Generator[Any, None, None]:
        yield self


class SimEvent:
    """A flag simulated tasks can wait for, like ``anyio.Event`` on simulated time."""

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._waiters: list[Wakeable] = []

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        """Set the flag and schedule every waiting task to resume at the current time."""
        if self._is_set:
            return
        self._is_set = True
        waiters, self._waiters = self._waiters, []
        for task in waiters:
            task.wake()

    def add_waiter(self, task: Wakeable) -> None:
        """Called by the kernel when a task parks on this event."""
        if self._is_set:
            task.wake()
        else:
            self._waiters.append(task)

    def __await__(self) -> Generator[Any, None, None]:
        if not self._is_set:
            yield self
