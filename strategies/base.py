"""A small base class for the reference strategies: position tracking and market orders.

Shows the bookkeeping every strategy needs: the position is built from its own fills
(``on_order_update``'s ``last_qty``, signed by the side of the order it sent), never read
from the exchange, so the same code works in every world.
"""

from __future__ import annotations

import streamsim as ss


class Tracked(ss.Strategy):
    """Keeps ``self.position`` (lots) from fills and sends market orders toward a target.

    Subclasses that override ``on_start`` or ``on_order_update`` call ``super()``'s.
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.position = 0
        self.fills = 0
        self.rejects = 0
        self._sides: dict[str, int] = {}
        self._in_flight: set[str] = set()

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    def submit(self, order: ss.Order) -> ss.OrderHandle:
        """Send ``order`` and remember its side, so its fills move ``position``."""
        handle = self.ctx.broker.submit(order)
        self._sides[handle.client_id] = order.side
        self._in_flight.add(handle.client_id)
        return handle

    @property
    def busy(self) -> bool:
        """True while a market order sent by :meth:`trade_to` has no final answer."""
        return bool(self._in_flight)

    def trade_to(self, target: int) -> None:
        """Send market orders that move the position to ``target`` lots.

        A part that reduces the position goes as a reduce-only order; crossing zero sends
        a second, opening order for the rest.
        """
        delta = target - self.position
        if not delta or self.busy:
            return
        side = ss.BUY if delta > 0 else ss.SELL
        reduce = min(abs(delta), abs(self.position)) if self.position * delta < 0 else 0
        if reduce:
            self.submit(
                ss.Order(self.symbol, side, reduce, type=ss.OrderType.MARKET, reduce_only=True)
            )
        if abs(delta) > reduce:
            self.submit(ss.Order(self.symbol, side, abs(delta) - reduce, type=ss.OrderType.MARKET))

    def flatten(self) -> None:
        """Close the position with a reduce-only market order."""
        self.trade_to(0)

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        side = self._sides.get(update.client_id)
        if side is None:
            return
        if update.last_qty:
            self.position += side * update.last_qty
            self.fills += 1
        if update.status is ss.OrderStatus.REJECTED:
            self.rejects += 1
        if update.status.is_final:
            self._in_flight.discard(update.client_id)
