"""The kernel and the strategy contract: parking, latency, timers, spawn, inboxes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from helpers import Recorder, trade_source

import streamsim as ss

S = ss.SECOND
MS = ss.MS


def evenly(n: int, gap: int, start: int = 0) -> list[int]:
    return [start + i * gap for i in range(n)]


class Sleeper(Recorder):
    """Sleeps 5 s inside the callback of the trade with id 2."""

    def __init__(self) -> None:
        super().__init__()
        self.woke: list[int] = []

    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)
        if trade.trade_id == 2:
            assert self.ctx is not None
            before = self.ctx.now()
            await self.ctx.sleep(5 * S)
            self.woke.append(self.ctx.now() - before)


def test_sleep_advances_exactly_and_events_queue_in_order() -> None:
    times = evenly(20, S // 2)  # one trade every 0.5 s for 10 s
    strategy = Sleeper()
    ss.run_backtest([trade_source("X", times)], strategy)
    assert strategy.woke == [5 * S]
    ids = [event.trade_id for event, _ in strategy.seen]
    assert ids == list(range(20))
    arrivals = {event.trade_id: now for event, now in strategy.seen}
    slept_from = times[2]
    # Events of the 5 s it slept (ids 3..12) arrive after it wakes, in order, at wake time.
    for tid in range(3, 13):
        assert times[tid] <= slept_from + 5 * S
        assert arrivals[tid] == slept_from + 5 * S
    # Later ones arrive on time again.
    for tid in range(13, 20):
        assert arrivals[tid] == times[tid]


class OrderOnFirstTrade(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[ss.OrderUpdate] = []
        self.handle: ss.OrderHandle | None = None
        self.ack_seen_at: int | None = None
        self.sent_at: int | None = None

    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)
        if trade.trade_id == 0:
            assert self.ctx is not None
            self.sent_at = self.ctx.now()
            self.handle = self.ctx.broker.submit(ss.Order("X", ss.BUY, 1, 1000))
            assert self.handle.status is ss.OrderStatus.PENDING
            await self.handle.acked()
            self.ack_seen_at = self.ctx.now()
            self.ctx.broker.cancel(self.handle)
            await self.handle.done()

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        self.updates.append(update)


def test_order_latency_on_both_legs() -> None:
    strategy = OrderOnFirstTrade()
    result = ss.run_backtest(
        [trade_source("X", evenly(100, 10 * MS))],
        strategy,
        latency=ss.ConstantLatency(entry=7 * MS, response=3 * MS),
    )
    handle = strategy.handle
    assert handle is not None and handle.status is ss.OrderStatus.CANCELED
    sent = strategy.sent_at
    assert sent is not None
    new, canceled = strategy.updates
    assert new.status is ss.OrderStatus.NEW
    assert new.ts_exchange == sent + 7 * MS
    assert new.ts_local == sent + 10 * MS == strategy.ack_seen_at
    assert canceled.status is ss.OrderStatus.CANCELED
    assert canceled.ts_exchange == sent + 10 * MS + 7 * MS
    assert canceled.ts_local == sent + 20 * MS
    assert result.orders_submitted == 1 and result.responses == 2


class ArrivalProbe(ss.NullExchange):
    """Records how many market events the venue had seen when each order arrived."""

    wants_market = True

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.last_trade: ss.Trade | None = None
        self.at_arrival: list[tuple[int, int | None]] = []

    def on_market(self, events: Sequence[Any], start: int, stop: int) -> int:
        self.seen += stop - start
        self.last_trade = events[stop - 1]
        return stop

    def on_order(self, request: ss.OrderRequest) -> None:
        price = self.last_trade.price if self.last_trade else None
        self.at_arrival.append((self.seen, price))
        super().on_order(request)


def test_orders_meet_the_exchange_side_state_at_arrival() -> None:
    # Trades every 10 ms, visible 1 ms later; an order sent at the first trade's ts_local
    # with 25 ms entry latency must meet the venue after trades 0, 1 and 2 (at 0, 10, 20 ms),
    # not the book the strategy saw when it sent it.
    ex = evenly(10, 10 * MS)
    probe = ArrivalProbe()
    strategy = OrderOnFirstTrade()
    ss.run_backtest(
        [trade_source("X", ex)],
        strategy,
        feed=ss.Constant(1 * MS),
        exchange=probe,
        latency=ss.ConstantLatency(25 * MS, 0),
    )
    seen, price = probe.at_arrival[0]
    assert seen == 3 and price == 1002  # price encodes the row number (helpers)


def test_latency_models() -> None:
    model = ss.LognormalLatency(entry_median=10 * MS, sigma=1.0, floor=4 * MS, seed=3)
    again = ss.LognormalLatency(entry_median=10 * MS, sigma=1.0, floor=4 * MS, seed=3)
    draws = [model.entry(0) for _ in range(500)]
    assert draws == [again.entry(0) for _ in range(500)]
    assert min(draws) == 4 * MS  # the floor binds
    assert 5 * MS < float(np.median(draws)) < 20 * MS
    recorded = ss.RecordedLatency([0, 100], [10, 30], [1, 1])
    assert [recorded.entry(t) for t in (-5, 0, 50, 100, 200)] == [10, 10, 20, 30, 30]
    assert recorded.response(50) == 1
    with pytest.raises(ss.ConfigError):
        ss.RecordedLatency([10, 0], [1, 1])
    with pytest.raises(ss.ConfigError):
        ss.ConstantLatency(-1)


class Timed(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.fired: list[tuple[str, int, int]] = []

    async def on_start(self, ctx: ss.Context) -> None:
        await super().on_start(ctx)
        ctx.set_timer("tick", 2 * S)
        ctx.set_timer("once", 1 * S, start=ctx.now() + 3 * S)

    async def on_timer(self, name: str, now: int) -> None:
        assert self.ctx is not None
        self.fired.append((name, now, self.ctx.now()))
        if name == "once":
            self.ctx.cancel_timer("once")


def test_timers_fire_on_schedule_and_cancel() -> None:
    strategy = Timed()
    ss.run_backtest([trade_source("X", evenly(11, S))], strategy)  # 0..10 s
    assert [f for f in strategy.fired if f[0] == "tick"] == [
        ("tick", t * S, t * S) for t in (2, 4, 6, 8, 10)
    ]
    assert [f for f in strategy.fired if f[0] == "once"] == [("once", 3 * S, 3 * S)]


class Spawner(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, int]] = []

    async def worker(self, label: str, pause: int) -> str:
        assert self.ctx is not None
        for _ in range(3):
            await self.ctx.sleep(pause)
            self.log.append((label, self.ctx.now()))
        return label

    async def on_start(self, ctx: ss.Context) -> None:
        await super().on_start(ctx)
        ctx.spawn(self.worker("a", 2 * S))
        task = ctx.spawn(self.worker("b", 3 * S))
        await task
        self.log.append(("joined", ctx.now()))


def test_spawned_tasks_run_on_simulated_time() -> None:
    strategy = Spawner()
    ss.run_backtest([trade_source("X", evenly(21, S))], strategy)
    assert strategy.log == [
        ("a", 2 * S),
        ("b", 3 * S),
        ("a", 4 * S),
        ("b", 6 * S),  # both wake at 6 s: b went to sleep first (at 3 s), so it wakes first
        ("a", 6 * S),
        ("b", 9 * S),
        ("joined", 9 * S),
    ]
    # on_start awaited for 9 s: the trades of those 9 s queued and then arrived in order.
    assert [e.trade_id for e, _ in strategy.seen] == list(range(21))
    assert all(now == 9 * S for e, now in strategy.seen if e.trade_id <= 9)


def test_each_strategy_has_its_own_inbox() -> None:
    slow, fast = Sleeper(), Recorder(name="fast")
    slow.name = "slow"
    times = evenly(20, S // 2)
    ss.run_backtest([trade_source("X", times)], [slow, fast])
    assert [now for _, now in fast.seen] == times
    assert [e.trade_id for e, _ in slow.seen] == list(range(20))
    assert slow.seen[3][1] == times[2] + 5 * S


def test_subscriptions_and_unused_callbacks() -> None:
    only_b = Recorder(name="only-b")
    only_b.streams = {"B.trades"}
    everything = Recorder(name="all")
    result = ss.run_backtest(
        [trade_source("A", [1, 2, 3]), trade_source("B", [1, 2])], [only_b, everything]
    )
    assert {e.symbol for e, _ in only_b.seen} == {"B"}
    assert len(everything.seen) == 5
    assert result.events == {"A.trades": 3, "B.trades": 2}


def test_duplicate_strategy_names_are_refused() -> None:
    with pytest.raises(ss.StreamsimError, match="two strategies are named 'x'"):
        ss.run_backtest([trade_source("X", [1])], [Recorder("x"), Recorder("x")])


class RealIO(Recorder):
    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)
        if trade.trade_id == 1:
            await asyncio.sleep(0.01)  # the simulation cannot drive real time


def test_awaiting_event_loop_io_in_a_simulation_is_a_strategy_error_naming_the_fix() -> None:
    with pytest.raises(ss.StrategyError, match=r"asyncio\.sleep.*ctx\.sleep") as info:
        ss.run_backtest([trade_source("X", [0, 10, 20])], RealIO())
    assert "on_trade (event ts_local 10)" in str(info.value)


class AwaitsJunk(Recorder):
    async def on_trade(self, trade: ss.Trade) -> None:
        class Junk:
            def __await__(self) -> Any:
                yield "junk"

        await Junk()


def test_awaiting_something_unsimulated_is_a_clear_error() -> None:
    with pytest.raises(ss.StrategyError, match="cannot wait on") as info:
        ss.run_backtest([trade_source("X", [5, 6])], AwaitsJunk())
    assert "on_trade (event ts_local 5)" in str(info.value)


class Forever(Recorder):
    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)
        if trade.trade_id == 0:
            assert self.ctx is not None
            await ss.SimEvent()

    async def on_stop(self, ctx: ss.Context) -> None:
        self.stopped_at = ctx.now()


def test_run_end_linger_and_what_is_counted() -> None:
    strategy = Forever()
    result = ss.run_backtest([trade_source("X", [0, 1, 2])], strategy)
    # The callback never returns: later events stay queued, all of it is counted.
    assert [e.trade_id for e, _ in strategy.seen] == [0]
    assert result.quality.tasks_cancelled_at_end == 1
    assert result.quality.undelivered_at_end == 2
    assert strategy.stopped_at == 2


def test_sleep_past_the_last_event_finishes_within_linger() -> None:
    strategy = Sleeper()
    result = ss.run_backtest([trade_source("X", [0, 1, 2, 3])], strategy)
    assert strategy.woke == [5 * S]
    assert [e.trade_id for e, _ in strategy.seen] == [0, 1, 2, 3]
    assert result.quality.undelivered_at_end == 0
    assert result.end_time == 2 + 5 * S


class LongSleeper(Recorder):
    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)
        assert self.ctx is not None
        await self.ctx.sleep(90 * S)
        self.seen.append(("woke", self.ctx.now()))


def test_linger_bounds_how_long_callbacks_may_run_after_the_data() -> None:
    cut = LongSleeper()
    result = ss.run_backtest([trade_source("X", [0])], cut)
    assert len(cut.seen) == 1  # 90 s is past the default 60 s linger
    assert result.quality.tasks_cancelled_at_end == 1
    assert result.quality.actions_after_end == 1
    patient = LongSleeper()
    result = ss.run_backtest([trade_source("X", [0])], patient, linger=120 * S)
    assert patient.seen[1] == ("woke", 90 * S)
    assert result.quality.tasks_cancelled_at_end == 0


def test_explicit_end_cuts_the_run() -> None:
    strategy = Recorder()
    result = ss.run_backtest([trade_source("X", evenly(10, S))], strategy, end=4 * S)
    assert [e.trade_id for e, _ in strategy.seen] == [0, 1, 2, 3, 4]
    assert result.end_time == 4 * S
    assert result.events == {"X.trades": 5}


def test_hot_path_takes_no_task_and_no_loop_round_trip_per_event() -> None:
    n = 20_000
    loop = asyncio.new_event_loop()
    created = 0
    iterations = 0

    def factory(loop_: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        nonlocal created
        created += 1
        return asyncio.Task(coro, loop=loop_, **kwargs)

    run_once = loop._run_once  # type: ignore[attr-defined]

    def counting_run_once() -> None:
        nonlocal iterations
        iterations += 1
        run_once()

    loop.set_task_factory(factory)
    loop._run_once = counting_run_once  # type: ignore[attr-defined]
    strategy = Recorder()
    try:
        result = loop.run_until_complete(
            ss.backtest([trade_source("X", evenly(n, MS), sizes=(5_000,))], strategy)
        )
    finally:
        loop.close()
    assert result.total_events == n == len(strategy.seen)
    assert created <= 5  # the run's own task, the reader's, the task group's
    assert iterations < 100  # a few per batch, none per event
