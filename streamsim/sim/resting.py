"""Resting limit orders of one symbol, and what the market's events fill of them.

How much of a trade or a book move reaches an order is the queue model's rule
(:mod:`streamsim.sim.queue_models`); this module asks it for every resting order and hands
the exchange the maker fills to book, in order. Resting orders never change the book
others see.
"""

from __future__ import annotations

from ..book import ASK, BID, L2Book
from ..events import BUY, Trade
from ..orders import Order
from .liquidity import Liquidity
from .queue_models import QueueModel, RestingOrder


class RestingBook:
    """One symbol's resting orders, oldest first."""

    __slots__ = ("orders", "participation", "queue")

    def __init__(self, queue: QueueModel, participation: float) -> None:
        self.queue = queue
        self.participation = participation
        self.orders: list[RestingOrder] = []

    def __len__(self) -> int:
        return len(self.orders)

    def join(
        self, client_id: str, order: Order, price: int, filled: int, now: int, level: int
    ) -> None:
        """Rest ``order`` at ``price`` behind ``level`` lots shown there and our own orders."""
        ours = sum(o.remaining for o in self.orders if o.side == order.side and o.price == price)
        joined = RestingOrder(client_id, order, price, filled, now)
        self.queue.join(joined, level, ours)
        self.orders.append(joined)

    def pop(self, client_id: str) -> RestingOrder | None:
        """Remove and return the order of ``client_id``, if it rests here."""
        for order in self.orders:
            if order.client_id == client_id:
                self.orders.remove(order)
                return order
        return None

    def remove(self, order: RestingOrder) -> None:
        self.orders.remove(order)

    def clear(self) -> list[RestingOrder]:
        """Remove every order; the orders removed."""
        gone, self.orders = self.orders, []
        return gone

    def on_trade(self, trade: Trade) -> list[tuple[RestingOrder, int]]:
        """Maker fills a trade gives: at our price through the queue, or through our price."""
        queue = self.queue
        fills = []
        for order in self.orders:
            if order.side == trade.side:
                continue  # the aggressor's side: trades there never fill a resting order
            through = trade.price < order.price if order.side == BUY else trade.price > order.price
            if through:
                lots = queue.on_trade_through(order, trade.qty)
            elif trade.price == order.price:
                lots = queue.on_trade(order, trade.qty, self.participation)
            else:
                continue
            if lots > 0:
                fills.append((order, min(lots, order.remaining)))
        return fills

    def on_book(self, book: L2Book, liquidity: Liquidity) -> list[tuple[RestingOrder, int]]:
        """Maker fills an applied depth message gives: the venue reported our level (the
        queue moves), or the opposite side now reaches our price (what of it we have not
        taken would have traded with us; it is taken)."""
        queue = self.queue
        fills = []
        for order in self.orders:
            side = BID if order.side == BUY else ASK
            level = book.qty_at(side, order.price)
            if level != order.level:
                queue.on_level(order, level)
            opposite = book.best_ask if order.side == BUY else book.best_bid
            if opposite is None or (
                opposite > order.price if order.side == BUY else opposite < order.price
            ):
                continue
            want = min(queue.on_cross(order), order.remaining)
            crossing = liquidity.take(-side, want, order.price) if want > 0 else []
            if crossing:
                fills.append((order, sum(lots for _, lots in crossing)))
        return fills
