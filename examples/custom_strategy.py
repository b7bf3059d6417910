"""A custom strategy in about 30 lines: buy the dip after a run of sell trades.

python examples/custom_strategy.py
"""

from __future__ import annotations

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, sample_sources


class DipBuyer(ss.Strategy):
    """After ``run`` sell-aggressor trades in a row, buy ``qty`` lots at market (while
    flat); sell them back with a reduce-only market order ``hold`` ns later."""

    def __init__(self, run: int = 30, qty: int = 10, hold: int = 30 * ss.SECOND) -> None:
        self.run, self.qty, self.hold = run, qty, hold
        self.sells = self.position = self.trades = 0
        self.sides: dict[str, int] = {}

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_trade(self, trade: ss.Trade) -> None:
        self.sells = self.sells + 1 if trade.side == ss.SELL else 0
        if self.sells >= self.run and self.position == 0 and not self.sides:
            self.ctx.spawn(self.round_trip())

    async def round_trip(self) -> None:
        order = ss.Order("BTCUSDT", ss.BUY, self.qty, type=ss.OrderType.MARKET)
        buy = self.ctx.broker.submit(order)
        self.sides[buy.client_id] = ss.BUY
        await buy.done()
        await self.ctx.sleep(self.hold)
        sell = ss.Order(
            "BTCUSDT", ss.SELL, buy.filled_qty, type=ss.OrderType.MARKET, reduce_only=True
        )
        handle = self.ctx.broker.submit(sell)
        self.sides[handle.client_id] = ss.SELL
        await handle.done()
        self.sides.clear()
        self.trades += 1

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        self.position += self.sides.get(update.client_id, 0) * update.last_qty


strategy = DipBuyer()
result = ss.run_backtest(
    sample_sources(("depth", "trades", "mark_price")),
    strategy,
    exchange=ss.SimExchange([SAMPLE_INSTRUMENT]),
    latency=ss.ConstantLatency(10 * ss.MS),
)
venue = result.exchange
print(f"round trips: {strategy.trades}, fills: {venue['fills']}, position: {strategy.position}")
print(f"equity: {venue['equity']:,.2f} USDT, ledger: {venue['ledger']}")
