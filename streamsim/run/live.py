"""The live runtime: the same strategies on the real event loop, on the wall clock.

Each source is pumped by its own task, so a quiet stream (open interest every few
minutes) never holds back the others; an event reaches the strategy side as it arrives,
and its ``ts_local`` is the clock's time of arrival. Each strategy's callbacks run one at
a time, in arrival order, in the strategy's own task; timers, order messages and
responses run from the :class:`~streamsim.run.clock.WallClock`'s heap. Everything runs
in one anyio task group: a failing source, broker or strategy cancels the run and is
raised with its context, and :meth:`LiveRuntime.stop` (or SIGINT / SIGTERM, with
``handle_signals``) ends it cleanly with the results so far.

Over recorded data (``replay=True``, paper live) each event is released when the clock
reaches its ``ts_exchange``: the venue side sees it then, the strategy side at the
``ts_local`` its feed model gives (arrival jitter included). :func:`paper_live` is this
runtime with a :class:`~streamsim.sim.broker.SimBroker` and a simulated exchange.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from functools import partial
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from ..book import BookPolicy, L2Book, Sequencing
from ..broker import Broker
from ..errors import ConfigError, SourceError, StrategyError, StreamsimError
from ..events import DepthUpdate
from ..feed.merge import FeedConfig, OutOfOrderPolicy, Prepared, StreamFeed, pick_models
from ..feed.quality import DataQuality, note_book_health
from ..feed.sources import Source
from ..results.metrics import Trials, from_record
from ..results.record import RunRecord
from ..sim.broker import SimBroker
from ..sim.exchange import Exchange, NullExchange
from ..sim.latency import ConstantLatency, OrderLatency
from ..strategy import Context, Strategy, TimerFired
from ..units import SECOND
from .callbacks import CALLBACKS, KIND_EVENT, Started, during, overrides, strategy_names
from .clock import PHASE_LOCAL_MARKET, WallClock
from .depth_delivery import book_counts, bookless_routes
from .engine import RunResult, _collect_source_reports, _first_leaf
from .parking import SimEvent
from .watchdog import (
    DEFAULT_CALLBACK_TIMEOUT,
    SAMPLES,
    CallbackOverrun,
    Progress,
    Watchdog,
    check_timeout,
)

log = logging.getLogger(__name__)

#: How long (wall seconds) ``on_stop`` may await after a live run before it is cancelled.
STOP_TIMEOUT = 5.0
#: How often (wall seconds) the end of a run checks whether callbacks are still busy.
_QUIET_POLL = 0.001

Deliver = Callable[[Any], None]


class Connection(Protocol):
    """Where a runtime gets each strategy's broker: the simulator's or a gateway's."""

    def connect(self, name: str, deliver: Deliver, wants_account: bool = True) -> Broker:
        """Strategy ``name``'s broker; its order and account updates go to ``deliver``."""
        ...


