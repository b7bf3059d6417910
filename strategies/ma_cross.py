"""Moving-average cross on time bars the strategy builds itself.

Shows how to turn a tick stream (trades, or mark prices) into fixed time bars inside a
strategy, and how to act on bar closes: long when the fast average of closes is above
the slow one, short when below. A textbook signal, not a recommendation.
"""

from __future__ import annotations

from collections import deque

import streamsim as ss

from .base import Tracked


class BarBuilder:
    """Fixed ``interval`` ns time bars of a price series; :meth:`update` returns the close
    of each bar that a new price completes (a gap of several bars closes them all at the
    last close, so the averages move with time)."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.bar_start: int | None = None
        self.close = 0.0

    def update(self, ts: int, price: float) -> list[float]:
        start = ts - ts % self.interval
        closed: list[float] = []
        if self.bar_start is not None and start > self.bar_start:
            n = (start - self.bar_start) // self.interval
            closed = [self.close] * int(n)
        self.bar_start = start
        self.close = price
        return closed


class MovingAverageCross(Tracked):
    """Hold ``+qty`` lots while SMA(``fast``) of bar closes is above SMA(``slow``), ``-qty``
    while below. Bars of ``bar`` ns are built from ``source``: ``"trades"`` (trade price,
    ticks) or ``"mark"`` (mark price). Prices are the event's own, at its ``ts_local``."""

    def __init__(
        self,
        symbol: str,
        qty: int = 1,
        *,
        fast: int = 5,
        slow: int = 20,
        bar: int = 5 * ss.SECOND,
        source: str = "trades",
    ) -> None:
        if not 0 < fast < slow:
            raise ss.ConfigError(f"need 0 < fast < slow, got fast={fast}, slow={slow}")
        if source not in ("trades", "mark"):
            raise ss.ConfigError(f"source must be 'trades' or 'mark', got {source!r}")
        super().__init__(symbol)
        self.qty = qty
        self.fast = fast
        self.slow = slow
        self.source = source
        self.bars = BarBuilder(bar)
        self.closes: deque[float] = deque(maxlen=slow)
        self.bar_count = 0
        self.signals: list[tuple[int, int]] = []  # (time, target) at each change

    def _on_price(self, ts: int, price: float) -> None:
        closed = self.bars.update(ts, price)
        for close in closed:
            self.closes.append(close)
            self.bar_count += 1
        if not closed or len(self.closes) < self.slow:
            return
        closes = list(self.closes)
        fast = sum(closes[-self.fast :]) / self.fast
        slow = sum(closes) / self.slow
        target = self.qty if fast > slow else -self.qty if fast < slow else self.position
        if target != self.position and not self.busy:
            self.signals.append((ts, target))
            self.trade_to(target)

    async def on_trade(self, trade: ss.Trade) -> None:
        if self.source == "trades" and trade.symbol == self.symbol:
            self._on_price(trade.ts_local, float(trade.price))

    async def on_mark_price(self, mark: ss.MarkPrice) -> None:
        if self.source == "mark" and mark.symbol == self.symbol:
            self._on_price(mark.ts_local, mark.mark)
