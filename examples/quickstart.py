"""Quickstart: replay generated BTCUSDT streams through a strategy and print what happened.

The sample-data replay arrives with the data adapters; until then this runs on seeded
in-memory streams (trades, depth, mark price, open interest).

    python examples/quickstart.py
"""

from __future__ import annotations

import streamsim as ss
from streamsim import synthetic


class Quickstart(ss.Strategy):
    """Tracks the last trade, and once a minute sends a limit order and awaits its ack."""

    def __init__(self) -> None:
        self.trades = 0
        self.last_price = 0
        self.acks: list[int] = []
        self.open_interest: list[tuple[int, int]] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx
        ctx.set_timer("quote", 60 * ss.SECOND)

    async def on_trade(self, trade: ss.Trade) -> None:
        self.trades += 1
        self.last_price = trade.price

    async def on_open_interest(self, oi: ss.OpenInterest) -> None:
        self.open_interest.append((oi.bucket_time, oi.ts_local - oi.bucket_time))

    async def on_timer(self, name: str, now: int) -> None:
        sent = self.ctx.now()
        order = ss.Order("BTCUSDT", ss.BUY, qty=1, price=self.last_price - 10)
        handle = self.ctx.broker.submit(order)
        await handle.acked()
        self.acks.append(self.ctx.now() - sent)
        self.ctx.broker.cancel(handle)


def main() -> None:
    start = 1_751_371_200 * ss.SECOND  # 2025-07-01 12:00 UTC
    sources = [
        synthetic.depth("BTCUSDT", start, 60_000),
        synthetic.trades("BTCUSDT", start, 60_000),
        synthetic.mark_prices("BTCUSDT", start, 600),
        synthetic.open_interest("BTCUSDT", start, 2),
    ]
    strategy = Quickstart()
    result = ss.run_backtest(
        sources,
        strategy,
        feed={"open_interest": ss.open_interest_preset(), "*": ss.Recorded()},
        latency=ss.LognormalLatency(entry_median=20 * ss.MS, floor=5 * ss.MS, seed=7),
    )
    print(result.summary())
    print("ack round trips (ms):", [round(a / ss.MS, 1) for a in strategy.acks])
    print(
        "open interest shown after its bucket (s):",
        [d / ss.SECOND for _, d in strategy.open_interest],
    )


if __name__ == "__main__":
    main()
