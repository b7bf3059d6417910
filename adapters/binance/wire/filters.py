"""exchangeInfo symbols to :class:`~streamsim.instruments.Instrument` and back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from streamsim.errors import DataError
from streamsim.instruments import ContractKind, Instrument

from .exchange_info import (
    AssetInfo,
    ExchangeInfo,
    LotSizeFilter,
    MaxNumFilter,
    MinNotionalFilter,
    PriceFilter,
    RateLimit,
    SymbolInfo,
)


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


#: The USD-M limits a venue serves when given none (the recorded 2021 exchangeInfo's).
DEFAULT_RATE_LIMITS: tuple[RateLimit, ...] = (
    RateLimit(rate_limit_type="REQUEST_WEIGHT", interval="MINUTE", interval_num=1, limit=2400),
    RateLimit(rate_limit_type="ORDERS", interval="MINUTE", interval_num=1, limit=1200),
    RateLimit(rate_limit_type="ORDERS", interval="SECOND", interval_num=10, limit=300),
)
_ORDER_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET")
_TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX", "GTD")
#: Far bounds for the filter fields an Instrument does not hold.
_MAX_PRICE = "1000000"
_MAX_QTY = "1000000"


def _places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _contract_size(size: Decimal) -> int | str:
    """As COIN-M exchangeInfo writes it: an integer (``100``) when it is one."""
    return int(size) if size == size.to_integral_value() else str(size)


def _base_asset(instrument: Instrument) -> str:
    if instrument.kind is ContractKind.INVERSE:
        return instrument.margin_asset
    name = instrument.symbol.split("_", 1)[0]
    return name.removesuffix(instrument.quote) or name


def symbol_entry(instrument: Instrument) -> SymbolInfo:
    """The exchangeInfo ``symbols`` entry of ``instrument``, as a loopback venue serves it.

    Tick, lot, minimum notional, contract size, quote and margin asset come from the
    instrument (so :func:`parse_exchange_info` gives the same instrument back); the fields
    it does not hold get neutral values: price and size ranges from one step to far above,
    precisions from the steps, status ``TRADING``, a perpetual contract.
    """
    tick, lot = str(instrument.tick_size), str(instrument.lot_size)
    inverse = instrument.kind is ContractKind.INVERSE
    return SymbolInfo(
        symbol=instrument.symbol,
        pair=instrument.symbol.split("_", 1)[0],
        contract_type="PERPETUAL",
        status="TRADING",
        base_asset=_base_asset(instrument),
        quote_asset=instrument.quote,
        margin_asset=instrument.margin_asset,
        contract_size=_contract_size(instrument.contract_size) if inverse else None,
        price_precision=_places(instrument.tick_size),
        quantity_precision=_places(instrument.lot_size),
        filters=(
            PriceFilter(
                filter_type="PRICE_FILTER", min_price=tick, max_price=_MAX_PRICE, tick_size=tick
            ),
            LotSizeFilter(filter_type="LOT_SIZE", min_qty=lot, max_qty=_MAX_QTY, step_size=lot),
            LotSizeFilter(
                filter_type="MARKET_LOT_SIZE", min_qty=lot, max_qty=_MAX_QTY, step_size=lot
            ),
            MaxNumFilter(filter_type="MAX_NUM_ORDERS", limit=200),
            MaxNumFilter(filter_type="MAX_NUM_ALGO_ORDERS", limit=10),
            MinNotionalFilter(filter_type="MIN_NOTIONAL", notional=str(instrument.min_notional)),
        ),
        order_types=_ORDER_TYPES,
        time_in_force=_TIME_IN_FORCE,
    )


def exchange_info(
    instruments: Iterable[Instrument],
    server_time: int,
    rate_limits: tuple[RateLimit, ...] = DEFAULT_RATE_LIMITS,
) -> ExchangeInfo:
    """The ``exchangeInfo`` response a loopback venue serves for ``instruments``."""
    symbols = tuple(symbol_entry(i) for i in instruments)
    margin_assets = sorted({s.margin_asset for s in symbols if s.margin_asset})
    return ExchangeInfo(
        timezone="UTC",
        server_time=server_time,
        futures_type="U_MARGINED",
        rate_limits=rate_limits,
        exchange_filters=[],
        assets=tuple(
            AssetInfo(asset=a, margin_available=True, auto_asset_exchange="-10000")
            for a in margin_assets
        ),
        symbols=symbols,
    )


def instruments_of(info: ExchangeInfo) -> dict[str, Instrument]:
    """The instruments of a typed exchangeInfo (see :func:`parse_exchange_info`)."""
    return parse_exchange_info(info.to_wire())
