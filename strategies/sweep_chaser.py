"""Sweep chaser: a market order after each large trade, in its direction.

Shows taker orders sent on the trade stream: after a trade of ``size`` lots or more it
buys (after a buy sweep) or sells ``lots`` at market and is flat again ``hold`` ns later.
Its orders arrive while the sweep's depth message is still on its way, so it is the
project's probe of taker fills on liquidity a trade already took
(``benchmarks/fill_realism.py``). Chasing sweeps is a textbook way to pay the spread,
not a recommendation.
"""

from __future__ import annotations

import streamsim as ss

from .base import Tracked


class SweepChaser(Tracked):
    """Follows large trades: a market order of ``lots`` in the aggressor's direction after
    a trade of ``size`` lots or more, flat again ``hold`` ns later (the taker probe)."""

    def __init__(self, symbol: str, size: int = 2_000, lots: int = 5, hold: int = ss.SECOND):
        super().__init__(symbol)
        self.size, self.lots, self.hold = size, lots, hold
        self.entered: int | None = None

    async def on_trade(self, trade: ss.Trade) -> None:
        if self.busy:
            return
        if self.position and self.entered is not None:
            if trade.ts_local - self.entered >= self.hold:
                self.flatten()
                self.entered = None
        elif not self.position and trade.qty >= self.size:
            self.trade_to(trade.side * self.lots)
            self.entered = trade.ts_local
