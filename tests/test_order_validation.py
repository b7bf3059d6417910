"""Order state the strategy can trust: every answer reaches its own handle, amends never
resurrect a finished order, a strategy acts only on its own orders, and hostile order
fields give a venue reject or a StrategyError, never another exception or a default."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from helpers import book_levels
from hypothesis import given, settings
from hypothesis import strategies as st

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, sample_sources
from strategies import MarketMaker
from streamsim.events import DepthUpdate
from streamsim.order_checks import MAX_UNITS
from streamsim.orders import OrderHandle, OrderStatus, OrderType, TimeInForce
from streamsim.results.artifacts import _orders_table
from streamsim.run.clock import VirtualClock
from streamsim.sim.broker import SimBroker
from streamsim.sim.exchange import NullExchange
from streamsim.sim.matching import SimExchange

BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001", min_notional="0.05")
MS = ss.MS


def depth(bids: list[tuple[int, int]], asks: list[tuple[int, int]], t: int) -> DepthUpdate:
    levels = book_levels(bids, asks)
    return DepthUpdate("BTCUSDT", t, None, t, -1, -1, -1, True, levels, 0)


class Desk:
    """A broker and a venue on a virtual clock, driven by hand (1 ms each way)."""

    def __init__(self, exchange: Any = None) -> None:
        self.clock = VirtualClock()
        self.exchange = exchange or SimExchange([BTC], sequencing=None, initial_balance=1e6)
        self.broker = SimBroker(self.clock, self.exchange, ss.ConstantLatency(MS), ss.RunRecord())
        self.seen: dict[str, list[ss.OrderUpdate]] = {"a": [], "b": []}
        self.a = self.broker.connect("a", self._to("a"), wants_account=False)
        self.b = self.broker.connect("b", self._to("b"), wants_account=False)
        if isinstance(self.exchange, SimExchange):
            self.market(depth([(1000, 5)], [(1001, 5)], 0))

    def _to(self, name: str) -> Any:
        return self.seen[name].append

    def market(self, *events: Any) -> None:
        for event in events:
            self.run_until(event.ts_exchange)
            self.clock._now = event.ts_exchange
            self.exchange.on_market([event], 0, 1)

    def run_until(self, t: int) -> None:
        import heapq

        heap = self.clock._heap
        while heap and heap[0][0] <= t:
            when, _, _, action, arg = heapq.heappop(heap)
            self.clock._now = when
            action(arg)
        self.clock._now = max(self.clock._now, t)

    def settle(self) -> None:
        self.run_until(self.clock._now + 100 * MS)


def limit(side: int = ss.BUY, price: int = 1000, qty: int = 1, **kw: Any) -> ss.Order:
    return ss.Order("BTCUSDT", side, qty, price, **kw)


# -- answers reach the handle they belong to ---------------------------------------------


@pytest.mark.parametrize("cancel_first", [True, False])
def test_a_late_reject_of_an_old_order_never_lands_on_a_new_order_with_its_client_id(
    cancel_first: bool,
) -> None:
    desk = Desk()
    old = desk.a.submit(limit(client_id="q1"))
    desk.a.cancel(old)
    desk.settle()
    assert old.status is OrderStatus.CANCELED
    # A stale second cancel of the old order, and a new order reusing its client id.
    if cancel_first:
        desk.a.cancel(old)
        new = desk.a.submit(limit(price=999, client_id="q1"))
    else:
        new = desk.a.submit(limit(price=999, client_id="q1"))
        desk.a.cancel(old)
    desk.settle()
    assert new.status is OrderStatus.NEW and new.is_open
    assert [u.status for u in new.updates] == [OrderStatus.NEW]
    assert old.status is OrderStatus.CANCELED
    assert (old.updates[-1].status, old.updates[-1].code) == (OrderStatus.REJECTED, -2011)
    assert desk.exchange.report()["open_orders"] == 1  # the stale cancel did not hit it
    assert desk.a.open_orders() == [new]
    assert all(u.serial in (old.serial, new.serial) for u in desk.seen["a"])


def test_reusing_the_client_id_of_an_open_order_is_rejected_with_the_venue_code() -> None:
    desk = Desk()
    first = desk.a.submit(limit(client_id="dup"))
    second = desk.a.submit(limit(price=998, client_id="dup"))
    other = desk.b.submit(limit(price=997, client_id="dup"))  # one account: one id space
    desk.settle()
    assert first.status is OrderStatus.NEW
    assert (second.status, second.updates[-1].code) == (OrderStatus.REJECTED, -4116)
    assert (other.status, other.updates[-1].code) == (OrderStatus.REJECTED, -4116)
    assert desk.exchange.report()["open_orders"] == 1
    desk.a.cancel(first)
    desk.settle()
    again = desk.a.submit(limit(client_id="dup"))  # finished: the id is free again
    desk.settle()
    assert again.status is OrderStatus.NEW and first.status is OrderStatus.CANCELED


def test_the_null_exchange_routes_by_serial_too() -> None:
    desk = Desk(NullExchange())
    old = desk.a.submit(limit(client_id="n1"))
    desk.a.cancel(old)
    desk.settle()
    desk.a.cancel(old)
    new = desk.a.submit(limit(client_id="n1"))
    dup = desk.a.submit(limit(client_id="n1"))
    desk.settle()
    assert new.status is OrderStatus.NEW
    assert dup.updates[-1].code == -4116
    assert old.updates[-1].code == -2011 and old.status is OrderStatus.CANCELED


# -- amend ------------------------------------------------------------------------------


def test_amend_after_a_fill_is_refused_and_never_doubles_the_position() -> None:
    desk = Desk()
    quote = desk.a.submit(limit(ss.BUY, 1000, 2))
    desk.settle()
    # The quote fills at the venue; the strategy amends before it hears of the fill.
    desk.market(ss.Trade("BTCUSDT", desk.clock._now, None, desk.clock._now, 999, 50, ss.SELL, 1))
    assert quote.status is OrderStatus.NEW
    replacement = desk.a.amend(quote, price=1000 - 3)
    desk.settle()
    assert quote.status is OrderStatus.FILLED
    assert replacement.status is OrderStatus.REJECTED
    assert replacement.updates[-1].code == -2013 and replacement.filled_qty == 0
    desk.market(ss.Trade("BTCUSDT", desk.clock._now, None, desk.clock._now, 990, 50, ss.SELL, 2))
    desk.settle()
    assert desk.exchange.portfolio.position("BTCUSDT").lots == 2
    assert desk.exchange.report()["open_orders"] == 0
    # Amending the now known-filled order fails the same way.
    late = desk.a.amend(quote, price=995)
    desk.settle()
    assert (late.status, late.updates[-1].code) == (OrderStatus.REJECTED, -2013)


@pytest.mark.parametrize("final", ["canceled", "rejected", "expired"])
def test_amend_of_a_finished_order_never_creates_an_order(final: str) -> None:
    desk = Desk()
    if final == "canceled":
        handle = desk.a.submit(limit())
        desk.a.cancel(handle)
    elif final == "rejected":
        handle = desk.a.submit(limit(price=1001, tif=TimeInForce.GTX))  # would cross
    else:
        handle = desk.a.submit(limit(price=999, tif=TimeInForce.IOC))
    replacement = desk.a.amend(handle, price=990)
    desk.settle()
    assert handle.status.is_final
    assert (replacement.status, replacement.updates[-1].code) == (OrderStatus.REJECTED, -2013)
    assert desk.exchange.report()["open_orders"] == 0


def test_amend_of_an_open_order_replaces_it_and_a_rejected_replacement_keeps_it() -> None:
    desk = Desk()
    quote = desk.a.submit(limit(ss.BUY, 999, 1, tif=TimeInForce.GTX))
    moved = desk.a.amend(quote, price=998)
    desk.settle()
    assert quote.status is OrderStatus.CANCELED and moved.status is OrderStatus.NEW
    crossing = desk.a.amend(moved, price=1001)  # post-only would cross: -5022
    desk.settle()
    assert (crossing.status, crossing.updates[-1].code) == (OrderStatus.REJECTED, -5022)
    assert moved.status is OrderStatus.NEW and desk.a.open_orders() == [moved]


class RecordingMaker(MarketMaker):
    """The reference market maker, remembering each amend's (original, replacement)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pairs: list[tuple[ss.OrderHandle, ss.OrderHandle]] = []

    def amend(self, handle: ss.OrderHandle, price: int | None = None) -> ss.OrderHandle:
        new = super().amend(handle, price)
        self.pairs.append((handle, new))
        return new


