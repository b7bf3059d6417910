"""L2 book throughput: the synthetic hour's 2,520,000 depth rows applied to one book.

Decoding happens once, before timing: Parquet to integer ticks and lots, grouping into
messages, and the per-batch preparation every book shares (dropping rows a later row of
the same message overrides, per-message bounds; timed and printed on its own). The last
line prints level updates/second of applying every message to the book.

    python benchmarks/bench_book.py [--repeat K]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pyarrow.parquet as pq

from adapters.cryptohftdata import decode_orderbook
from streamsim import Instrument
from streamsim.book import L2Book

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
FILE = DATA / "orderbook/binance_futures/BTCUSDT/2025/07/01/orderbook_12.parquet"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    btc = Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001")
    start = time.perf_counter()
    batch = decode_orderbook(pq.read_table(FILE), btc, where=f"{FILE.name}, ")
    updates = batch.events(batch.ts_exchange, batch.ts_exchange)
    decoded = time.perf_counter()
    updates[0].levels.for_book()
    prepared = time.perf_counter()
    rows = len(batch.level_price)
    print(
        f"decode {decoded - start:.3f} s, per-batch book preparation {prepared - decoded:.3f} s "
        f"({rows / (prepared - decoded):,.0f} rows/s)"
    )
    best = 0.0
    for i in range(args.repeat):
        book = L2Book("BTCUSDT", sequencing="futures")
        start = time.perf_counter()
        for update in updates:
            book.apply(update)
        elapsed = time.perf_counter() - start
        best = max(best, rows / elapsed)
        print(
            f"run {i + 1}: {len(updates):,} messages, {rows:,} level updates in {elapsed:.3f} s; "
            f"gaps {book.stats.gaps}, crossed {book.stats.crossed}, "
            f"best {book.best_bid}/{book.best_ask}"
        )
    print(f"best of {args.repeat}: {best:,.0f} level updates/s")


if __name__ == "__main__":
    main()
