"""Small builders shared by the tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import streamsim as ss
from streamsim.events import Levels


def book_levels(bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]]) -> Levels:
    """One message's levels from (price ticks, lots) pairs, bids then asks."""
    rows = [*bids, *asks]
    return Levels(
        np.array([p for p, _ in rows], dtype=np.int64),
        np.array([q for _, q in rows], dtype=np.int64),
        np.array([0, len(rows)], dtype=np.int64),
        np.array([len(bids)], dtype=np.int64),
    )


class Venue:
    """The exchange's side of a run, by hand: a clock, a record and the responses."""

    def __init__(self) -> None:
        self.t = 0
        self.record = ss.RunRecord()
        self.updates: list[ss.OrderUpdate] = []
        self.account: list[ss.AccountUpdate] = []

    def now(self) -> int:
        return self.t

    def respond(self, update: ss.OrderUpdate | ss.AccountUpdate) -> None:
        if isinstance(update, ss.AccountUpdate):
            self.account.append(update)
        else:
            self.updates.append(update)


def split(n: int, sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Cut ``range(n)`` into consecutive chunks of the given sizes (cycled, never empty)."""
    bounds, lo, i = [], 0, 0
    while lo < n:
        hi = min(n, lo + max(1, sizes[i % len(sizes)]))
        bounds.append((lo, hi))
        lo, i = hi, i + 1
    return bounds


def trade_source(
    symbol: str,
    ts_exchange: Sequence[int],
    ts_recv: Sequence[int] | None = None,
    sizes: Sequence[int] = (1_000_000,),
) -> ss.MemorySource:
    """Trades at the given times; price and trade id encode the row number."""
    ex = np.asarray(ts_exchange, dtype=np.int64)
    recv = None if ts_recv is None else np.asarray(ts_recv, dtype=np.int64)
    n = len(ex)
    rows = np.arange(n, dtype=np.int64)
    batches = [
        ss.TradeBatch(
            symbol,
            ex[a:b],
            None if recv is None else recv[a:b],
            rows[a:b] + 1000,
            np.ones(b - a, dtype=np.int64),
            np.ones(b - a, dtype=np.int8),
            rows[a:b],
        )
        for a, b in split(n, sizes)
    ]
    return ss.MemorySource(batches, ss.Stream(symbol, "trades"))


def oi_source(
    symbol: str, buckets: Sequence[int], recv: Sequence[int], sizes: Sequence[int] = (1000,)
) -> ss.MemorySource:
    """Open-interest rows with chosen bucket and receive times."""
    ex = np.asarray(buckets, dtype=np.int64)
    rc = np.asarray(recv, dtype=np.int64)
    values = np.arange(len(ex), dtype=np.float64)
    return ss.MemorySource(
        [
            ss.OpenInterestBatch(symbol, ex[a:b], rc[a:b], values[a:b], values[a:b])
            for a, b in split(len(ex), sizes)
        ],
        ss.Stream(symbol, "open_interest"),
    )


class Recorder(ss.Strategy):
    """Records every market event with the strategy-side time it arrived at."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.seen: list[tuple[Any, int]] = []
        self.ctx: ss.Context | None = None

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    def _record(self, event: Any) -> None:
        assert self.ctx is not None
        self.seen.append((event, self.ctx.now()))

    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)

    async def on_depth(self, update: ss.DepthUpdate, book: object) -> None:
        self._record(update)

    async def on_open_interest(self, oi: ss.OpenInterest) -> None:
        self._record(oi)

    async def on_mark_price(self, mark: ss.MarkPrice) -> None:
        self._record(mark)


FUNDING_PERIOD = 8 * 60 * ss.MINUTE
#: A start ten seconds before a funding time, so runs from it cross one after the venue's
#: book has synced (synthetic diffs carry update ids and no snapshot: a 5 s rebuild).
FUNDING_START = (10**18 // FUNDING_PERIOD + 1) * FUNDING_PERIOD - 10 * ss.SECOND
BTC_TEST = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001", min_notional="0.05")


class Flipper(ss.Strategy):
    """Every 20th trade a market order, alternating sides; every 50th a far limit order."""

    def __init__(self, name: str = "flipper") -> None:
        self.name = name
        self.handles: list[ss.OrderHandle] = []
        self.ctx: ss.Context | None = None
        self.trades = 0

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_trade(self, trade: ss.Trade) -> None:
        assert self.ctx is not None
        self.trades += 1
        if self.trades % 20 == 0:
            side = ss.BUY if (self.trades // 20) % 2 else ss.SELL
            lots = 3 if side == ss.BUY else 2  # drift long: a position at funding time
            order = ss.Order("BTCUSDT", side, lots, type=ss.OrderType.MARKET)
            self.handles.append(self.ctx.broker.submit(order))
        if self.trades % 50 == 0:
            order = ss.Order("BTCUSDT", ss.BUY, 1, price=trade.price - 50)
            self.handles.append(self.ctx.broker.submit(order))


def flipper_run(seed: int, name: str = "flipper") -> tuple[ss.RunResult, ss.SimExchange, Flipper]:
    """A short trading run over synthetic data that crosses a funding time."""
    from streamsim.feed import synthetic

    sources = [
        *synthetic.market("BTCUSDT", FUNDING_START, n_depth=1_500, n_trades=400, seed=seed),
        synthetic.mark_prices("BTCUSDT", FUNDING_START, 14, seed=seed),
    ]
    exchange = ss.SimExchange([BTC_TEST])
    strategy = Flipper(name)
    result = ss.run_backtest(
        sources, strategy, exchange=exchange, latency=ss.ConstantLatency(5 * ss.MS)
    )
    return result, exchange, strategy
