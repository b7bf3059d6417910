"""Replay throughput: the synthetic hour's four streams from Parquet to a no-op strategy.

All four streams of ``cryptohftdata-synth`` (2,520,000 depth rows in 36,000 messages,
86,713 trades, 3,600 mark prices, 12 open-interest rows: 2,612,325 rows) are read through
``CryptoHFTData`` (footer and column-chunk ranged reads, decoding, checks, sorting) and
replayed by the kernel to an async strategy that receives every event and keeps no books.
Timing covers everything from building the sources to the last callback. Prints each run,
the peak memory (``ru_maxrss``), and last the rows/second of each measured mode, the
``parquet`` figure (files read through a ``LocalStore``) on the very last line.

    python benchmarks/bench_replay.py [--repeat K] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import streamsim as ss
from adapters.cryptohftdata import CryptoHFTData, LocalStore

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
START = 1_751_371_200 * ss.SECOND  # 2025-07-01 12:00 UTC
ROWS = 2_612_325
EVENTS = {
    "BTCUSDT.depth": 36_000,
    "BTCUSDT.trades": 86_713,
    "BTCUSDT.mark_price": 3_600,
    "BTCUSDT.open_interest": 12,
}


class NoOp(ss.Strategy):
    """Receives every market event of the four streams and does nothing."""

    uses_books = False

    async def on_depth(self, update: ss.DepthUpdate, book: object) -> None:
        pass

    async def on_trade(self, trade: ss.Trade) -> None:
        pass

    async def on_mark_price(self, mark: ss.MarkPrice) -> None:
        pass

    async def on_open_interest(self, oi: ss.OpenInterest) -> None:
        pass


def parquet_sources() -> list[ss.Source]:
    """The four streams straight from the local files."""
    data = CryptoHFTData(LocalStore(DATA))
    return data.sources(["BTCUSDT"], start=START, end=START + ss.HOUR - 1)


#: Modes measured, printed in this order. "parquet" stays last (the last line is its
#: figure). Other modes slot in before it: "store" (the same files through another
#: ``Store`` implementation) and "s3" (an S3 store); they are not measured here.
MODES: dict[str, Callable[[], list[ss.Source]]] = {
    "parquet": parquet_sources,
}


def run_once(make: Callable[[], list[ss.Source]]) -> float:
    """Seconds from building the sources to the end of the run; checks every event arrived."""
    gc.collect()  # the previous run's garbage must not count towards this one's memory
    start = time.perf_counter()
    result = ss.run_backtest(make(), NoOp())
    elapsed = time.perf_counter() - start
    if result.events != EVENTS:
        raise SystemExit(f"unexpected event counts: {result.events}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one parquet run")
    args = parser.parse_args()
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run_once, parquet_sources)
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(20)
    best: dict[str, float] = {}
    for mode, make in MODES.items():
        for i in range(args.repeat):
            elapsed = run_once(make)
            best[mode] = min(best.get(mode, elapsed), elapsed)
            print(f"{mode} run {i + 1}: {ROWS:,} rows in {elapsed:.3f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak memory (ru_maxrss): {peak:,.0f} MiB")
    for mode, elapsed in best.items():
        print(f"{mode}: {ROWS / elapsed:,.0f} rows/s")


if __name__ == "__main__":
    main()
