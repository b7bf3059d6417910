"""The account a strategy sees: updates for fills, funding and liquidation, kept causally."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import streamsim as ss

SYMBOL = "BTCUSDT"
BTC = ss.Instrument(SYMBOL, tick_size="0.1", lot_size="0.001", min_notional="0.05")
PERIOD = 8 * ss.HOUR
FUNDING = (1_700_000_000 * ss.SECOND // PERIOD + 1) * PERIOD
START = FUNDING - 3 * ss.SECOND
ENTRY, RESPONSE = 20 * ss.MS, 30 * ss.MS

I64 = np.int64


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


def _marks(prices: list[tuple[int, float]]) -> ss.MemorySource:
    """Mark prices at (offset from START, price); funding 0.01 % due at FUNDING."""
    ts = np.array([START + dt for dt, _ in prices], dtype=I64)
    mark = np.array([p for _, p in prices])
    next_funding = np.where(ts < FUNDING, FUNDING, FUNDING + PERIOD).astype(I64)
    batch = ss.MarkPriceBatch(
        SYMBOL, ts, None, mark, mark, mark, np.full(len(ts), 0.0001), next_funding
    )
    return ss.MemorySource([batch], ss.Stream(SYMBOL, "mark_price"))


class Buyer(ss.Strategy):
    """Buys 300 lots at the first depth message, then listens to its account."""

    name = "buyer"

    def __init__(self) -> None:
        self.orders: list[ss.OrderUpdate] = []
        self.account: list[ss.AccountUpdate] = []
        self.after: list[tuple[str, int, float]] = []
        self.bought = False

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_depth(self, update: ss.DepthUpdate, book: Any) -> None:
        if not self.bought:
            self.bought = True
            self.ctx.broker.submit(ss.Order(SYMBOL, ss.BUY, 300, type=ss.OrderType.MARKET))

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        self.orders.append(update)

    async def on_account_update(self, update: ss.AccountUpdate) -> None:
        self.account.append(update)
        broker = self.ctx.broker
        self.after.append((update.reason.value, broker.position(SYMBOL).lots, broker.balance()))


def _backtest(sources: list[ss.MemorySource], strategy: ss.Strategy, **options: Any) -> Any:
    return ss.run_backtest(sources, strategy, **options)


def _paper_live(sources: list[ss.MemorySource], strategy: ss.Strategy, **options: Any) -> Any:
    return ss.run_paper_live(sources, strategy, speed=10.0, **options)


WORLDS: dict[str, Callable[..., ss.RunResult]] = {
    "backtest": _backtest,
    "paper live": _paper_live,
}


@pytest.mark.parametrize("world", list(WORLDS))
def test_funding_and_liquidation_reach_the_strategy_as_order_and_account_updates(
    world: str,
) -> None:
    exchange = ss.SimExchange([BTC], initial_balance=2.0, leverage=20)
    strategy = Buyer()
    marks = _marks(
        [
            (1 * ss.SECOND, 100.05),
            (2 * ss.SECOND, 100.05),  # funding due at FUNDING = START + 3 s
            (3_100 * ss.MS, 100.0),
            (4 * ss.SECOND, 80.0),  # far below the liquidation price
            (5 * ss.SECOND, 80.0),
        ]
    )
    result = WORLDS[world](
        [_book(), marks],
        strategy,
        exchange=exchange,
        latency=ss.ConstantLatency(ENTRY, RESPONSE),
        feed=ss.Constant(0),
    )
    reasons = [u.reason for u in strategy.account]
    assert reasons == [
        ss.AccountReason.ORDER,
        ss.AccountReason.FUNDING_FEE,
        ss.AccountReason.LIQUIDATION,
    ]
    funding = strategy.account[1]
    assert funding.balance_change == pytest.approx(-0.0001 * 0.3 * 100.0)
    liquidation = [u for u in strategy.orders if u.is_liquidation]
    assert len(liquidation) == 1
    assert liquidation[0].status is ss.OrderStatus.FILLED and liquidation[0].side == ss.SELL
    assert liquidation[0].filled_qty == 300
    # What the strategy reads afterwards is the venue's account.
    portfolio = exchange.portfolio
    assert strategy.after[-1][:2] == ("LIQUIDATION", 0)
    assert strategy.after[-1][2] == pytest.approx(portfolio.wallet)
    assert strategy.ctx.broker.position(SYMBOL).lots == portfolio.position(SYMBOL).lots == 0
    assert strategy.ctx.broker.balance() == pytest.approx(portfolio.wallet)
    assert result.record.account_updates == strategy.account
    assert [f.liquidity for f in result.record.fills] == ["taker", "liquidation"]


def test_the_position_a_strategy_reads_changes_only_after_the_response_latency() -> None:
    exchange = ss.SimExchange([BTC], initial_balance=1_000.0)
    seen: list[tuple[int, int, int]] = []

    class Prober(ss.Strategy):
        async def on_start(self, ctx: ss.Context) -> None:
            ctx.spawn(self.probe(ctx))

        async def probe(self, ctx: ss.Context) -> None:
            await ctx.sleep(ss.MS)
            sent = ctx.now()
            handle = ctx.broker.submit(ss.Order(SYMBOL, ss.BUY, 3, type=ss.OrderType.MARKET))
            for offset in (ENTRY - ss.MS, ENTRY + ss.MS, ENTRY + RESPONSE - ss.MS):
                await ctx.sleep_until(sent + offset)
                seen.append(
                    (
                        offset,
                        ctx.broker.position(SYMBOL).lots,
                        exchange.portfolio.position(SYMBOL).lots,
                    )
                )
            await handle.done()
            seen.append((ctx.now() - sent, ctx.broker.position(SYMBOL).lots, 3))

    ss.run_backtest(
        [_book(), _marks([(1 * ss.SECOND, 100.05)])],
        Prober(),
        exchange=exchange,
        latency=ss.ConstantLatency(ENTRY, RESPONSE),
    )
    assert seen == [
        (ENTRY - ss.MS, 0, 0),  # the order has not reached the venue
        (ENTRY + ss.MS, 0, 3),  # filled on the venue; the strategy does not know yet
        (ENTRY + RESPONSE - ss.MS, 0, 3),
        (ENTRY + RESPONSE, 3, 3),  # the account update arrived with the fill
    ]


def test_several_strategies_share_one_account_and_see_only_their_own_orders() -> None:
    class Trader(ss.Strategy):
        def __init__(self, name: str, lots: int) -> None:
            self.name = name
            self.lots = lots
            self.updates: list[str] = []
            self.reasons: list[str] = []

        async def on_start(self, ctx: ss.Context) -> None:
            self.ctx = ctx
            resting = ctx.broker.submit(ss.Order(SYMBOL, ss.BUY, 1, price=900))
            await resting.acked()
            self.open = [h.client_id for h in ctx.broker.open_orders(SYMBOL)]
            taken = ctx.broker.submit(ss.Order(SYMBOL, ss.BUY, self.lots, type=ss.OrderType.MARKET))
            await taken.done()
            await ctx.sleep(100 * ss.MS)  # the other strategy's fill arrives meanwhile
            self.position = ctx.broker.position(SYMBOL).lots
            self.cancelled = [h.client_id for h in ctx.broker.cancel_all(SYMBOL)]

        async def on_order_update(self, update: ss.OrderUpdate) -> None:
            self.updates.append(update.client_id)

        async def on_account_update(self, update: ss.AccountUpdate) -> None:
            self.reasons.append(update.ref)

    a, b = Trader("a", 2), Trader("b", 5)
    ss.run_backtest(
        [_book(), _marks([(1 * ss.SECOND, 100.05)])],
        [a, b],
        exchange=ss.SimExchange([BTC], initial_balance=1_000.0),
        latency=ss.ConstantLatency(ENTRY, RESPONSE),
    )
    assert {u.split("-")[0] for u in a.updates} == {"a"}
    assert {u.split("-")[0] for u in b.updates} == {"b"}
    assert a.open == ["a-1"] and b.open == ["b-2"]
    assert a.cancelled == ["a-1"] and b.cancelled == ["b-2"]
    assert a.position == b.position == 7  # one account: both fills
    assert sorted(a.reasons) == sorted(b.reasons) == ["a-3", "b-4"]