def test_the_reference_market_maker_never_fills_an_original_and_its_replacement() -> None:
    maker = RecordingMaker(SAMPLE_INSTRUMENT.symbol, 5, half_spread=0.5, skew=0.2)
    exchange = ss.SimExchange([SAMPLE_INSTRUMENT], initial_balance=10_000.0)
    ss.run_backtest(
        sample_sources(),
        maker,
        exchange=exchange,
        feed={"open_interest": ss.open_interest_preset(), "*": ss.Recorded()},
        latency=ss.ConstantLatency(300 * MS),  # slow: amends race fills
    )
    assert maker.pairs and maker.maker_fills > 0
    raced = [(old, new) for old, new in maker.pairs if old.status is OrderStatus.FILLED]
    assert raced, "the sample should make some amends race a fill"
    for _old, new in raced:  # refused as gone (-2013), or (-5022) while the original stayed
        assert new.filled_qty == 0 and new.status is OrderStatus.REJECTED
    assert any(new.updates[-1].code == -2013 for _, new in raced)
    for old, new in maker.pairs:
        assert old.filled_qty + new.filled_qty <= old.order.qty
    assert maker.position == exchange.portfolio.position(SAMPLE_INSTRUMENT.symbol).lots


# -- a strategy acts only on its own orders ----------------------------------------------


