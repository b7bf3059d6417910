"""User data stream events: order and algo-order updates, fills, account changes, expiry."""

from __future__ import annotations

from typing import Any, ClassVar

from .fields import WireMessage, extra_keys, key, message, optional


@message
class OrderUpdate(WireMessage):
    """The order inside ``ORDER_TRADE_UPDATE``."""

    symbol: str = key("s")
    client_order_id: str = key("c")
    side: str = key("S")
    order_type: str = key("o")
    time_in_force: str = key("f")
    orig_qty: str = key("q")
    price: str = key("p")
    average_price: str = key("ap")
    stop_price: str | None = optional("sp")
    execution_type: str = key("x")
    status: str = key("X")
    order_id: int = key("i")
    last_filled_qty: str = key("l")
    filled_qty: str = key("z")
    last_filled_price: str = key("L")
    commission_asset: str | None = optional("N")
    commission: str | None = optional("n")
    trade_time: int = key("T")
    trade_id: int = key("t")
    bids_notional: str | None = optional("b")
    asks_notional: str | None = optional("a")
    is_maker: bool = key("m")
    reduce_only: bool = key("R")
    working_type: str | None = optional("wt")
    orig_type: str | None = optional("ot")
    position_side: str | None = optional("ps")
    close_position: bool | None = optional("cp")
    activation_price: str | None = optional("AP")
    callback_rate: str | None = optional("cr")
    price_protect: bool | None = optional("pP")
    realized_profit: str | None = optional("rp")
    stp_mode: str | None = optional("V")
    price_match: str | None = optional("pm")
    good_till_date: int | None = optional("gtd")
    extra: dict[str, Any] = extra_keys()


@message
class OrderTradeUpdate(WireMessage):
    """``ORDER_TRADE_UPDATE``: an order's new state (NEW, TRADE, CANCELED, EXPIRED, ...)."""

    EVENT: ClassVar[str | None] = "ORDER_TRADE_UPDATE"
    event_type: str = key("e")
    event_time: int = key("E")
    transaction_time: int = key("T")
    order: OrderUpdate = key("o")
    extra: dict[str, Any] = extra_keys()


@message
class TradeLite(WireMessage):
    """``TRADE_LITE``: a fill, sooner than its ``ORDER_TRADE_UPDATE`` and with fewer fields."""

    EVENT: ClassVar[str | None] = "TRADE_LITE"
    event_type: str = key("e")
    event_time: int = key("E")
    transaction_time: int = key("T")
    symbol: str = key("s")
    orig_qty: str = key("q")
    price: str = key("p")
    is_maker: bool = key("m")
    client_order_id: str = key("c")
    side: str = key("S")
    last_filled_price: str = key("L")
    last_filled_qty: str = key("l")
    trade_id: int = key("t")
    order_id: int = key("i")
    extra: dict[str, Any] = extra_keys()


@message
class BalanceUpdate(WireMessage):
    """A changed balance in ``ACCOUNT_UPDATE``."""

    asset: str = key("a")
    wallet_balance: str = key("wb")
    cross_wallet_balance: str = key("cw")
    balance_change: str | None = optional("bc")
    extra: dict[str, Any] = extra_keys()


@message
class PositionUpdate(WireMessage):
    """A changed position in ``ACCOUNT_UPDATE``."""

    symbol: str = key("s")
    position_amount: str = key("pa")
    entry_price: str = key("ep")
    breakeven_price: str | None = optional("bep")
    accumulated_realized: str | None = optional("cr")
    unrealized_pnl: str = key("up")
    margin_type: str = key("mt")
    isolated_wallet: str | None = optional("iw")
    position_side: str = key("ps")
    extra: dict[str, Any] = extra_keys()


@message
class AccountData(WireMessage):
    """The ``a`` of ``ACCOUNT_UPDATE``: why, and what changed (only what changed)."""

    reason: str = key("m")
    balances: tuple[BalanceUpdate, ...] = key("B")
    positions: tuple[PositionUpdate, ...] = key("P")
    extra: dict[str, Any] = extra_keys()


