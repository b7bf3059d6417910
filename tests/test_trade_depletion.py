"""Trade-aware liquidity: trades take from the exchange-side book until the venue reports
the level again, and triggered stops fill after every trade of their trigger instant."""

from __future__ import annotations

from pathlib import Path

import anyio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_matching import BTC, Market, book_market, depth, mark, trade

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, capture_sources, sample_sources
from strategies import StopBreakout, SweepChaser, Tracked
from streamsim.orders import OrderType

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# book_market: bids 1000 x5, 999 x10; asks 1001 x2, 1002 x3, 1003 x5.


def fills(m: Market, cid: str) -> list[tuple[int, int]]:
    return [
        (u.last_price, u.last_qty) for u in m.venue.updates if u.client_id == cid and u.last_qty
    ]


def test_a_trade_at_the_touch_takes_its_size_from_the_level() -> None:
    m = book_market()
    m.feed(trade(1001, 1, ss.BUY))
    cid = m.send(ss.BUY, 2)
    assert fills(m, cid) == [(1001, 1), (1002, 1)]


def test_a_trade_through_levels_empties_every_level_before_its_price() -> None:
    m = book_market()
    m.feed(trade(1002, 1, ss.BUY))  # printed through 1001 (2 lots) and took 1 at 1002
    cid = m.send(ss.BUY, 3)
    assert fills(m, cid) == [(1002, 2), (1003, 1)]


def test_a_trade_larger_than_the_level_takes_only_that_level() -> None:
    m = book_market()
    m.feed(trade(1001, 50, ss.BUY))  # hidden size at 1001 traded too: deeper levels stay
    cid = m.send(ss.BUY, 1)
    assert fills(m, cid) == [(1002, 1)]


def test_a_trade_off_the_book_takes_nothing() -> None:
    m = book_market()
    m.feed(trade(1000, 3, ss.BUY))  # a buy printed below the ask: nothing visible there
    cid = m.send(ss.BUY, 2)
    assert fills(m, cid) == [(1001, 2)]


def test_sell_trades_take_from_the_bids() -> None:
    m = book_market()
    m.feed(trade(999, 4, ss.SELL))
    cid = m.send(ss.SELL, 7)
    assert fills(m, cid) == [(999, 6)]  # 1000 printed through; 6 of 10 left at 999


def test_the_next_depth_message_restores_the_levels_it_reports() -> None:
    m = book_market()
    m.feed(trade(1003, 1, ss.BUY))  # 1001 and 1002 gone, 4 left at 1003
    m.feed(depth([], [(1002, 3)], t=1))  # the venue reports 1002 only
    cid = m.send(ss.BUY, 8)
    assert fills(m, cid) == [(1002, 3), (1003, 4)]  # 1001 stays taken until reported


def test_a_snapshot_restores_every_level() -> None:
    m = book_market()
    m.feed(trade(1003, 5, ss.BUY))
    m.feed(depth([(1000, 5)], [(1001, 2), (1002, 3)], t=1, snapshot=True))
    cid = m.send(ss.BUY, 5)
    assert fills(m, cid) == [(1001, 2), (1002, 3)]


def test_with_trade_depletion_off_trades_take_nothing() -> None:
    m = book_market(trade_depletion=False)
    m.feed(trade(1003, 5, ss.BUY))
    cid = m.send(ss.BUY, 2)
    assert fills(m, cid) == [(1001, 2)]
    assert m.exchange.report()["fill_audit"]["taker_fills_printed_through"] == 1
    assert m.exchange.report()["trade_depletion"] is False


def test_self_impact_and_trades_add_up_on_one_level() -> None:
    m = book_market()
    a = m.send(ss.BUY, 1)
    m.feed(trade(1002, 2, ss.BUY))  # 1001 printed through; 1 of 3 left at 1002
    b = m.send(ss.BUY, 2)
    assert fills(m, a) == [(1001, 1)] and fills(m, b) == [(1002, 1), (1003, 1)]


def test_a_stop_fills_after_the_whole_sweep_of_its_instant() -> None:
    m = book_market()
    m.feed(depth([(998, 7)], [], t=1))
    cid = m.send(ss.SELL, 3, None, type=OrderType.STOP_MARKET, stop_price=1000)
    # One sweep, three prints in the same millisecond: the first reaches the stop.
    m.feed(trade(1000, 5, ss.SELL, t=2), trade(999, 10, ss.SELL, t=2), trade(998, 2, ss.SELL, t=2))
    assert fills(m, cid) == [(998, 3)]  # 5 of 7 left at 998 after the sweep


def test_a_stop_swept_exactly_to_its_price_fills_below_it() -> None:
    m = book_market()
    m.feed(depth([(998, 7)], [], t=1))
    cid = m.send(ss.SELL, 2, None, type=OrderType.STOP_MARKET, stop_price=999)
    m.feed(trade(1000, 5, ss.SELL, t=2), trade(999, 10, ss.SELL, t=2))
    assert fills(m, cid) == [(998, 2)]


