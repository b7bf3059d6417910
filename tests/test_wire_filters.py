"""exchangeInfo to Instrument and back, on the recorded USD-M exchangeInfo."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from adapters.binance.wire import (
    ExchangeInfo,
    LotSizeFilter,
    MinNotionalFilter,
    PriceFilter,
    exchange_info,
    instruments_of,
    loads,
    parse_exchange_info,
    symbol_entry,
)
from streamsim.instruments import ContractKind, Instrument

RECORDED = Path(__file__).resolve().parents[2] / "shared/data/binance-futures-ws/BINANCE_FUTURES.0"

pytestmark = pytest.mark.skipif(not RECORDED.is_file(), reason="shared data not present")


def _recorded() -> dict[str, object]:
    line = RECORDED.read_bytes().splitlines()[0]
    raw = line.split(b" -> ", 1)[1].split(b": ", 1)[1]
    data = loads(raw)
    assert isinstance(data, dict)
    return data


def test_instruments_served_as_exchange_info_parse_back_to_the_same_instruments() -> None:
    recorded = parse_exchange_info(_recorded())
    assert len(recorded) == 122
    served = exchange_info(recorded.values(), server_time=1626858243909)
    assert instruments_of(served) == recorded
    assert parse_exchange_info(served.to_wire()) == recorded  # through the wire form too
    assert instruments_of(ExchangeInfo.from_wire(served.to_wire())) == recorded


def test_served_filters_carry_the_recorded_decimal_strings() -> None:
    recorded = ExchangeInfo.from_wire(_recorded())
    served = exchange_info(instruments_of(recorded).values(), server_time=0)
    for before, after in zip(recorded.symbols, served.symbols, strict=True):
        assert before.symbol == after.symbol
        for kind, field in (
            ("PRICE_FILTER", "tick_size"),
            ("LOT_SIZE", "step_size"),
            ("MIN_NOTIONAL", "notional"),
        ):
            assert getattr(before.filter(kind), field) == getattr(after.filter(kind), field)
        assert (before.quote_asset, before.margin_asset) == (after.quote_asset, after.margin_asset)


def test_the_recorded_rate_limits_are_typed_with_their_windows() -> None:
    limits = ExchangeInfo.from_wire(_recorded()).rate_limits
    assert [(r.rate_limit_type, r.limit, r.window_ms) for r in limits] == [
        ("REQUEST_WEIGHT", 2400, 60_000),
        ("ORDERS", 1200, 60_000),
        ("ORDERS", 300, 10_000),
    ]


def test_a_symbol_entry_names_base_asset_filters_and_precisions() -> None:
    entry = symbol_entry(Instrument("BTCUSDT", Decimal("0.10"), Decimal("0.001"), Decimal("100")))
    assert (entry.base_asset, entry.quote_asset, entry.margin_asset) == ("BTC", "USDT", "USDT")
    assert (entry.price_precision, entry.quantity_precision) == (1, 3)
    price = entry.filter("PRICE_FILTER")
    lot = entry.filter("LOT_SIZE")
    notional = entry.filter("MIN_NOTIONAL")
    assert isinstance(price, PriceFilter) and price.tick_size == "0.10"
    assert isinstance(lot, LotSizeFilter) and lot.step_size == "0.001"
    assert isinstance(notional, MinNotionalFilter) and notional.notional == "100"
    assert entry.contract_size is None


def test_an_inverse_instrument_round_trips_with_its_contract_size_and_coin_margin() -> None:
    inverse = Instrument(
        "BTCUSD_PERP",
        Decimal("0.1"),
        Decimal("1"),
        contract_size=Decimal("100"),
        kind=ContractKind.INVERSE,
        quote="USD",
        margin_asset="BTC",
    )
    entry = symbol_entry(inverse)
    assert (entry.base_asset, entry.contract_size) == ("BTC", 100)
    assert parse_exchange_info({"symbols": [entry.to_wire()]}) == {"BTCUSD_PERP": inverse}
