"""Reference strategies on toy markets (rising, falling, flat) and on the bundled sample.

Each toy market is built in memory: one depth snapshot, one trade and (every second) one
mark price per step, the mid moving ``drift`` ticks a step, so the direction of every
oracle's PnL is known in advance; the ledger must reconcile with fills, fees and funding.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, sample_sources
from strategies import (
    AlwaysLong,
    AlwaysShort,
    Flat,
    FundingFade,
    MarketMaker,
    MovingAverageCross,
    RandomOracle,
    Scheduled,
)

SYMBOL = "TOYUSDT"
TOY = ss.Instrument(SYMBOL, Decimal("0.1"), Decimal("0.001"))
START = 1_751_371_200 * ss.SECOND  # 2025-07-01 12:00 UTC
STEP = 100 * ss.MS
STEPS = 1_000  # 100 s
LEVELS = 5
FIRST = 600_000  # 60,000.0 USDT
FUNDING_AT = START + 50 * ss.SECOND
FUNDING_RATE = 0.0001
INITIAL = 10_000.0


def toy_market(drift: int) -> list[ss.MemorySource]:
    """Depth, trades and mark prices of a market whose mid moves ``drift`` ticks a step.

    Every depth message is a snapshot (``LEVELS`` levels a side, one tick either side of the
    mid), so the book never crosses whatever the drift. One trade a step prints at the touch
    in the direction of the drift; a mark price a second carries the mid and a funding time
    at ``FUNDING_AT``.
    """
    ts = START + np.arange(STEPS, dtype=np.int64) * STEP
    recv = ts + ss.MS
    mid = FIRST + drift * np.arange(STEPS, dtype=np.int64)
    offsets = np.arange(1, LEVELS + 1, dtype=np.int64)
    prices = np.concatenate([mid[:, None] - offsets, mid[:, None] + offsets], axis=1).ravel()
    qty = np.full(prices.shape, 500, dtype=np.int64)  # 0.5 BTC a level
    ids = np.full(STEPS, -1, dtype=np.int64)
    depth = ss.DepthBatch(
        SYMBOL,
        ts,
        recv,
        ids,
        ids,
        ids,
        np.ones(STEPS, dtype=np.bool_),
        np.arange(STEPS + 1, dtype=np.int64) * 2 * LEVELS,
        np.full(STEPS, LEVELS, dtype=np.int64),
        prices,
        qty,
    )
    side = np.full(STEPS, ss.SELL if drift < 0 else ss.BUY, dtype=np.int8)
    trade_ts = ts + 10 * ss.MS
    trades = ss.TradeBatch(
        SYMBOL,
        trade_ts,
        trade_ts + ss.MS,
        mid + side.astype(np.int64),
        np.full(STEPS, 3, dtype=np.int64),
        side,
        np.arange(1, STEPS + 1, dtype=np.int64),
    )
    every = slice(0, STEPS, 10)
    mark_ts = ts[every] + 20 * ss.MS
    mark = (mid[every] * 0.1).astype(np.float64)
    next_funding = np.where(mark_ts < FUNDING_AT, FUNDING_AT, FUNDING_AT + 8 * ss.HOUR)
    marks = ss.MarkPriceBatch(
        SYMBOL,
        mark_ts,
        mark_ts + ss.MS,
        mark,
        mark,
        mark,
        np.full(len(mark_ts), FUNDING_RATE),
        next_funding.astype(np.int64),
    )
    return [
        ss.MemorySource([depth], ss.Stream(SYMBOL, "depth")),
        ss.MemorySource([trades], ss.Stream(SYMBOL, "trades")),
        ss.MemorySource([marks], ss.Stream(SYMBOL, "mark_price")),
    ]


def run_toy(strategy: ss.Strategy, drift: int) -> tuple[ss.RunResult, ss.SimExchange]:
    exchange = ss.SimExchange([TOY], initial_balance=INITIAL)
    result = ss.run_backtest(
        toy_market(drift),
        strategy,
        exchange=exchange,
        latency=ss.ConstantLatency(10 * ss.MS),
    )
    return result, exchange


def assert_ledger_reconciles(exchange: ss.SimExchange) -> None:
    """Ledger == wallet, fees == fills' fees, fill PnL == fills' realized PnL, to the cent."""
    portfolio = exchange.portfolio
    ledger = portfolio.ledger
    fills = portfolio.fills
    by_reason: dict[str, float] = {}
    for entry in ledger:
        by_reason[entry.reason] = by_reason.get(entry.reason, 0.0) + entry.amount
    assert sum(e.amount for e in ledger) == pytest.approx(portfolio.wallet, abs=0.005)
    assert by_reason.get("deposit") == INITIAL
    assert -by_reason.get("fee", 0.0) == pytest.approx(sum(f.fee for f in fills), abs=0.005)
    assert by_reason.get("fill_pnl", 0.0) == pytest.approx(
        sum(f.realized_pnl for f in fills), abs=0.005
    )
    if portfolio.position(SYMBOL).lots == 0:
        # Flat at the end: the wallet moved by the fills' cash flow, fees and funding.
        cash = sum(-f.side * f.notional for f in fills)
        expected = INITIAL + cash - sum(f.fee for f in fills) + by_reason.get("funding", 0.0)
        assert portfolio.wallet == pytest.approx(expected, abs=0.005)


RISING, FALLING, FLAT = 5, -5, 0
QTY = 100  # 0.1 BTC, about 6,000 USDT


def test_always_long_gains_and_always_short_loses_on_a_rising_market() -> None:
    long_result, long_venue = run_toy(AlwaysLong(SYMBOL, QTY), RISING)
    short_result, short_venue = run_toy(AlwaysShort(SYMBOL, QTY), RISING)
    assert long_result.exchange["positions"][SYMBOL] == QTY
    assert short_result.exchange["positions"][SYMBOL] == -QTY
    assert long_result.exchange["equity"] > INITIAL
    assert short_result.exchange["equity"] < INITIAL
    assert long_result.metrics["total_return"] > 0
    assert short_result.metrics["total_return"] < 0
    # Funding at a positive rate: longs pay, shorts receive.
    assert long_result.exchange["ledger"]["funding"] < 0
    assert short_result.exchange["ledger"]["funding"] > 0
    assert_ledger_reconciles(long_venue)
    assert_ledger_reconciles(short_venue)


def test_oracles_flip_on_a_falling_market_and_flatten_on_schedule() -> None:
    exit_at = START + 80 * ss.SECOND
    long = AlwaysLong(SYMBOL, QTY, exit_at=exit_at)
    short = AlwaysShort(SYMBOL, QTY, hold=60 * ss.SECOND)
    long_result, long_venue = run_toy(long, FALLING)
    short_result, short_venue = run_toy(short, FALLING)
    for result, strategy in ((long_result, long), (short_result, short)):
        assert result.exchange["positions"][SYMBOL] == 0
        assert strategy.position == 0  # tracked from the order updates
        assert result.exchange["taker_fills"] >= 2
        assert result.exchange["equity"] == pytest.approx(result.exchange["wallet"])
    assert long.exited_at is not None and long.exited_at >= exit_at
    assert long_result.exchange["equity"] < INITIAL
    assert short_result.exchange["equity"] > INITIAL
    assert long_result.metrics["total_return"] < 0 < short_result.metrics["total_return"]
    assert_ledger_reconciles(long_venue)
    assert_ledger_reconciles(short_venue)


def test_flat_has_zero_pnl_and_zero_fees_on_a_flat_market() -> None:
    result, venue = run_toy(Flat(SYMBOL, QTY), FLAT)
    report = result.exchange
    assert report["fills"] == 0
    assert report["equity"] == INITIAL and report["wallet"] == INITIAL
    assert report["ledger"] == {"deposit": INITIAL}
    assert result.metrics["total_return"] == 0
    assert_ledger_reconciles(venue)


def test_always_long_on_a_flat_market_pays_only_costs() -> None:
    result, venue = run_toy(AlwaysLong(SYMBOL, QTY, hold=30 * ss.SECOND), FLAT)
    fees = result.exchange["ledger"]["fee"]
    assert fees < 0
    # Enter at the ask, leave at the bid: one tick of spread a side on 0.1 BTC.
    spread_cost = 2 * 0.1 * QTY * 0.001
    assert result.exchange["equity"] == pytest.approx(INITIAL + fees - spread_cost, abs=0.005)
    assert_ledger_reconciles(venue)


def test_random_oracle_is_seeded() -> None:
    runs = []
    for _ in range(2):
        strategy = RandomOracle(SYMBOL, QTY, seed=11, interval=10 * ss.SECOND)
        result, venue = run_toy(strategy, RISING)
        assert_ledger_reconciles(venue)
        assert strategy.position == result.exchange["positions"][SYMBOL]
        runs.append((strategy.draws, result.exchange["equity"]))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) >= 5


def test_schedule_and_ma_cross_on_toy_markets() -> None:
    plan = [(10 * ss.SECOND, QTY), (40 * ss.SECOND, -QTY), (70 * ss.SECOND, 0)]
    scheduled = Scheduled(SYMBOL, plan)
    result, venue = run_toy(scheduled, RISING)
    assert [target for _, target in scheduled.done] == [QTY, -QTY, 0]
    assert result.exchange["positions"][SYMBOL] == 0
    assert_ledger_reconciles(venue)

    cross = MovingAverageCross(SYMBOL, QTY, fast=3, slow=8, bar=2 * ss.SECOND)
    result, venue = run_toy(cross, RISING)
    assert cross.bar_count >= 40
    assert cross.signals and cross.signals[0][1] == QTY  # a rising market: fast above slow
    assert result.exchange["positions"][SYMBOL] == QTY
    assert_ledger_reconciles(venue)

    cross = MovingAverageCross(SYMBOL, QTY, fast=3, slow=8, bar=2 * ss.SECOND, source="mark")
    result, _ = run_toy(cross, FALLING)
    assert result.exchange["positions"][SYMBOL] == -QTY


def test_market_maker_gets_maker_fills_on_a_toy_market() -> None:
    maker = MarketMaker(SYMBOL, 2, half_spread=1, skew=0.5, max_position=6)
    result, venue = run_toy(maker, FLAT)
    assert result.exchange["maker_fills"] > 0
    assert result.exchange["taker_fills"] == 0
    assert abs(maker.position) <= 6 + 2
    assert maker.position == result.exchange["positions"][SYMBOL]
    assert_ledger_reconciles(venue)


def sample_strategies() -> list[ss.Strategy]:
    symbol = SAMPLE_INSTRUMENT.symbol
    return [
        AlwaysLong(symbol, 10, hold=2 * ss.MINUTE),
        AlwaysShort(symbol, 10),
        Flat(symbol, 10),
        RandomOracle(symbol, 10, seed=3, interval=30 * ss.SECOND),
        Scheduled(symbol, [(ss.MINUTE, 10), (3 * ss.MINUTE, -10), (6 * ss.MINUTE, 0)]),
        MovingAverageCross(symbol, 10, fast=3, slow=10, bar=5 * ss.SECOND),
        MarketMaker(symbol, 5, half_spread=0.5, skew=0.2, max_position=20),
        FundingFade(symbol, 10, threshold=0.00005),
    ]


@pytest.mark.parametrize("index", range(len(sample_strategies())))
def test_every_reference_strategy_runs_on_the_sample(index: int) -> None:
    strategy = sample_strategies()[index]
    exchange = ss.SimExchange([SAMPLE_INSTRUMENT], initial_balance=INITIAL)
    result = ss.run_backtest(
        sample_sources(),
        strategy,
        exchange=exchange,
        feed={"open_interest": ss.open_interest_preset(), "*": ss.Recorded()},
        latency=ss.ConstantLatency(10 * ss.MS),
    )
    report = result.exchange
    assert result.total_events > 29_000
    portfolio = exchange.portfolio
    assert sum(e.amount for e in portfolio.ledger) == pytest.approx(portfolio.wallet, abs=0.005)
    assert -report["ledger"].get("fee", 0.0) == pytest.approx(
        sum(f.fee for f in portfolio.fills), abs=0.005
    )
    assert strategy.position == report["positions"][SAMPLE_INSTRUMENT.symbol]  # type: ignore[attr-defined]
    if isinstance(strategy, Flat):
        assert report["fills"] == 0 and report["equity"] == INITIAL
    elif isinstance(strategy, MarketMaker):
        assert report["maker_fills"] > 0 and strategy.maker_fills > 0
    elif isinstance(strategy, FundingFade):
        assert strategy.funding_rate is not None and strategy.open_interest
    else:
        assert report["fills"] > 0