class LiveTask:
    """What ``ctx.spawn`` returns in a live run: await it for the task's completion."""

    __slots__ = ("done", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.done = SimEvent()

    def __await__(self) -> Any:
        return self.done.__await__()


class _Runner:
    """One strategy's inbox and the task that runs its callbacks, one at a time."""

    def __init__(self, name: str, strategy: Strategy, clock: WallClock, progress: Progress) -> None:
        self.name = name
        self.progress = progress
        self.strategy = strategy
        self.clock = clock
        self.inbox: deque[Any] = deque()
        self.busy = False
        #: The event whose callback runs now (for the note if the run ends meanwhile).
        self.current: Any = None
        self._ready = asyncio.Event()
        self.table: dict[type, Callable[[Any], Coroutine[Any, Any, Any]]] = {
            kind: getattr(strategy, callback) for kind, callback in CALLBACKS.items()
        }
        self.table[TimerFired] = lambda fired: strategy.on_timer(fired.name, fired.now)
        self.books: dict[str, Any] = {}

    def deliver(self, event: Any) -> None:
        self.inbox.append(event)
        self._ready.set()

    @property
    def idle(self) -> bool:
        return not self.busy and not self.inbox

    async def run(self) -> None:
        inbox = self.inbox
        table = self.table
        books = self.books
        on_depth = self.strategy.on_depth
        progress = self.progress
        while True:
            if not inbox:
                self._ready.clear()
                await self._ready.wait()
                continue
            event = inbox.popleft()
            self.busy = True
            self.current = event
            progress.calls += 1
            try:
                if type(event) is DepthUpdate:
                    await on_depth(event, books.get(event.symbol))
                else:
                    await table[type(event)](event)
            except StreamsimError:
                raise
            except (Exception, CallbackOverrun) as exc:
                raise StrategyError(self.name, during(event), self.clock.now(), exc) from exc
            self.busy = False


async def _run_spawned(
    coro: Coroutine[Any, Any, Any], strategy: str, task: LiveTask, runtime: LiveRuntime
) -> None:
    """A task a strategy spawned: its failure is a :class:`StrategyError` naming it."""
    runtime.progress.calls += 1
    try:
        await coro
    except StreamsimError:
        raise
    except (Exception, CallbackOverrun) as exc:
        raise StrategyError(strategy, during(None), runtime.clock.now(), exc) from exc
    finally:
        task.done.set()
        runtime._spawned.discard(task)


async def _call_on_stop(strategy: Strategy, ctx: Context, progress: Progress) -> None:
    """A strategy's ``on_stop`` (a frame of its own, for the watchdog)."""
    progress.calls += 1
    await strategy.on_stop(ctx)


#: The frames through which the live runtime enters strategy code (see :mod:`.watchdog`).
DRIVERS = (_Runner.run.__code__, _run_spawned.__code__, _call_on_stop.__code__)


class _Heartbeat:
    """Bumps the progress counter each time the event loop turns (at most every
    ``every`` s), so strategy code that awaits now and then is never taken as stuck."""

    def __init__(self, progress: Progress, every: float) -> None:
        self.progress = progress
        self.every = every
        self.loop = asyncio.get_running_loop()
        self.handle = self.loop.call_later(every, self.beat)

    def beat(self) -> None:
        self.progress.calls += 1
        self.handle = self.loop.call_later(self.every, self.beat)

    def cancel(self) -> None:
        self.handle.cancel()


class LiveRuntime:
    """Runs ``strategies`` on ``clock`` over ``sources``, with brokers from ``connection``.

    ``exchange`` is the venue-side consumer of market data (a simulated exchange in paper
    live; ``None`` when the venue is real). ``replay`` paces recorded sources by their
    ``ts_exchange``; live sources are delivered as they arrive.
    """

    def __init__(
        self,
        clock: WallClock,
        sources: Sequence[Source],
        strategies: Sequence[Strategy],
        connection: Connection,
        *,
        exchange: Exchange | None = None,
        quality: DataQuality | None = None,
        feed: FeedConfig = None,
        replay: bool = False,
        end: int | None = None,
        linger: int = 60 * SECOND,
        out_of_order: OutOfOrderPolicy = "fail",
        sequencing: Sequencing = "futures",
        book_policy: BookPolicy | None = None,
        callback_timeout: float | None = DEFAULT_CALLBACK_TIMEOUT,
    ) -> None:
        if not sources:
            raise ConfigError("a live run needs at least one source")
        if out_of_order not in ("fail", "clamp"):
            raise ConfigError(f"out_of_order must be 'fail' or 'clamp', got {out_of_order!r}")
        self.clock = clock
        self.book_policy = book_policy
        self.callback_timeout = check_timeout(callback_timeout)
        #: Bumped as strategy code is entered and by a heartbeat; the watchdog samples it.
        self.progress = Progress()
        self.sources = list(sources)
        self.exchange = exchange if exchange is not None and exchange.wants_market else None
        self.quality = quality or DataQuality()
        self.replay = replay
        self.end = end
        self.linger = linger
        self.interrupted = False
        self.start_time: int | None = None
        models = pick_models([s.stream for s in self.sources], feed)
        self.feeds = [
            StreamFeed(s.stream, rank, model, out_of_order, self.quality)
            for rank, (s, model) in enumerate(zip(self.sources, models, strict=True))
        ]
        self.streams = [str(s.stream) for s in self.sources]
        self.delivered = [0] * len(self.sources)
        self.books: dict[str, Any] = {}
        self.runners: list[_Runner] = []
        self.contexts: list[Context] = []
        self._spawned: set[LiveTask] = set()
        self._group: TaskGroup | None = None
        self._stop = anyio.Event()
        self._gate = anyio.Event()
        self._firsts: list[int | None] = []
        self._pumping = len(self.sources)
        self._in_flight = 0
        view = getattr(connection, "view", None)
        self._marks: Any = getattr(view, "marks", None)
        for strategy, name in zip(strategies, strategy_names(strategies), strict=True):
            self._add_runner(strategy, name, connection)
        self._routes = [self._route(i) for i in range(len(self.sources))]
        self._bookless = bookless_routes(self._routes, lambda r: r.strategy.uses_books)
        self._stream_books = [self._book(i, sequencing) for i in range(len(self.sources))]
        #: Per symbol, depth messages the strategy-side book skipped (see depth_delivery).
        self.undelivered_skipped: Counter[str] = Counter()

    def _add_runner(self, strategy: Strategy, name: str, connection: Connection) -> None:
        runner = _Runner(name, strategy, self.clock, self.progress)
        broker = connection.connect(name, runner.deliver, overrides(strategy, "on_account_update"))
        ctx = Context(
            name,
            self.clock,
            broker,
            self.books,
            lambda coro, task_name: self.spawn(coro, task_name or f"{name}.spawned", name),
            runner.deliver,
        )
        runner.table[Started] = lambda _: strategy.on_start(ctx)
        if strategy.uses_books:
            runner.books = self.books
        self.runners.append(runner)
        self.contexts.append(ctx)

    def _route(self, index: int) -> tuple[_Runner, ...]:
        name = self.streams[index]
        callback = CALLBACKS[KIND_EVENT[self.sources[index].stream.kind]]
        return tuple(
            runner
            for runner in self.runners
            if overrides(runner.strategy, callback)
            and (runner.strategy.streams is None or name in runner.strategy.streams)
        )

    def _book(self, index: int, sequencing: Sequencing) -> Any:
        """The strategy-side book a stream's events update (or the account view's marks,
        for a mark price stream, when the connection keeps one), else ``None``."""
        stream = self.sources[index].stream
        if stream.kind == "mark_price":
            return self._marks
        wanted = stream.kind == "depth" and any(
            r.strategy.uses_books
            and (r.strategy.streams is None or self.streams[index] in r.strategy.streams)
            for r in self.runners
        )
        if wanted and stream.symbol not in self.books:
            self.books[stream.symbol] = L2Book(stream.symbol, sequencing, self.book_policy)
        return self.books[stream.symbol] if wanted else None

    # -- tasks ---------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, strategy: str) -> LiveTask:
        """Run ``coro`` as a task of the run (a failure in it fails the run)."""
        if self._group is None:
            coro.close()
            raise StreamsimError("ctx.spawn is only available while the run is going")
        task = LiveTask(name)
        self._spawned.add(task)
        self._group.start_soon(_run_spawned, coro, strategy, task, self, name=name)
        return task

    def stop(self) -> None:
        """End the run now; it finishes with the results so far."""
        self._stop.set()

    # -- market data ---------------------------------------------------------------------

    async def _pump(self, index: int) -> None:
        """Deliver one source's events as they come (replay: as the clock reaches them)."""
        clock = self.clock
        opened = False
        try:
            async for prepared in self._prepared(index):
                times = prepared.ts_exchange.tolist()
                if not opened:
                    opened = True
                    self._opened(times[0])
                    await self._gate.wait()
                events = prepared.events
                for i, (ts_exchange, ts_local, event) in enumerate(
                    zip(times, prepared.ts_local.tolist(), events, strict=True)
                ):
                    if self.replay:
                        if self.end is not None and ts_exchange > self.end:
                            return
                        if ts_exchange > clock.now():
                            await clock.sleep_until(ts_exchange)
                    if self.exchange is not None:
                        # The batch lets the venue see where an instant ends.
                        self.exchange.on_market(events, i, i + 1)
                    if self.replay and ts_local > clock.now():
                        self._in_flight += 1
                        clock.schedule(
                            ts_local, PHASE_LOCAL_MARKET, self._arrive_later, (index, event)
                        )
                    else:
                        self._arrive(index, event)
        finally:
            if not opened:
                self._opened(None)
            self._pumped()

    async def _prepared(self, index: int) -> AsyncIterator[Prepared]:
        """The source's non-empty batches through its feed; a failure of the source itself
        is a :class:`SourceError` naming the stream and the last time read."""
        feed = self.feeds[index]
        batches = aiter(self.sources[index])
        last: int | None = None
        while True:
            try:
                batch = await anext(batches)
            except StopAsyncIteration:
                return
            except StreamsimError:
                raise
            except Exception as exc:
                raise SourceError(self.streams[index], last, exc) from exc
            prepared = feed.prepare(batch)
            if len(prepared.ts_exchange):
                last = int(prepared.ts_exchange[-1])
                yield prepared

    def _opened(self, first: int | None) -> None:
        """A source has its first event (or none). Replay starts once every source has
        (the clock is anchored at the earliest); a live run starts at once."""
        self._firsts.append(first)
        if self._gate.is_set() or (self.replay and len(self._firsts) < len(self.sources)):
            return
        firsts = [t for t in self._firsts if t is not None]
        if self.replay and firsts:
            self.clock.anchor(min(firsts))
        self._begin(min(firsts) if firsts else self.clock.now())

    def _begin(self, start: int) -> None:
        """Give every strategy its ``on_start``, before any event, and open the gate."""
        self.start_time = start
        started = Started()
        for runner in self.runners:
            runner.deliver(started)
        self._gate.set()

    def _arrive_later(self, arrival: tuple[int, Any]) -> None:
        self._in_flight -= 1
        self._arrive(*arrival)

    def _arrive(self, index: int, event: Any) -> None:
        """The strategy side receives ``event`` now."""
        event.ts_local = self.clock.now()
        self.delivered[index] += 1
        book = self._stream_books[index]
        targets = self._routes[index]
        if book is not None and not book.apply(event):
            targets = self._bookless[index]
            self.undelivered_skipped[event.symbol] += 1
        for runner in targets:
            runner.deliver(event)

    def _pumped(self) -> None:
        self._pumping -= 1
        if self._pumping == 0 and self._group is not None:
            self._group.start_soon(self._quiet_then_stop)

    async def _quiet_then_stop(self) -> None:
        """After the last event: let busy callbacks finish (up to ``linger``), then stop."""
        deadline = self.clock.now() + self.linger
        while self.clock.now() < deadline and (
            self._in_flight or not all(r.idle for r in self.runners)
        ):
            await anyio.sleep(_QUIET_POLL)
        self.stop()

    async def _stop_at_end(self, end: int) -> None:
        # A replay's clock is anchored at the first event when the gate opens: a wait
        # measured before that would be measured from the wrong time (and never end).
        await self._gate.wait()
        await self.clock.sleep_until(end + 1)
        self.stop()

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.warning("%s: stopping the run", signal.Signals(signum).name)
                self.interrupted = True
                self.stop()
                return

    # -- the run -------------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = False) -> None:
        """Run until the sources end (and callbacks settle), ``end``, or :meth:`stop`."""
        budget = self.callback_timeout
        beat = None if budget is None else _Heartbeat(self.progress, min(budget / SAMPLES, 1.0))
        try:
            with Watchdog(budget, self.progress, DRIVERS):
                await self._run(handle_signals)
        finally:
            if beat is not None:
                beat.cancel()

    async def _run(self, handle_signals: bool) -> None:
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                group.start_soon(self.clock.run, name="clock")
                if handle_signals:
                    group.start_soon(self._watch_signals, name="signals")
                if self.end is not None:
                    group.start_soon(self._stop_at_end, self.end, name="end")
                if not self.replay:
                    self._begin(self.clock.now())
                for i, name in enumerate(self.streams):
                    group.start_soon(self._pump, i, name=f"source {name}")
                for runner in self.runners:
                    group.start_soon(runner.run, name=f"strategy {runner.name}")
                await self._stop.wait()
                group.cancel_scope.cancel()
        except BaseExceptionGroup as group_error:
            leaf = _first_leaf(group_error)
            raise leaf from leaf.__cause__
        finally:
            self._group = None
        await self._finish()

    async def _finish(self) -> None:
        """Count what never ran, then give each strategy its ``on_stop``."""
        quality = self.quality
        quality.actions_after_end += self.clock.pending() + self._in_flight
        quality.books.update(book_counts(self.books, self.undelivered_skipped))
        for runner in self.runners:
            quality.undelivered_at_end += len(runner.inbox)
            quality.tasks_cancelled_at_end += runner.busy
            if runner.busy:
                quality.notes.append(
                    f"{runner.name}: {during(runner.current)} was still running when the run "
                    "ended; it was cancelled"
                )
        quality.tasks_cancelled_at_end += len(self._spawned)
        for task in sorted(self._spawned, key=lambda t: t.name):
            quality.notes.append(
                f"spawned task {task.name!r} was still running when the run ended; it was cancelled"
            )
        for name, count in zip(self.streams, self.delivered, strict=True):
            if name in quality.streams:
                quality.streams[name].delivered = count
        for runner, ctx in zip(self.runners, self.contexts, strict=True):
            for timer_name in list(ctx._timers):
                ctx.cancel_timer(timer_name)
            with anyio.move_on_after(STOP_TIMEOUT) as scope:
                try:
                    await _call_on_stop(runner.strategy, ctx, self.progress)
                except (Exception, CallbackOverrun) as exc:
                    raise StrategyError(ctx.name, "on_stop", self.clock.now(), exc) from exc
            if scope.cancelled_caught:
                quality.tasks_cancelled_at_end += 1
                quality.notes.append(
                    f"{ctx.name}.on_stop was still waiting {STOP_TIMEOUT:g} s after the run "
                    "ended; it was cancelled"
                )


async def paper_live(
    sources: Sequence[Source],
    strategies: Strategy | Sequence[Strategy],
    *,
    feed: FeedConfig = None,
    latency: OrderLatency | None = None,
    exchange: Exchange | None = None,
    speed: float = 1.0,
    end: int | None = None,
    linger: int = 60 * SECOND,
    out_of_order: OutOfOrderPolicy = "fail",
    sequencing: Sequencing = "futures",
    book_policy: BookPolicy | None = None,
    handle_signals: bool = False,
    callback_timeout: float | None = DEFAULT_CALLBACK_TIMEOUT,
    trials: Trials | None = None,
) -> RunResult:
    """Paper trading on the wall clock: ``strategies`` against a simulated ``exchange``
    with the order ``latency`` model, over ``sources`` released in real time x ``speed``.

    The strategies run on the real event loop exactly as they will against a live venue
    (see :class:`LiveRuntime`); the clock starts at the first event's ``ts_exchange``.
    ``end`` stops the run at that clock time; ``handle_signals`` makes SIGINT / SIGTERM
    stop it cleanly (``RunResult.interrupted``); ``callback_timeout`` is the watchdog's
    budget (wall seconds a callback may run without awaiting). The options mean what they mean for
    :func:`~streamsim.run.engine.backtest`.
    """
    if isinstance(strategies, Strategy):
        strategies = [strategies]
    clock = WallClock(speed, start=0)
    exchange = exchange or NullExchange()
    quality = DataQuality()
    quality.notes.extend(exchange.check_streams([str(source.stream) for source in sources]))
    record = RunRecord(quality=quality)
    broker = SimBroker(clock, exchange, latency or ConstantLatency(0), record)
    runtime = LiveRuntime(
        clock,
        sources,
        strategies,
        broker,
        exchange=exchange,
        quality=quality,
        feed=feed,
        replay=True,
        end=end,
        linger=linger,
        out_of_order=out_of_order,
        sequencing=sequencing,
        book_policy=book_policy,
        callback_timeout=callback_timeout,
    )
    wall = time.perf_counter()
    await runtime.run(handle_signals=handle_signals)
    wall = time.perf_counter() - wall
    _collect_source_reports(sources, quality)
    venue = exchange.report()
    note_book_health(quality, venue.get("book_health", {}))
    if runtime.interrupted:
        quality.notes.append("the run was interrupted (SIGINT/SIGTERM): results so far")
    if record.late_samples:
        quality.notes.append(
            f"{record.late_samples:,} market events reached the simulated exchange after a "
            "later one (the streams are delivered concurrently on the wall clock, as live); "
            "their equity samples are kept at the later time"
        )
    start_time = runtime.start_time if runtime.start_time is not None else clock.now()
    end_time = clock.now() if end is None else max(min(clock.now(), end), start_time)
    return RunResult(
        quality=quality,
        events=dict(zip(runtime.streams, runtime.delivered, strict=True)),
        start_time=start_time,
        end_time=end_time,
        wall_seconds=wall,
        orders_submitted=broker.submitted,
        responses=broker.responses,
        strategies=[ctx.name for ctx in runtime.contexts],
        exchange=venue,
        record=record,
        metrics=from_record(record, trials=trials),
        interrupted=runtime.interrupted,
    )


def run_paper_live(
    sources: Sequence[Source], strategies: Strategy | Sequence[Strategy], **options: Any
) -> RunResult:
    """Synchronous :func:`paper_live` for scripts; Ctrl-C stops it with the results so far."""
    options.setdefault("handle_signals", True)
    return anyio.run(partial(paper_live, sources, strategies, **options))