def test_a_strategy_cannot_cancel_or_amend_another_strategys_order() -> None:
    desk = Desk()
    theirs = desk.a.submit(limit())
    desk.settle()
    with pytest.raises(ss.StrategyError, match="belongs to strategy 'a'") as caught:
        desk.b.cancel(theirs)
    assert caught.value.strategy == "b"
    with pytest.raises(ss.StrategyError, match="belongs to strategy 'a'"):
        desk.b.amend(theirs, price=990)
    assert desk.b.cancel_all("BTCUSDT") == []
    desk.settle()
    assert theirs.status is OrderStatus.NEW and desk.exchange.report()["open_orders"] == 1


@pytest.mark.parametrize(
    "fake",
    [
        OrderHandle(ss.Order("BTCUSDT", ss.BUY, 1, 1000), "a-1"),
        OrderHandle(ss.Order("BTCUSDT", ss.BUY, 1, 1000), "a-1", serial=1),
        None,
        "a-1",
    ],
    ids=["hand-made", "hand-made-with-serial", "None", "client-id"],
)
def test_a_handle_the_broker_never_issued_raises_a_strategy_error(fake: Any) -> None:
    desk = Desk()
    desk.a.submit(limit())  # serial 1 exists, but the fake is not its handle
    with pytest.raises(ss.StrategyError, match="never issued"):
        desk.a.cancel(fake)
    with pytest.raises(ss.StrategyError, match="never issued"):
        desk.a.amend(fake, price=999)
    desk.settle()
    assert desk.exchange.report()["open_orders"] == 1


# -- hostile order fields --------------------------------------------------------------

FIELD_CODES = {-1111, -4003, -4005, -4013, -4002, -4006, -4007, -1102, -1106, -4015}
STATE_CODES = {-1121, -2019, -2021, -2022, -4164, -5022, -9001}

NUMBERS = st.one_of(
    st.integers(-3, 3),
    st.integers(990, 1010),
    st.sampled_from([10**30, MAX_UNITS, MAX_UNITS + 1, -(10**30)]),
    st.builds(np.int64, st.integers(-2, 1010)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1000.0, 0.5, Fraction(1, 3), True, False, np.bool_(True)]),
)
HOSTILE = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.sampled_from(["BUY", "SELL", "IOC", "LIMIT", "last", b"x", [], {}, object()]),
)


def _valid_side(value: object) -> bool:
    return (
        isinstance(value, int | np.integer)
        and not isinstance(value, bool | np.bool_)
        and value in (1, -1)
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float | Fraction | np.integer) and not isinstance(
        value, bool | np.bool_
    )


def _on_grid(value: object) -> bool:
    return isinstance(value, int | np.integer) and 0 < value <= MAX_UNITS


def oracle(fields: dict[str, Any]) -> str:
    """What must happen to an order with these fields: 'error', 'reject' or 'venue'."""
    if not isinstance(fields["symbol"], str) or not _valid_side(fields["side"]):
        return "error"
    if not _number(fields["qty"]):
        return "error"
    if any(fields[k] is not None and not _number(fields[k]) for k in ("price", "stop_price")):
        return "error"
    if type(fields["type"]) is not OrderType or type(fields["tif"]) is not TimeInForce:
        return "error"
    if not isinstance(fields["reduce_only"], bool | np.bool_):
        return "error"
    if fields["client_id"] is not None and not isinstance(fields["client_id"], str):
        return "error"
    if fields["trigger"] not in (None, "last", "mark") or not isinstance(
        fields["trigger"], str | None
    ):
        return "error"
    kind = fields["type"]
    priced = kind in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    stop = kind in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
    if not _on_grid(fields["qty"]):
        return "reject"
    if priced != (fields["price"] is not None) or stop != (fields["stop_price"] is not None):
        return "reject"
    if any(fields[k] is not None and not _on_grid(fields[k]) for k in ("price", "stop_price")):
        return "reject"
    cid = fields["client_id"]
    if cid is not None and (
        not 0 < len(cid) <= 36
        or cid.startswith("autoclose-")
        or any(not (c.isascii() and (c.isalnum() or c in ".:/_-")) for c in cid)
    ):
        return "reject"
    return "venue"


