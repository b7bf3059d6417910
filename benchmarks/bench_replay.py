"""Replay throughput: the synthetic hour's four streams from Parquet to a no-op strategy.

All four streams of ``cryptohftdata-synth`` (2,520,000 depth rows in 36,000 messages,
86,713 trades, 3,600 mark prices, 12 open-interest rows: 2,610,325 rows) are read through
``CryptoHFTData`` (footer and column-chunk ranged reads, decoding, checks, sorting) and
replayed by the kernel to an async strategy that receives every event and keeps no books.
Timing covers everything from building the sources to the last callback; each mode's
best of ``--repeat`` runs counts, and s3 and parquet runs alternate. Prints each run,
the peak memory (``ru_maxrss``), and last the rows/second of each measured mode: ``store``
(the compiled event store, compiled once before timing), ``s3``
(the same files served by a moto S3 server on loopback, read with ``S3Store``) and
``parquet`` (the files through a ``LocalStore``) on the very last line.

    python benchmarks/bench_replay.py [--repeat K] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import streamsim as ss
from adapters.cryptohftdata import CryptoHFTData, LocalStore, S3Store
from adapters.store import compile_store, cryptohftdata_inputs, store_sources

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
START = 1_751_371_200 * ss.SECOND  # 2025-07-01 12:00 UTC
ROWS = 2_520_000 + 86_713 + 3_600 + 12  # 2,610,325 (the 2,612,325 was 2,000 off)
PREFETCH = 2  # row groups in flight per stream when reading from S3
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


@contextmanager
def s3_bucket() -> Iterator[Callable[[], list[ss.Source]]]:
    """The same tree served by a moto S3 server in its own process on loopback.

    A separate process, as a real object store would be: a server thread inside this
    process would compete with the replay for the interpreter lock.
    """
    import boto3  # noqa: PLC0415 (dev dependency, only for this mode)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        for _ in range(100):  # wait up to 10 s for the server to listen
            try:
                client.create_bucket(Bucket="bench")
                break
            except Exception:
                time.sleep(0.1)
        for path in sorted(DATA.rglob("*.parquet")):
            client.upload_file(str(path), "bench", f"synth/{path.relative_to(DATA)}")

        # Configured once, as a root directory is: each run opens its own client (and
        # connections) inside the run's event loop, within the timing.
        store = S3Store("bench", prefix="synth", region="us-east-1", endpoint_url=endpoint)

        def sources() -> list[ss.Source]:
            data = CryptoHFTData(store, prefetch=PREFETCH)
            return data.sources(["BTCUSDT"], start=START, end=START + ss.HOUR - 1)

        yield sources
    finally:
        server.terminate()
        server.wait(timeout=10)


STORE = Path(tempfile.gettempdir()) / "streamsim-bench-store"


def compiled_store() -> Callable[[], list[ss.Source]]:
    """Compile the hour once, before timing; replaying includes verifying its hashes."""
    data = CryptoHFTData(LocalStore(DATA))
    sources = data.sources(["BTCUSDT"], start=START, end=START + ss.HOUR - 1)
    compile_store(sources, STORE, inputs=cryptohftdata_inputs(data, sources), overwrite=True)
    return lambda: store_sources(STORE)


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
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="cProfile one parquet run")
    args = parser.parse_args()
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run_once, parquet_sources)
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(20)
    best: dict[str, float] = {}

    def measure(mode: str, make: Callable[[], list[ss.Source]], run: int) -> None:
        elapsed = run_once(make)
        best[mode] = min(best.get(mode, elapsed), elapsed)
        print(f"{mode} run {run}: {ROWS:,} rows in {elapsed:.3f} s")

    store = compiled_store()
    for i in range(args.repeat):
        measure("store", store, i + 1)
    # s3 and parquet alternate, so that both see the same state of a shared machine.
    with s3_bucket() as s3_sources:
        for i in range(args.repeat):
            measure("s3", s3_sources, i + 1)
            measure("parquet", parquet_sources, i + 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak memory (ru_maxrss): {peak:,.0f} MiB")
    print(f"s3 / parquet: {best['parquet'] / best['s3']:.0%} of the parquet speed")
    for mode, elapsed in best.items():
        print(f"{mode}: {ROWS / elapsed:,.0f} rows/s")


if __name__ == "__main__":
    main()
