"""A two-sided post-only market maker with inventory skew.

Shows resting ``GTX`` (post-only) quotes, cancel-replace with ``ctx.broker.amend``,
maker fills and their queue, and position-aware quoting: the quotes shift against the
inventory so that fills tend to bring it back to zero, and the side that would grow it
past ``max_position`` is pulled. Spread capture in a simulator is not profit live.
"""

from __future__ import annotations

import math

import streamsim as ss

from .base import Tracked


class MarketMaker(Tracked):
    """Every ``interval`` ns, quote ``qty`` lots a side around the strategy-side book's mid:
    ``half_spread`` ticks away, shifted by ``-skew * position`` ticks (``skew`` ticks per
    lot of inventory), never touching the opposite best price. A live quote at another
    price is amended; one still pending waits for the next round."""

    def __init__(
        self,
        symbol: str,
        qty: int = 1,
        *,
        half_spread: float = 1.0,
        skew: float = 0.1,
        max_position: int = 10,
        interval: int = ss.SECOND,
    ) -> None:
        super().__init__(symbol)
        self.qty = qty
        self.half_spread = half_spread
        self.skew = skew
        self.max_position = max_position
        self.interval = interval
        self.quotes: dict[int, ss.OrderHandle | None] = {ss.BUY: None, ss.SELL: None}
        self.maker_fills = 0
        self.amends = 0

    async def on_start(self, ctx: ss.Context) -> None:
        await super().on_start(ctx)
        ctx.set_timer("quote", self.interval)

    def _target(self, side: int, best_bid: int, best_ask: int) -> int | None:
        """The price to quote on ``side``, or None to pull that side."""
        if side * self.position >= self.max_position:
            return None
        fair = (best_bid + best_ask) / 2 - self.skew * self.position
        if side == ss.BUY:
            return min(math.floor(fair - self.half_spread), best_ask - 1)
        return max(math.ceil(fair + self.half_spread), best_bid + 1)

    async def on_timer(self, name: str, now: int) -> None:
        if name != "quote":
            return
        book = self.ctx.books.get(self.symbol)
        if book is None or book.best_bid is None or book.best_ask is None:
            return
        for side in (ss.BUY, ss.SELL):
            price = self._target(side, book.best_bid, book.best_ask)
            handle = self.quotes[side]
            live = handle is not None and not handle.status.is_final
            if handle is not None and handle.status is ss.OrderStatus.PENDING:
                continue  # its answer is on the way
            if price is None:
                if live and handle is not None:
                    self.ctx.broker.cancel(handle)
                continue
            if live and handle is not None:
                if handle.order.price != price:
                    self.quotes[side] = self.amend(handle, price=price)
                    self.amends += 1
                continue
            self.quotes[side] = self.submit(
                ss.Order(self.symbol, side, self.qty, price, tif=ss.TimeInForce.GTX)
            )

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        await super().on_order_update(update)
        if update.last_qty and update.is_maker:
            self.maker_fills += 1