def test_several_prints_at_one_price_in_one_instant_add_up() -> None:
    m = book_market()
    cid = m.send(ss.BUY, 2, None, type=OrderType.STOP_MARKET, stop_price=1001)
    m.feed(trade(1001, 1, ss.BUY, t=1), trade(1001, 1, ss.BUY, t=1), trade(1002, 1, ss.BUY, t=1))
    assert fills(m, cid) == [(1002, 2)]  # 1001 emptied by two prints, 2 of 3 left at 1002


def test_a_stop_fills_before_the_next_instant_is_applied() -> None:
    m = book_market()
    cid = m.send(ss.BUY, 1, None, type=OrderType.STOP_MARKET, stop_price=1001)
    m.feed(trade(1001, 2, ss.BUY, t=1), depth([], [(1001, 9)], t=2))
    assert fills(m, cid) == [(1002, 1)]  # the refill at t=2 comes after the stop filled
    assert [u.ts_exchange for u in m.venue.updates if u.client_id == cid][-1] == 1


def test_an_order_in_the_instant_of_a_sweep_sees_the_swept_book() -> None:
    m = book_market()
    m.feed(trade(1001, 2, ss.BUY, t=1), trade(1002, 3, ss.BUY, t=1))
    m.venue.t = 1
    cid = m.send(ss.BUY, 1)
    assert fills(m, cid) == [(1003, 1)]


def test_a_mark_triggered_stop_also_waits_for_the_end_of_its_instant() -> None:
    m = book_market()
    cid = m.send(ss.SELL, 1, None, type=OrderType.STOP_MARKET, stop_price=1000, trigger="mark")
    m.feed(mark(100.0, 1), trade(1000, 5, ss.SELL, t=1))
    assert fills(m, cid) == [(999, 1)]


def test_a_triggered_stop_can_still_be_cancelled_in_its_instant() -> None:
    m = book_market()
    cid = m.send(ss.BUY, 1, None, type=OrderType.STOP_MARKET, stop_price=1001)
    m.exchange.stops.last["BTCUSDT"] = 1001
    m.exchange.stops.on_price("BTCUSDT", "last")
    assert len(m.exchange.stops.triggered) == 1
    assert m.exchange.stops.cancel(cid) and len(m.exchange.stops) == 0


prints = st.lists(
    st.tuples(st.integers(995, 1006), st.integers(1, 12), st.sampled_from([ss.BUY, ss.SELL])),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    prints=prints,
    orders=st.lists(st.tuples(st.sampled_from([ss.BUY, ss.SELL]), st.integers(1, 8)), max_size=4),
)
def test_no_taker_fill_is_on_a_level_a_trade_printed_through(
    prints: list[tuple[int, int, int]], orders: list[tuple[int, int]]
) -> None:
    m = book_market()
    for t, (price, qty, side) in enumerate(prints, start=1):
        m.feed(trade(price, qty, side, t=t))
    m.venue.t = len(prints) + 1
    sent = [m.send(side, qty) for side, qty in orders]
    high = max((p for p, _, s in prints if s == ss.BUY), default=None)
    low = min((p for p, _, s in prints if s == ss.SELL), default=None)
    for (side, _), cid in zip(orders, sent, strict=True):
        for price, _ in fills(m, cid):
            if side == ss.BUY:
                assert high is None or price >= high
            else:
                assert low is None or price <= low
    assert m.exchange.report()["fill_audit"]["taker_fills_printed_through"] == 0


def run(
    sources: list[object], depletion: bool, strategy: Tracked, instrument: ss.Instrument = BTC
) -> ss.SimExchange:
    exchange = ss.SimExchange(  # the 2024 capture has no mark price stream
        [instrument],
        initial_balance=1e6,
        trade_depletion=depletion,
        mark_fallback="mid",
    )
    latency = ss.LognormalLatency(entry_median=20 * ss.MS, floor=5 * ss.MS, seed=7)
    ss.run_backtest(sources, strategy, exchange=exchange, latency=latency)
    return exchange


def audit(sources: list[object], depletion: bool, strategy: Tracked) -> dict[str, int]:
    return dict(run(sources, depletion, strategy).report()["fill_audit"])


