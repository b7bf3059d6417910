"""Errors surface with context and never hang the run; slow sources never reorder time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import numpy as np
import pytest
from helpers import Recorder, split, trade_source

import streamsim as ss


class Failing:
    """Yields some batches, then raises."""

    def __init__(self, inner: ss.MemorySource, fail_after: int) -> None:
        self.inner = inner
        self.fail_after = fail_after

    @property
    def stream(self) -> ss.Stream:
        return self.inner.stream

    async def __aiter__(self) -> AsyncIterator[ss.Batch]:
        count = 0
        async for batch in self.inner:
            if count == self.fail_after:
                raise OSError("connection reset by peer")
            count += 1
            yield batch


class Slow:
    """Sleeps a seeded random (real) time before each batch, like a remote store."""

    def __init__(self, inner: ss.MemorySource, seed: int) -> None:
        self.inner = inner
        self.rng = np.random.default_rng(seed)

    @property
    def stream(self) -> ss.Stream:
        return self.inner.stream

    async def __aiter__(self) -> AsyncIterator[ss.Batch]:
        async for batch in self.inner:
            await anyio.sleep(float(self.rng.uniform(0, 0.004)))
            yield batch


def test_source_error_names_the_stream_and_time_and_cancels_the_run() -> None:
    good = trade_source("A", list(range(0, 1000, 10)), sizes=(10,))
    bad = Failing(trade_source("B", list(range(5, 1000, 10)), sizes=(10,)), fail_after=3)
    strategy = Recorder()
    with pytest.raises(ss.SourceError) as info:
        ss.run_backtest([good, bad], strategy)
    error = info.value
    assert error.stream == "B.trades"
    assert error.last_ts == 295  # the last ts_exchange read from B before it failed
    assert "connection reset by peer" in str(error)
    assert isinstance(error.__cause__, OSError)
    # Nothing at or after B's unread rows was delivered.
    assert all(event.ts_local < 295 for event, _ in strategy.seen)


class Raises(Recorder):
    async def on_trade(self, trade: ss.Trade) -> None:
        if trade.trade_id == 4:
            raise ZeroDivisionError("bad signal")


def test_strategy_error_names_strategy_callback_and_time() -> None:
    strategy = Raises(name="alpha")
    with pytest.raises(ss.StrategyError) as info:
        ss.run_backtest([trade_source("X", [10, 20, 30, 40, 50, 60])], strategy)
    error = info.value
    assert error.strategy == "alpha"
    assert error.now == 50
    assert "on_trade (event ts_local 50)" in str(error)
    assert isinstance(error.__cause__, ZeroDivisionError)


class RaisesAfterSleep(Recorder):
    async def on_trade(self, trade: ss.Trade) -> None:
        assert self.ctx is not None
        await self.ctx.sleep(100)
        raise RuntimeError("after waking")


def test_strategy_error_after_a_park_keeps_its_context() -> None:
    with pytest.raises(ss.StrategyError, match=r"on_trade \(event ts_local 10\).*after waking"):
        ss.run_backtest([trade_source("X", [10, 20])], RaisesAfterSleep())


@pytest.mark.parametrize("sizes", [(100,), (2,)])
def test_backwards_exchange_time_fails_with_both_times(sizes: tuple[int]) -> None:
    times = [0, 10, 20, 15, 30]
    with pytest.raises(ss.OutOfOrderError) as info:
        ss.run_backtest([trade_source("X", times, sizes=sizes)], Recorder())
    error = info.value
    assert (error.stream, error.row, error.previous, error.current) == ("X.trades", 3, 20, 15)
    assert "'X.trades'" in str(error) and "15 ns after 20 ns" in str(error)


def test_backwards_exchange_time_clamp_policy_counts() -> None:
    strategy = Recorder()
    result = ss.run_backtest(
        [trade_source("X", [0, 10, 20, 15, 12, 30], sizes=(2, 4))],
        strategy,
        out_of_order="clamp",
    )
    assert [e.ts_exchange for e, _ in strategy.seen] == [0, 10, 20, 20, 20, 30]
    q = result.quality.streams["X.trades"]
    assert q.exchange_backwards == 2 and q.exchange_backwards_max_ns == 8


def test_bad_batches_and_configs_are_refused() -> None:
    short = ss.TradeBatch(
        "X",
        np.array([1, 2], dtype=np.int64),
        None,
        np.array([1], dtype=np.int64),
        np.array([1, 1], dtype=np.int64),
        np.array([1, 1], dtype=np.int8),
        np.array([1, 2], dtype=np.int64),
    )
    with pytest.raises(ss.DataError, match="column 'price' has 1 rows"):
        ss.run_backtest([ss.MemorySource([short])], Recorder())
    wrong = trade_source("Y", [1])
    with pytest.raises(ss.DataError, match=r"stream X\.trades: got a trades batch of Y"):
        ss.run_backtest([ss.MemorySource(wrong._batches, ss.Stream("X", "trades"))], Recorder())
    with pytest.raises(ss.DataError, match="given by two sources"):
        ss.run_backtest([trade_source("X", [1]), trade_source("X", [2])], Recorder())
    with pytest.raises(ss.ConfigError, match="out_of_order"):
        ss.run_backtest([trade_source("X", [1])], Recorder(), out_of_order="skip")  # type: ignore[arg-type]
    with pytest.raises(ss.ConfigError, match="at least one source"):
        ss.run_backtest([], Recorder())


def test_slow_sources_never_reorder_time() -> None:
    rng = np.random.default_rng(11)
    streams = []
    for i in range(3):
        times = np.sort(rng.integers(0, 10_000, 300)).tolist()
        streams.append(
            (
                f"S{i}",
                times,
                [t + int(d) for t, d in zip(times, rng.integers(0, 50, 300), strict=True)],
            )
        )

    def sources(slow: bool) -> list[ss.Source]:
        made = [trade_source(sym, ex, recv, sizes=(7, 30, 3)) for sym, ex, recv in streams]
        return [Slow(s, seed=i) for i, s in enumerate(made)] if slow else list(made)

    fast, slow = Recorder(), Recorder()
    ss.run_backtest(sources(False), fast)
    ss.run_backtest(sources(True), slow, prefetch=1)
    key = [(e.symbol, e.trade_id, now) for e, now in fast.seen]
    assert key == [(e.symbol, e.trade_id, now) for e, now in slow.seen]
    assert len(key) == 900


@pytest.mark.asyncio
async def test_async_api_and_no_hang_on_failure() -> None:
    bad = Failing(trade_source("B", list(range(100)), sizes=(10,)), fail_after=0)
    slow = Slow(trade_source("A", list(range(100)), sizes=(1,)), seed=1)
    with anyio.fail_after(10), pytest.raises(ss.SourceError, match="before its first batch"):
        await ss.backtest([slow, bad], Recorder())
    result = await ss.backtest([trade_source("A", list(range(50)), sizes=(8,))], Recorder())
    assert result.total_events == 50


def test_split_helper() -> None:
    assert split(5, [2]) == [(0, 2), (2, 4), (4, 5)]
