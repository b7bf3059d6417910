"""The loopback venue's trading side (no network): the venue's answers, rejects and user
events for orders matched by SimExchange."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import book_levels

import streamsim as ss
from adapters.binance.venue.desk import Desk, DeskError
from adapters.binance.wire import ERRORS
from adapters.binance.wire.requests import AmendOrder, NewAlgoOrder, NewOrder, OrderQuery
from streamsim.events import DepthUpdate
from streamsim.sim.fees import Fees

BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001", min_notional="5")
T0 = 1_700_000_000 * ss.SECOND


def depth(bids: list[tuple[int, int]], asks: list[tuple[int, int]], t: int, snap: bool = False):
    return DepthUpdate("BTCUSDT", t, None, t, -1, -1, -1, snap, book_levels(bids, asks), 0)


def trade(price: int, qty: int, side: int, t: int) -> ss.Trade:
    return ss.Trade("BTCUSDT", t, None, t, price, qty, side, 0)


def mark(price: float, t: int) -> ss.MarkPrice:
    return ss.MarkPrice("BTCUSDT", t, None, t, price, price, price, 0.0, 10**19)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> int:
        return self.t


@pytest.fixture
def desk() -> tuple[Desk, Clock, list[dict[str, Any]]]:
    clock = Clock()
    exchange = ss.SimExchange(
        [BTC], sequencing=None, fees=Fees(maker=0.0002, taker=0.0005), initial_balance=10_000.0
    )
    venue = Desk(exchange, {"BTCUSDT": BTC}, clock)
    events: list[dict[str, Any]] = []
    venue.listeners.append(events.append)
    # 30000.0 / 30000.1, 5 lots (0.005 BTC) and more behind
    venue.on_market(
        [
            mark(30_000.0, T0),
            depth([(300_000, 5), (299_999, 10)], [(300_001, 2), (300_002, 3)], T0, snap=True),
        ]
    )
    return venue, clock, events


def new(**params: str) -> NewOrder:
    return NewOrder.from_wire({"symbol": "BTCUSDT", **params})


def test_a_resting_limit_order_is_acked_new_and_announced_on_the_user_stream(desk) -> None:
    venue, _, events = desk
    answer = venue.new_order(
        new(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.002", price="29999.9")
    )
    assert answer["status"] == "NEW" and answer["orderId"] == 1
    assert answer["price"] == "29999.9" and answer["origQty"] == "0.002"
    assert answer["clientOrderId"].startswith("ss-")
    assert [(e["e"], e["o"]["x"], e["o"]["X"]) for e in events] == [
        ("ORDER_TRADE_UPDATE", "NEW", "NEW")
    ]
    assert venue.open_orders("BTCUSDT")[0]["orderId"] == 1


def test_a_marketable_order_fills_across_levels_and_reports_its_trades(desk) -> None:
    venue, _, events = desk
    ack = venue.new_order(new(side="BUY", type="MARKET", quantity="0.004", newClientOrderId="m1"))
    assert ack["status"] == "NEW" and ack["executedQty"] == "0.000"  # ACK: as placed
    state = venue.query_order(OrderQuery.from_wire({"symbol": "BTCUSDT", "orderId": "1"}))
    assert state["status"] == "FILLED" and state["executedQty"] == "0.004"
    orders = [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"]
    fills = [o for o in orders if o["x"] == "TRADE"]
    assert [(f["L"], f["l"], f["X"]) for f in fills] == [
        ("30000.1", "0.002", "PARTIALLY_FILLED"),
        ("30000.2", "0.002", "FILLED"),
    ]
    trades = venue.user_trades("BTCUSDT")
    assert [t["id"] for t in trades] == [1, 2] and not trades[0]["maker"]
    assert any(e["e"] == "ACCOUNT_UPDATE" for e in events)
    assert venue.position_risk("BTCUSDT")[0]["positionAmt"] == "0.004"


def test_venue_rejects_carry_the_venues_codes_and_are_never_recorded(desk) -> None:
    venue, _, events = desk
    cases = [
        (
            -5022,
            dict(side="BUY", type="LIMIT", timeInForce="GTX", quantity="0.001", price="30000.1"),
        ),
        (-2022, dict(side="SELL", type="MARKET", quantity="0.001", reduceOnly="true")),
        (-4164, dict(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price="1000")),
        (-2019, dict(side="BUY", type="LIMIT", timeInForce="GTC", quantity="9", price="29000")),
        (-4120, dict(side="BUY", type="STOP_MARKET", quantity="0.001")),
        (
            -1111,
            dict(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price="29000.05"),
        ),
        (-4015, dict(side="BUY", type="MARKET", quantity="0.001", newClientOrderId="bad id!")),
    ]
    for code, params in cases:
        with pytest.raises(DeskError) as caught:
            venue.new_order(new(**params))
        assert caught.value.body["code"] == code, params
        assert caught.value.status == ERRORS[code].http_status == 400
    assert events == [] and venue.orders == {}


def test_a_client_id_is_unique_among_open_orders_only(desk) -> None:
    venue, _, _ = desk
    limit = dict(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price="29000")
    venue.new_order(new(newClientOrderId="a", **limit))
    with pytest.raises(DeskError, match="-4116"):
        venue.new_order(new(newClientOrderId="a", **limit))
    venue.cancel_order(OrderQuery.from_wire({"symbol": "BTCUSDT", "origClientOrderId": "a"}))
    again = venue.new_order(new(newClientOrderId="a", **limit))  # finished: free again
    assert again["orderId"] == 2
    with pytest.raises(DeskError, match="-2011"):  # cancelling the finished one
        venue.cancel_order(OrderQuery.from_wire({"symbol": "BTCUSDT", "orderId": "1"}))


def test_an_amend_keeps_the_ids_and_is_one_amendment_event(desk) -> None:
    venue, _, events = desk
    venue.new_order(
        new(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price="29999.9",
            newClientOrderId="q",
        )
    )
    events.clear()
    answer = venue.amend_order(
        AmendOrder.from_wire(
            {
                "symbol": "BTCUSDT",
                "orderId": "1",
                "side": "BUY",
                "quantity": "0.003",
                "price": "29999.8",
            }
        )
    )
    assert (answer["orderId"], answer["clientOrderId"]) == (1, "q")
    assert (answer["price"], answer["origQty"], answer["status"]) == ("29999.8", "0.003", "NEW")
    assert [(e["o"]["x"], e["o"]["X"], e["o"]["i"]) for e in events] == [("AMENDMENT", "NEW", 1)]
    with pytest.raises(DeskError, match="-2013"):
        venue.amend_order(
            AmendOrder.from_wire(
                {
                    "symbol": "BTCUSDT",
                    "orderId": "7",
                    "side": "BUY",
                    "quantity": "0.003",
                    "price": "29999.8",
                }
            )
        )


def test_a_resting_order_fills_partially_from_trades_then_is_cancelled(desk) -> None:
    venue, clock, events = desk
    venue.new_order(
        new(side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.004", price="30000.1")
    )
    clock.t += ss.SECOND
    # 2 lots ahead of us at 30000.1; a buyer takes 4: our first 2 fill (queue position)
    venue.on_market([trade(300_001, 4, ss.BUY, clock.t)])
    state = venue.query_order(OrderQuery.from_wire({"symbol": "BTCUSDT", "orderId": "1"}))
    assert state["status"] == "PARTIALLY_FILLED" and state["executedQty"] == "0.002"
    venue.cancel_order(OrderQuery.from_wire({"symbol": "BTCUSDT", "orderId": "1"}))
    assert [e["o"]["X"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"][-1] == "CANCELED"
    assert venue.user_trades("BTCUSDT")[0]["maker"] is True


def test_a_stop_lives_on_the_algo_endpoint_and_fills_when_triggered(desk) -> None:
    venue, clock, events = desk
    stop = venue.new_algo_order(
        NewAlgoOrder.from_wire(
            {
                "algoType": "CONDITIONAL",
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "STOP_MARKET",
                "quantity": "0.001",
                "triggerPrice": "30000.5",
            }
        )
    )
    assert stop["algoStatus"] == "NEW" and events[-1]["e"] == "ALGO_UPDATE"
    clock.t += ss.SECOND
    venue.on_market([depth([], [(300_005, 5)], clock.t), trade(300_005, 1, ss.BUY, clock.t)])
    assert any(e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["X"] == "FILLED" for e in events)
    assert venue.position_risk("BTCUSDT")[0]["positionAmt"] == "0.001"


def test_every_answer_and_event_decodes_with_the_wire_codec(desk) -> None:
    from adapters.binance.wire import AlgoOrder, Order, UserTrade, decode_event

    venue, _, events = desk
    answers = [
        venue.new_order(new(side="BUY", type="MARKET", quantity="0.003")),
        venue.new_order(
            new(side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.001", price="30001")
        ),
    ]
    stop = venue.new_algo_order(
        NewAlgoOrder.from_wire(
            {
                "algoType": "CONDITIONAL",
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "quantity": "0.001",
                "triggerPrice": "29000",
            }
        )
    )
    for answer in answers + venue.open_orders(None):
        assert Order.from_wire(answer).to_wire() == answer
    assert AlgoOrder.from_wire(stop).to_wire() == stop
    for trade_row in venue.user_trades("BTCUSDT"):
        assert UserTrade.from_wire(trade_row).to_wire() == trade_row
    assert {type(decode_event(e)).__name__ for e in events} >= {
        "OrderTradeUpdate",
        "AccountUpdate",
        "AlgoUpdate",
    }
    for event in events:
        assert decode_event(event).to_wire() == event


def test_self_trade_prevention_expires_in_match_as_the_takers_mode_says(desk) -> None:
    venue, _, events = desk
    rest = dict(side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.002", price="30000.1")
    take = dict(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.002", price="30000.1")
    maker = venue.new_order(new(newClientOrderId="m1", **rest))
    taker = venue.new_order(new(selfTradePreventionMode="EXPIRE_TAKER", **take))
    assert (
        venue.query_order(
            OrderQuery.from_wire({"symbol": "BTCUSDT", "orderId": str(taker["orderId"])})
        )["status"]
        == "EXPIRED_IN_MATCH"
    )
    assert venue.open_orders("BTCUSDT")[0]["orderId"] == maker["orderId"]  # untouched
    venue.new_order(new(selfTradePreventionMode="EXPIRE_MAKER", **take))
    statuses = {(e["o"]["c"], e["o"]["X"]) for e in events if e["e"] == "ORDER_TRADE_UPDATE"}
    assert ("m1", "EXPIRED_IN_MATCH") in statuses  # the resting order expired first
    assert venue.open_orders("BTCUSDT") == [] and venue.user_trades("BTCUSDT")  # then it traded
    with pytest.raises(DeskError, match="-1130"):
        venue.new_order(new(selfTradePreventionMode="SOMETIMES", **take))


def test_algo_ids_and_order_ids_are_numbered_apart_and_never_collide(desk) -> None:
    venue, _, _ = desk
    stop = venue.new_algo_order(
        NewAlgoOrder.from_wire(
            {
                "algoType": "CONDITIONAL",
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "STOP_MARKET",
                "quantity": "0.001",
                "triggerPrice": "31000",
            }
        )
    )
    limit = venue.new_order(
        new(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.002", price="29000")
    )
    assert stop["algoId"] == limit["orderId"] == 1
    assert [o["orderId"] for o in venue.open_orders("BTCUSDT")] == [1]
    assert [o["algoId"] for o in venue.open_algo_orders("BTCUSDT")] == [1]
    venue.cancel_order(OrderQuery.from_wire({"symbol": "BTCUSDT", "orderId": "1"}))
    assert venue.open_algo_orders("BTCUSDT")  # the stop is not the order cancelled


def test_an_amend_to_no_more_than_filled_or_a_crossing_gtx_price_cancels_the_order(desk) -> None:
    venue, _, _ = desk
    gtx = venue.new_order(
        new(side="BUY", type="LIMIT", timeInForce="GTX", quantity="0.002", price="29999.9")
    )
    state = venue.amend_order(
        AmendOrder.from_wire(
            {
                "symbol": "BTCUSDT",
                "orderId": str(gtx["orderId"]),
                "side": "BUY",
                "quantity": "0.002",
                "price": "30000.2",
            }  # through the ask
        )
    )
    assert state["status"] == "CANCELED"


def test_an_amend_loses_the_orders_place_in_the_queue(desk) -> None:
    venue, clock, _ = desk
    venue.new_order(
        new(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price="30000.0",
            newClientOrderId="q",
        )
    )
    resting = venue.exchange._resting["BTCUSDT"]
    clock.t += ss.SECOND
    venue.on_market([trade(300_000, 4, ss.SELL, clock.t)])  # 4 of the 5 lots ahead trade
    [moved_up] = resting.orders
    clock.t += ss.SECOND
    venue.on_market([depth([(300_000, 5)], [], clock.t)])  # the level refills to 5 lots
    venue.amend_order(
        AmendOrder.from_wire(
            {
                "symbol": "BTCUSDT",
                "origClientOrderId": "q",
                "side": "BUY",
                "quantity": "0.003",
                "price": "30000.0",
            }
        )
    )
    [amended] = resting.orders
    assert moved_up.ahead < 2 < amended.ahead  # behind the level's whole queue again
