"""Market data on the wire: the stream events, REST depth, mark price, open interest, time.

Prices, sizes and rates are the venue's decimal strings, kept as ``str``; times are the
venue's ms integers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .fields import WireMessage, extra_keys, key, message, optional

#: A book side: ``(price, size)`` decimal strings, as the venue sends them.
Levels = tuple[tuple[str, str], ...]


@message
class DepthUpdate(WireMessage):
    """``<symbol>@depth[@100ms|@500ms|@0ms]``: a diff of the book (``pu`` links it)."""

    EVENT: ClassVar[str | None] = "depthUpdate"
    event_type: str = key("e")
    event_time: int = key("E")
    transaction_time: int = key("T")
    symbol: str = key("s")
    first_update_id: int = key("U")
    final_update_id: int = key("u")
    prev_final_update_id: int = key("pu")
    bids: Levels = key("b")
    asks: Levels = key("a")
    extra: dict[str, Any] = extra_keys()


@message
class AggTrade(WireMessage):
    """``<symbol>@aggTrade``; ``nq`` (size without RPI fills) is absent in older payloads."""

    EVENT: ClassVar[str | None] = "aggTrade"
    event_type: str = key("e")
    event_time: int = key("E")
    agg_trade_id: int = key("a")
    symbol: str = key("s")
    price: str = key("p")
    quantity: str = key("q")
    normal_quantity: str | None = optional("nq")
    first_trade_id: int = key("f")
    last_trade_id: int = key("l")
    trade_time: int = key("T")
    buyer_is_maker: bool = key("m")
    extra: dict[str, Any] = extra_keys()


@message
class Trade(WireMessage):
    """``<symbol>@trade`` (undocumented for futures, but in older captures)."""

    EVENT: ClassVar[str | None] = "trade"
    event_type: str = key("e")
    event_time: int = key("E")
    trade_time: int = key("T")
    symbol: str = key("s")
    trade_id: int = key("t")
    price: str = key("p")
    quantity: str = key("q")
    order_type: str | None = optional("X")
    buyer_is_maker: bool = key("m")
    extra: dict[str, Any] = extra_keys()


@message
class MarkPriceUpdate(WireMessage):
    """``<symbol>@markPrice[@1s]``: mark, index, estimated settle price and funding."""

    EVENT: ClassVar[str | None] = "markPriceUpdate"
    event_type: str = key("e")
    event_time: int = key("E")
    symbol: str = key("s")
    mark_price: str = key("p")
    estimated_settle_price: str = key("P")
    index_price: str = key("i")
    funding_rate: str = key("r")
    next_funding_time: int = key("T")
    extra: dict[str, Any] = extra_keys()


@message
class BookTicker(WireMessage):
    """``<symbol>@bookTicker``: the venue's best bid and ask with the book's update id."""

    EVENT: ClassVar[str | None] = "bookTicker"
    event_type: str = key("e")
    update_id: int = key("u")
    symbol: str = key("s")
    bid_price: str = key("b")
    bid_qty: str = key("B")
    ask_price: str = key("a")
    ask_qty: str = key("A")
    transaction_time: int = key("T")
    event_time: int = key("E")
    extra: dict[str, Any] = extra_keys()


@message
class LiquidationOrder(WireMessage):
    """The order inside a ``forceOrder`` event."""

    symbol: str = key("s")
    side: str = key("S")
    order_type: str = key("o")
    time_in_force: str = key("f")
    quantity: str = key("q")
    price: str = key("p")
    average_price: str = key("ap")
    status: str = key("X")
    last_filled_qty: str = key("l")
    filled_qty: str = key("z")
    trade_time: int = key("T")
    extra: dict[str, Any] = extra_keys()


@message
class ForceOrder(WireMessage):
    """``<symbol>@forceOrder``: at most the latest liquidation per symbol per second."""

    EVENT: ClassVar[str | None] = "forceOrder"
    event_type: str = key("e")
    event_time: int = key("E")
    order: LiquidationOrder = key("o")
    extra: dict[str, Any] = extra_keys()


@message
class DepthSnapshot(WireMessage):
    """``GET /fapi/v1/depth``: the book at ``lastUpdateId`` (``E``/``T`` absent on spot)."""

    last_update_id: int = key("lastUpdateId")
    event_time: int | None = optional("E")
    transaction_time: int | None = optional("T")
    bids: Levels = key("bids")
    asks: Levels = key("asks")
    extra: dict[str, Any] = extra_keys()


@message
class PremiumIndex(WireMessage):
    """``GET /fapi/v1/premiumIndex`` for one symbol: mark, index and funding."""

    symbol: str = key("symbol")
    mark_price: str = key("markPrice")
    index_price: str = key("indexPrice")
    estimated_settle_price: str = key("estimatedSettlePrice")
    last_funding_rate: str = key("lastFundingRate")
    interest_rate: str | None = optional("interestRate")
    next_funding_time: int = key("nextFundingTime")
    time: int = key("time")
    extra: dict[str, Any] = extra_keys()


@message
class OpenInterest(WireMessage):
    """``GET /fapi/v1/openInterest``: the instant open interest (no stream carries it)."""

    open_interest: str = key("openInterest")
    symbol: str = key("symbol")
    time: int = key("time")
    extra: dict[str, Any] = extra_keys()


@message
class ServerTime(WireMessage):
    """``GET /fapi/v1/time``."""

    server_time: int = key("serverTime")
    extra: dict[str, Any] = extra_keys()


#: The typed market stream events (each names its ``e`` in ``EVENT``).
MARKET_EVENTS: tuple[type[WireMessage], ...] = (
    DepthUpdate,
    AggTrade,
    Trade,
    MarkPriceUpdate,
    BookTicker,
    ForceOrder,
)
