"""The simulated exchange on hand-built books: order types, queues, rejects, fees, guard."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import Venue, book_levels
from hypothesis import given
from hypothesis import strategies as st

import streamsim as ss
from streamsim.book import BookPolicy
from streamsim.events import DepthUpdate
from streamsim.feed import synthetic
from streamsim.orders import OrderRequest, OrderStatus, OrderType, TimeInForce
from streamsim.results import metrics
from streamsim.sim.guard import GUARD_REJECT, GuardConfig
from streamsim.sim.matching import Fees, SimExchange
from streamsim.sim.queue_models import Conservative, LogQueue, PowerQueue

BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001", min_notional="0.05")
S = ss.SECOND


def depth(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], t: int = 0, snapshot: bool = False
) -> DepthUpdate:
    levels = book_levels(bids, asks)
    return DepthUpdate("BTCUSDT", t, None, t, -1, -1, -1, snapshot, levels, 0)


def trade(price: int, qty: int, side: int, t: int = 0) -> ss.Trade:
    return ss.Trade("BTCUSDT", t, None, t, price, qty, side, 0)


def mark(price: float, t: int, rate: float = 0.0, next_funding: int = 10**18) -> ss.MarkPrice:
    return ss.MarkPrice("BTCUSDT", t, None, t, price, price, price, rate, next_funding)


class Market:
    """A SimExchange with a fake venue, fed by hand."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("fees", Fees(maker=-0.0001, taker=0.0005))
        options.setdefault("initial_balance", 1_000_000.0)
        self.exchange = SimExchange([BTC], sequencing=None, **options)
        self.venue = Venue()
        self.exchange.bind(self.venue)
        self.ids = 0

    def feed(self, *events: Any) -> None:
        events_list = list(events)
        start = 0
        while start < len(events_list):
            self.venue.t = events_list[start].ts_exchange
            start = self.exchange.on_market(events_list, start, len(events_list))

    def send(self, side: int, qty: int, price: int | None = None, **kw: Any) -> str:
        self.ids += 1
        cid = kw.pop("client_id", f"o{self.ids}")
        kw.setdefault("type", OrderType.LIMIT if price is not None else OrderType.MARKET)
        order = ss.Order("BTCUSDT", side, qty, price, client_id=cid, **kw)
        self.exchange.on_order(OrderRequest("new", cid, order, self.venue.t))
        return cid

    def cancel(self, cid: str) -> None:
        order = ss.Order("BTCUSDT", 1, 1, 1)
        self.exchange.on_order(OrderRequest("cancel", cid, order, self.venue.t))

    def of(self, cid: str) -> list[tuple[str, int, int, int, bool]]:
        return [
            (u.status.value, u.filled_qty, u.last_qty, u.last_price, u.is_maker)
            for u in self.venue.updates
            if u.client_id == cid
        ]

    def last(self, cid: str) -> ss.OrderUpdate:
        return [u for u in self.venue.updates if u.client_id == cid][-1]


def book_market(**options: Any) -> Market:
    m = Market(**options)
    m.feed(depth([(1000, 5), (999, 10)], [(1001, 2), (1002, 3), (1003, 5)], snapshot=True))
    return m


def test_market_order_walks_the_book_with_self_impact() -> None:
    m = book_market()
    a = m.send(ss.BUY, 4)
    assert m.of(a) == [
        ("NEW", 0, 0, 0, False),
        ("PARTIALLY_FILLED", 2, 2, 1001, False),
        ("FILLED", 4, 2, 1002, False),
    ]
    b = m.send(ss.BUY, 2)  # what we took stays gone
    assert [x[3] for x in m.of(b)[1:]] == [1002, 1003]
    m.feed(depth([], [(1002, 3)]))  # the venue updates 1002: its size is the truth again
    c = m.send(ss.BUY, 3)
    assert m.of(c)[-1] == ("FILLED", 3, 3, 1002, False)
    d = m.send(ss.BUY, 100)  # more than the book holds: the rest expires
    assert m.last(d).status is OrderStatus.EXPIRED and m.last(d).filled_qty == 4


