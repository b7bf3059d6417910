"""What a task can wait on, in a simulated world and on a real event loop alike.

Inside a simulated world (virtual or paced clock) strategy code runs as plain coroutines
driven by the kernel, not as event-loop tasks. An ``await`` on one of these objects yields
it up to the kernel, which parks the task and resumes it when the simulation reaches the
moment: no event-loop round trip, and time moves only when every task is parked.

The same objects work on a real event loop (the live runtime, or any asyncio task): like
``anyio.Event``, a :class:`SimEvent` picks its way of waiting from the world that awaits
it. A kernel registers the event-loop task it runs in (:func:`simulating`); an await from
anywhere else waits on an asyncio future instead of yielding to a kernel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

#: Event-loop tasks that are running a simulation kernel right now.
_KERNEL_HOSTS: set[asyncio.Task[Any]] = set()


@contextmanager
def simulating() -> Iterator[None]:
    """Mark the current event-loop task as a kernel's host while the block runs."""
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("a simulation kernel must run inside an asyncio task")
    _KERNEL_HOSTS.add(task)
    try:
        yield
    finally:
        _KERNEL_HOSTS.discard(task)


def in_simulation() -> bool:
    """True when the caller is driven by a simulation kernel (not a plain asyncio task)."""
    if not _KERNEL_HOSTS:
        return False
    try:
        return asyncio.current_task() in _KERNEL_HOSTS
    except RuntimeError:  # no running event loop
        return False


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
        if not in_simulation():
            raise RuntimeError(
                "a simulated clock's sleep was awaited outside the simulation (from a plain "
                "asyncio task); start concurrent work with ctx.spawn(...) so it runs on "
                "simulated time"
            )
        yield self


class _FutureWaiter:
    """Wakes an asyncio future: how a task on a real event loop waits for a SimEvent."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future

    def wake(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class SimEvent:
    """A flag tasks can wait for, like ``anyio.Event``, in every world.

    Under a simulation kernel, awaiting it parks the simulated task (no event-loop round
    trip); on a real event loop it waits on an asyncio future. ``set()`` wakes both.
    """

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._waiters: list[Wakeable] = []

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        """Set the flag and wake every waiting task (simulated ones at the current time)."""
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
        if self._is_set:
            return
        if in_simulation():
            yield self
            return
        waiter = _FutureWaiter(asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            yield from waiter.future
        finally:
            if waiter in self._waiters:  # cancelled while waiting
                self._waiters.remove(waiter)
