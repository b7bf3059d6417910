"""position().unrealized_pnl is valued at the last mark price the strategy side received."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import streamsim as ss

SYMBOL = "BTCUSDT"
BTC = ss.Instrument(SYMBOL, tick_size="0.1", lot_size="0.001", min_notional="0.05")
START = 1_700_000_000 * ss.SECOND
I64 = np.int64
FEED_DELAY = 50 * ss.MS
MARKS = [(1 * ss.SECOND, 100.05), (2 * ss.SECOND, 100.2), (3 * ss.SECOND, 99.9)]


def _book() -> ss.MemorySource:
    """One snapshot: 500 lots at 100.0 bid and 100.1 ask."""
    batch = ss.DepthBatch(
        SYMBOL,
        np.array([START], dtype=I64),
        None,
        np.array([1], dtype=I64),
        np.array([1], dtype=I64),
        np.array([0], dtype=I64),
        np.array([True]),
        np.array([0, 2], dtype=I64),
        np.array([1], dtype=I64),
        np.array([1000, 1001], dtype=I64),
        np.array([500, 500], dtype=I64),
    )
    return ss.MemorySource([batch], ss.Stream(SYMBOL, "depth"))


def _marks() -> ss.MemorySource:
    ts = np.array([START + dt for dt, _ in MARKS], dtype=I64)
    mark = np.array([p for _, p in MARKS])
    batch = ss.MarkPriceBatch(
        SYMBOL, ts, None, mark, mark, mark, np.zeros(len(ts)), np.full(len(ts), START * 2)
    )
    return ss.MemorySource([batch], ss.Stream(SYMBOL, "mark_price"))


class Holder(ss.Strategy):
    """Buys 300 lots at once, then reads its position at each mark and just before each."""

    def __init__(self) -> None:
        self.at_marks: list[tuple[float, float, float]] = []
        self.before: list[float] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx
        ctx.broker.submit(ss.Order(SYMBOL, ss.BUY, 300, type=ss.OrderType.MARKET))
        ctx.spawn(self.probe())

    async def probe(self) -> None:
        for offset, _ in MARKS:
            await self.ctx.sleep_until(START + offset + FEED_DELAY - ss.MS)
            self.before.append(self.ctx.broker.position(SYMBOL).unrealized_pnl)

    async def on_mark_price(self, mark: ss.MarkPrice) -> None:
        position = self.ctx.broker.position(SYMBOL)
        self.at_marks.append((mark.mark, position.mark_price, position.unrealized_pnl))


def _pnl(mark: float) -> float:
    return (mark - 100.1) * 300 * 0.001


def _run(world: str, strategy: Holder) -> Any:
    options: dict[str, Any] = {
        "exchange": ss.SimExchange([BTC], initial_balance=1_000.0),
        "latency": ss.ConstantLatency(10 * ss.MS),
        "feed": {"depth": ss.Constant(0), "mark_price": ss.Constant(FEED_DELAY)},
    }
    if world == "backtest":
        return ss.run_backtest([_book(), _marks()], strategy, **options)
    return ss.run_paper_live([_book(), _marks()], strategy, speed=10.0, **options)


@pytest.mark.parametrize("world", ["backtest", "paper live"])
def test_unrealized_pnl_is_at_the_last_mark_the_strategy_received(world: str) -> None:
    strategy = Holder()
    _run(world, strategy)
    assert [(m, at) for m, at, _ in strategy.at_marks] == [(m, m) for _, m in MARKS]
    for mark, _, pnl in strategy.at_marks:
        assert pnl == pytest.approx(_pnl(mark))


def test_a_mark_the_strategy_has_not_received_yet_does_not_move_its_pnl() -> None:
    strategy = Holder()
    _run("backtest", strategy)
    # Just before each mark reaches the strategy: the previous one (the fill's price first).
    assert strategy.before == pytest.approx([_pnl(100.1), _pnl(100.05), _pnl(100.2)])
