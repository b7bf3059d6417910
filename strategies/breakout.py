"""Stop-entry breakout: enter on a move of ``distance`` ticks, exit after ``hold``.

Shows stop orders: while flat it keeps a buy stop ``distance`` ticks above the last trade
and a sell stop as far below; the first to fill opens the position and the other is
cancelled; ``hold`` ns later a market order closes it, and it arms again. Stops trigger
inside sweeps, so the strategy is also the project's probe of how realistically stops
fill (``benchmarks/fill_realism.py``). A textbook entry, not a recommendation.
"""

from __future__ import annotations

import streamsim as ss

from .base import Tracked


class StopBreakout(Tracked):
    """Buy stop above and sell stop below the last trade; the first fill enters, ``hold``
    ns later a market order exits."""

    def __init__(self, symbol: str, distance: int = 10, lots: int = 1, hold: int = ss.SECOND):
        super().__init__(symbol)
        self.distance = distance
        self.lots = lots
        self.hold = hold
        self.stops: dict[int, ss.OrderHandle] = {}
        self.entered: int | None = None
        #: Client id -> stop price (ticks) of every stop placed.
        self.stop_prices: dict[str, int] = {}

    async def on_trade(self, trade: ss.Trade) -> None:
        if trade.symbol != self.symbol or self.busy:
            return
        if self.position:
            if self.entered is None:
                self.entered = trade.ts_local
            elif trade.ts_local - self.entered >= self.hold and not self.stops:
                self.flatten()
                self.entered = None
        elif not self.stops:
            for side in (ss.BUY, ss.SELL):
                stop = ss.Order(
                    self.symbol,
                    side,
                    self.lots,
                    type=ss.OrderType.STOP_MARKET,
                    stop_price=trade.price + side * self.distance,
                )
                handle = self.ctx.broker.submit(stop)
                self.stops[handle.serial] = handle
                self.stop_prices[handle.client_id] = trade.price + side * self.distance

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        await super().on_order_update(update)
        if update.serial not in self.stops:
            return
        if update.last_qty:
            self.fills += 1
            for serial, handle in self.stops.items():
                if serial != update.serial:
                    self.ctx.broker.cancel(handle)
        if update.status.is_final:
            del self.stops[update.serial]
