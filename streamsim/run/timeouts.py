"""Timeouts in the world's own time, and the wall-clock timeouts a simulation refuses.

``ctx.timeout(duration)`` (and ``ctx.wait_for``) is the strategy's timeout: under a
simulation kernel it expires in simulated time (:class:`SimTimeout`), in a live world on
the wall clock (:class:`WallTimeout`); both raise ``TimeoutError`` out of the block.

A wall-clock timeout (``asyncio.timeout``, ``anyio.move_on_after`` / ``fail_after``)
entered by simulated strategy code would fire on the host's wall clock, cancel the
kernel itself and break the host's cancel scopes. The kernel looks for one whenever a
strategy task parks (:func:`wall_timeouts`) and refuses it with a :class:`StrategyError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio

from .parking import in_simulation

#: What a strategy should use instead of a wall-clock timeout.
USE_INSTEAD = (
    "use 'async with ctx.timeout(ns)' or 'await ctx.wait_for(awaitable, ns)', "
    "which expire in simulated time here and on the wall clock in a live run"
)


class SimTimeout:
    """``async with``: cancel the block at simulated time ``deadline`` (``TimeoutError``).

    Entered timeouts wait in the clock's ``entered`` list until the task parks inside the
    block; the kernel then adopts them into the task and schedules their expiry. An await
    that would end exactly at the deadline times out.
    """

    __slots__ = ("_entered", "deadline", "done", "expired", "task")

    def __init__(self, entered: list[SimTimeout], deadline: int) -> None:
        self._entered = entered
        self.deadline = deadline
        self.task: Any = None
        self.expired = False
        self.done = False

    @property
    def stale(self) -> bool:
        """Its expiry action no longer does anything (the block was left)."""
        return self.done

    async def __aenter__(self) -> SimTimeout:
        if not in_simulation():
            raise RuntimeError(
                "a simulated clock's timeout was entered outside the simulation (from a "
                "plain asyncio task); start concurrent work with ctx.spawn(...) so it "
                "runs on simulated time"
            )
        self._entered.append(self)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: Any, tb: Any) -> bool:
        self.done = True
        if self.task is None:
            if self in self._entered:
                self._entered.remove(self)
        elif self in self.task.timeouts:
            self.task.timeouts.remove(self)
        if self.expired and isinstance(exc, asyncio.CancelledError):
            raise TimeoutError(
                f"ctx.timeout expired at simulated time {self.deadline} ns"
            ) from None
        return False


class Ticket:
    """One park of a task inside a timeout: waking it is void once the timeout fired."""

    __slots__ = ("_wake", "live", "task")

    def __init__(self, task: Any, wake: Callable[[Ticket], None]) -> None:
        self.task = task
        self._wake = wake
        self.live = True

    @property
    def stale(self) -> bool:
        """Resuming through it no longer does anything (the task was woken otherwise)."""
        return not self.live

    def wake(self) -> None:
        self._wake(self)


def adopt(task: Any, entered: list[SimTimeout], expire_at: Callable[[SimTimeout], None]) -> None:
    """Give the timeouts entered since the last park to ``task``, the one parking now."""
    for timeout in entered:
        timeout.task = task
        task.timeouts.append(timeout)
        expire_at(timeout)
    entered.clear()


class WallTimeout:
    """``async with``: cancel the block after ``seconds`` of wall time (``TimeoutError``)."""

    __slots__ = ("_scope", "deadline", "seconds")

    def __init__(self, seconds: float, deadline: int) -> None:
        self.seconds = seconds
        self.deadline = deadline
        self._scope: Any = None

    async def __aenter__(self) -> WallTimeout:
        self._scope = anyio.fail_after(self.seconds)
        self._scope.__enter__()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: Any, tb: Any) -> bool:
        return bool(self._scope.__exit__(kind, exc, tb))


def wall_timeouts(loop: Any, host: Any) -> list[tuple[Any, str]]:
    """The live wall-clock timeouts the task ``host`` is inside, with what they are.

    Reads the event loop's timer heap (``asyncio.timeout`` and anyio cancel scopes with a
    deadline each keep a timer there, bound to the object that owns it); loops without one
    (uvloop) are not inspected.
    """
    scheduled = getattr(loop, "_scheduled", None)
    if not scheduled:
        return []
    found = []
    for handle in scheduled:
        if handle.cancelled():
            continue
        owner = getattr(getattr(handle, "_callback", None), "__self__", None)
        if owner is None:
            continue
        if isinstance(owner, asyncio.Timeout) and getattr(owner, "_task", None) is host:
            found.append((handle, "asyncio.timeout (or asyncio.wait_for)"))
        elif type(owner).__name__ == "CancelScope" and getattr(owner, "_host_task", None) is host:
            found.append(
                (handle, "an anyio cancel scope with a deadline (move_on_after, fail_after)")
            )
    return found


def wall_timeout_error(what: str) -> RuntimeError:
    """The cause of the StrategyError for a wall-clock timeout in a simulation."""
    return RuntimeError(
        f"awaited the simulation inside {what}, a wall-clock timeout: it would expire on "
        "the host's clock, not in simulated time, and cancel the simulation itself; " + USE_INSTEAD
    )