def test_limit_crossing_fills_then_rests_and_queues() -> None:
    m = book_market()
    cid = m.send(ss.BUY, 10, 1002)
    assert m.of(cid)[1:] == [
        ("PARTIALLY_FILLED", 2, 2, 1001, False),
        ("PARTIALLY_FILLED", 5, 3, 1002, False),
    ]
    m.feed(trade(1002, 4, ss.SELL))  # a seller hits our resting bid: nobody ahead at 1002
    assert m.of(cid)[-1] == ("PARTIALLY_FILLED", 9, 4, 1002, True)


def test_ioc_and_fok() -> None:
    m = book_market()
    ioc = m.send(ss.BUY, 5, 1001, tif=TimeInForce.IOC)
    assert m.of(ioc)[1:] == [("PARTIALLY_FILLED", 2, 2, 1001, False), ("EXPIRED", 2, 0, 0, False)]
    fok_no = m.send(ss.BUY, 9, 1003, tif=TimeInForce.FOK)  # 8 left up to 1003
    assert m.of(fok_no)[1:] == [("EXPIRED", 0, 0, 0, False)]
    fok = m.send(ss.BUY, 8, 1003, tif=TimeInForce.FOK)
    assert m.last(fok).status is OrderStatus.FILLED and m.last(fok).filled_qty == 8


def test_post_only_rejects_when_it_would_cross() -> None:
    m = book_market()
    bad = m.send(ss.BUY, 1, 1001, tif=TimeInForce.GTX)
    assert (m.last(bad).status, m.last(bad).code) == (OrderStatus.REJECTED, -5022)
    good = m.send(ss.BUY, 1, 1000, tif=TimeInForce.GTX)
    assert m.of(good) == [("NEW", 0, 0, 0, False)]


def test_rejects_with_venue_codes() -> None:
    m = book_market()
    assert m.last(m.send(ss.SELL, 1, 1001, reduce_only=True)).code == -2022  # flat
    assert m.last(m.send(ss.BUY, 1, 1000)).code == 0
    assert m.last(m.send(ss.BUY, 1, 10)).code == -4164  # 0.001 * 1.0 < 0.05 USDT
    off_grid = ss.Order("BTCUSDT", ss.BUY, 1, 1000.5, client_id="x")  # type: ignore[arg-type]
    m.exchange.on_order(OrderRequest("new", "x", off_grid, 0))
    assert m.last("x").code == -1111
    m.cancel("nobody")
    assert m.last("nobody").code == -2011
    poor = book_market(initial_balance=1.0)
    assert poor.last(poor.send(ss.BUY, 1000, 1000)).code == -2019


def test_reduce_only_reduces() -> None:
    m = book_market()
    m.send(ss.BUY, 2)  # long 2 lots
    ok = m.send(ss.SELL, 2, 1000, reduce_only=True)
    assert m.last(ok).status is OrderStatus.FILLED
    assert m.exchange.portfolio.position("BTCUSDT").lots == 0
    assert m.last(m.send(ss.SELL, 1, 1000, reduce_only=True)).code == -2022


def test_conservative_queue_never_fills_before_the_queue_ahead() -> None:
    m = book_market(queue=Conservative())
    cid = m.send(ss.BUY, 3, 1000)  # 5 lots ahead of us
    m.feed(trade(1000, 4, ss.SELL))
    assert m.of(cid) == [("NEW", 0, 0, 0, False)]
    m.feed(trade(1000, 2, ss.BUY))  # the wrong side: a buyer lifting, never fills a bid
    assert m.of(cid) == [("NEW", 0, 0, 0, False)]
    m.feed(depth([(1000, 1)], []))  # consistent with the trade: nothing to attribute
    m.feed(trade(1000, 2, ss.SELL))  # 1 ahead, 1 reaches us
    assert m.of(cid)[-1] == ("PARTIALLY_FILLED", 1, 1, 1000, True)
    m.feed(trade(999, 1, ss.SELL))  # a trade through our price fills the rest
    assert m.of(cid)[-1] == ("FILLED", 3, 2, 1000, True)


def test_conservative_level_decrease_only_clamps() -> None:
    m = book_market(queue=Conservative())
    cid = m.send(ss.BUY, 1, 1000)  # 5 ahead
    m.feed(depth([(1000, 12)], []))  # 7 join behind us
    m.feed(depth([(1000, 6)], []))  # 6 cancel: assumed behind, ahead stays 5
    m.feed(trade(1000, 5, ss.SELL))
    assert m.of(cid) == [("NEW", 0, 0, 0, False)]
    m.feed(depth([(1000, 1)], []))
    m.feed(trade(1000, 1, ss.SELL))
    assert m.last(cid).status is OrderStatus.FILLED


