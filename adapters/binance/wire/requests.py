"""Request parameter sets of the signed trading endpoints, as query-string parameters.

Values are the strings the venue reads (``"true"``, ``"0.001"``, ``"GTX"``); ids and times
are ``int``. ``to_wire()`` gives the parameters in declaration order, without ``timestamp``,
``recvWindow`` and ``signature`` (:mod:`.signing` adds those); decoding a received query
keeps those three, like any unknown parameter, in ``extra``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .fields import WireMessage, extra_keys, key, message, optional


@message
class NewOrder(WireMessage):
    """``POST /fapi/v1/order``: LIMIT or MARKET (stops go to :class:`NewAlgoOrder`)."""

    QUERY: ClassVar[bool] = True
    symbol: str = key("symbol")
    side: str = key("side")
    position_side: str | None = optional("positionSide")
    order_type: str = key("type")
    time_in_force: str | None = optional("timeInForce")
    quantity: str | None = optional("quantity")
    reduce_only: str | None = optional("reduceOnly")
    price: str | None = optional("price")
    new_client_order_id: str | None = optional("newClientOrderId")
    close_position: str | None = optional("closePosition")
    working_type: str | None = optional("workingType")
    price_protect: str | None = optional("priceProtect")
    new_order_resp_type: str | None = optional("newOrderRespType")
    price_match: str | None = optional("priceMatch")
    stp_mode: str | None = optional("selfTradePreventionMode")
    good_till_date: int | None = optional("goodTillDate")
    extra: dict[str, Any] = extra_keys()


@message
class NewAlgoOrder(WireMessage):
    """``POST /fapi/v1/algoOrder``: a conditional order (STOP, STOP_MARKET, TAKE_PROFIT,
    TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET) with its ``triggerPrice``."""

    QUERY: ClassVar[bool] = True
    algo_type: str = key("algoType")
    symbol: str = key("symbol")
    side: str = key("side")
    position_side: str | None = optional("positionSide")
    order_type: str = key("type")
    time_in_force: str | None = optional("timeInForce")
    quantity: str | None = optional("quantity")
    price: str | None = optional("price")
    trigger_price: str | None = optional("triggerPrice")
    working_type: str | None = optional("workingType")
    price_match: str | None = optional("priceMatch")
    close_position: str | None = optional("closePosition")
    price_protect: str | None = optional("priceProtect")
    reduce_only: str | None = optional("reduceOnly")
    activate_price: str | None = optional("activatePrice")
    callback_rate: str | None = optional("callbackRate")
    client_algo_id: str | None = optional("clientAlgoId")
    stp_mode: str | None = optional("selfTradePreventionMode")
    good_till_date: int | None = optional("goodTillDate")
    extra: dict[str, Any] = extra_keys()


@message
class OrderQuery(WireMessage):
    """``GET`` and ``DELETE /fapi/v1/order``: one order by ``orderId`` or its client id."""

    QUERY: ClassVar[bool] = True
    symbol: str = key("symbol")
    order_id: int | None = optional("orderId")
    orig_client_order_id: str | None = optional("origClientOrderId")
    extra: dict[str, Any] = extra_keys()


@message
class AlgoOrderQuery(WireMessage):
    """``GET`` and ``DELETE /fapi/v1/algoOrder``: one algo order by either id."""

    QUERY: ClassVar[bool] = True
    algo_id: int | None = optional("algoId")
    client_algo_id: str | None = optional("clientAlgoId")
    extra: dict[str, Any] = extra_keys()


@message
class AmendOrder(WireMessage):
    """``PUT /fapi/v1/order``: a LIMIT order's new price and quantity (loses its queue place)."""

    QUERY: ClassVar[bool] = True
    order_id: int | None = optional("orderId")
    orig_client_order_id: str | None = optional("origClientOrderId")
    symbol: str = key("symbol")
    side: str = key("side")
    quantity: str = key("quantity")
    price: str | None = optional("price")
    price_match: str | None = optional("priceMatch")
    extra: dict[str, Any] = extra_keys()


@message
class SymbolQuery(WireMessage):
    """``GET /fapi/v1/openOrders``, ``/userTrades``, ``/positionRisk``: an optional symbol."""

    QUERY: ClassVar[bool] = True
    symbol: str | None = optional("symbol")
    extra: dict[str, Any] = extra_keys()
