"""Stop orders: when they trigger, and when a triggered stop may fill.

A buy stop triggers when its trigger price (the last trade, or the mark price) is at or
above its stop price, a sell stop at or below. A stop triggered at exchange time ``t``
does not fill at once: it fills after every market event of the instant ``t``, so it meets
the book as the trades of that instant (the sweep that triggered it, and the rest of it)
left it. The exchange asks :meth:`StopBook.due` after each event and fills what it hands
back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from ..events import BUY
from ..instruments import Instrument
from ..orders import Order

Trigger = Literal["last", "mark"]


class StopBook:
    """The stops that wait for their trigger, those triggered this instant, and the prices
    they compare with."""

    __slots__ = ("default_trigger", "instruments", "last", "mark", "triggered", "waiting")

    def __init__(self, instruments: Mapping[str, Instrument], default_trigger: Trigger) -> None:
        self.instruments = instruments
        self.default_trigger = default_trigger
        #: Client id -> stop order, in the order they were placed.
        self.waiting: dict[str, Order] = {}
        #: Stops triggered at the current instant, in trigger order, not yet filled.
        self.triggered: list[tuple[str, Order]] = []
        #: Last trade price (ticks) and mark price by symbol: what stops compare with.
        self.last: dict[str, int] = {}
        self.mark: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.waiting) + len(self.triggered)

    def add(self, client_id: str, order: Order) -> None:
        self.waiting[client_id] = order

    def cancel(self, client_id: str) -> bool:
        """Remove a stop that has not filled; False if there is none of that id."""
        if self.waiting.pop(client_id, None) is not None:
            return True
        for i, (cid, _) in enumerate(self.triggered):
            if cid == client_id:
                del self.triggered[i]
                return True
        return False

    def cancel_symbol(self, symbol: str) -> list[str]:
        """Remove every waiting stop of ``symbol``; their client ids. Stops already
        triggered still fill (or expire) at the end of their instant."""
        gone = [cid for cid, order in self.waiting.items() if order.symbol == symbol]
        for cid in gone:
            del self.waiting[cid]
        return gone

    def count(self, symbol: str) -> int:
        """Waiting stops of ``symbol``."""
        return sum(1 for order in self.waiting.values() if order.symbol == symbol)

    def on_price(self, symbol: str, source: Trigger) -> None:
        """The last trade or mark of ``symbol`` changed: trigger the stops it reaches."""
        price = self.price(symbol, source)
        if price is None:
            return
        for cid, order in list(self.waiting.items()):
            if order.symbol != symbol or self.trigger_of(order) != source:
                continue
            if self.reached(order, price):
                del self.waiting[cid]
                self.triggered.append((cid, order))

    def due(self) -> list[tuple[str, Order]]:
        """The stops triggered this instant, handed over to fill (the instant is over)."""
        due, self.triggered = self.triggered, []
        return due

    def would_trigger(self, order: Order) -> bool:
        """A stop that would trigger at once, at its current trigger price."""
        price = self.price(order.symbol, self.trigger_of(order))
        return price is not None and self.reached(order, price)

    def trigger_of(self, order: Order) -> Trigger:
        """The order's own trigger, or the exchange's default."""
        return "mark" if (order.trigger or self.default_trigger) == "mark" else "last"

    def price(self, symbol: str, source: Trigger) -> float | None:
        """The current trigger price of ``source`` on ``symbol``, if known."""
        if source == "mark":
            return self.mark.get(symbol)
        last = self.last.get(symbol)
        return None if last is None else self.instruments[symbol].ticks_to_price(last)

    def reached(self, order: Order, price: float) -> bool:
        """Buy stops trigger at or above their stop price, sell stops at or below."""
        assert order.stop_price is not None
        stop = self.instruments[order.symbol].ticks_to_price(order.stop_price)
        return price >= stop if order.side == BUY else price <= stop
