"""Quickstart: replay the bundled sample through a strategy and a simulated exchange.

The sample is 8.6 minutes of real Binance USD-M BTCUSDT (depth, trades, mark price with
funding; 2023-04-04 23:58 to 2023-04-05 00:06 UTC) in the CryptoHFTData layout, plus
seeded synthetic open interest (labelled as such in the run's data-quality report).

    python examples/quickstart.py
"""

from __future__ import annotations

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, sample_sources


class Quickstart(ss.Strategy):
    """Once a minute: bid at the best bid (post-only), give it 20 s, cancel what is left."""

    def __init__(self) -> None:
        self.acks: list[int] = []
        self.filled = 0
        self.open_interest: list[int] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx
        ctx.set_timer("quote", 60 * ss.SECOND)

    async def on_open_interest(self, oi: ss.OpenInterest) -> None:
        self.open_interest.append(oi.ts_local - oi.bucket_time)

    async def on_timer(self, name: str, now: int) -> None:
        book = self.ctx.books.get("BTCUSDT")
        if book is None or book.best_bid is None:
            return
        order = ss.Order("BTCUSDT", ss.BUY, qty=20, price=book.best_bid, tif=ss.TimeInForce.GTX)
        handle = self.ctx.broker.submit(order)
        await handle.acked()  # simulated time moves while we wait; events queue meanwhile
        self.acks.append(self.ctx.now() - now)
        await self.ctx.sleep(20 * ss.SECOND)
        if not handle.status.is_final:
            self.ctx.broker.cancel(handle)
            await handle.done()
        self.filled += handle.filled_qty


def main() -> None:
    strategy = Quickstart()
    result = ss.run_backtest(
        sample_sources(),
        strategy,
        exchange=ss.SimExchange([SAMPLE_INSTRUMENT], initial_balance=10_000.0),
        feed={"open_interest": ss.open_interest_preset(), "*": ss.Recorded()},
        latency=ss.LognormalLatency(entry_median=20 * ss.MS, floor=5 * ss.MS, seed=7),
    )
    print(result.summary())
    venue = result.exchange
    print(
        f"fills: {venue['fills']} ({venue['maker_fills']} maker), lots bought: {strategy.filled}, "
        f"position: {venue['positions']['BTCUSDT']} lots, equity: {venue['equity']:,.2f} USDT"
    )
    stats = result.metrics
    print(
        f"total return {stats['total_return']:.4%}, max drawdown {stats['max_drawdown']:.4%}, "
        f"maker share {stats['maker_share']:.0%}, fees {stats['fees']:.4f} USDT, "
        f"limit fill rate {stats['limit_fill_rate']:.0%}"
    )
    print("ack round trips (ms):", [round(a / ss.MS, 1) for a in strategy.acks])
    print(
        "open interest shown after its bucket (s):", [d / ss.SECOND for d in strategy.open_interest]
    )


if __name__ == "__main__":
    main()