@pytest.mark.parametrize("model", [PowerQueue(2), PowerQueue(0.5), LogQueue()])
def test_probabilistic_queues_are_deterministic_and_faster_than_conservative(model: Any) -> None:
    def run(queue: Any) -> list[Any]:
        m = book_market(queue=queue)
        cid = m.send(ss.BUY, 2, 1000)
        m.feed(depth([(1000, 20)], []))  # 15 join behind
        m.feed(depth([(1000, 8)], []))  # 12 cancel: some of it ahead of us
        m.feed(trade(1000, 5, ss.SELL))  # exactly the 5 that were ahead when we joined
        return m.of(cid)

    assert run(model) == run(model)
    assert run(Conservative()) == [("NEW", 0, 0, 0, False)]
    assert run(model)[-1][0] in ("PARTIALLY_FILLED", "FILLED")


def test_participation_credits_part_of_the_volume() -> None:
    m = book_market(participation=0.5)
    m.feed(depth([(1000, 0)], []))
    cid = m.send(ss.BUY, 10, 1000)  # nobody ahead
    m.feed(trade(1000, 6, ss.SELL))
    assert m.of(cid)[-1] == ("PARTIALLY_FILLED", 3, 3, 1000, True)


def test_book_moving_through_a_resting_order_fills_it() -> None:
    m = book_market()
    cid = m.send(ss.SELL, 2, 1002)
    m.feed(depth([(1002, 4)], [(1001, 0), (1002, 0)]))  # the bid rises to our ask
    assert m.of(cid)[-1] == ("FILLED", 2, 2, 1002, True)


def test_stops_by_last_trade_and_by_mark() -> None:
    m = book_market(trade_depletion=False)  # the trades print through the book
    by_last = m.send(ss.BUY, 1, None, type=OrderType.STOP_MARKET, stop_price=1005)
    by_mark = m.send(ss.SELL, 1, 998, type=OrderType.STOP_LIMIT, stop_price=999, trigger="mark")
    m.feed(trade(1004, 1, ss.BUY))
    assert m.of(by_last) == [("NEW", 0, 0, 0, False)]
    m.feed(trade(1005, 1, ss.BUY))
    assert m.last(by_last).status is OrderStatus.FILLED and m.last(by_last).last_price == 1001
    m.feed(trade(990, 1, ss.SELL))  # last trade does not trigger a mark stop
    assert m.of(by_mark) == [("NEW", 0, 0, 0, False)]
    m.feed(mark(99.9, 1))  # mark 999 ticks: triggers, sells into the 1000 bid
    assert m.last(by_mark).status is OrderStatus.FILLED and m.last(by_mark).last_price == 1000
    stop = m.send(ss.BUY, 1, None, type=OrderType.STOP_MARKET, stop_price=2000)
    m.cancel(stop)
    assert m.last(stop).status is OrderStatus.CANCELED


def test_fees_and_funding_reach_the_ledger() -> None:
    m = book_market()
    m.send(ss.BUY, 2)  # taker: 2 lots at 100.1 and... 2 at 1001 ticks
    ledger = m.exchange.portfolio.ledger
    fee = [e for e in ledger if e.reason == "fee"]
    assert fee[-1].amount == pytest.approx(-0.002 * 100.1 * 0.0005)
    cid = m.send(ss.SELL, 1, 1002)
    m.feed(trade(1002, 5, ss.BUY))
    assert m.last(cid).is_maker
    assert [e for e in ledger if e.reason == "fee"][-1].amount == pytest.approx(
        0.001 * 100.2 * 0.0001
    )  # maker rebate
    m.feed(mark(100.0, 1 * S, rate=0.0001, next_funding=8 * 3600 * S))
    m.feed(mark(100.0, 8 * 3600 * S, rate=0.0002, next_funding=16 * 3600 * S))
    funding = [e for e in ledger if e.reason == "funding"]
    assert len(funding) == 1 and funding[0].amount == pytest.approx(-0.001 * 100.0 * 0.0001)


