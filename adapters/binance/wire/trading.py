"""Signed REST responses: orders, algo orders, fills, positions, the account, listen keys.

``POST``/``PUT``/``DELETE``/``GET /fapi/v1/order`` all answer with one :class:`Order`
(``GET /fapi/v1/openOrders`` with a list of them); the algo endpoints answer with
:class:`AlgoOrder`. Fields the venue leaves out on some endpoints or versions are optional.
"""

from __future__ import annotations

from typing import Any, TypeVar

from streamsim.errors import DataError

from .fields import WireMessage, extra_keys, key, message, optional

_M = TypeVar("_M", bound=WireMessage)


@message
class Order(WireMessage):
    """An order as the order endpoints answer (submit, amend, cancel, query, open orders)."""

    order_id: int = key("orderId")
    symbol: str = key("symbol")
    status: str = key("status")
    client_order_id: str = key("clientOrderId")
    price: str | None = optional("price")
    avg_price: str | None = optional("avgPrice")
    orig_qty: str | None = optional("origQty")
    executed_qty: str | None = optional("executedQty")
    cum_qty: str | None = optional("cumQty")
    cum_quote: str | None = optional("cumQuote")
    time_in_force: str | None = optional("timeInForce")
    order_type: str = key("type")
    reduce_only: bool | None = optional("reduceOnly")
    close_position: bool | None = optional("closePosition")
    side: str = key("side")
    position_side: str | None = optional("positionSide")
    stop_price: str | None = optional("stopPrice")
    working_type: str | None = optional("workingType")
    price_protect: bool | None = optional("priceProtect")
    orig_type: str | None = optional("origType")
    price_match: str | None = optional("priceMatch")
    stp_mode: str | None = optional("selfTradePreventionMode")
    good_till_date: int | None = optional("goodTillDate")
    time: int | None = optional("time")
    update_time: int | None = optional("updateTime")
    extra: dict[str, Any] = extra_keys()


@message
class AlgoOrder(WireMessage):
    """A conditional order as ``/fapi/v1/algoOrder`` answers (submit, query, open orders)."""

    algo_id: int = key("algoId")
    client_algo_id: str = key("clientAlgoId")
    algo_type: str = key("algoType")
    order_type: str = key("orderType")
    symbol: str = key("symbol")
    side: str = key("side")
    position_side: str | None = optional("positionSide")
    time_in_force: str | None = optional("timeInForce")
    quantity: str | None = optional("quantity")
    algo_status: str = key("algoStatus")
    actual_order_id: str | None = optional("actualOrderId")
    actual_price: str | None = optional("actualPrice")
    trigger_price: str | None = optional("triggerPrice")
    price: str | None = optional("price")
    iceberg_quantity: str | None = optional("icebergQuantity")
    stp_mode: str | None = optional("selfTradePreventionMode")
    working_type: str | None = optional("workingType")
    price_match: str | None = optional("priceMatch")
    close_position: bool | None = optional("closePosition")
    price_protect: bool | None = optional("priceProtect")
    reduce_only: bool | None = optional("reduceOnly")
    activate_price: str | None = optional("activatePrice")
    callback_rate: str | None = optional("callbackRate")
    create_time: int | None = optional("createTime")
    update_time: int | None = optional("updateTime")
    trigger_time: int | None = optional("triggerTime")
    good_till_date: int | None = optional("goodTillDate")
    extra: dict[str, Any] = extra_keys()


@message
class AlgoCancel(WireMessage):
    """``DELETE /fapi/v1/algoOrder``: ``code`` is the string ``"200"`` on success."""

    algo_id: int = key("algoId")
    client_algo_id: str = key("clientAlgoId")
    code: str = key("code")
    msg: str = key("msg")
    extra: dict[str, Any] = extra_keys()


@message
class UserTrade(WireMessage):
    """One fill of ``GET /fapi/v1/userTrades``."""

    buyer: bool = key("buyer")
    commission: str = key("commission")
    commission_asset: str = key("commissionAsset")
    trade_id: int = key("id")
    maker: bool = key("maker")
    order_id: int = key("orderId")
    price: str = key("price")
    qty: str = key("qty")
    quote_qty: str = key("quoteQty")
    realized_pnl: str = key("realizedPnl")
    side: str = key("side")
    position_side: str = key("positionSide")
    symbol: str = key("symbol")
    time: int = key("time")
    extra: dict[str, Any] = extra_keys()


