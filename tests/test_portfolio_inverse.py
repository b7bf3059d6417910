"""Inverse (coin-M) accounting: contracts of ``contract_size`` USD, money in the base coin."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamsim as ss
from streamsim.sim.portfolio import DEFAULT_BRACKETS, BracketTable, Portfolio

INVERSE = ss.ContractKind.INVERSE
PERP = ss.Instrument(
    "BTCUSD_PERP", "0.1", "1", contract_size=100, kind=INVERSE, quote="USD", margin_asset="BTC"
)
QUARTER = ss.Instrument(
    "BTCUSD_230630", "0.1", "1", contract_size=100, kind=INVERSE, quote="USD", margin_asset="BTC"
)
LINEAR = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001")
BUY, SELL = 1, -1


def perp(balance: float, leverage: int = 20) -> Portfolio:
    return Portfolio(
        {"BTCUSD_PERP": PERP}, balance, leverage, brackets={"BTCUSD_PERP": DEFAULT_BRACKETS}
    )


def test_an_inverse_fill_books_notional_fee_and_a_harmonic_entry_in_the_coin() -> None:
    """Buy 10 contracts (1,000 USD) at 25,000: notional 1000/25000 = 0.04 BTC, fee at 5 bp
    0.00002 BTC. Buy 10 more at 20,000 (0.05 BTC): the entry is the harmonic mean
    20 / (10/25000 + 10/20000) = 20 / 0.0009 = 22,222.2...; sell all 20 at 30,000: realized
    2000 * (1/22222.2 - 1/30000) = 2000 * (0.000045 - 0.0000333...) = 0.0233333... BTC."""
    p = perp(1.0)
    fill = p.apply_fill(1, "BTCUSD_PERP", BUY, 10, 250_000, 0.0005)
    assert p.margin_asset == "BTC"
    assert fill.notional == pytest.approx(0.04, rel=1e-12)
    assert fill.fee == pytest.approx(0.00002, rel=1e-12)
    assert fill.qty == 1000.0  # USD face value
    p.apply_fill(2, "BTCUSD_PERP", BUY, 10, 200_000, 0.0)
    assert p.position("BTCUSD_PERP").entry_price == pytest.approx(20 / 0.0009, rel=1e-12)
    close = p.apply_fill(3, "BTCUSD_PERP", SELL, 20, 300_000, 0.0)
    assert close.realized_pnl == pytest.approx(0.09 - 2000 / 30_000, rel=1e-12)
    assert p.position("BTCUSD_PERP").lots == 0
    assert p.wallet == pytest.approx(1.0 - 0.00002 + 0.0233333333333, rel=1e-12)


def test_an_inverse_short_gains_coin_when_the_price_falls_and_flips_at_the_fill_price() -> None:
    """Short 10 at 25,000, buy 15 at 20,000: closes 10 for 1000 * (1/20000 - 1/25000) =
    0.05 - 0.04 = 0.01 BTC and leaves a long of 5 entered at 20,000."""
    p = perp(1.0)
    p.apply_fill(1, "BTCUSD_PERP", SELL, 10, 250_000, 0.0)
    fill = p.apply_fill(2, "BTCUSD_PERP", BUY, 15, 200_000, 0.0)
    assert fill.realized_pnl == pytest.approx(0.01, rel=1e-12)
    position = p.position("BTCUSD_PERP")
    assert (position.lots, position.entry_price) == (5, 20_000.0)


def test_inverse_unrealized_pnl_margins_and_funding_are_in_the_coin() -> None:
    """Long 10 at 25,000, marked at 20,000: unrealized 1000 * (1/25000 - 1/20000) = -0.01
    BTC; notional 1000/20000 = 0.05 BTC, initial margin at 20x 0.0025, maintenance at 1 %
    0.0005. Funding at mark 25,000, rate 0.01 %: the long pays 1000/25000 * 0.0001 =
    0.000004 BTC."""
    p = perp(1.0)
    p.apply_fill(1, "BTCUSD_PERP", BUY, 10, 250_000, 0.0)
    p.mark(2, "BTCUSD_PERP", 20_000.0)
    assert p.unrealized() == pytest.approx(-0.01, rel=1e-12)
    assert p.equity == pytest.approx(0.99, rel=1e-12)
    assert p.notional("BTCUSD_PERP") == pytest.approx(0.05, rel=1e-12)
    assert p.initial_margin() == pytest.approx(0.0025, rel=1e-12)
    assert p.maintenance_margin() == pytest.approx(0.0005, rel=1e-12)
    paid = p.apply_funding(3, "BTCUSD_PERP", 0.0001, 25_000.0)
    assert paid == pytest.approx(-0.000004, rel=1e-12)
    assert p.wallet == pytest.approx(1.0 - 0.000004, rel=1e-12)


def test_the_inverse_liquidation_price_is_hand_computed_and_liquidates() -> None:
    """Wallet 0.01 BTC, 1 % maintenance, no cum. Long 10 at 25,000 (q = 1000 USD):
    p = (q + |q| r) / (W + q/e) = 1010 / (0.01 + 0.04) = 20,200; there the equity
    0.01 + 1000 * (1/25000 - 1/20200) = 0.000495049... equals the maintenance margin
    1000/20200 * 0.01. Short 10 at 25,000: p = (-1000 + 10) / (0.01 - 0.04) = 33,000.
    A short whose wallet covers its largest coin loss 1000/25000 = 0.04 has none."""
    p = perp(0.01)
    p.apply_fill(1, "BTCUSD_PERP", BUY, 10, 250_000, 0.0)
    liq = p.liquidation_price("BTCUSD_PERP")
    assert liq == pytest.approx(20_200.0, rel=1e-12)
    p.mark(2, "BTCUSD_PERP", 20_300.0)
    assert p.check_liquidation(2) == []
    p.mark(3, "BTCUSD_PERP", 20_200.0)
    assert p.margin_balance == pytest.approx(p.maintenance_margin(), rel=1e-9)
    assert p.check_liquidation(3) == ["BTCUSD_PERP"]
    closing = p.fills[-1]
    assert closing.notional == pytest.approx(1000 / 20_200, rel=1e-12)
    fee = [e.amount for e in p.ledger if e.reason == "liquidation_fee"]
    assert fee == [pytest.approx(-0.0125 * 1000 / 20_200, rel=1e-12)]

    short = perp(0.01)
    short.apply_fill(1, "BTCUSD_PERP", SELL, 10, 250_000, 0.0)
    assert short.liquidation_price("BTCUSD_PERP") == pytest.approx(33_000.0, rel=1e-12)
    covered = perp(0.05)
    covered.apply_fill(1, "BTCUSD_PERP", SELL, 10, 250_000, 0.0)
    assert covered.liquidation_price("BTCUSD_PERP") is None


def test_coin_m_brackets_cap_contracts_not_notional() -> None:
    """Binance COIN-M ``qtyCap`` rows bound the position in contracts: 60 contracts fall in
    the second row (50, 100] whatever the price; at 25,000 the notional is 6000/25000 =
    0.24 BTC and the maintenance margin 0.24 * 0.005 - 0.0002 (that row's cum, in BTC)."""
    table = BracketTable.from_binance(
        [
            {"bracket": 1, "initialLeverage": 125, "qtyCap": 50, "qtylFloor": 0,
             "maintMarginRatio": 0.004, "cum": 0.0},
            {"bracket": 2, "initialLeverage": 100, "qtyCap": "100", "qtylFloor": "50",
             "maintMarginRatio": "0.005", "cum": "0.0002"},
        ]
    )  # fmt: skip
    assert table.unit == "contracts"
    p = Portfolio({"BTCUSD_PERP": PERP}, 1.0, 125, brackets={"BTCUSD_PERP": table})
    p.apply_fill(1, "BTCUSD_PERP", BUY, 60, 250_000, 0.0)
    assert p.leverage("BTCUSD_PERP") == 100
    assert p.maintenance_margin() == pytest.approx(0.24 * 0.005 - 0.0002, rel=1e-12)
    p.mark(2, "BTCUSD_PERP", 2_500.0)  # ten times the notional, same row
    assert p.leverage("BTCUSD_PERP") == 100
    liq = p.liquidation_price("BTCUSD_PERP")
    assert liq is not None
    p.mark(3, "BTCUSD_PERP", liq)
    assert p.margin_balance == pytest.approx(p.maintenance_margin(), rel=1e-9)
    with pytest.raises(ss.ConfigError, match="qtyCap"):
        BracketTable.from_binance([{"qtyCap": 5, "initialLeverage": 1, "maintMarginRatio": 0,
                                    "cum": 0}, {"notionalCap": 9, "initialLeverage": 1,
                                    "maintMarginRatio": 0, "cum": 0}])  # fmt: skip


def test_linear_and_inverse_symbols_in_one_account_are_a_config_error_naming_both() -> None:
    with pytest.raises(ss.ConfigError, match=r"BTC: BTCUSD_PERP; USDT: BTCUSDT"):
        Portfolio(
            {"BTCUSD_PERP": PERP, "BTCUSDT": LINEAR},
            1.0,
            brackets={"BTCUSD_PERP": DEFAULT_BRACKETS},
        )
    with pytest.raises(ss.ConfigError, match="different assets"):
        ss.SimExchange([PERP, LINEAR])
    both = Portfolio(
        {"BTCUSD_PERP": PERP, "BTCUSD_230630": QUARTER},
        1.0,
        brackets={"BTCUSD_PERP": DEFAULT_BRACKETS, "BTCUSD_230630": DEFAULT_BRACKETS},
    )
    assert both.margin_asset == "BTC"


# ------------------------------------------------------------------ invariants


@dataclass(frozen=True)
class Fill:
    symbol: str
    side: int
    lots: int
    ticks: int
    fee_rate: float


@dataclass(frozen=True)
class Mark:
    symbol: str
    price: float


@dataclass(frozen=True)
class Funding:
    symbol: str
    ts: int
    rate: float
    price: float


@dataclass(frozen=True)
class Liquidate:
    pass


Step = Fill | Mark | Funding | Liquidate
TICKS = {"BTCUSD_PERP": (250_000, 350_000), "BTCUSD_230630": (255_000, 355_000)}
UNITS = 100.0  # USD per contract


@st.composite
def steps(draw: st.DrawFn) -> Step:
    symbol = draw(st.sampled_from(sorted(TICKS)))
    lo, hi = TICKS[symbol]
    kind = draw(st.sampled_from(["fill", "fill", "fill", "mark", "funding", "liquidation"]))
    if kind == "fill":
        return Fill(
            symbol,
            draw(st.sampled_from([BUY, SELL])),
            draw(st.integers(1, 2_000)),
            draw(st.integers(lo, hi)),
            draw(st.sampled_from([0.0, 0.0005, 0.0001, -0.0001])),
        )
    price = draw(st.integers(lo, hi)) * 0.1 + draw(st.floats(0, 0.01))
    if kind == "mark":
        return Mark(symbol, price)
    if kind == "funding":
        return Funding(symbol, draw(st.integers(0, 5)), draw(st.floats(-0.003, 0.003)), price)
    return Liquidate()


def _close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, scale)


