"""The exchange-side book as a taker finds it: visible size net of what was taken.

The venue's depth messages say how much rests at each level; between two of them the
book a taker meets is smaller. Two things take from it:

* **our own taker orders** (self-impact): the venue never reports them, so what we took
  stays gone until the venue next reports that level;
* **the market's trades** (trade depletion, on by default): a trade prints at one price;
  the level it printed at loses the trade's size and every level before it, on the same
  side, is gone (the trade printed through it). The depth message that reflects a sweep
  arrives tens of milliseconds after it (the median spacing of depth messages on the real
  Binance captures is 33-52 ms), and without this rule a stop triggered by a sweep fills on
  the liquidity the sweep removed.

Both are one rule: what was taken from a level is forgotten when a depth message reports
that level (its new size is the truth again) or a snapshot arrives. A level a trade
emptied that the venue never reports again stays empty until the next snapshot: the
conservative reading of a level the venue says nothing about.

:class:`Liquidity` also keeps, for the fill audit, the furthest price trades printed at on
each side since the symbol's last depth message: a taker fill at a level beyond it took
liquidity a trade had already printed through (the optimism trade depletion removes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..book import ASK, BID, L2Book
from ..events import BUY, DepthUpdate, Trade


class Liquidity:
    """One symbol's takeable liquidity: its exchange-side book net of what was taken."""

    __slots__ = ("_high", "_low", "_taken", "book", "trade_depletion")

    def __init__(self, book: L2Book, trade_depletion: bool = True) -> None:
        self.book = book
        self.trade_depletion = trade_depletion
        # Side -> {price: lots taken since the venue last reported that level}.
        self._taken: dict[int, dict[int, int]] = {BID: {}, ASK: {}}
        # Highest buy print and lowest sell print since the last depth message (audit).
        self._high: int | None = None
        self._low: int | None = None

    # -- what the venue and the market do ------------------------------------------------

    def on_depth(self, update: DepthUpdate) -> None:
        """The venue reported levels (the book applied ``update``): they are the truth."""
        self._high = self._low = None
        bids, asks = self._taken[BID], self._taken[ASK]
        if update.is_snapshot:
            bids.clear()
            asks.clear()
            return
        for taken, prices in ((bids, update.bid_prices), (asks, update.ask_prices)):
            if taken:
                for price in prices.tolist():
                    if price in taken:
                        del taken[price]

    def on_trade(self, trade: Trade) -> None:
        """A trade printed: with trade depletion, it takes what it printed at and through."""
        price = trade.price
        if trade.side == BUY:
            if self._high is None or price > self._high:
                self._high = price
            side = ASK
        else:
            if self._low is None or price < self._low:
                self._low = price
            side = BID
        if not self.trade_depletion:
            return
        best = self.book.best_ask if side == ASK else self.book.best_bid
        if best is None or (best > price if side == ASK else best < price):
            return  # printed where the book shows nothing: nothing visible to take
        taken = self._taken[side]
        if best == price:  # the usual case: a print at the touch
            before = taken.get(price, 0)
            left = self.book.qty_at(side, price) - before
            if left > 0:
                taken[price] = before + min(trade.qty, left)
            return
        for level, visible in list(self.levels(side, price)):
            lots = min(trade.qty, visible) if level == price else visible
            taken[level] = taken.get(level, 0) + lots

    # -- what a taker finds --------------------------------------------------------------

    def levels(self, side: int, limit: int | None) -> Iterator[tuple[int, int]]:
        """Levels of ``side`` with size left, best first, up to ``limit`` (inclusive)."""
        book = self.book
        taken = self._taken[side]
        seen = 0
        n = 8
        while True:
            prices, sizes = book.levels(side, n)
            for price, size in zip(prices[seen:].tolist(), sizes[seen:].tolist(), strict=True):
                if limit is not None and (price > limit if side == ASK else price < limit):
                    return
                visible = size - taken.get(price, 0)
                if visible > 0:
                    yield price, visible
            if len(prices) < n:
                return
            seen = n
            n *= 4

    def available(self, side: int, limit: int | None) -> int:
        """Lots a taker could take from ``side`` up to ``limit``."""
        return sum(visible for _, visible in self.levels(side, limit))

    def take(self, side: int, qty: int, limit: int | None) -> list[tuple[int, int]]:
        """Take up to ``qty`` lots from ``side``, best first, up to ``limit``: ``(price,
        lots)`` per level, remembered as taken."""
        taken = self._taken[side]
        fills: list[tuple[int, int]] = []
        remaining = qty
        for price, visible in self.levels(side, limit):
            lots = min(remaining, visible)
            taken[price] = taken.get(price, 0) + lots
            fills.append((price, lots))
            remaining -= lots
            if remaining == 0:
                break
        return fills

    def printed_through(self, side: int, price: int) -> bool:
        """True if a trade since the last depth message printed beyond ``price`` on ``side``
        (so a fill there took liquidity the trade had already taken)."""
        if side == ASK:
            return self._high is not None and self._high > price
        return self._low is not None and self._low < price


@dataclass
class FillAudit:
    """Taker fills, and those on a level a trade had printed through since the symbol's
    last depth message (0 with trade depletion on; the optimism it removes when off)."""

    taker_fills: int = 0
    taker_fills_printed_through: int = 0
    stop_fills: int = 0
    stop_fills_printed_through: int = 0

    def count(self, stop: bool, printed_through: bool) -> None:
        if stop:
            self.stop_fills += 1
            self.stop_fills_printed_through += printed_through
        else:
            self.taker_fills += 1
            self.taker_fills_printed_through += printed_through
