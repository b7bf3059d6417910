"""A small base class for the reference strategies: the position and market orders.

The position is the broker's (``ctx.broker.position(symbol)``): what the strategy's side
last learnt from the venue's account updates, so it is causal (it changes only when an
update arrives) and the same code works in every world.
"""

from __future__ import annotations

import streamsim as ss


class Tracked(ss.Strategy):
    """Reads ``self.position`` (lots) from the broker and sends market orders toward a target.

    Subclasses that override ``on_start`` or ``on_order_update`` call ``super()``'s.
    """

    ctx: ss.Context

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.fills = 0
        self.rejects = 0
        self._in_flight: set[int] = set()  # serials: client ids may be reused

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    @property
    def position(self) -> int:
        """Signed lots on ``symbol``, as the last account update reported (0 before start)."""
        ctx = getattr(self, "ctx", None)
        return 0 if ctx is None else ctx.broker.position(self.symbol).lots

    def submit(self, order: ss.Order) -> ss.OrderHandle:
        """Send ``order``; its fills and its final answer are counted."""
        handle = self.ctx.broker.submit(order)
        self._in_flight.add(handle.serial)
        return handle

    def amend(self, handle: ss.OrderHandle, price: int | None = None) -> ss.OrderHandle:
        """Cancel-replace ``handle``'s order at ``price``; the replacement is counted too."""
        new = self.ctx.broker.amend(handle, price=price)
        self._in_flight.add(new.serial)
        return new

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
        if update.serial not in self._in_flight:
            return
        if update.last_qty:
            self.fills += 1
        if update.status is ss.OrderStatus.REJECTED:
            self.rejects += 1
        if update.status.is_final:
            self._in_flight.discard(update.serial)