@given(balance=st.sampled_from([0.05, 1.0, 100.0]), script=st.lists(steps(), max_size=60))
def test_accounting_invariants_hold_for_inverse_contracts(
    balance: float, script: list[Step]
) -> None:
    """Equity = wallet + unrealized after every step; the ledger sums to the wallet; and,
    against an independent reference, a fill of ``u`` USD at ``p`` moves ``side * u / p`` coin
    and a position of ``n`` USD is worth ``-n / mark``, so realized + unrealized equals that
    cash plus value whatever the averaging."""
    p = Portfolio(
        {"BTCUSD_PERP": PERP, "BTCUSD_230630": QUARTER},
        balance,
        brackets=dict.fromkeys(TICKS, DEFAULT_BRACKETS),
    )
    cash = dict.fromkeys(TICKS, 0.0)
    net = dict.fromkeys(TICKS, 0)
    mark: dict[str, float] = {}
    marked: set[str] = set()
    funded: dict[str, int] = {}
    gross = 0.0
    for ts, step in enumerate(script, start=1):
        if isinstance(step, Fill):
            fill = p.apply_fill(ts, step.symbol, step.side, step.lots, step.ticks, step.fee_rate)
            price = step.ticks * 0.1
            cash[step.symbol] += step.side * step.lots * UNITS / price
            net[step.symbol] += step.side * step.lots
            if step.symbol not in marked:
                mark[step.symbol] = price
            gross += fill.notional
            assert fill.notional == pytest.approx(step.lots * UNITS / price, rel=1e-12)
            assert fill.fee == pytest.approx(fill.notional * step.fee_rate)
        elif isinstance(step, Mark):
            p.mark(ts, step.symbol, step.price)
            mark[step.symbol] = step.price
            marked.add(step.symbol)
        elif isinstance(step, Funding):
            before = p.wallet
            paid = p.apply_funding(step.ts, step.symbol, step.rate, step.price)
            if step.ts > funded.get(step.symbol, -1):
                funded[step.symbol] = step.ts
                mark[step.symbol] = step.price
                marked.add(step.symbol)
                expected = -net[step.symbol] * UNITS / step.price * step.rate
                assert _close(paid, expected, gross + balance)
            else:
                assert p.wallet == before
        else:
            for symbol in p.check_liquidation(ts):
                cash[symbol] += -net[symbol] * UNITS / mark[symbol]
                gross += abs(net[symbol]) * UNITS / mark[symbol]
                net[symbol] = 0

        upnl = {s: p.unrealized(s) for s in TICKS}
        scale = gross + balance
        assert _close(p.equity, p.wallet + sum(upnl.values()), scale)
        assert sum(e.amount for e in p.ledger) == p.wallet
        costs = sum(e.amount for e in p.ledger if e.reason in ("fee", "funding", "liquidation_fee"))
        assert _close(costs, p.wallet - balance - p.realized(), scale)
        for s in TICKS:
            position = p.position(s)
            assert position.lots == net[s]
            value = -net[s] * UNITS / mark[s] if net[s] else 0.0
            assert _close(position.realized_pnl + upnl[s], cash[s] + value, scale)
            if net[s] == 0:
                assert upnl[s] == 0.0
            if net[s]:
                assert math.isfinite(p.notional(s)) and p.notional(s) > 0
