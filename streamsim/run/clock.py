"""Clocks: the one place that owns time.

``VirtualClock`` holds simulated time and the queue of timed actions that drives both
timelines; ``PacedClock`` is the same queue released at wall clock x speed (paper replay);
``WallClock`` is real time for live worlds. Strategies use the clock they are given
(``await ctx.sleep(...)``), never ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from itertools import count
from typing import Any, Protocol

import anyio

from ..errors import ConfigError
from ..units import MS, SECOND
from .halt import Halt
from .parking import Sleep
from .timeouts import SimTimeout, WallTimeout

# Order of actions that share a timestamp (lower first). The exchange sees market data,
# then order messages; the strategy sees market data, then responses, timers, wake-ups.
PHASE_EXCHANGE_MARKET = 0
PHASE_EXCHANGE_ORDER = 1
PHASE_LOCAL_MARKET = 2
PHASE_RESPONSE = 3
PHASE_TIMER = 4
PHASE_WAKE = 5

#: Paced clocks do not sleep for less than this; shorter waits are absorbed.
PACE_RESOLUTION = 1 * MS
#: The longest a paced wait goes without looking at a :class:`Halt` request (wall ns).
HALT_CHECK = 100 * MS

Action = tuple[int, int, int, Callable[[Any], None], Any]


class Timer:
    """A recurring timer; ``cancel()`` stops it."""

    __slots__ = ("_cancel", "cancelled", "interval")

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.cancelled = False
        self._cancel: Callable[[], None] | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self._cancel is not None:
            self._cancel()


class Clock(Protocol):
    """What every world's clock offers."""

    def now(self) -> int:
        """Current time, ns since the Unix epoch."""
        ...

    def sleep(self, duration: int) -> Awaitable[None]:
        """Wait ``duration`` ns."""
        ...

    def sleep_until(self, deadline: int) -> Awaitable[None]:
        """Wait until ``deadline`` (returns at once if it has passed)."""
        ...

    def every(
        self, interval: int, callback: Callable[[int], None], start: int | None = None
    ) -> Timer:
        """Call ``callback(now)`` at ``start`` (default now + interval), then each ``interval``."""
        ...

    def timeout(self, duration: int) -> AbstractAsyncContextManager[Any]:
        """``async with``: raise ``TimeoutError`` out of the block after ``duration`` ns."""
        ...


class Scheduler(Protocol):
    """A queue of timed actions: what the broker and the venue run on, in every world."""

    def now(self) -> int:
        """Current time, ns."""
        ...

    def schedule(self, when: int, phase: int, action: Callable[[Any], None], arg: Any) -> None:
        """Run ``action(arg)`` at ``when`` (never before now); ties by phase, then FIFO."""
        ...


def _every(
    clock: Scheduler, interval: int, callback: Callable[[int], None], start: int | None
) -> Timer:
    """A recurring timer on ``clock``'s queue: ``callback(t)`` at ``start`` (default now +
    ``interval``, never before now), then every ``interval`` ns after that."""
    if interval <= 0:
        raise ConfigError(f"timer interval must be > 0 ns, got {interval}")
    timer = Timer(interval)

    def fire(when: int) -> None:
        if timer.cancelled:
            return
        callback(when)
        clock.schedule(when + interval, PHASE_TIMER, fire, when + interval)

    now = clock.now()
    first = now + interval if start is None else start
    clock.schedule(first, PHASE_TIMER, fire, max(first, now))
    return timer


class VirtualClock:
    """Simulated time: jumps from one queued action to the next, never waits on the wall."""

    paced = False

    def __init__(self, start: int = 0) -> None:
        self._now = start
        self._heap: list[Action] = []
        self._seq = count()
        #: Timeouts entered by the running task, not yet adopted by it (see timeouts.py).
        self._entered: list[SimTimeout] = []

    def now(self) -> int:
        return self._now

    def schedule(self, when: int, phase: int, action: Callable[[Any], None], arg: Any) -> None:
        """Queue ``action(arg)`` at simulated time ``when`` (never before now)."""
        heapq.heappush(self._heap, (max(when, self._now), phase, next(self._seq), action, arg))

    def sleep(self, duration: int) -> Sleep:
        return Sleep(self._now + max(duration, 0))

    def sleep_until(self, deadline: int) -> Sleep:
        return Sleep(max(deadline, self._now))

    def timeout(self, duration: int) -> SimTimeout:
        """Expires ``duration`` ns of simulated time from now."""
        return SimTimeout(self._entered, self._now + max(duration, 0))

    def every(
        self, interval: int, callback: Callable[[int], None], start: int | None = None
    ) -> Timer:
        return _every(self, interval, callback, start)

    def pending(self) -> int:
        """Number of queued actions."""
        return len(self._heap)

    def next_due(self) -> int | None:
        """Time of the earliest queued action (None when the queue is empty)."""
        return self._heap[0][0] if self._heap else None

    def advance(self, when: int, inclusive: bool = True) -> None:
        """Run the queued actions due up to ``when`` (each at its own time, in queue order;
        with ``inclusive`` False only those due before it), then stand at ``when``: how a
        driver outside the kernel (the loopback venue) moves simulated time. Time never
        goes back."""
        heap = self._heap
        while heap and (heap[0][0] <= when if inclusive else heap[0][0] < when):
            due, _, _, action, arg = heapq.heappop(heap)
            self._now = max(self._now, due)
            action(arg)
        self._now = max(self._now, when)

    async def pace(self, when: int, halt: Halt | None = None) -> bool:
        """Paced clocks wait here for the wall clock; virtual time never waits. False when
        ``halt`` was requested before ``when`` was reached."""
        return True

    def released(self) -> float:
        """The latest simulated time the wall clock allows now (unbounded when virtual)."""
        return float("inf")