def trade_prints(sources: list[object]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every trade of the sources' trade stream, read straight from the data: exchange
    times, prices (ticks) and aggressor sides."""

    async def read() -> list[ss.TradeBatch]:
        source = next(s for s in sources if s.stream.kind == "trades")  # type: ignore[attr-defined]
        return [batch async for batch in source]  # type: ignore[attr-defined]

    batches = anyio.run(read)
    return tuple(  # type: ignore[return-value]
        np.concatenate([getattr(b, name) for b in batches])
        for name in ("ts_exchange", "price", "side")
    )


def stops_filled_through_their_sweep(
    exchange: ss.SimExchange, strategy: StopBreakout, prints: tuple[np.ndarray, ...]
) -> tuple[int, int]:
    """The oracle, from the raw trades alone: of the stop fills at an instant with prints on
    the stop's side, how many are beyond the furthest price those prints reached (a sell
    stop above the lowest sell print of its instant: liquidity the sweep had taken)."""
    ts, price, side = prints
    checked = beyond = 0
    for record in exchange.record.fills:
        fill = record.fill
        if record.client_id not in strategy.stop_prices or fill.price_ticks is None:
            continue
        at = (ts == fill.ts) & (side == fill.side)
        if not at.any():
            continue
        checked += 1
        reached = price[at].max() if fill.side == ss.BUY else price[at].min()
        beyond += bool(
            fill.price_ticks < reached if fill.side == ss.BUY else fill.price_ticks > reached
        )
    return checked, beyond


CAPTURES = {
    "usdm-2023": ["btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz"],
    "usdm-2024": ["btcusdt_20240808.gz"],
}


@pytest.mark.parametrize("dataset", ["sample", *CAPTURES])
def test_on_real_data_no_stop_fills_on_liquidity_its_sweep_took(dataset: str) -> None:
    if dataset == "sample":
        make, instrument = sample_sources, SAMPLE_INSTRUMENT
    else:
        paths = [DATA / "binance-usdm-capture" / name for name in CAPTURES[dataset]]
        make, instrument = (lambda: capture_sources(paths, {"BTCUSDT": BTC})), BTC

    def breakout() -> StopBreakout:
        return StopBreakout(instrument.symbol, distance=20, lots=5, hold=2 * ss.SECOND)

    prints = trade_prints(make())
    strategy = breakout()
    exchange = run(make(), True, strategy, instrument)
    on = exchange.report()["fill_audit"]
    assert on["stop_fills"] >= 5 and on["taker_fills"] >= 5
    assert on["stop_fills_printed_through"] == 0 and on["taker_fills_printed_through"] == 0
    checked, beyond = stops_filled_through_their_sweep(exchange, strategy, prints)
    assert checked >= 5 and beyond == 0
    strategy = breakout()
    exchange = run(make(), False, strategy, instrument)
    assert exchange.report()["fill_audit"]["stop_fills_printed_through"] >= 3
    checked, beyond = stops_filled_through_their_sweep(exchange, strategy, prints)
    assert beyond >= 3  # the optimism the rule removes, seen by the oracle too


def test_on_a_real_capture_no_taker_fill_takes_what_a_sweep_printed_through() -> None:
    paths = [DATA / "binance-usdm-capture" / name for name in CAPTURES["usdm-2024"]]
    on = audit(capture_sources(paths, {"BTCUSDT": BTC}), True, SweepChaser("BTCUSDT"))
    assert on["taker_fills"] >= 20 and on["taker_fills_printed_through"] == 0
    off = audit(capture_sources(paths, {"BTCUSDT": BTC}), False, SweepChaser("BTCUSDT"))
    assert off["taker_fills_printed_through"] >= 5


def statuses(m: Market, cid: str) -> list[str]:
    return [u.status.value for u in m.venue.updates if u.client_id == cid]


@pytest.mark.parametrize("trigger", ["last", "mark"])
def test_a_stop_triggered_in_the_instant_of_a_liquidation_fills_before_it_is_checked(
    trigger: str,
) -> None:
    m = book_market(initial_balance=0.03, leverage=20)
    m.feed(mark(100.0, 0))
    m.send(ss.BUY, 5)  # long 5 lots near 100.1: a mark of 90 would liquidate it
    stop = 999 if trigger == "last" else 960
    cid = m.send(
        ss.SELL,
        5,
        None,
        type=OrderType.STOP_MARKET,
        stop_price=stop,
        reduce_only=True,
        trigger=trigger,
    )
    m.feed(trade(999, 1, ss.SELL, t=5), mark(90.0, 5))  # one instant: the stop, then the mark
    assert statuses(m, cid)[-1] == "FILLED"
    assert not [u for u in m.venue.updates if u.is_liquidation]
    assert m.exchange.portfolio.position("BTCUSDT").lots == 0


def test_a_stop_fed_one_event_at_a_time_as_paper_live_does_waits_for_its_instant() -> None:
    m = book_market()
    m.feed(depth([(998, 7)], [], t=1))
    cid = m.send(ss.SELL, 3, None, type=OrderType.STOP_MARKET, stop_price=1000)
    sweep = [
        trade(1000, 5, ss.SELL, t=2),
        trade(999, 10, ss.SELL, t=2),
        trade(998, 2, ss.SELL, t=2),
    ]
    m.venue.t = 2
    for i in range(len(sweep)):  # the live runtime's call: the batch, one event per call
        m.exchange.on_market(sweep, i, i + 1)
    assert fills(m, cid) == [(998, 3)]