def test_guard_blocks_and_cancels() -> None:
    m = Market(guard=GuardConfig(max_spread_ticks=5, warmup_messages=1))
    m.feed(depth([(1000, 5)], [(1002, 5)], snapshot=True))
    resting = m.send(ss.BUY, 1, 999)
    m.feed(depth([(1000, 0), (990, 3)], []))  # spread 12 ticks: trips
    assert m.last(resting).status is OrderStatus.CANCELED
    blocked = m.send(ss.BUY, 1, 990)
    assert (m.last(blocked).status, m.last(blocked).code) == (OrderStatus.REJECTED, GUARD_REJECT)
    assert m.exchange.guard_stats.trips["spread"] == 1
    assert m.exchange.guard_stats.blocked["spread"] == 1
    m.feed(depth([(1000, 5)], []))
    assert m.last(m.send(ss.BUY, 1, 990)).status is OrderStatus.NEW


class SendAt(ss.Strategy):
    """Sends one market buy at the first trade it sees and records the fill."""

    uses_books = False

    def __init__(self) -> None:
        self.fills: list[ss.OrderUpdate] = []
        self.sent = 0

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_trade(self, trade: ss.Trade) -> None:
        if not self.sent:
            self.sent = self.ctx.now()
            self.ctx.broker.submit(ss.Order("BTCUSDT", ss.BUY, 1, type=OrderType.MARKET))

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        if update.status is OrderStatus.FILLED:
            self.fills.append(update)


def test_orders_match_the_book_at_arrival_not_at_sending() -> None:
    # Book: ask 1001 until 30 ms, then ask 1005 (1001 removed). The strategy sends at 10 ms
    # with 25 ms entry latency: the order meets the 35 ms book and fills at 1005.
    depth_source = ss.MemorySource(
        [
            ss.DepthBatch(
                "BTCUSDT",
                np.array([0, 30], dtype=np.int64) * ss.MS,
                None,
                np.array([-1, -1]),
                np.array([-1, -1]),
                np.array([-1, -1]),
                np.array([True, False]),
                np.array([0, 2, 4], dtype=np.int64),
                np.array([1, 0], dtype=np.int64),
                np.array([1000, 1001, 1001, 1005], dtype=np.int64),
                np.array([5, 5, 0, 5], dtype=np.int64),
            )
        ]
    )
    trades = ss.TradeBatch(
        "BTCUSDT",
        np.array([10, 50], dtype=np.int64) * ss.MS,
        None,
        np.array([1001, 1005], dtype=np.int64),
        np.ones(2, dtype=np.int64),
        np.ones(2, dtype=np.int8),
        np.arange(2, dtype=np.int64),
    )
    strategy = SendAt()
    exchange = SimExchange([BTC], sequencing=None, mark_fallback="mid")
    ss.run_backtest(
        [depth_source, ss.MemorySource([trades])],
        strategy,
        exchange=exchange,
        latency=ss.ConstantLatency(entry=25 * ss.MS, response=4 * ss.MS),
        sequencing=None,
    )
    (fill,) = strategy.fills
    assert fill.last_price == 1005
    assert fill.ts_exchange == strategy.sent + 25 * ss.MS
    assert fill.ts_local == strategy.sent + 29 * ss.MS


def test_liquidation_closes_at_mark_and_cancels_orders() -> None:
    m = Market(initial_balance=2.0, leverage=20)
    m.feed(depth([(1000, 500)], [(1001, 500)], snapshot=True))
    m.send(ss.BUY, 300)  # 0.3 BTC-units at 100.1: notional ~30, margin at 20x ~1.5
    resting = m.send(ss.SELL, 10, 1010)
    portfolio = m.exchange.portfolio
    price = portfolio.liquidation_price("BTCUSDT")
    assert price is not None and 90 < price < 100.1
    m.feed(mark(price + 0.1, 1))
    assert portfolio.position("BTCUSDT").lots == 300
    m.feed(mark(price - 0.01, 2))
    assert portfolio.position("BTCUSDT").lots == 0
    assert (
        m.last(resting).status is OrderStatus.CANCELED and m.last(resting).reason == "liquidation"
    )
    assert any(e.reason == "liquidation_fee" for e in portfolio.ledger)