@settings(max_examples=400, deadline=None)
@given(
    symbol=st.one_of(st.just("BTCUSDT"), st.just("ETHUSDT"), HOSTILE),
    side=st.one_of(st.sampled_from([ss.BUY, ss.SELL, 0, 2, np.int8(1)]), NUMBERS, HOSTILE),
    qty=st.one_of(NUMBERS, HOSTILE),
    price=st.one_of(st.none(), NUMBERS, HOSTILE),
    stop_price=st.one_of(st.none(), NUMBERS, HOSTILE),
    kind=st.one_of(st.sampled_from(list(OrderType)), HOSTILE),
    tif=st.one_of(st.sampled_from(list(TimeInForce)), HOSTILE),
    reduce_only=st.one_of(st.booleans(), st.sampled_from([0, 1, "yes", None, np.bool_(False)])),
    client_id=st.one_of(
        st.none(), st.sampled_from(["ok-1", "", "x" * 37, "a b", "autoclose-1"]), HOSTILE
    ),
    trigger=st.one_of(st.sampled_from([None, "last", "mark", "bogus", "LAST"]), HOSTILE),
)
def test_hostile_order_fields_give_a_venue_reject_or_a_strategy_error_and_nothing_else(
    **fields: Any,
) -> None:
    fields["type"] = fields.pop("kind")
    order = ss.Order(**fields)
    expected = oracle(fields)
    desk = Desk()
    if expected == "error":
        with pytest.raises(ss.StrategyError) as caught:
            desk.a.submit(order)
        assert caught.value.strategy == "a" and "Order(" in str(caught.value)
        assert desk.broker.submitted == 0
        desk.settle()
        assert not desk.seen["a"]
        return
    handle = desk.a.submit(order)
    desk.settle()  # no other exception, here or at the venue
    assert handle.updates, "every order is answered"
    first = handle.updates[0]
    if expected == "reject":
        assert (handle.status, len(handle.updates)) == (OrderStatus.REJECTED, 1)
        assert first.code in FIELD_CODES
        assert first.serial == handle.serial
    elif handle.status is OrderStatus.REJECTED:
        assert first.code in STATE_CODES, first
    else:
        assert first.status is OrderStatus.NEW


def test_an_invalid_enum_value_aborts_a_run_with_a_strategy_error_naming_strategy_and_order() -> (
    None
):
    class Sloppy(ss.Strategy):
        name = "sloppy"
        uses_books = False

        async def on_start(self, ctx: ss.Context) -> None:
            ctx.broker.submit(ss.Order("BTCUSDT", ss.BUY, 1, 1000, tif="IOC"))  # type: ignore[arg-type]

    book = ss.DepthBatch(
        "BTCUSDT",
        np.array([0], dtype=np.int64),
        None,
        np.array([-1]),
        np.array([-1]),
        np.array([-1]),
        np.array([True]),
        np.array([0, 2], dtype=np.int64),
        np.array([1], dtype=np.int64),
        np.array([1000, 1001], dtype=np.int64),
        np.array([5, 5], dtype=np.int64),
    )
    with pytest.raises(ss.StrategyError) as caught:
        ss.run_backtest(
            [ss.MemorySource([book])],
            Sloppy(),
            exchange=SimExchange([BTC], sequencing=None, mark_fallback="mid"),
            sequencing=None,
        )
    message = str(caught.value)
    assert caught.value.strategy == "sloppy"
    assert "tif must be an ss.TimeInForce member, got 'IOC'" in message
    assert "Order(symbol='BTCUSDT'" in message


def test_a_nan_price_is_an_off_grid_reject_not_a_crash() -> None:
    desk = Desk()
    handle = desk.a.submit(limit(price=math.nan))  # type: ignore[arg-type]
    desk.settle()
    assert (handle.status, handle.updates[-1].code) == (OrderStatus.REJECTED, -1111)
    assert handle.updates[-1].ts_local == 2 * MS  # a venue round trip, like a venue reject


def test_fills_of_orders_reusing_a_client_id_name_the_order_they_filled() -> None:
    desk = Desk()
    first = desk.a.submit(limit(side=ss.BUY, price=1001, client_id="t"))  # takes the ask
    desk.settle()
    second = desk.a.submit(limit(side=ss.BUY, price=1001, client_id="t"))
    desk.settle()
    assert first.status is second.status is OrderStatus.FILLED
    assert first.serial != second.serial
    fills = desk.broker.record.fills
    assert [f.serial for f in fills] == [first.serial, second.serial]
    orders = _orders_table(desk.broker.record.orders).rows
    assert [(row[0], row[1]) for row in orders] == [(first.serial, "t"), (second.serial, "t")]