class PacedClock(VirtualClock):
    """Simulated time released at ``speed`` x wall clock (``speed=1``: paper trading on history).

    :meth:`pause` stops releasing simulated time and :meth:`resume` goes on from where it
    stood (the wall time paused is not caught up); both may be called from any thread.
    """

    paced = True

    def __init__(self, speed: float = 1.0, start: int = 0) -> None:
        if speed <= 0:
            raise ConfigError(f"PacedClock speed must be > 0, got {speed}")
        super().__init__(start)
        self.speed = speed
        self._anchor: tuple[int, int] | None = None
        self._reached = start
        self._paused_at: int | None = None  # wall time (perf ns) of the pause

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        """Stop releasing simulated time (a no-op while paused)."""
        if self._paused_at is None:
            self._paused_at = time.perf_counter_ns()

    def resume(self) -> None:
        """Release simulated time again from where the pause left it."""
        paused_at = self._paused_at
        if paused_at is None:
            return
        if self._anchor is not None:
            wall0, sim0 = self._anchor
            self._anchor = (wall0 + time.perf_counter_ns() - paused_at, sim0)
        self._paused_at = None

    def _wall(self) -> int:
        """The wall time the pacing sees: frozen while paused."""
        paused_at = self._paused_at
        return time.perf_counter_ns() if paused_at is None else paused_at

    def _ahead(self, when: int) -> float:
        """Wall ns until simulated ``when`` is due."""
        assert self._anchor is not None
        wall0, sim0 = self._anchor
        return wall0 + (when - sim0) / self.speed - self._wall()

    async def pace(self, when: int, halt: Halt | None = None) -> bool:
        """Wait until the wall clock reaches the moment that maps to simulated ``when``
        (and while paused); a long wait is taken in slices of at most :data:`HALT_CHECK`,
        so a ``halt`` request ends it within one."""
        while True:
            paused = self._paused_at is not None
            if not paused and self._anchor is None:
                self._anchor = (self._wall(), when)
            ahead = 0.0 if self._anchor is None else self._ahead(when)
            if not paused and ahead <= PACE_RESOLUTION:
                break
            if halt is not None and halt.requested:
                return False
            await anyio.sleep((HALT_CHECK if paused else min(ahead, HALT_CHECK)) / SECOND)
        self._reached = max(self._reached, when)
        return True

    def released(self) -> float:
        if self._anchor is None:
            return self._reached
        wall0, sim0 = self._anchor
        return max(self._reached, sim0 + (self._wall() - wall0) * self.speed)


class WallClock:
    """Real time, for live worlds: sleeps, timers and scheduled actions run on the event loop.

    ``speed`` runs the clock faster than the wall (paper live over recorded data at 10x);
    ``start`` is the clock's time now (default: the real time). Scheduled actions (order
    messages, responses, timers) sit in one heap, run in ``(time, phase, sequence)`` order
    like the virtual clock's, by :meth:`run`, which the live runtime starts.
    """

    def __init__(self, speed: float = 1.0, start: int | None = None) -> None:
        if speed <= 0:
            raise ConfigError(f"WallClock speed must be > 0, got {speed}")
        self.speed = speed
        self._heap: list[Action] = []
        self._seq = count()
        self._changed: asyncio.Event | None = None
        self.anchor(start)

    def anchor(self, start: int | None) -> None:
        """Make ``now()`` equal ``start`` at this moment (``None``: the real time)."""
        self._real = start is None and self.speed == 1.0
        self._start = time.time_ns() if start is None else start
        self._perf0 = time.perf_counter_ns()

    def now(self) -> int:
        if self._real:
            return time.time_ns()
        return self._start + int((time.perf_counter_ns() - self._perf0) * self.speed)

    def _wall_seconds(self, duration: float) -> float:
        return max(duration, 0) / self.speed / SECOND

    async def sleep(self, duration: int) -> None:
        await anyio.sleep(self._wall_seconds(duration))

    async def sleep_until(self, deadline: int) -> None:
        await anyio.sleep(self._wall_seconds(deadline - self.now()))

    def timeout(self, duration: int) -> WallTimeout:
        """Expires ``duration`` ns of this clock's time from now (wall time / ``speed``)."""
        return WallTimeout(self._wall_seconds(duration), self.now() + max(duration, 0))

    def schedule(self, when: int, phase: int, action: Callable[[Any], None], arg: Any) -> None:
        """Run ``action(arg)`` at clock time ``when`` (at once if it has passed)."""
        heap = self._heap
        seq = next(self._seq)
        heapq.heappush(heap, (when, phase, seq, action, arg))
        if heap[0][2] == seq and self._changed is not None:  # a new earliest action
            self._changed.set()

    def pending(self) -> int:
        """Number of queued actions."""
        return len(self._heap)

    def every(
        self, interval: int, callback: Callable[[int], None], start: int | None = None
    ) -> Timer:
        return _every(self, interval, callback, start)

    async def run(self) -> None:
        """Run the scheduled actions as their times come, until cancelled."""
        self._changed = changed = asyncio.Event()
        heap = self._heap
        while True:
            if heap:
                wait = self._wall_seconds(heap[0][0] - self.now())
                if wait <= 0:
                    _, _, _, action, arg = heapq.heappop(heap)
                    action(arg)
                    continue
                with anyio.move_on_after(wait):
                    await changed.wait()
            else:
                await changed.wait()
            changed.clear()
