"""What each event type is delivered to: the strategy callbacks every runtime dispatches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..account import AccountUpdate
from ..errors import StreamsimError
from ..events import Bar, DepthUpdate, Liquidation, MarkPrice, OpenInterest, Ticker, Trade
from ..orders import OrderUpdate
from ..strategy import Strategy, TimerFired

CALLBACKS: dict[type, str] = {
    Trade: "on_trade",
    DepthUpdate: "on_depth",
    MarkPrice: "on_mark_price",
    OpenInterest: "on_open_interest",
    Ticker: "on_ticker",
    Liquidation: "on_liquidation",
    Bar: "on_bar",
    OrderUpdate: "on_order_update",
    AccountUpdate: "on_account_update",
    TimerFired: "on_timer",
}
KIND_EVENT = {
    "trades": Trade,
    "depth": DepthUpdate,
    "mark_price": MarkPrice,
    "open_interest": OpenInterest,
    "ticker": Ticker,
    "liquidations": Liquidation,
    "bars": Bar,
}


class Started:
    """Internal event: the run starts."""

    __slots__ = ()


def overrides(strategy: Strategy, callback: str) -> bool:
    """Whether ``strategy`` implements ``callback`` (events nobody handles are not routed)."""
    return getattr(type(strategy), callback) is not getattr(Strategy, callback)


def during(event: Any) -> str:
    """What was running when a strategy failed, for its :class:`StrategyError`."""
    if event is None:
        return "a spawned task"
    if isinstance(event, Started):
        return "on_start"
    callback = CALLBACKS.get(type(event), "a callback")
    when = getattr(event, "ts_local", None)
    return callback if when is None else f"{callback} (event ts_local {when})"


def strategy_names(strategies: Sequence[Strategy]) -> list[str]:
    """Each strategy's run name: ``strategy.name`` or ``"<ClassName>-<index>"``, unique."""
    names: list[str] = []
    for i, strategy in enumerate(strategies):
        name = strategy.name or f"{type(strategy).__name__}-{i}"
        if name in names:
            raise StreamsimError(f"two strategies are named {name!r}; set .name")
        names.append(name)
    return names