@message
class PositionRisk(WireMessage):
    """One position of ``GET /fapi/v2|v3/positionRisk`` (v2 adds leverage and margin type)."""

    symbol: str = key("symbol")
    position_side: str | None = optional("positionSide")
    position_amt: str = key("positionAmt")
    entry_price: str = key("entryPrice")
    break_even_price: str | None = optional("breakEvenPrice")
    mark_price: str = key("markPrice")
    unrealized_profit: str = key("unRealizedProfit")
    liquidation_price: str = key("liquidationPrice")
    isolated_margin: str | None = optional("isolatedMargin")
    notional: str | None = optional("notional")
    margin_asset: str | None = optional("marginAsset")
    isolated_wallet: str | None = optional("isolatedWallet")
    initial_margin: str | None = optional("initialMargin")
    maint_margin: str | None = optional("maintMargin")
    position_initial_margin: str | None = optional("positionInitialMargin")
    open_order_initial_margin: str | None = optional("openOrderInitialMargin")
    adl: int | None = optional("adl")
    bid_notional: str | None = optional("bidNotional")
    ask_notional: str | None = optional("askNotional")
    leverage: str | None = optional("leverage")
    margin_type: str | None = optional("marginType")
    max_notional_value: str | None = optional("maxNotionalValue")
    update_time: int = key("updateTime")
    extra: dict[str, Any] = extra_keys()


@message
class AccountAsset(WireMessage):
    """One asset of ``GET /fapi/v2|v3/account``."""

    asset: str = key("asset")
    wallet_balance: str = key("walletBalance")
    unrealized_profit: str = key("unrealizedProfit")
    margin_balance: str = key("marginBalance")
    maint_margin: str = key("maintMargin")
    initial_margin: str = key("initialMargin")
    position_initial_margin: str = key("positionInitialMargin")
    open_order_initial_margin: str = key("openOrderInitialMargin")
    cross_wallet_balance: str = key("crossWalletBalance")
    cross_un_pnl: str = key("crossUnPnl")
    available_balance: str = key("availableBalance")
    max_withdraw_amount: str = key("maxWithdrawAmount")
    margin_available: bool | None = optional("marginAvailable")
    update_time: int = key("updateTime")
    extra: dict[str, Any] = extra_keys()


@message
class AccountPosition(WireMessage):
    """One position of ``GET /fapi/v2|v3/account``."""

    symbol: str = key("symbol")
    position_side: str = key("positionSide")
    position_amt: str = key("positionAmt")
    unrealized_profit: str = key("unrealizedProfit")
    isolated_margin: str = key("isolatedMargin")
    notional: str = key("notional")
    isolated_wallet: str = key("isolatedWallet")
    initial_margin: str = key("initialMargin")
    maint_margin: str = key("maintMargin")
    update_time: int = key("updateTime")
    extra: dict[str, Any] = extra_keys()


@message
class Account(WireMessage):
    """``GET /fapi/v2|v3/account``: totals, assets and positions."""

    total_initial_margin: str = key("totalInitialMargin")
    total_maint_margin: str = key("totalMaintMargin")
    total_wallet_balance: str = key("totalWalletBalance")
    total_unrealized_profit: str = key("totalUnrealizedProfit")
    total_margin_balance: str = key("totalMarginBalance")
    total_position_initial_margin: str = key("totalPositionInitialMargin")
    total_open_order_initial_margin: str = key("totalOpenOrderInitialMargin")
    total_cross_wallet_balance: str = key("totalCrossWalletBalance")
    total_cross_un_pnl: str = key("totalCrossUnPnl")
    available_balance: str = key("availableBalance")
    max_withdraw_amount: str = key("maxWithdrawAmount")
    assets: tuple[AccountAsset, ...] = key("assets")
    positions: tuple[AccountPosition, ...] = key("positions")
    extra: dict[str, Any] = extra_keys()


@message
class ListenKey(WireMessage):
    """``POST``/``PUT /fapi/v1/listenKey``."""

    listen_key: str = key("listenKey")
    extra: dict[str, Any] = extra_keys()


@message
class ErrorBody(WireMessage):
    """A rejected request's body ``{"code": -2019, "msg": "..."}``."""

    code: int = key("code")
    msg: str = key("msg")
    extra: dict[str, Any] = extra_keys()


def decode_list(cls: type[_M], data: Any) -> tuple[_M, ...]:
    """A JSON list of ``cls`` (``openOrders``, ``userTrades``, ``positionRisk``)."""
    if not isinstance(data, list):
        raise DataError(f"{cls.__name__} list: expected a list, got {type(data).__name__}")
    out = []
    for i, item in enumerate(data):
        try:
            out.append(cls.from_wire(item))
        except DataError as exc:
            raise DataError(f"item {i}: {exc}") from None
    return tuple(out)


def encode_list(messages: tuple[WireMessage, ...]) -> list[dict[str, Any]]:
    """The JSON list of ``messages``."""
    return [m.to_wire() for m in messages]
