"""``GET /fapi/v1/exchangeInfo``: rate limits, assets, symbols and their filters, typed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fields import FieldError, WireMessage, extra_keys, key, message, optional, read_as

_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


@message
class RateLimit(WireMessage):
    """One limit: ``limit`` per ``interval_num`` ``interval`` of REQUEST_WEIGHT or ORDERS."""

    rate_limit_type: str = key("rateLimitType")
    interval: str = key("interval")
    interval_num: int = key("intervalNum")
    limit: int = key("limit")
    extra: dict[str, Any] = extra_keys()

    @property
    def window_ms(self) -> int:
        """The limit's window in ms."""
        return self.interval_num * _INTERVAL_MS[self.interval]


@message
class PriceFilter(WireMessage):
    """``PRICE_FILTER``: price range and tick."""

    filter_type: str = key("filterType")
    min_price: str = key("minPrice")
    max_price: str = key("maxPrice")
    tick_size: str = key("tickSize")
    extra: dict[str, Any] = extra_keys()


@message
class LotSizeFilter(WireMessage):
    """``LOT_SIZE`` (limit orders) or ``MARKET_LOT_SIZE`` (market orders): size range, step."""

    filter_type: str = key("filterType")
    min_qty: str = key("minQty")
    max_qty: str = key("maxQty")
    step_size: str = key("stepSize")
    extra: dict[str, Any] = extra_keys()


@message
class MaxNumFilter(WireMessage):
    """``MAX_NUM_ORDERS`` or ``MAX_NUM_ALGO_ORDERS``: open orders allowed per symbol."""

    filter_type: str = key("filterType")
    limit: int = key("limit")
    extra: dict[str, Any] = extra_keys()


@message
class MinNotionalFilter(WireMessage):
    """``MIN_NOTIONAL``: the smallest order notional (market orders at the mark price)."""

    filter_type: str = key("filterType")
    notional: str = key("notional")
    extra: dict[str, Any] = extra_keys()


@message
class PercentPriceFilter(WireMessage):
    """``PERCENT_PRICE``: limit prices within these multipliers of the mark price."""

    filter_type: str = key("filterType")
    multiplier_up: str = key("multiplierUp")
    multiplier_down: str = key("multiplierDown")
    multiplier_decimal: str | int | None = optional("multiplierDecimal")
    extra: dict[str, Any] = extra_keys()


@message
class OtherFilter(WireMessage):
    """A filter of a type not typed here, kept as it came."""

    filter_type: str = key("filterType")
    extra: dict[str, Any] = extra_keys()


#: Any typed filter of a symbol.
SymbolFilter = (
    PriceFilter
    | LotSizeFilter
    | MaxNumFilter
    | MinNotionalFilter
    | PercentPriceFilter
    | OtherFilter
)

_FILTERS: dict[str, type[WireMessage]] = {
    "PRICE_FILTER": PriceFilter,
    "LOT_SIZE": LotSizeFilter,
    "MARKET_LOT_SIZE": LotSizeFilter,
    "MAX_NUM_ORDERS": MaxNumFilter,
    "MAX_NUM_ALGO_ORDERS": MaxNumFilter,
    "MIN_NOTIONAL": MinNotionalFilter,
    "PERCENT_PRICE": PercentPriceFilter,
}


def _read_filters(value: Any) -> tuple[WireMessage, ...]:
    if type(value) is not list:
        raise FieldError("", f"expected a list of filters, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        kind = item.get("filterType") if isinstance(item, Mapping) else None
        try:
            out.append(read_as(_FILTERS.get(kind, OtherFilter), item))  # type: ignore[arg-type]
        except FieldError as exc:
            raise FieldError(f"{i}.{exc.path}" if exc.path else str(i), exc.reason) from None
    return tuple(out)


def _write_filters(filters: tuple[WireMessage, ...]) -> list[dict[str, Any]]:
    return [f.to_wire() for f in filters]


@message
class SymbolInfo(WireMessage):
    """One ``symbols`` entry: the contract, its precisions and its filters."""

    symbol: str = key("symbol")
    pair: str | None = optional("pair")
    contract_type: str | None = optional("contractType")
    delivery_date: int | None = optional("deliveryDate")
    onboard_date: int | None = optional("onboardDate")
    status: str | None = optional("status")
    maint_margin_percent: str | None = optional("maintMarginPercent")
    required_margin_percent: str | None = optional("requiredMarginPercent")
    base_asset: str | None = optional("baseAsset")
    quote_asset: str | None = optional("quoteAsset")
    margin_asset: str | None = optional("marginAsset")
    contract_size: int | str | None = optional("contractSize")
    price_precision: int | None = optional("pricePrecision")
    quantity_precision: int | None = optional("quantityPrecision")
    base_asset_precision: int | None = optional("baseAssetPrecision")
    quote_precision: int | None = optional("quotePrecision")
    underlying_type: str | None = optional("underlyingType")
    underlying_sub_type: tuple[str, ...] | None = optional("underlyingSubType")
    settle_plan: int | None = optional("settlePlan")
    trigger_protect: str | None = optional("triggerProtect")
    liquidation_fee: str | None = optional("liquidationFee")
    market_take_bound: str | None = optional("marketTakeBound")
    filters: tuple[SymbolFilter, ...] = key("filters", codec=(_read_filters, _write_filters))
    order_types: tuple[str, ...] | None = optional("orderTypes")
    time_in_force: tuple[str, ...] | None = optional("timeInForce")
    extra: dict[str, Any] = extra_keys()

    def filter(self, filter_type: str) -> SymbolFilter | None:
        """The filter of ``filter_type`` (``"PRICE_FILTER"``), None if the symbol has none."""
        return next((f for f in self.filters if f.filter_type == filter_type), None)


@message
class AssetInfo(WireMessage):
    """One ``assets`` entry (multi-assets margin)."""

    asset: str = key("asset")
    margin_available: bool = key("marginAvailable")
    auto_asset_exchange: str | None = optional("autoAssetExchange")
    extra: dict[str, Any] = extra_keys()


@message
class ExchangeInfo(WireMessage):
    """The whole ``exchangeInfo`` response."""

    timezone: str = key("timezone")
    server_time: int = key("serverTime")
    futures_type: str | None = optional("futuresType")
    rate_limits: tuple[RateLimit, ...] = key("rateLimits")
    exchange_filters: Any = optional("exchangeFilters")
    assets: tuple[AssetInfo, ...] | None = optional("assets")
    symbols: tuple[SymbolInfo, ...] = key("symbols")
    extra: dict[str, Any] = extra_keys()
