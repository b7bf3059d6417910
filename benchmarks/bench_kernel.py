"""Kernel throughput: in-memory batches through the merge, feed models and kernel.

1,000,000 events (depth messages and trades of two symbols: 4 streams) reach a no-op
async strategy. No I/O. The last line prints events/second. ``--books`` also keeps the
strategy-side L2 books (every depth message applied on the strategy's timeline).

    python benchmarks/bench_kernel.py [--events N] [--repeat K] [--books]
"""

from __future__ import annotations

import argparse

import streamsim as ss
from streamsim.feed import synthetic


class NoOp(ss.Strategy):
    """Receives every depth message and trade and does nothing (so keeps no books)."""

    uses_books = False

    async def on_depth(self, update: ss.DepthUpdate, book: object) -> None:
        pass

    async def on_trade(self, trade: ss.Trade) -> None:
        pass


def sources(total: int) -> list[ss.Source]:
    start = 1_751_371_200 * ss.SECOND
    each = total // 4
    return [
        synthetic.depth("BTCUSDT", start, each, seed=1),
        synthetic.trades("BTCUSDT", start, each, seed=2),
        synthetic.depth("ETHUSDT", start, each, seed=3, first_price=300_000),
        synthetic.trades("ETHUSDT", start, each, seed=4, first_price=300_000),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--books", action="store_true")
    args = parser.parse_args()
    NoOp.uses_books = args.books
    feed = {"depth": ss.Recorded(), "trades": ss.Constant(2 * ss.MS)}
    best = 0.0
    for i in range(args.repeat):
        result = ss.run_backtest(sources(args.events), NoOp(), feed=feed)
        rate = result.total_events / result.wall_seconds
        best = max(best, rate)
        print(f"run {i + 1}: {result.total_events} events in {result.wall_seconds:.3f} s")
    print(f"best of {args.repeat}: {best:,.0f} events/s")


if __name__ == "__main__":
    main()