class Amender(ss.Strategy):
    uses_books = False

    def __init__(self) -> None:
        self.updates: list[ss.OrderUpdate] = []
        self.handles: list[ss.OrderHandle] = []

    async def on_start(self, ctx: ss.Context) -> None:
        first = ctx.broker.submit(ss.Order("BTCUSDT", ss.BUY, 1, 1000))
        await first.acked()
        second = ctx.broker.amend(first, price=999)
        await second.acked()
        self.handles = [first, second]

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        self.updates.append(update)


def test_amend_is_cancel_replace() -> None:
    book = ss.DepthBatch(
        "BTCUSDT",
        np.array([0, 100 * ss.MS], dtype=np.int64),
        None,
        np.array([-1, -1]),
        np.array([-1, -1]),
        np.array([-1, -1]),
        np.array([True, False]),
        np.array([0, 2, 3], dtype=np.int64),
        np.array([1, 1], dtype=np.int64),
        np.array([1000, 1001, 1000], dtype=np.int64),
        np.array([5, 5, 6], dtype=np.int64),
    )
    strategy = Amender()
    result = ss.run_backtest(
        [ss.MemorySource([book])],
        strategy,
        exchange=SimExchange([BTC], sequencing=None, mark_fallback="mid"),
        latency=ss.ConstantLatency(ss.MS),
        sequencing=None,
    )
    first, second = strategy.handles
    assert first.status is OrderStatus.CANCELED
    assert second.status is OrderStatus.NEW and second.order.price == 999
    assert first.client_id != second.client_id
    assert result.exchange["open_orders"] == 1


@given(
    st.integers(1, 30),
    st.integers(1, 20),
    st.lists(st.tuples(st.booleans(), st.integers(1, 8)), max_size=25),
)
def test_conservative_fills_exactly_what_trades_leave_past_the_queue(
    ahead: int, qty: int, steps: list[tuple[bool, int]]
) -> None:
    m = Market(queue=Conservative())
    m.feed(depth([(1000, ahead)], [(1010, 50)], snapshot=True))
    cid = m.send(ss.BUY, qty, 1000)
    traded = 0
    level = ahead
    for is_trade, size in steps:
        if is_trade:
            m.feed(trade(1000, size, ss.SELL))
            traded += size
            level = max(level - size, 0)
        else:
            level += size  # others join behind us: never moves us forward
            m.feed(depth([(1000, level)], []))
    filled = m.last(cid).filled_qty
    assert filled == min(qty, max(0, traded - ahead))


def test_per_order_last_trigger_on_a_mark_default_exchange() -> None:
    m = book_market(stop_trigger="mark", trade_depletion=False)
    cid = m.send(ss.BUY, 1, None, type=OrderType.STOP_MARKET, stop_price=1005, trigger="last")
    m.feed(trade(1005, 1, ss.BUY))
    assert m.last(cid).status is OrderStatus.FILLED


def test_sell_stop_on_mark_does_not_fire_a_tick_early() -> None:
    m = book_market()
    cid = m.send(ss.SELL, 1, None, type=OrderType.STOP_MARKET, stop_price=999, trigger="mark")
    m.feed(mark(99.95, 1))
    assert m.of(cid) == [("NEW", 0, 0, 0, False)]
    m.feed(mark(99.9, 2))
    assert m.last(cid).status is OrderStatus.FILLED


def test_a_stop_that_would_trigger_at_once_is_rejected() -> None:
    m = book_market()
    m.feed(trade(1001, 1, ss.BUY))
    cid = m.send(ss.BUY, 1, None, type=OrderType.STOP_MARKET, stop_price=1000)
    assert m.last(cid).code == -2021


def test_flipping_through_zero_needs_margin_for_the_new_side() -> None:
    m = Market(initial_balance=1.0)
    m.feed(depth([(1000, 5000)], [(1001, 5000)], snapshot=True))
    assert m.last(m.send(ss.BUY, 1)).status is OrderStatus.FILLED
    assert m.last(m.send(ss.SELL, 1000)).code == -2019
    assert m.exchange.portfolio.position("BTCUSDT").lots == 1