@message
class AccountUpdate(WireMessage):
    """``ACCOUNT_UPDATE``: changed balances and positions (reason ORDER, FUNDING_FEE, ...)."""

    EVENT: ClassVar[str | None] = "ACCOUNT_UPDATE"
    event_type: str = key("e")
    event_time: int = key("E")
    transaction_time: int = key("T")
    account: AccountData = key("a")
    extra: dict[str, Any] = extra_keys()


@message
class MarginCallPosition(WireMessage):
    """A position named by ``MARGIN_CALL``."""

    symbol: str = key("s")
    position_side: str = key("ps")
    position_amount: str = key("pa")
    margin_type: str = key("mt")
    isolated_wallet: str | None = optional("iw")
    mark_price: str = key("mp")
    unrealized_pnl: str = key("up")
    maintenance_margin: str = key("mm")
    extra: dict[str, Any] = extra_keys()


@message
class MarginCall(WireMessage):
    """``MARGIN_CALL``: positions whose risk is too high (``cw`` only for cross margin)."""

    EVENT: ClassVar[str | None] = "MARGIN_CALL"
    event_type: str = key("e")
    event_time: int = key("E")
    cross_wallet_balance: str | None = optional("cw")
    positions: tuple[MarginCallPosition, ...] = key("p")
    extra: dict[str, Any] = extra_keys()


@message
class AlgoOrderUpdate(WireMessage):
    """The algo order inside ``ALGO_UPDATE``."""

    client_algo_id: str = key("caid")
    algo_id: int = key("aid")
    algo_type: str = key("at")
    order_type: str = key("o")
    symbol: str = key("s")
    side: str = key("S")
    position_side: str = key("ps")
    time_in_force: str = key("f")
    quantity: str = key("q")
    algo_status: str = key("X")
    actual_order_id: str | None = optional("ai")
    average_price: str | None = optional("ap")
    executed_qty: str | None = optional("aq")
    actual_order_type: str | None = optional("act")
    trigger_price: str = key("tp")
    price: str = key("p")
    stp_mode: str | None = optional("V")
    working_type: str = key("wt")
    price_match: str | None = optional("pm")
    close_position: bool = key("cp")
    price_protect: bool | None = optional("pP")
    reduce_only: bool = key("R")
    trigger_time: int = key("tt")
    good_till_date: int | None = optional("gtd")
    reject_reason: str | None = optional("rm")
    extra: dict[str, Any] = extra_keys()


@message
class AlgoUpdate(WireMessage):
    """``ALGO_UPDATE``: a conditional order's new state (NEW, TRIGGERED, FINISHED, ...)."""

    EVENT: ClassVar[str | None] = "ALGO_UPDATE"
    event_type: str = key("e")
    transaction_time: int = key("T")
    event_time: int = key("E")
    order: AlgoOrderUpdate = key("o")
    extra: dict[str, Any] = extra_keys()


@message
class ListenKeyExpired(WireMessage):
    """``listenKeyExpired``: the stream's key is gone. Its ``E`` may come as a string."""

    EVENT: ClassVar[str | None] = "listenKeyExpired"
    event_type: str = key("e")
    event_time: int | str = key("E")
    listen_key: str | None = optional("listenKey")
    extra: dict[str, Any] = extra_keys()

    @property
    def event_time_ms(self) -> int:
        """``E`` as an integer, whichever form it came in."""
        return int(self.event_time)


@message
class LeverageConfig(WireMessage):
    """A symbol's new leverage in ``ACCOUNT_CONFIG_UPDATE``."""

    symbol: str = key("s")
    leverage: int = key("l")
    extra: dict[str, Any] = extra_keys()


@message
class AccountConfigUpdate(WireMessage):
    """``ACCOUNT_CONFIG_UPDATE``: a leverage (``ac``) or multi-assets mode (``ai``) change."""

    EVENT: ClassVar[str | None] = "ACCOUNT_CONFIG_UPDATE"
    event_type: str = key("e")
    event_time: int = key("E")
    transaction_time: int = key("T")
    leverage: LeverageConfig | None = optional("ac")
    extra: dict[str, Any] = extra_keys()


#: The typed user data stream events.
USER_EVENTS: tuple[type[WireMessage], ...] = (
    OrderTradeUpdate,
    TradeLite,
    AccountUpdate,
    MarginCall,
    AlgoUpdate,
    ListenKeyExpired,
    AccountConfigUpdate,
)
