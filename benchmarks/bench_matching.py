"""Matching throughput: a two-sided post-only quoter over the synthetic hour.

The strategy keeps one post-only bid at the best bid and one post-only ask at the best
ask, and re-quotes (cancel-replace) on every depth message where the best price moved,
with an inventory limit. Full kernel and SimExchange (conservative queue), the
strategy-side book kept too. The data is decoded before timing. The last line prints
events/second; the one before it the fills.

    python benchmarks/bench_matching.py
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq

import streamsim as ss
from adapters.cryptohftdata import decode_orderbook, decode_trades

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
DAY = "binance_futures/BTCUSDT/2025/07/01"
BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001", min_notional="5")


class Quoter(ss.Strategy):
    """Quotes both sides at the touch with post-only orders; re-quotes when the touch moves."""

    def __init__(self, lots: int = 2, limit: int = 20) -> None:
        self.lots = lots
        self.limit = limit
        self.position = 0
        self.fills = 0
        self.quotes: dict[int, ss.OrderHandle | None] = {ss.BUY: None, ss.SELL: None}
        self.sides: dict[str, int] = {}

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_depth(self, update: ss.DepthUpdate, book: ss.L2Book | None) -> None:
        if book is None or book.best_bid is None or book.best_ask is None:
            return
        for side, price in ((ss.BUY, book.best_bid), (ss.SELL, book.best_ask)):
            handle = self.quotes[side]
            live = handle is not None and not handle.status.is_final
            wanted = abs(self.position + side * self.lots) <= self.limit or self.position * side < 0
            if live and handle is not None and (handle.order.price == price and wanted):
                continue
            if live and handle is not None:
                self.ctx.broker.cancel(handle)
            self.quotes[side] = None
            if wanted:
                order = ss.Order("BTCUSDT", side, self.lots, price, tif=ss.TimeInForce.GTX)
                handle = self.ctx.broker.submit(order)
                self.sides[handle.client_id] = side
                self.quotes[side] = handle

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        if update.last_qty:
            self.fills += 1
            self.position += self.sides[update.client_id] * update.last_qty


def sources() -> list[ss.Source]:
    book = decode_orderbook(pq.read_table(DATA / "orderbook" / DAY / "orderbook_12.parquet"), BTC)
    trades = decode_trades(pq.read_table(DATA / "trades" / DAY / "trades.parquet"), BTC)
    assert book.symbol == trades.symbol == "BTCUSDT"
    depth_batches = [book.slice(lo, lo + 2_000) for lo in range(0, len(book), 2_000)]
    trade_batches = [trades.slice(lo, lo + 10_000) for lo in range(0, len(trades), 10_000)]
    return [ss.MemorySource(depth_batches), ss.MemorySource(trade_batches)]


def main() -> None:
    start = time.perf_counter()
    data = sources()
    print(f"decoded in {time.perf_counter() - start:.2f} s")
    strategy = Quoter()
    # No mark stream is read (the inputs stay those of every earlier figure): positions are
    # marked from the book's mid, at most once a second.
    exchange = ss.SimExchange(
        [BTC], initial_balance=100_000.0, fees=ss.Fees(-0.00005, 0.0002), mark_fallback="mid"
    )
    result = ss.run_backtest(
        data, strategy, exchange=exchange, latency=ss.ConstantLatency(5 * ss.MS, 5 * ss.MS)
    )
    report = result.exchange
    print(result.summary())
    print(
        f"orders {result.orders_submitted:,}, responses {result.responses:,}, "
        f"equity {report['equity']:,.2f}, ledger {report['ledger']}"
    )
    print(f"fills: {report['fills']:,} ({report['maker_fills']:,} maker)")
    print(f"{result.total_events / result.wall_seconds:,.0f} events/s")


if __name__ == "__main__":
    main()
