"""Hypothesis properties of the feed, the merge and the kernel on random inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from helpers import trade_source
from hypothesis import given
from hypothesis import strategies as st

import streamsim as ss


class RecordingExchange(ss.NullExchange):
    """A venue that wants market data and records what it got, in order."""

    wants_market = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    def on_market(self, events: Sequence[Any], start: int, stop: int) -> int:
        self.seen.extend(events[start:stop])
        return stop


class Sleepy(ss.Strategy):
    """Records deliveries; on some trades sleeps or sends an order and awaits its ack."""

    def __init__(self, sleep: int, exchange: RecordingExchange) -> None:
        self.sleep = sleep
        self.exchange = exchange
        self.seen: list[tuple[str, int, int, int, int]] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_trade(self, trade: ss.Trade) -> None:
        now = self.ctx.now()
        self.seen.append(
            (trade.symbol, trade.trade_id, trade.ts_local, now, len(self.exchange.seen))
        )
        if self.sleep and trade.trade_id % 3 == 0:
            await self.ctx.sleep(self.sleep)
        elif trade.trade_id % 5 == 1:
            handle = self.ctx.broker.submit(ss.Order(trade.symbol, ss.BUY, 1, trade.price))
            await handle.acked()


@st.composite
def feed_models(draw: st.DrawFn) -> ss.FeedModel:
    choice = draw(st.sampled_from(["recorded", "constant", "fixed", "quantile"]))
    nbr = draw(st.booleans())
    if choice == "recorded":
        return ss.Recorded(base_latency=draw(st.integers(1, 5)), window=draw(st.integers(1, 6)))
    if choice == "constant":
        return ss.Constant(draw(st.integers(0, 8)), not_before_recv=nbr)
    if choice == "fixed":
        return ss.fixed(draw(st.integers(0, 8)), not_before_recv=nbr)
    low = draw(st.integers(0, 4))
    return ss.CausalQuantile(
        q=draw(st.floats(0, 1)),
        window=draw(st.integers(1, 5)),
        min_delay=low,
        max_delay=low + draw(st.integers(0, 10)),
        not_before_recv=nbr,
    )


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, Any]:
    n_streams = draw(st.integers(1, 4))
    streams = []
    for i in range(n_streams):
        n = draw(st.integers(0, 30))
        gaps = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
        delays = draw(st.lists(st.integers(-3, 12), min_size=n, max_size=n))
        ex = 1_000 + np.cumsum(np.asarray(gaps, dtype=np.int64))
        recv = ex + np.asarray(delays, dtype=np.int64)
        sizes = draw(st.lists(st.integers(1, 8), min_size=1, max_size=4))
        streams.append((f"S{i}", ex.tolist(), recv.tolist(), sizes, draw(feed_models())))
    return {
        "streams": streams,
        "latency": (draw(st.integers(0, 6)), draw(st.integers(0, 6))),
        "sleep": draw(st.integers(0, 7)),
    }


def run(world: dict[str, Any]) -> tuple[Sleepy, RecordingExchange, ss.RunResult]:
    exchange = RecordingExchange()
    strategy = Sleepy(world["sleep"], exchange)
    sources = [trade_source(sym, ex, recv, sizes) for sym, ex, recv, sizes, _ in world["streams"]]
    feed = {f"{sym}.trades": model for sym, _, _, _, model in world["streams"]}
    result = ss.run_backtest(
        sources,
        strategy,
        feed=feed,
        latency=ss.ConstantLatency(*world["latency"]),
        exchange=exchange,
    )
    return strategy, exchange, result


@given(worlds())
def test_causality_order_and_exactly_once(world: dict[str, Any]) -> None:
    strategy, exchange, result = run(world)
    ranks = {sym: i for i, (sym, *_rest) in enumerate(world["streams"])}
    ex_times = {(sym, row): t for sym, ex, *_rest in world["streams"] for row, t in enumerate(ex)}
    total = sum(len(ex) for _, ex, *_rest in world["streams"])

    # Every event exactly once.
    keys = [(sym, tid) for sym, tid, *_ in strategy.seen]
    assert len(keys) == len(set(keys)) == total == result.total_events

    # Never before ts_local; exactly at ts_local when the strategy never waits.
    for _, _, ts_local, now, _ in strategy.seen:
        assert now >= ts_local
        if world["sleep"] == 0 and world["latency"] == (0, 0):
            assert now == ts_local

    # ts_local >= ts_exchange, non-decreasing per stream.
    last: dict[str, int] = {}
    for sym, tid, ts_local, _, _ in strategy.seen:
        assert ts_local >= ex_times[sym, tid]
        assert ts_local >= last.get(sym, ts_local)
        last[sym] = ts_local

    # Delivery order is (ts_local, stream rank, row).
    order = [(ts_local, ranks[sym], tid) for sym, tid, ts_local, _, _ in strategy.seen]
    assert order == sorted(order)

    # The exchange saw every event once, by (ts_exchange, rank, row), and when the strategy
    # got an event at `now` it had seen exactly the events with ts_exchange <= now.
    ex_order = [(e.ts_exchange, ranks[e.symbol], e.trade_id) for e in exchange.seen]
    assert ex_order == sorted(ex_order) and len(ex_order) == total
    all_ex = sorted(ex_times.values())
    for _, _, _, now, exchange_seen in strategy.seen:
        assert exchange_seen == int(np.searchsorted(all_ex, now, side="right"))


@given(worlds())
def test_same_inputs_same_run(world: dict[str, Any]) -> None:
    first, _, result_a = run(world)
    second, _, result_b = run(world)
    assert first.seen == second.seen
    assert result_a.quality.to_dict() == result_b.quality.to_dict()