def test_what_we_took_does_not_fill_our_own_resting_remainder() -> None:
    m = book_market()
    cid = m.send(ss.BUY, 10, 1002)  # takes 5 as taker, rests 5 at 1002
    m.feed(depth([(999, 1)], []))  # asks 1001/1002 still show in the venue's book
    assert m.last(cid).filled_qty == 5 and not m.last(cid).is_maker
    m.feed(depth([], [(1002, 7)]))  # the venue shows fresh size at our price: it trades with us
    assert m.last(cid).filled_qty == 10 and m.last(cid).is_maker


def test_trades_are_not_attributed_twice_when_the_venue_reports_late() -> None:
    m = book_market(queue=PowerQueue(2))
    m.feed(depth([(1000, 6)], []))
    cid = m.send(ss.BUY, 1, 1000)
    m.feed(trade(1000, 2, ss.SELL))  # 4 ahead now
    m.feed(depth([(999, 3)], []))  # a message that does not report our level
    m.feed(depth([(1000, 4)], []))  # the trade, reported late: nothing left to attribute
    (resting,) = m.exchange._resting["BTCUSDT"].orders
    assert resting.ahead == 4.0 and m.of(cid) == [("NEW", 0, 0, 0, False)]


def test_numpy_integer_prices_are_accepted() -> None:
    m = book_market()
    book = m.exchange.books["BTCUSDT"]
    price = book.levels(ss.BID, 1)[0][0]
    cid = m.send(ss.BUY, np.int64(1), price)
    assert m.of(cid) == [("NEW", 0, 0, 0, False)]


def test_resting_reduce_only_expires_when_the_position_is_gone() -> None:
    m = book_market()
    m.send(ss.BUY, 2)
    cid = m.send(ss.SELL, 2, 1010, reduce_only=True)
    m.send(ss.SELL, 2)  # closes the position at the bid
    m.feed(trade(1011, 5, ss.BUY))  # a trade through the reduce-only order's price
    assert m.last(cid).status is OrderStatus.EXPIRED
    assert m.exchange.portfolio.position("BTCUSDT").lots == 0


def test_our_second_order_at_a_price_queues_behind_our_first() -> None:
    m = book_market()
    m.feed(depth([(1000, 0)], []))
    first = m.send(ss.BUY, 3, 1000)
    second = m.send(ss.BUY, 3, 1000)
    m.feed(trade(1000, 4, ss.SELL))
    assert m.last(first).status is OrderStatus.FILLED
    assert m.last(second).filled_qty == 1


class Orderly(ss.Strategy):
    uses_books = False

    def __init__(self) -> None:
        self.statuses: dict[str, list[str]] = {}
        self.book_seen: list[object] = []
        self.rejects: set[str] = set()

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_depth(self, update: ss.DepthUpdate, book: object) -> None:
        self.book_seen.append(book)

    async def on_trade(self, trade: ss.Trade) -> None:
        self.ctx.broker.submit(ss.Order("BTCUSDT", ss.BUY, 1, type=OrderType.MARKET))

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        self.statuses.setdefault(update.client_id, []).append(update.status.value)
        if update.status is OrderStatus.REJECTED:
            self.rejects.add(update.reason)


class BookReader(ss.Strategy):
    async def on_depth(self, update: ss.DepthUpdate, book: object) -> None:
        assert book is not None


def test_random_latency_never_reorders_responses_and_uses_books_false_gets_none() -> None:
    strategy = Orderly()
    ss.run_backtest(
        synthetic.market("BTCUSDT", 10**18, n_depth=2_000, n_trades=300),
        [strategy, BookReader()],
        exchange=SimExchange([BTC], mark_fallback="mid"),
        latency=ss.LognormalLatency(entry_median=20 * ss.MS, sigma=1.5, seed=1),
    )
    accepted = [s for s in strategy.statuses.values() if s != ["REJECTED"]]
    assert len(accepted) > 100
    assert all(s[0] == "NEW" and s[-1] in ("FILLED", "EXPIRED") for s in accepted)
    # Only while the book, built from diffs with update ids and no snapshot, is unsynced.
    assert strategy.rejects == {"Blocked by the book guard: awaiting_snapshot."}
    assert strategy.book_seen and all(book is None for book in strategy.book_seen)


