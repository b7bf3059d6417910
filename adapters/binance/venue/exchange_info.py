"""``GET /fapi/v1/exchangeInfo`` from the venue's :class:`Instrument` objects.

The grid is the instrument's (``PRICE_FILTER.tickSize``, ``LOT_SIZE.stepSize``,
``MIN_NOTIONAL.notional``); what an ``Instrument`` does not hold (price and size bounds,
order count limits, ``PERCENT_PRICE``) takes the venue's usual BTCUSDT values. A dated
symbol (``BTCUSDT_260626``) is a ``CURRENT_QUARTER`` contract delivered at 08:00 UTC of its
date; any other a ``PERPETUAL``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from streamsim.instruments import ContractKind, Instrument

#: The venue's delivery date of a perpetual contract (2100-12-25 08:00 UTC).
PERPETUAL_DELIVERY = 4_133_404_800_000
_DATED = re.compile(r"_(\d{2})(\d{2})(\d{2})$")
ORDER_TYPES = [
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]
TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX", "GTD"]


def _text(value: Decimal) -> str:
    return format(value, "f")


def _places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def rate_limits(weight_limit: int) -> list[dict[str, Any]]:
    """The ``rateLimits`` the venue reports."""
    return [
        {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": weight_limit,
        },
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
    ]


def symbol_entry(instrument: Instrument) -> dict[str, Any]:
    """One ``symbols`` entry."""
    symbol = instrument.symbol
    quote = instrument.quote
    pair = symbol.split("_")[0]
    base = pair[: -len(quote)] if pair.endswith(quote) and len(pair) > len(quote) else pair
    dated = _DATED.search(symbol)
    if dated:
        year, month, day = (int(part) for part in dated.groups())
        delivery = dt.datetime(2000 + year, month, day, 8, tzinfo=dt.UTC)
        contract, delivery_ms = "CURRENT_QUARTER", int(delivery.timestamp() * 1000)
    else:
        contract, delivery_ms = "PERPETUAL", PERPETUAL_DELIVERY
    tick, lot = _text(instrument.tick_size), _text(instrument.lot_size)
    entry: dict[str, Any] = {
        "symbol": symbol,
        "pair": pair,
        "contractType": contract,
        "deliveryDate": delivery_ms,
        "onboardDate": 1_569_398_400_000,
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": quote,
        "marginAsset": instrument.margin_asset,
        "pricePrecision": _places(instrument.tick_size),
        "quantityPrecision": _places(instrument.lot_size),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick,
                "maxPrice": "10000000",
                "tickSize": tick,
            },
            {"filterType": "LOT_SIZE", "minQty": lot, "maxQty": "1000", "stepSize": lot},
            {"filterType": "MARKET_LOT_SIZE", "minQty": lot, "maxQty": "120", "stepSize": lot},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": _text(instrument.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ORDER_TYPES,
        "timeInForce": TIME_IN_FORCE,
    }
    if instrument.kind is ContractKind.INVERSE:
        entry["contractSize"] = int(instrument.contract_size)
    return entry


def exchange_info(
    instruments: Iterable[Instrument], server_time_ms: int, weight_limit: int
) -> dict[str, Any]:
    """The whole ``exchangeInfo`` response."""
    entries = [symbol_entry(instrument) for instrument in instruments]
    assets = sorted({e["marginAsset"] for e in entries})
    return {
        "timezone": "UTC",
        "serverTime": server_time_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": rate_limits(weight_limit),
        "exchangeFilters": [],
        "assets": [
            {"asset": a, "marginAvailable": True, "autoAssetExchange": "-10000"} for a in assets
        ],
        "symbols": entries,
    }
