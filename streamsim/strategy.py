"""The strategy contract: an async callback class that runs unchanged in every world."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Collection, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from .account import AccountUpdate
from .broker import Broker
from .events import Bar, DepthUpdate, Liquidation, MarkPrice, OpenInterest, Ticker, Trade
from .orders import OrderUpdate
from .run.clock import Clock, Timer

T = TypeVar("T")


@dataclass(slots=True)
class TimerFired:
    """Internal event: the strategy's timer ``name`` fired at ``now``."""

    name: str
    now: int


class Strategy:
    """Base class: override the callbacks you need; the others cost nothing.

    Callbacks of one strategy run one at a time, in ``ts_local`` order. A callback may
    ``await ctx.sleep(...)`` or await an order handle; while it waits, simulated time
    moves on and later events queue for this strategy. ``streams`` limits delivery to the
    named streams (``"BTCUSDT.trades"``); ``None`` means every stream of the run.
    ``on_depth`` gets the symbol's strategy-side book with the update already applied; it
    is not called for a message the book skipped (stale, or while it waits for a
    snapshot), and ``book.valid`` is False while the book is not synced. A strategy with
    ``uses_books = False`` gets every message (``book`` None).
    """

    name: str | None = None
    streams: Collection[str] | None = None
    #: Keep a strategy-side L2 book of each symbol whose depth this strategy receives
    #: (``on_depth``'s ``book``, ``ctx.books``). A strategy that never reads a book can
    #: set False and skip applying every depth message on its timeline.
    uses_books: bool = True

    async def on_start(self, ctx: Context) -> None:
        """Called once, at the time of the run's first event, before any event."""

    async def on_depth(self, update: DepthUpdate, book: Any) -> None:
        """A depth message the strategy-side book applied; ``book`` is that book, update
        applied (check ``book.valid``), or ``None`` when ``uses_books = False``."""

    async def on_trade(self, trade: Trade) -> None:
        """A trade."""

    async def on_mark_price(self, mark: MarkPrice) -> None:
        """Mark price, index and funding."""

    async def on_open_interest(self, oi: OpenInterest) -> None:
        """Open interest of a bucket, once the feed model makes it visible."""

    async def on_ticker(self, ticker: Ticker) -> None:
        """24-hour ticker statistics."""

    async def on_liquidation(self, liquidation: Liquidation) -> None:
        """A liquidation order the venue published."""

    async def on_bar(self, bar: Bar) -> None:
        """A bar (when bars are subscribed or built)."""

    async def on_order_update(self, update: OrderUpdate) -> None:
        """Ack, partial fill, fill, cancel or reject of one of this strategy's orders, or of
        the venue's own liquidation order (``update.is_liquidation``), which every strategy
        of the account sees."""

    async def on_account_update(self, update: AccountUpdate) -> None:
        """The account changed (a fill, a funding payment, a liquidation): ``update.reason``
        says why. Every strategy of the run sees every account update (one account);
        ``ctx.broker.position()`` / ``account()`` already include it."""

    async def on_timer(self, name: str, now: int) -> None:
        """A timer set with ``ctx.set_timer`` fired."""

    async def on_stop(self, ctx: Context) -> None:
        """Called once after the last event. Time no longer moves: do not await it here."""


class Context:
    """What a strategy is given: the clock, the broker, timers, spawn and books."""

    def __init__(
        self,
        name: str,
        clock: Clock,
        broker: Broker,
        books: dict[str, Any],
        spawner: Any,
        timer_sink: Any,
    ) -> None:
        self.name = name
        self.clock = clock
        self.broker = broker
        self.books = books
        self.log = logging.getLogger(f"streamsim.strategy.{name}")
        self._spawner = spawner
        self._timer_sink = timer_sink
        self._timers: dict[str, Timer] = {}

    def now(self) -> int:
        """Current time on the strategy's timeline, ns."""
        return self.clock.now()

    def sleep(self, duration: int) -> Any:
        """Await this to wait ``duration`` ns of (simulated or real) time."""
        return self.clock.sleep(duration)

    def sleep_until(self, deadline: int) -> Any:
        """Await this to wait until ``deadline``."""
        return self.clock.sleep_until(deadline)

    def timeout(self, duration: int) -> Any:
        """``async with ctx.timeout(ns):`` cancel the block after ``duration`` ns of the
        world's time (simulated in a backtest, the wall clock live), raising
        ``TimeoutError``; use it instead of ``asyncio.timeout`` / ``anyio.fail_after``."""
        return self.clock.timeout(duration)

    async def wait_for(self, awaitable: Awaitable[T], timeout: int) -> T:
        """Await ``awaitable`` for at most ``timeout`` ns of the world's time; on expiry it
        is cancelled and ``TimeoutError`` is raised (instead of ``asyncio.wait_for``)."""
        async with self.clock.timeout(timeout):
            return await awaitable

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> Any:
        """Run ``coro`` concurrently, simulated like the callbacks; returns its task."""
        return self._spawner(coro, name)

    def set_timer(self, name: str, interval: int, start: int | None = None) -> Timer:
        """Call ``on_timer(name, now)`` every ``interval`` ns (first at ``start``)."""
        self.cancel_timer(name)
        sink = self._timer_sink
        timer = self.clock.every(interval, lambda now: sink(TimerFired(name, now)), start)
        self._timers[name] = timer
        return timer

    def cancel_timer(self, name: str) -> None:
        """Stop timer ``name`` if it is set."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