@pytest.mark.parametrize(
    ("config", "events", "reason"),
    [
        (GuardConfig(warmup_messages=3), [], "warmup"),
        (GuardConfig(max_spread_bps=10), [depth([(1000, 0), (980, 1)], [])], "spread"),
        (GuardConfig(), [depth([(1002, 1)], [])], "crossed"),
        (GuardConfig(max_staleness=ss.SECOND), [], "stale"),
    ],
)
def test_guard_reasons(config: GuardConfig, events: list[Any], reason: str) -> None:
    m = Market(guard=config, book_policy=BookPolicy(crossed="resync"))
    m.feed(depth([(1000, 5)], [(1001, 5)], snapshot=True), *events)
    m.venue.t = 5 * ss.SECOND
    cid = m.send(ss.BUY, 1, 990)
    assert (m.last(cid).code, m.last(cid).reason) == (
        GUARD_REJECT,
        f"Blocked by the book guard: {reason}.",
    )
    assert m.exchange.guard_stats.blocked[reason] == 1


def test_guard_gap_and_cooldown() -> None:
    m = Market(guard=GuardConfig(cooldown=2 * ss.SECOND))
    m.exchange.books["BTCUSDT"].sequencing = "futures"
    snap = depth([(1000, 5)], [(1001, 5)], snapshot=True)
    snap.final = 10
    gap = depth([(999, 1)], [], t=1 * ss.SECOND)
    gap.first, gap.final, gap.prev_final = 20, 21, 19
    m.feed(snap, gap)
    assert m.exchange.guard_stats.trips["sequence_gap"] == 1
    fresh = depth([(1000, 5)], [(1001, 5)], t=2 * ss.SECOND, snapshot=True)
    fresh.final = 30
    m.feed(fresh)
    m.venue.t = 3 * ss.SECOND
    assert m.last(m.send(ss.BUY, 1, 990)).code == GUARD_REJECT  # cooling down
    m.venue.t = 4 * ss.SECOND
    assert m.last(m.send(ss.BUY, 1, 990)).status is OrderStatus.NEW


def test_reduce_only_stop_expires_when_its_position_is_gone() -> None:
    m = book_market()
    m.send(ss.BUY, 2)
    stop = m.send(ss.SELL, 2, None, type=OrderType.STOP_MARKET, stop_price=995, reduce_only=True)
    m.send(ss.SELL, 2)  # flat again
    m.feed(trade(995, 1, ss.SELL))
    assert m.last(stop).status is OrderStatus.EXPIRED
    assert m.exchange.portfolio.position("BTCUSDT").lots == 0


def test_report_carries_metrics_from_the_sampled_equity() -> None:
    m = book_market()
    m.feed(mark(100.05, 0))
    m.venue.t = 1 * ss.SECOND
    m.send(ss.BUY, 4)  # taker, pays the fee
    m.feed(mark(101.0, 2 * ss.SECOND), mark(99.0, 4 * ss.SECOND))
    stats = metrics.from_record(m.venue.record)
    portfolio = m.exchange.portfolio
    assert stats["equity_start"] == 1_000_000.0
    assert stats["equity_end"] == pytest.approx(portfolio.equity)
    assert stats["fills"] == 2 and stats["maker_share"] == 0.0
    assert stats["fees"] == pytest.approx(sum(f.fee for f in portfolio.fills))  # paid
    assert stats["max_drawdown"] > 0


H8 = 8 * 3_600 * ss.SECOND


@pytest.mark.parametrize(("hole", "skipped"), [(False, 0), (True, 1)])
def test_funding_times_a_mark_stream_skipped_are_noted_never_silently_lost(
    hole: bool, skipped: int
) -> None:
    m = book_market()
    m.feed(mark(100.0, 0, rate=0.001, next_funding=H8))
    m.send(ss.BUY, 2)
    after = 2 * H8 + 1 if hole else H8 + 1  # with a hole, the mark at H8 + 1 never came
    m.feed(mark(100.0, after, rate=0.001, next_funding=(3 if hole else 2) * H8))
    funding = [e for e in m.exchange.portfolio.ledger if e.reason == "funding"]
    assert len(funding) == 1 and funding[0].ts == H8  # the one at the first mark after it
    notes = [n for n in m.venue.record.quality.notes if "skipped" in n]
    assert len(notes) == skipped
    if skipped:
        assert "skipped 1 funding time(s)" in notes[0] and "not charged" in notes[0]
