"""The kernel: one queue of timed actions driving the exchange and strategy timelines.

Market events come pre-sorted from the merge, one run per timeline; order messages,
responses, timers and wake-ups sit in the clock's heap. At each step the kernel takes the
earliest of the three by ``(time, phase, sequence)``.

Strategy code runs as plain coroutines driven with ``send``: a callback that returns
without awaiting costs one ``send`` and no event-loop round trip. When a callback awaits
the clock, an order or an event, the awaited object is yielded up to the kernel, which
parks the task and resumes it at the right simulated moment; later events queue in that
strategy's inbox meanwhile. Time advances only when every task is parked.
"""

from __future__ import annotations

import asyncio
import logging
import types
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Generator
from heapq import heappop
from typing import Any

import anyio
import numpy as np

from ..book import BookPolicy, L2Book, Sequencing
from ..errors import StrategyError, StreamsimError
from ..events import DepthUpdate
from ..feed.merge import Epoch, Merge
from ..feed.quality import DataQuality
from ..sim.broker import SimBroker
from ..sim.exchange import Exchange
from ..strategy import Context, Strategy, TimerFired
from ..units import SECOND
from .callbacks import CALLBACKS, KIND_EVENT, Started, during, overrides, strategy_names
from .clock import PHASE_LOCAL_MARKET, PHASE_WAKE, VirtualClock
from .depth_delivery import book_counts, bookless_routes
from .executor import no_threads_for_strategies
from .halt import Halt
from .parking import NEXT_EVENT, SimEvent, Sleep, simulating
from .timeouts import SimTimeout, Ticket, adopt, wall_timeout_error, wall_timeouts
from .watchdog import DEFAULT_CALLBACK_TIMEOUT, CallbackOverrun, Progress, Watchdog

log = logging.getLogger(__name__)

_INF = float("inf")
#: Events delivered between two yields to the event loop (so source I/O overlaps compute).
YIELD_EVERY = 4096
#: Scheduled actions (wake-ups, timers, order messages) the kernel runs one after another
#: at one simulated instant before it calls the run stalled: a loop that waits without
#: letting simulated time pass (``await ctx.sleep(0)`` forever, a zero-latency
#: submit/cancel loop) would otherwise spin forever while the watchdog sees progress.
SAME_INSTANT_LIMIT = 1_000_000


@types.coroutine
def _drive(
    table: dict[type, Callable[[Any], Any]],
    on_depth: Callable[[DepthUpdate, Any], Any],
    books: dict[str, Any],
) -> Generator[Any, Any, None]:
    """One strategy's callback loop: take the next event, await its callback, repeat."""
    event = yield NEXT_EVENT
    while True:
        kind = type(event)
        if kind is DepthUpdate:
            yield from on_depth(event, books.get(event.symbol))
        else:
            yield from table[kind](event)
        event = yield NEXT_EVENT


