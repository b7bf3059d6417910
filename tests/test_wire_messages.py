"""The typed messages' rules: wrong types and missing keys name the field, unknown keys stay."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from adapters.binance.wire import (
    AccountUpdate,
    BookTicker,
    DepthUpdate,
    Envelope,
    MarkPriceUpdate,
    NewOrder,
    Order,
    OrderQuery,
    OtherEvent,
    decode_event,
    decode_frame,
    decode_list,
)
from streamsim.errors import DataError


def _diff(**changes: Any) -> dict[str, Any]:
    diff: dict[str, Any] = {
        "e": "depthUpdate",
        "E": 1626992741037,
        "T": 1626992741024,
        "s": "SUSHIUSDT",
        "U": 600859599090,
        "u": 600859600917,
        "pu": 600859598061,
        "b": [["7.5040", "813"]],
        "a": [],
    }
    diff.update(changes)
    return {k: v for k, v in diff.items() if v is not None}


def test_a_missing_key_raises_a_data_error_naming_it() -> None:
    data = _diff()
    del data["pu"]
    with pytest.raises(DataError, match=r"DepthUpdate field 'pu': missing"):
        DepthUpdate.from_wire(data)


def test_a_string_where_an_integer_belongs_raises_a_data_error_naming_the_field() -> None:
    with pytest.raises(DataError, match=r"DepthUpdate field 'u': expected an integer, got str"):
        DepthUpdate.from_wire(_diff(u="600859600917"))


def test_a_float_price_is_refused_so_no_decimal_string_is_ever_read_through_a_float() -> None:
    with pytest.raises(DataError, match=r"field 'b.0': a level holds a non-string"):
        DepthUpdate.from_wire(_diff(b=[[7.504, "813"]]))
    ticker = {"e": "bookTicker", "u": 1, "s": "X", "b": 1.5, "B": "1", "a": "2", "A": "1"}
    with pytest.raises(DataError, match=r"BookTicker field 'b': expected a string, got float"):
        BookTicker.from_wire({**ticker, "T": 1, "E": 1})


def test_the_string_false_is_not_a_boolean() -> None:
    raw = {"e": "aggTrade", "E": 1, "a": 1, "s": "X", "p": "1", "q": "1", "f": 1, "l": 1}
    with pytest.raises(DataError, match=r"AggTrade field 'm': expected a boolean"):
        decode_event({**raw, "T": 1, "m": "false"})


def test_a_bad_value_deep_inside_names_its_whole_path() -> None:
    frame = {"stream": "sushiusdt@depth@100ms", "data": _diff(a=[["7.6150", "1563", "x"]])}
    with pytest.raises(DataError, match=r"Envelope field 'data.a.0'"):
        decode_frame(frame)
    update = {
        "e": "ACCOUNT_UPDATE",
        "E": 1,
        "T": 1,
        "a": {"m": "ORDER", "B": [{"a": "USDT", "wb": "1", "cw": 1}], "P": []},
    }
    with pytest.raises(DataError, match=r"AccountUpdate field 'a.B.0.cw'"):
        AccountUpdate.from_wire(update)


def test_an_event_of_another_type_is_refused_by_a_typed_decoder() -> None:
    with pytest.raises(DataError, match=r"DepthUpdate field 'e': expected 'depthUpdate'"):
        DepthUpdate.from_wire(_diff(e="bookTicker"))


def test_a_key_newer_than_the_type_survives_the_round_trip() -> None:
    raw = {
        "e": "markPriceUpdate",
        "E": 1,
        "s": "BTCUSDT",
        "p": "1.0",
        "ap": "1.00",
        "P": "1",
        "i": "1",
        "r": "0.0001",
        "T": 2,
    }
    mark = MarkPriceUpdate.from_wire(raw)
    assert mark.extra == {"ap": "1.00"}
    assert mark.to_wire() == raw


def test_a_key_beside_stream_and_data_survives_the_round_trip() -> None:
    frame = {"stream": "sushiusdt@depth@100ms", "data": _diff(), "replay_ns": 123}
    envelope = decode_frame(frame)
    assert isinstance(envelope, Envelope)
    assert envelope.extra == {"replay_ns": 123}
    assert envelope.to_wire() == frame


def test_an_untyped_event_is_kept_as_it_came() -> None:
    kline = {"e": "kline", "E": 1, "s": "X", "k": {"t": 1}}
    event = decode_event(kline)
    assert isinstance(event, OtherEvent)
    assert event.to_wire() is kline


def test_messages_are_frozen() -> None:
    diff = DepthUpdate.from_wire(_diff())
    with pytest.raises(dataclasses.FrozenInstanceError):
        diff.symbol = "OTHER"  # type: ignore[misc]


def test_a_message_built_in_code_encodes_to_the_venue_keys() -> None:
    diff = DepthUpdate(
        event_type="depthUpdate",
        event_time=2,
        transaction_time=1,
        symbol="BTCUSDT",
        first_update_id=10,
        final_update_id=12,
        prev_final_update_id=9,
        bids=(("100.0", "1"),),
        asks=(),
    )
    assert diff.to_wire() == {
        "e": "depthUpdate",
        "E": 2,
        "T": 1,
        "s": "BTCUSDT",
        "U": 10,
        "u": 12,
        "pu": 9,
        "b": [["100.0", "1"]],
        "a": [],
    }
    assert DepthUpdate.from_wire(diff.to_wire()) == diff


def test_a_query_integer_must_be_canonical_digits() -> None:
    assert OrderQuery.from_wire({"symbol": "X", "orderId": "12"}).order_id == 12
    for bad in ("012", "1.0", "x", " 1"):
        with pytest.raises(DataError, match=r"OrderQuery field 'orderId'"):
            OrderQuery.from_wire({"symbol": "X", "orderId": bad})


def test_a_new_order_without_its_symbol_is_refused_naming_it() -> None:
    with pytest.raises(DataError, match=r"NewOrder field 'symbol': missing"):
        NewOrder.from_wire({"side": "BUY", "type": "MARKET", "quantity": "1"})


def test_a_new_order_writes_its_parameters_in_declaration_order_as_strings() -> None:
    order = NewOrder(
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        time_in_force="GTX",
        quantity="0.001",
        price="61000.10",
        good_till_date=0,
    )
    assert list(order.to_wire().items()) == [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTX"),
        ("quantity", "0.001"),
        ("price", "61000.10"),
        ("goodTillDate", "0"),
    ]


def test_a_list_response_names_the_bad_item() -> None:
    with pytest.raises(DataError, match=r"item 1: Order field 'orderId'"):
        decode_list(
            Order,
            [
                {"orderId": 1, "symbol": "X", "status": "NEW", "clientOrderId": "a",
                 "type": "LIMIT", "side": "BUY"},
                {"orderId": "2", "symbol": "X", "status": "NEW", "clientOrderId": "b",
                 "type": "LIMIT", "side": "BUY"},
            ],
        )  # fmt: skip
