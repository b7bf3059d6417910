"""exchangeInfo symbols to :class:`~streamsim.instruments.Instrument` and back."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from streamsim.errors import DataError
from streamsim.instruments import ContractKind, Instrument


def parse_exchange_info(info: Mapping[str, Any]) -> dict[str, Instrument]:
    """Instruments of a decoded ``GET /fapi/v1/exchangeInfo`` (USD-M) or
    ``GET /dapi/v1/exchangeInfo`` (COIN-M) response.

    Tick size from ``PRICE_FILTER.tickSize``, lot size from ``LOT_SIZE.stepSize``, minimum
    notional from ``MIN_NOTIONAL.notional`` when present; symbols lacking the first two
    are left out. The kind comes from ``marginAsset``: the quote asset (or none) is linear,
    the base asset is inverse with ``contractSize`` USD per contract (COIN-M ``BTCUSD_PERP``:
    100 USD, margined in BTC). Any other margin asset, or an inverse symbol without a
    ``contractSize``, is a :class:`DataError` rather than a contract booked as linear.
    """
    symbols = info.get("symbols")
    if not isinstance(symbols, list):
        raise DataError("exchangeInfo response has no 'symbols' list")
    result: dict[str, Instrument] = {}
    for entry in symbols:
        filters = {f.get("filterType"): f for f in entry.get("filters", ())}
        price = filters.get("PRICE_FILTER", {}).get("tickSize")
        lot = filters.get("LOT_SIZE", {}).get("stepSize")
        if price is None or lot is None:
            continue
        notional = filters.get("MIN_NOTIONAL", {}).get("notional", "0")
        symbol = entry["symbol"]
        quote = str(entry.get("quoteAsset", "USDT"))
        kind, contract_size, margin = _contract_terms(symbol, entry, quote)
        result[symbol] = Instrument(
            symbol,
            Decimal(price),
            Decimal(lot),
            min_notional=Decimal(notional),
            contract_size=contract_size,
            kind=kind,
            quote=quote,
            margin_asset=margin,
        )
    return result


def _contract_terms(
    symbol: str, entry: Mapping[str, Any], quote: str
) -> tuple[ContractKind, Decimal, str]:
    """Kind, contract size and margin asset of one exchangeInfo ``symbols`` entry."""
    margin = str(entry.get("marginAsset") or quote)
    base = entry.get("baseAsset")
    size = entry.get("contractSize")
    if margin == quote:
        if size is not None and Decimal(str(size)) != 1:
            raise DataError(
                f"exchangeInfo symbol {symbol}: contractSize {size} on a contract margined in "
                f"its quote {quote} (only coin-margined contracts have a contract size here)"
            )
        return ContractKind.LINEAR, Decimal(1), margin
    if margin == base:
        if size is None:
            raise DataError(
                f"exchangeInfo symbol {symbol}: coin-margined (marginAsset {margin}) but no "
                "contractSize (the USD value of one contract)"
            )
        return ContractKind.INVERSE, Decimal(str(size)), margin
    raise DataError(
        f"exchangeInfo symbol {symbol}: marginAsset {margin!r} is neither its quote {quote!r} "
        f"nor its base {base!r}; such contracts are not supported"
    )
