"""Portfolio accounting: positions, ledger, fees, funding, margin brackets, liquidation."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamsim as ss
from streamsim.sim.portfolio import (
    BTCUSDT_BRACKETS,
    BracketTable,
    MarginBracket,
    Portfolio,
)

BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001")
ETH = ss.Instrument("ETHUSDT", tick_size="0.01", lot_size="0.001")
ETH_BRACKETS = BracketTable(
    (
        MarginBracket(10_000, 75, 0.0065, 0),
        MarginBracket(math.inf, 50, 0.01, 35),
    )
)
INSTRUMENTS = {"BTCUSDT": BTC, "ETHUSDT": ETH}
BUY, SELL = 1, -1


def btc_only(balance: float = 10_000.0, leverage: int = 20) -> Portfolio:
    return Portfolio({"BTCUSDT": BTC}, balance, leverage=leverage)


def two_symbols(balance: float) -> Portfolio:
    return Portfolio(INSTRUMENTS, balance, brackets={"ETHUSDT": ETH_BRACKETS})


def ledger_sum(p: Portfolio, *reasons: str) -> float:
    return math.fsum(e.amount for e in p.ledger if not reasons or e.reason in reasons)


# ------------------------------------------------------------------ positions and PnL


def test_open_add_reduce_flip() -> None:
    p = btc_only()
    # buy 1 BTC at 60000, buy 1 BTC at 62000 -> long 2 at 61000
    p.apply_fill(1, "BTCUSDT", BUY, 1000, 600_000, 0.0)
    p.apply_fill(2, "BTCUSDT", BUY, 1000, 620_000, 0.0)
    pos = p.position("BTCUSDT")
    assert (pos.lots, pos.entry_price, pos.realized_pnl) == (2000, 61_000.0, 0.0)

    # sell 0.5 at 63000: realizes 0.5 * 2000; entry unchanged
    fill = p.apply_fill(3, "BTCUSDT", SELL, 500, 630_000, 0.0, ref="c1")
    assert fill.realized_pnl == pytest.approx(1_000.0)
    assert (fill.qty, fill.notional, fill.ref) == (pytest.approx(0.5), pytest.approx(31_500), "c1")
    pos = p.position("BTCUSDT")
    assert (pos.lots, pos.entry_price) == (1500, 61_000.0)

    # sell 2.5 at 59000: closes 1.5 (loss 1.5 * 2000), opens short 1 at 59000
    fill = p.apply_fill(4, "BTCUSDT", SELL, 2500, 590_000, 0.0)
    assert fill.realized_pnl == pytest.approx(-3_000.0)
    pos = p.position("BTCUSDT")
    assert (pos.lots, pos.entry_price) == (-1000, 59_000.0)
    assert pos.realized_pnl == pytest.approx(-2_000.0)
    assert p.wallet == pytest.approx(8_000.0)

    # short gains when price falls; closing realizes exactly that
    p.mark(5, "BTCUSDT", 58_000.0)
    assert p.unrealized("BTCUSDT") == pytest.approx(1_000.0)
    assert p.equity == pytest.approx(9_000.0)
    p.apply_fill(6, "BTCUSDT", BUY, 1000, 580_000, 0.0)
    assert p.position("BTCUSDT").lots == 0
    assert p.position("BTCUSDT").entry_price == 0.0
    assert p.unrealized() == 0.0
    assert p.wallet == pytest.approx(9_000.0)
    assert [e.reason for e in p.ledger] == ["deposit", "fill_pnl", "fill_pnl", "fill_pnl"]


def test_fees_taker_and_maker_rebate() -> None:
    p = btc_only()
    taker = p.apply_fill(1, "BTCUSDT", BUY, 1000, 600_000, 0.0005, ref="t")
    assert taker.fee == pytest.approx(30.0)
    maker = p.apply_fill(2, "BTCUSDT", SELL, 1000, 600_000, -0.0001, ref="m")
    assert maker.fee == pytest.approx(-6.0)
    fees = [e for e in p.ledger if e.reason == "fee"]
    assert [(e.amount, e.ref) for e in fees] == [
        (pytest.approx(-30.0), "t"),
        (pytest.approx(6.0), "m"),
    ]
    assert p.wallet == pytest.approx(10_000.0 - 30.0 + 6.0)


@pytest.mark.parametrize(
    ("side", "rate", "expected"),
    [(BUY, 0.0001, -6.0), (BUY, -0.0001, 6.0), (SELL, 0.0001, 6.0), (SELL, -0.0001, -6.0)],
)
def test_funding_sign(side: int, rate: float, expected: float) -> None:
    p = btc_only()
    p.apply_fill(1, "BTCUSDT", side, 1000, 500_000, 0.0)
    # funding uses the mark at funding time, not the entry: 1 BTC * 60000 * rate
    assert p.apply_funding(8, "BTCUSDT", rate, 60_000.0) == pytest.approx(expected)
    assert ledger_sum(p, "funding") == pytest.approx(expected)
    assert p.wallet == pytest.approx(10_000.0 + expected)


def test_funding_once_per_funding_time() -> None:
    p = btc_only()
    p.apply_fill(1, "BTCUSDT", BUY, 1000, 600_000, 0.0)
    assert p.apply_funding(100, "BTCUSDT", 0.0001, 60_000.0) == pytest.approx(-6.0)
    assert p.apply_funding(100, "BTCUSDT", 0.0001, 60_000.0) == 0.0
    assert p.apply_funding(50, "BTCUSDT", 0.0001, 60_000.0) == 0.0
    assert p.apply_funding(200, "BTCUSDT", 0.0001, 60_000.0) == pytest.approx(-6.0)
    assert [e.ts for e in p.ledger if e.reason == "funding"] == [100, 200]
    # flat positions pay nothing and book nothing
    q = btc_only()
    assert q.apply_funding(100, "BTCUSDT", 0.0001, 60_000.0) == 0.0
    assert [e.reason for e in q.ledger] == ["deposit"]


def test_funding_is_per_symbol() -> None:
    p = two_symbols(10_000.0)
    p.apply_fill(1, "BTCUSDT", BUY, 1000, 600_000, 0.0)
    p.apply_fill(1, "ETHUSDT", SELL, 1000, 300_000, 0.0)
    assert p.apply_funding(100, "BTCUSDT", 0.0001, 60_000.0) == pytest.approx(-6.0)
    assert p.apply_funding(100, "ETHUSDT", 0.0001, 3_000.0) == pytest.approx(0.3)


def test_bad_input_raises() -> None:
    p = btc_only()
    with pytest.raises(ValueError, match="unknown symbol 'XRPUSDT'"):
        p.apply_fill(1, "XRPUSDT", BUY, 1, 1, 0.0)
    with pytest.raises(ValueError, match="side"):
        p.apply_fill(1, "BTCUSDT", 0, 1, 1, 0.0)
    with pytest.raises(ValueError, match="lots"):
        p.apply_fill(1, "BTCUSDT", BUY, 0, 1, 0.0)
    with pytest.raises(ValueError, match="mark price"):
        p.mark(1, "BTCUSDT", math.nan)
    with pytest.raises(ss.ConfigError, match="ETHUSDT: no margin bracket table"):
        Portfolio(INSTRUMENTS, 1.0)
    with pytest.raises(ss.ConfigError, match="leverage"):
        Portfolio({"BTCUSDT": BTC}, 1.0, leverage={})


def test_an_inverse_instrument_without_a_margin_asset_is_a_config_error() -> None:
    inverse = ss.Instrument(
        "BTCUSD_PERP", "0.1", "1", contract_size=100, kind=ss.ContractKind.INVERSE
    )
    with pytest.raises(ss.ConfigError, match="BTCUSD_PERP: inverse instruments need a margin"):
        Portfolio({"BTCUSD_PERP": inverse}, 1.0, brackets={"BTCUSD_PERP": BTCUSDT_BRACKETS})


# ------------------------------------------------------------------ margin


def test_margins_and_leverage_capped_by_bracket() -> None:
    p = btc_only(balance=100_000.0, leverage=125)
    p.apply_fill(1, "BTCUSDT", BUY, 500, 600_000, 0.0)  # 0.5 BTC = 30_000 notional
    assert p.leverage("BTCUSDT") == 125
    assert p.initial_margin("BTCUSDT") == pytest.approx(30_000 / 125)
    assert p.maintenance_margin("BTCUSDT") == pytest.approx(30_000 * 0.004)
    p.mark(2, "BTCUSDT", 120_000.0)  # 60_000 notional -> bracket 2, max 100x
    assert p.leverage("BTCUSDT") == 100
    assert p.initial_margin() == pytest.approx(600.0)
    assert p.maintenance_margin() == pytest.approx(60_000 * 0.005 - 50)
    assert p.margin_balance == p.equity == pytest.approx(130_000.0)
    assert p.available_balance == pytest.approx(130_000.0 - 600.0)


def test_can_open() -> None:
    p = btc_only(balance=1_000.0, leverage=20)  # 1000 USDT buys 20_000 notional
    assert p.can_open("BTCUSDT", BUY, 333, 600_000)  # 19_980
    assert not p.can_open("BTCUSDT", BUY, 334, 600_000)  # 20_040
    p.apply_fill(1, "BTCUSDT", BUY, 300, 600_000, 0.0)
    assert p.can_open("BTCUSDT", BUY, 33, 600_000)
    assert not p.can_open("BTCUSDT", BUY, 34, 600_000)
    p.mark(2, "BTCUSDT", 40_000.0)  # loss of 6000: equity negative
    assert p.available_balance < 0
    assert p.can_open("BTCUSDT", SELL, 300, 400_000)  # reducing always fits
    assert not p.can_open("BTCUSDT", SELL, 301, 400_000)  # a flip opens a new short


# ------------------------------------------------------------------ brackets


def test_bracket_cum_amounts_are_consistent() -> None:
    rows = BTCUSDT_BRACKETS.brackets
    assert rows[0].maint_amount == 0
    assert rows[-1].notional_cap == math.inf
    for prev, cur in itertools.pairwise(rows):
        expected = prev.maint_amount + prev.notional_cap * (
            cur.maint_margin_rate - prev.maint_margin_rate
        )
        assert cur.maint_amount == pytest.approx(expected, rel=1e-12)
        # so the maintenance margin is continuous at every cap
        cap = prev.notional_cap
        assert cap * cur.maint_margin_rate - cur.maint_amount == pytest.approx(
            BTCUSDT_BRACKETS.maintenance_margin(cap), rel=1e-12
        )
    assert [b.max_leverage for b in rows] == [125, 100, 50, 20, 10, 5, 4, 3, 2, 1]


def test_bracket_for_boundaries() -> None:
    t = BTCUSDT_BRACKETS
    assert t.bracket_for(0).max_leverage == 125
    assert t.bracket_for(50_000).max_leverage == 125  # caps are inclusive
    assert t.bracket_for(50_000.01).max_leverage == 100
    assert t.bracket_for(500_000).max_leverage == 100
    assert t.bracket_for(500_001).max_leverage == 50
    assert t.bracket_for(300_000_000).max_leverage == 2
    assert t.bracket_for(1e12).max_leverage == 1
    assert t.maintenance_margin(100_000) == pytest.approx(100_000 * 0.005 - 50)
    with pytest.raises(ValueError, match="notional"):
        t.bracket_for(-1.0)
    finite = BracketTable((MarginBracket(10.0, 10, 0.01, 0.0),))
    assert finite.bracket_for(1e9).notional_cap == 10.0  # above the last cap: last row
    with pytest.raises(ss.ConfigError, match="increasing"):
        BracketTable((MarginBracket(10.0, 10, 0.01, 0.0), MarginBracket(10.0, 5, 0.02, 0.1)))


def test_bracket_table_from_binance() -> None:
    rows: list[dict[str, object]] = [
        {"bracket": 2, "initialLeverage": 100, "notionalCap": 500000, "notionalFloor": 50000,
         "maintMarginRatio": 0.005, "cum": 50.0},
        {"bracket": 1, "initialLeverage": "125", "notionalCap": "50000", "notionalFloor": "0",
         "maintMarginRatio": "0.004", "cum": "0.0"},
    ]  # fmt: skip
    table = BracketTable.from_binance(rows)
    assert table.brackets == BTCUSDT_BRACKETS.brackets[:2]


# ------------------------------------------------------------------ liquidation


def _long_account() -> Portfolio:
    p = btc_only(balance=1_000.0)
    p.apply_fill(1, "BTCUSDT", BUY, 100, 600_000, 0.0)  # 0.1 BTC at 60000
    return p


def test_liquidation_price_of_a_long() -> None:
    p = _long_account()
    liq = p.liquidation_price("BTCUSDT")
    assert liq is not None
    # 1000 + 0.1 * (p - 60000) = 0.1 * p * 0.004
    assert liq == pytest.approx(5_000 / 0.0996)

    above = _long_account()
    above.mark(2, "BTCUSDT", liq + 0.1)
    assert above.check_liquidation(2) == []
    assert above.position("BTCUSDT").lots == 100

    for price in (liq, liq - 0.1, 40_000.0):
        q = _long_account()
        q.mark(2, "BTCUSDT", price)
        assert q.check_liquidation(3) == ["BTCUSDT"]
        assert q.position("BTCUSDT").lots == 0
        fee = [e for e in q.ledger if e.reason == "liquidation_fee"]
        assert len(fee) == 1
        assert fee[0].amount == pytest.approx(-0.0125 * 0.1 * price)
        assert fee[0].ref == "liquidation"
        last = q.fills[-1]
        assert (last.ref, last.side, last.lots, last.price, last.price_ticks) == (
            "liquidation", SELL, 100, price, None)  # fmt: skip
        assert q.wallet == pytest.approx(1_000 + 0.1 * (price - 60_000) - 0.0125 * 0.1 * price)
        assert q.check_liquidation(4) == []


def test_liquidation_price_of_a_short_with_another_position() -> None:
    p = two_symbols(2_000.0)
    p.apply_fill(1, "BTCUSDT", SELL, 200, 600_000, 0.0)
    p.apply_fill(1, "ETHUSDT", BUY, 1000, 300_000, 0.0)
    p.mark(2, "ETHUSDT", 2_900.0)
    liq = p.liquidation_price("BTCUSDT")
    assert liq is not None and liq > 60_000
    p.mark(3, "BTCUSDT", liq)
    assert p.margin_balance == pytest.approx(p.maintenance_margin(), rel=1e-9)
    p.mark(3, "BTCUSDT", liq - 0.1)
    assert p.check_liquidation(4) == []
    p.mark(3, "BTCUSDT", liq)
    assert p.check_liquidation(4) == ["BTCUSDT", "ETHUSDT"]
    assert p.unrealized() == 0.0


def test_liquidation_price_none() -> None:
    p = btc_only(balance=100_000.0)
    assert p.liquidation_price("BTCUSDT") is None  # flat
    p.apply_fill(1, "BTCUSDT", BUY, 1000, 600_000, 0.0)  # fully collateralized long
    assert p.liquidation_price("BTCUSDT") is None


@given(
    side=st.sampled_from([BUY, SELL]),
    lots=st.integers(1, 500_000),
    entry=st.integers(100_000, 1_000_000),
    leverage_used=st.floats(1.5, 15.0),
)
def test_liquidation_price_solves_margin_equation(
    side: int, lots: int, entry: int, leverage_used: float
) -> None:
    notional = BTC.notional(entry, lots)
    p = btc_only(balance=notional / leverage_used, leverage=125)
    p.apply_fill(1, "BTCUSDT", side, lots, entry, 0.0)
    liq = p.liquidation_price("BTCUSDT")
    assert liq is not None  # leverage > 1: every long and short has one
    entry_price = BTC.ticks_to_price(entry)
    assert (liq < entry_price) if side == BUY else (liq > entry_price)
    p.mark(2, "BTCUSDT", liq)
    assert p.margin_balance == pytest.approx(p.maintenance_margin(), rel=1e-9, abs=1e-9 * notional)


# ------------------------------------------------------------------ invariants


@dataclass(frozen=True)
class FillStep:
    symbol: str
    side: int
    lots: int
    ticks: int
    fee_rate: float


@dataclass(frozen=True)
class MarkStep:
    symbol: str
    price: float


@dataclass(frozen=True)
class FundingStep:
    symbol: str
    ts: int
    rate: float
    price: float


@dataclass(frozen=True)
class LiquidationStep:
    pass


Step = FillStep | MarkStep | FundingStep | LiquidationStep
TICKS = {"BTCUSDT": (550_000, 650_000), "ETHUSDT": (280_000, 320_000)}
TICK = {"BTCUSDT": 0.1, "ETHUSDT": 0.01}
LOT = 0.001


@st.composite
def steps(draw: st.DrawFn) -> Step:
    symbol = draw(st.sampled_from(sorted(TICKS)))
    lo, hi = TICKS[symbol]
    kind = draw(st.sampled_from(["fill", "fill", "fill", "mark", "funding", "liquidation"]))
    if kind == "fill":
        return FillStep(
            symbol,
            draw(st.sampled_from([BUY, SELL])),
            draw(st.integers(1, 3_000)),
            draw(st.integers(lo, hi)),
            draw(st.sampled_from([0.0, 0.0005, 0.0002, -0.0001])),
        )
    price = draw(st.integers(lo, hi)) * TICK[symbol] + draw(st.floats(0, 0.01))
    if kind == "mark":
        return MarkStep(symbol, price)
    if kind == "funding":
        return FundingStep(symbol, draw(st.integers(0, 5)), draw(st.floats(-0.003, 0.003)), price)
    return LiquidationStep()


def _close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, scale)


@given(balance=st.sampled_from([500.0, 5_000.0, 1e6]), script=st.lists(steps(), max_size=60))
def test_accounting_invariants(balance: float, script: list[Step]) -> None:
    p = two_symbols(balance)
    # independent reference: cash paid for fills and net lots per symbol
    cash = dict.fromkeys(TICKS, 0.0)
    net = dict.fromkeys(TICKS, 0)
    mark: dict[str, float] = {}
    marked: set[str] = set()
    funded: dict[str, int] = {}
    gross = 0.0
    for ts, step in enumerate(script, start=1):
        if isinstance(step, FillStep):
            fill = p.apply_fill(ts, step.symbol, step.side, step.lots, step.ticks, step.fee_rate)
            price = step.ticks * TICK[step.symbol]
            cash[step.symbol] -= step.side * step.lots * LOT * price
            net[step.symbol] += step.side * step.lots
            if step.symbol not in marked:  # until the first mark, the last fill price stands in
                mark[step.symbol] = price
            gross += fill.notional
            assert fill.fee == pytest.approx(fill.notional * step.fee_rate)
        elif isinstance(step, MarkStep):
            p.mark(ts, step.symbol, step.price)
            mark[step.symbol] = step.price
            marked.add(step.symbol)
        elif isinstance(step, FundingStep):
            p.apply_funding(step.ts, step.symbol, step.rate, step.price)
            if step.ts > funded.get(step.symbol, -1):  # a repeated funding time is ignored
                funded[step.symbol] = step.ts
                mark[step.symbol] = step.price
                marked.add(step.symbol)
        else:
            for symbol in p.check_liquidation(ts):
                cash[symbol] -= -net[symbol] * LOT * mark[symbol]
                gross += abs(net[symbol]) * LOT * mark[symbol]
                net[symbol] = 0

        upnl = {s: p.unrealized(s) for s in TICKS}
        scale = gross + balance
        # equity is wallet plus unrealized PnL at the marks
        assert _close(p.equity, p.wallet + sum(upnl.values()), scale)
        # the ledger is the wallet, to the last bit, since every movement is one entry
        assert sum(e.amount for e in p.ledger) == p.wallet
        # wallet change = realized PnL + fees + funding + liquidation fees
        costs = ledger_sum(p, "fee", "funding", "liquidation_fee")
        assert _close(costs, p.wallet - balance - p.realized(), scale)
        assert _close(ledger_sum(p, "fill_pnl"), p.realized(), scale)
        for s in TICKS:
            position = p.position(s)
            assert position.lots == net[s]
            # realized + unrealized = cash flow of the fills + position valued at the mark,
            # whatever the averaging; when flat, realized PnL is exactly the cash flow
            value = net[s] * LOT * mark[s] if net[s] else 0.0
            assert _close(position.realized_pnl + upnl[s], cash[s] + value, scale)
            if net[s] == 0:
                assert upnl[s] == 0.0
                assert _close(position.realized_pnl, cash[s], scale)


def test_ledger_entries_are_complete() -> None:
    p = two_symbols(1_000.0)
    p.apply_fill(1, "BTCUSDT", BUY, 10, 600_000, 0.0004, ref="o1")
    p.apply_fill(2, "BTCUSDT", SELL, 10, 610_000, 0.0004, ref="o2")
    p.apply_fill(3, "ETHUSDT", SELL, 100, 300_000, 0.0)
    p.apply_funding(4, "ETHUSDT", 0.0001, 3_000.0)
    totals: dict[str, float] = {}
    for e in p.ledger:
        totals[e.reason] = totals.get(e.reason, 0.0) + e.amount
    assert totals == {
        "deposit": 1_000.0,
        "fee": pytest.approx(-(600.0 + 610.0) * 0.0004),
        "fill_pnl": pytest.approx(10.0),
        "funding": pytest.approx(0.03),
    }
    assert p.ledger[0].ts == 0 and p.ledger[0].symbol == ""
    assert {e.ref for e in p.ledger if e.symbol == "BTCUSDT"} == {"o1", "o2"}