@types.coroutine
def _body(coro: Coroutine[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """A spawned task or ``on_stop``: on the stack, it tells the watchdog strategy code runs."""
    return (yield from coro)


#: The frames through which the kernel enters strategy code (see :mod:`.watchdog`).
DRIVERS = (_drive.__code__, _body.__code__)


class _Task:
    """A simulated task: a strategy's callback runner or a spawned coroutine."""

    __slots__ = (
        "close",
        "current",
        "done",
        "idle",
        "inbox",
        "kernel",
        "name",
        "send",
        "strategy",
        "throw",
        "ticket",
        "timeouts",
    )

    def __init__(
        self, kernel: Kernel, name: str, strategy: str, coro: Generator[Any, Any, Any] | Any
    ) -> None:
        self.kernel = kernel
        self.name = name
        self.strategy = strategy
        self.send = coro.send
        self.close = coro.close
        self.throw = coro.throw
        self.idle = False
        #: The ctx.timeout blocks it is inside, and its current park's ticket (timeouts.py).
        self.timeouts: list[SimTimeout] = []
        self.ticket: Ticket | None = None
        self.inbox: deque[Any] = deque()
        self.current: Any = None
        self.done = SimEvent()

    def wake(self) -> None:
        clock = self.kernel.clock
        clock.schedule(clock._now, PHASE_WAKE, self.kernel.resume, self)

    def deliver(self, event: Any) -> None:
        """Hand ``event`` to this runner now, or queue it while a callback is parked."""
        if self.idle:
            self.idle = False
            self.kernel.step(self, event)
        else:
            self.inbox.append(event)

    def __await__(self) -> Generator[Any, None, None]:
        """Spawned tasks can be awaited for completion."""
        return self.done.__await__()


def _unsimulated(marker: Any) -> TypeError:
    """The error for an await the simulation cannot drive, saying what to use instead."""
    if marker is None or isinstance(marker, asyncio.Future):
        what = (
            "an event-loop object (asyncio.sleep, anyio.sleep, a socket, a lock, a queue)"
            if marker is not None
            else "a bare event-loop yield (asyncio.sleep(0) or similar)"
        )
    else:
        what = repr(marker)
    return TypeError(
        f"awaited {what}, which the simulation cannot wait on: simulated time would not "
        "move for it; use await ctx.sleep(ns) or ctx.sleep_until(ns) for time, await an "
        "order handle (acked(), done(), filled()) for orders, ctx.spawn(coro) for "
        "concurrent work, and ctx.timeout(ns) / ctx.wait_for(awaitable, ns) for timeouts"
    )


def _stalled(arg: Any, when: int, names: list[str]) -> StrategyError:
    """The error for a run whose simulated time stopped at ``when`` (``arg``: the action's;
    ``names``: the run's strategies, for an action that does not name its own)."""
    task = getattr(arg, "task", arg)
    strategy = getattr(task, "strategy", None) or " or ".join(names)
    return StrategyError(
        strategy,
        "a wait that never lets simulated time pass",
        when,
        RuntimeError(
            f"{SAME_INSTANT_LIMIT:,} wake-ups, timers or order messages in a row at one "
            "simulated instant: simulated time no longer moves (a loop around "
            "await ctx.sleep(0), a timer re-armed at 0, orders with zero latency "
            "submitted and cancelled in a loop?); wait for a positive duration"
        ),
    )


class Kernel:
    """Runs one simulated world: merge epochs, the clock's heap and strategy tasks."""

    def __init__(
        self,
        clock: VirtualClock,
        merge: Merge,
        strategies: list[Strategy],
        exchange: Exchange,
        broker: SimBroker,
        quality: DataQuality,
        books: dict[str, Any],
        end: int | None = None,
        linger: int = 60 * SECOND,
        sequencing: Sequencing = "futures",
        book_policy: BookPolicy | None = None,
        callback_timeout: float | None = DEFAULT_CALLBACK_TIMEOUT,
        halt: Halt | None = None,
    ) -> None:
        self.clock = clock
        self.halt = halt or Halt()
        self._at_end = False  # the run stopped at ``end`` (the data went on past it)
        self.book_policy = book_policy
        self.merge = merge
        self.exchange = exchange
        self.broker = broker
        self.quality = quality
        self.books = books
        self.end = end
        self.linger = linger
        self.callback_timeout = callback_timeout
        #: Bumped each time the kernel enters strategy code; the watchdog samples it.
        self.progress = Progress()
        self.delivered = np.zeros(len(merge.streams), dtype=np.int64)
        self._spawned: set[_Task] = set()
        self._loop: Any = None
        self._host: Any = None
        self._outer: list[Any] = []
        self.runners: list[_Task] = []
        self.contexts: list[Context] = []
        self.strategies = strategies
        for strategy, name in zip(strategies, strategy_names(strategies), strict=True):
            self._add_runner(strategy, name)
        self._routes = self._build_routes()
        uses_books = {r: s.uses_books for r, s in zip(self.runners, strategies, strict=True)}
        self._bookless = bookless_routes(self._routes, uses_books.__getitem__)
        self._stream_books = self._build_books(sequencing)
        #: Per symbol, depth messages the strategy-side book skipped (see depth_delivery).
        self.undelivered_skipped: Counter[str] = Counter()

    def _add_runner(self, strategy: Strategy, name: str) -> None:
        runner_box: list[_Task] = []

        def deliver(event: Any) -> None:
            runner_box[0].deliver(event)

        ctx = Context(
            name,
            self.clock,
            self.broker.connect(name, deliver, overrides(strategy, "on_account_update")),
            self.books,
            lambda coro, task_name: self.spawn(coro, task_name or f"{name}.spawned", name),
            deliver,
        )
        books = self.books
        table: dict[type, Callable[[Any], Any]] = {
            event_type: getattr(strategy, callback) for event_type, callback in CALLBACKS.items()
        }
        table[TimerFired] = lambda fired: strategy.on_timer(fired.name, fired.now)
        table[Started] = lambda _: strategy.on_start(ctx)
        runner = _Task(
            self, name, name, _drive(table, strategy.on_depth, books if strategy.uses_books else {})
        )
        runner.send(None)
        runner.idle = True
        runner_box.append(runner)
        self.runners.append(runner)
        self.contexts.append(ctx)

    def _build_routes(self) -> list[tuple[_Task, ...]]:
        routes = []
        for stream_name, reader in zip(self.merge.streams, self.merge.readers, strict=True):
            event_type = KIND_EVENT[reader.feed.stream.kind]
            callback = CALLBACKS[event_type]
            routes.append(
                tuple(
                    runner
                    for runner, strategy in zip(self.runners, self.strategies, strict=True)
                    if overrides(strategy, callback)
                    and (strategy.streams is None or stream_name in strategy.streams)
                )
            )
        return routes

    def _build_books(self, sequencing: Sequencing) -> list[Any]:
        """A strategy-side book per symbol whose depth stream a book-using strategy takes;
        a mark price stream goes to the account view's marks (``position()``'s PnL)."""
        books: list[Any] = []
        for name, reader in zip(self.merge.streams, self.merge.readers, strict=True):
            stream = reader.feed.stream
            if stream.kind == "mark_price":
                books.append(self.broker.view.marks)
                continue
            wanted = stream.kind == "depth" and any(
                strategy.uses_books and (strategy.streams is None or name in strategy.streams)
                for strategy in self.strategies
            )
            if wanted and stream.symbol not in self.books:
                self.books[stream.symbol] = L2Book(stream.symbol, sequencing, self.book_policy)
            books.append(self.books[stream.symbol] if wanted else None)
        return books

    # -- tasks ---------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, strategy: str) -> _Task:
        """Start ``coro`` as a simulated task at the current time."""
        task = _Task(self, name, strategy, _body(coro))
        self._spawned.add(task)
        task.wake()
        return task

    def resume(self, task: _Task) -> None:
        self.step(task, None)

    def step(self, task: _Task, value: Any, throw: BaseException | None = None) -> None:
        """Run ``task`` with ``value`` (or ``throw`` into it) until it parks, idles or ends."""
        send = task.send
        inbox = task.inbox
        progress = self.progress
        if value is not None:
            task.current = value
        try:
            progress.calls += 1
            marker = send(value) if throw is None else task.throw(throw)
            while marker is NEXT_EVENT:
                if not inbox:
                    task.idle = True
                    return
                value = task.current = inbox.popleft()
                progress.calls += 1
                marker = send(value)
        except StopIteration:
            self._spawned.discard(task)
            task.done.set()
            return
        except StreamsimError:
            raise
        except (Exception, CallbackOverrun) as exc:
            raise StrategyError(task.strategy, self._during(task), self.clock._now, exc) from exc
        self.park(task, marker)

    def _during(self, task: _Task) -> str:
        """What ``task`` was running, for its error."""
        if task.current is None and task not in self.runners:
            return f"spawned task {task.name!r}"
        return during(task.current)

    def park(self, task: _Task, marker: Any) -> None:
        """Register what ``task`` waits on."""
        kind = type(marker)
        if getattr(self._loop, "_scheduled", None):
            self._refuse_wall_timeouts(task)
        if self.clock._entered or task.timeouts:
            self._park_timed(task, marker, kind)
        elif kind is Sleep:
            self.clock.schedule(marker.until, PHASE_WAKE, self.resume, task)
        elif kind is SimEvent:
            marker.add_waiter(task)
        else:
            self._refuse(task, _unsimulated(marker))

    def _refuse(self, task: _Task, cause: BaseException) -> None:
        """End the run for ``task``'s await: unwind the task here (its context managers
        exit in this host task), then raise the StrategyError."""
        try:
            task.close()
        except Exception:  # a finally that awaits again: the error below says enough
            log.debug("closing refused task %s", task.name, exc_info=True)
        raise StrategyError(task.strategy, during(task.current), self.clock._now, cause)

    def _refuse_wall_timeouts(self, task: _Task) -> None:
        outer = self._outer
        for handle, what in wall_timeouts(self._loop, self._host):
            if not any(handle is known for known in outer):
                self._refuse(task, wall_timeout_error(what))

    def _park_timed(self, task: _Task, marker: Any, kind: type) -> None:
        """Park a task inside ``ctx.timeout`` blocks through a ticket the expiry can void."""
        clock = self.clock
        if clock._entered:
            adopt(task, clock._entered, self._schedule_expiry)
        if kind is not Sleep and kind is not SimEvent:
            self._refuse(task, _unsimulated(marker))
        ticket = task.ticket = Ticket(task, self._wake_ticket)
        if kind is Sleep:
            clock.schedule(marker.until, PHASE_WAKE, self._resume_ticket, ticket)
        else:
            marker.add_waiter(ticket)

    def _schedule_expiry(self, timeout: SimTimeout) -> None:
        self.clock.schedule(timeout.deadline, PHASE_WAKE, self._expire, timeout)

    def _wake_ticket(self, ticket: Ticket) -> None:
        self.clock.schedule(self.clock._now, PHASE_WAKE, self._resume_ticket, ticket)

    def _resume_ticket(self, ticket: Ticket) -> None:
        if ticket.live:
            ticket.live = False
            self.step(ticket.task, None)

    def _expire(self, timeout: SimTimeout) -> None:
        """A ``ctx.timeout`` deadline: cancel the parked task's await (CancelledError)."""
        ticket = timeout.task.ticket
        if timeout.done or ticket is None or not ticket.live:
            return
        ticket.live = False
        timeout.expired = True
        task = timeout.task
        try:
            self.step(task, None, asyncio.CancelledError("ctx.timeout expired"))
        except asyncio.CancelledError as exc:  # swallowed by the task's own code
            raise StrategyError(task.strategy, during(task.current), self.clock._now, exc) from exc

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Drive the world from the first event to the end."""
        loop = asyncio.get_running_loop()
        with (
            simulating(),
            Watchdog(self.callback_timeout, self.progress, DRIVERS),
            no_threads_for_strategies(loop, DRIVERS),
        ):
            self._loop = loop
            self._host = asyncio.current_task()
            self._outer = [handle for handle, _ in wall_timeouts(self._loop, self._host)]
            await self._run()

    async def _run(self) -> None:
        clock = self.clock
        epoch = await self.merge.next_epoch()
        if epoch is None:
            self._finish()
            return
        clock._now = epoch.first_time
        started = Started()
        for runner in self.runners:
            runner.deliver(started)
        stop = _INF if self.end is None else self.end + 1
        while epoch is not None:
            if epoch.horizon == _INF:  # the last epoch: up to the last event, or the end
                last = self.merge.last_local
                limit: float = max(clock._now, last if last is not None else clock._now) + 1
                limit = min(limit, stop)
            else:
                limit = min(epoch.horizon, stop)
            await self._process(epoch, limit)
            if self.halt.requested:
                break
            if limit >= stop:  # the data reaches the run's end: it stops there
                self._at_end = True
                break
            await anyio.lowlevel.checkpoint()
            epoch = await self.merge.next_epoch()
        else:
            deadline = clock._now + self.linger
            if self.end is None:
                await self._linger(deadline)
            else:  # the data ran out first: the span is its last event plus the linger
                last, until = clock._now, min(deadline, self.end)
                await self._linger(until)
                clock._now = max(clock._now, until)
                if until < self.end:
                    self.quality.notes.append(
                        f"the data ended at {last} ns, {(self.end - last) / SECOND:,.1f} s "
                        f"before the run's end {self.end} ns; the run stopped "
                        f"{self.linger / SECOND:g} s (linger) after its last event"
                    )
        self._finish()

    async def _linger(self, deadline: int) -> None:
        """After the last event, let callbacks still running finish (up to ``deadline``)."""
        clock = self.clock
        heap = clock._heap
        halt = self.halt
        while heap and heap[0][0] <= deadline and not all(r.idle for r in self.runners):
            if halt.requested or (clock.paced and not await clock.pace(heap[0][0], halt)):
                return
            when, _, _, action, arg = heappop(heap)
            clock._now = when
            action(arg)

    async def _process(self, epoch: Epoch, limit: float) -> None:
        """Run every action of ``epoch`` and of the heap before ``limit`` (exclusive)."""
        clock = self.clock
        heap = clock._heap
        paced = clock.paced
        routes = self._routes
        books = self._stream_books
        progress = self.progress
        exchange = self.exchange
        ex_t, ex_e = epoch.ex_times, epoch.ex_events
        loc_t, loc_e, loc_s = epoch.local_times, epoch.local_events, epoch.local_streams
        n_ex, n_loc = len(ex_t), len(loc_t)
        ei = li = 0
        event: Any = None
        runner: Any = None
        release: float = _INF
        next_yield = YIELD_EVERY
        same = 0
        halt = self.halt
        try:
            while not halt.requested:
                te = ex_t[ei] if ei < n_ex else _INF
                tl = loc_t[li] if li < n_loc else _INF
                if heap:
                    top = heap[0]
                    th: float = top[0]
                    phase = top[1]
                else:
                    th = _INF
                    phase = PHASE_WAKE
                if paced:
                    upcoming = min(te, tl, th)
                    if upcoming >= limit:
                        break
                    if not await clock.pace(int(upcoming), halt):
                        break
                    release = clock.released()
                if te <= tl and te <= th:
                    if te >= limit:
                        break
                    runner = None
                    stop = bisect_right(ex_t, min(tl, th, limit - 1, release), ei, n_ex)
                    clock._now = ex_t[ei]
                    ei = max(exchange.on_market(ex_e, ei, stop), ei + 1)
                    clock._now = ex_t[ei - 1]
                elif tl < th or (tl == th and phase > PHASE_LOCAL_MARKET):
                    if tl >= limit:
                        break
                    bound = th + 1 if phase > PHASE_LOCAL_MARKET else th
                    stop = bisect_left(loc_t, min(te, bound, limit, release + 1), li, n_loc)
                    if li >= next_yield:
                        # Let prefetching sources make progress during long epochs.
                        await anyio.lowlevel.checkpoint()
                        next_yield = li + YIELD_EVERY
                    stop = min(stop, next_yield)
                    depth = len(heap)
                    while li < stop:
                        clock._now = loc_t[li]
                        event = loc_e[li]
                        sid = loc_s[li]
                        li += 1
                        book = books[sid]
                        targets = routes[sid]
                        if book is not None and not book.apply(event):
                            targets = self._bookless[sid]
                            self.undelivered_skipped[event.symbol] += 1
                        for runner in targets:
                            if runner.idle:
                                progress.calls += 1
                                marker = runner.send(event)
                                if marker is not NEXT_EVENT:
                                    runner.idle = False
                                    runner.current = event
                                    self.park(runner, marker)
                            else:
                                runner.inbox.append(event)
                        if len(heap) != depth:
                            break
                else:
                    if th >= limit:
                        break
                    runner = None
                    when, _, _, action, arg = heappop(heap)
                    if when == clock._now:
                        same += 1
                        if same > SAME_INSTANT_LIMIT:
                            raise _stalled(arg, when, [c.name for c in self.contexts])
                    else:
                        same = 0
                    clock._now = when
                    action(arg)
        except (Exception, CallbackOverrun) as exc:
            if runner is None or isinstance(exc, StreamsimError):
                raise
            raise StrategyError(runner.strategy, during(event), clock._now, exc) from exc
        finally:
            self.delivered += np.bincount(
                epoch.local_stream_array[:li], minlength=len(self.delivered)
            )

    def _finish(self) -> None:
        """Stop: cancel what still waits, count what never ran, call ``on_stop``."""
        clock = self.clock
        if self._at_end and self.end is not None:
            clock._now = max(clock._now, self.end)
        quality = self.quality
        quality.actions_after_end += sum(
            1 for entry in clock._heap if not getattr(entry[4], "stale", False)
        )
        clock._heap.clear()
        quality.books.update(book_counts(self.books, self.undelivered_skipped))
        progress = self.progress
        for task in [*self.runners, *self._spawned]:
            quality.undelivered_at_end += len(task.inbox)
            if not task.idle:
                quality.tasks_cancelled_at_end += 1
                quality.notes.append(
                    f"{task.strategy}: {self._during(task)} was still waiting when the run "
                    "ended; it was cancelled"
                )
                progress.calls += 1
                try:
                    task.close()
                except (Exception, CallbackOverrun) as exc:
                    raise StrategyError(task.strategy, self._during(task), clock._now, exc) from exc
        for strategy, ctx in zip(self.strategies, self.contexts, strict=True):
            coro = _body(strategy.on_stop(ctx))
            progress.calls += 1
            try:
                marker = coro.send(None)
            except StopIteration:
                continue
            except (Exception, CallbackOverrun) as exc:
                raise StrategyError(ctx.name, "on_stop", clock._now, exc) from exc
            coro.close()
            quality.tasks_cancelled_at_end += 1
            quality.notes.append(
                f"{ctx.name}.on_stop awaited {marker!r} after the end of the run; it was cancelled"
            )
