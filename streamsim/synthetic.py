"""Seeded synthetic streams for examples, tests and benchmarks (not market-realistic).

Prices follow a random walk in ticks; receive times trail event times by a random delay.
Everything is built with whole-array NumPy operations and split into batches.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .batches import DepthBatch, MarkPriceBatch, OpenInterestBatch, TradeBatch
from .sources import MemorySource, Stream
from .units import MINUTE, MS, SECOND

IntArray = npt.NDArray[np.int64]


def _times(rng: np.random.Generator, start: int, n: int, mean_gap: int) -> IntArray:
    gaps = rng.exponential(mean_gap, n).astype(np.int64) + 1
    return start + np.cumsum(gaps)


def _recv(rng: np.random.Generator, ts: IntArray, median: int) -> IntArray:
    """Receive times: at least 1 ms after the event, lognormal jitter, in arrival order."""
    jitter = rng.lognormal(np.log(median), 0.5, len(ts)).astype(np.int64)
    return np.maximum.accumulate(ts + MS + jitter)


def _walk(rng: np.random.Generator, n: int, first: int) -> IntArray:
    return first + np.cumsum(rng.integers(-1, 2, n)).astype(np.int64)


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def trades(
    symbol: str,
    start: int,
    n: int,
    mean_gap: int = 10 * MS,
    seed: int = 0,
    batch_size: int = 10_000,
    first_price: int = 600_000,
) -> MemorySource:
    """``n`` trades from ``start``, about ``mean_gap`` ns apart."""
    rng = np.random.default_rng(seed)
    ts = _times(rng, start, n, mean_gap)
    recv = _recv(rng, ts, 5 * MS)
    price = _walk(rng, n, first_price)
    qty = rng.integers(1, 50, n).astype(np.int64)
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    ids = np.arange(1, n + 1, dtype=np.int64)
    return MemorySource(
        (
            TradeBatch(symbol, ts[a:b], recv[a:b], price[a:b], qty[a:b], side[a:b], ids[a:b])
            for a, b in _chunks(n, batch_size)
        ),
        Stream(symbol, "trades"),
    )


def depth(
    symbol: str,
    start: int,
    n: int,
    mean_gap: int = 10 * MS,
    levels: int = 4,
    seed: int = 1,
    batch_size: int = 10_000,
    first_price: int = 600_000,
) -> MemorySource:
    """``n`` depth diffs of ``levels`` bid and ``levels`` ask levels around a random walk."""
    rng = np.random.default_rng(seed)
    ts = _times(rng, start, n, mean_gap)
    recv = _recv(rng, ts, 5 * MS)
    mid = _walk(rng, n, first_price)
    offsets = np.arange(1, levels + 1, dtype=np.int64)
    bids = mid.reshape(-1, 1) - offsets.reshape(1, -1)
    asks = mid.reshape(-1, 1) + offsets.reshape(1, -1)
    price: IntArray = np.concatenate((bids, asks), axis=1)
    qty = rng.integers(0, 100, price.shape).astype(np.int64)
    final = np.arange(1, n + 1, dtype=np.int64) * 10
    batches = []
    for a, b in _chunks(n, batch_size):
        m = b - a
        batches.append(
            DepthBatch(
                symbol,
                ts[a:b],
                recv[a:b],
                final[a:b] - 9,
                final[a:b],
                final[a:b] - 10,
                np.zeros(m, dtype=np.bool_),
                np.arange(m + 1, dtype=np.int64) * 2 * levels,
                np.full(m, levels, dtype=np.int64),
                price[a:b].ravel(),
                qty[a:b].ravel(),
            )
        )
    return MemorySource(batches, Stream(symbol, "depth"))


def mark_prices(
    symbol: str, start: int, n: int, seed: int = 2, first_price: float = 60_000.0
) -> MemorySource:
    """``n`` mark prices, one a second, funding every 8 hours."""
    rng = np.random.default_rng(seed)
    ts = start + np.arange(1, n + 1, dtype=np.int64) * SECOND
    recv = _recv(rng, ts, 5 * MS)
    mark = first_price + np.cumsum(rng.normal(0, 5, n))
    funding = np.full(n, 0.0001)
    period = 8 * 60 * MINUTE
    next_funding = (ts // period + 1) * period
    return MemorySource(
        [MarkPriceBatch(symbol, ts, recv, mark, mark * 0.9999, mark, funding, next_funding)],
        Stream(symbol, "mark_price"),
    )


def open_interest(
    symbol: str, start: int, n: int, seed: int = 3, publish_delay: tuple[int, int] = (20, 120)
) -> MemorySource:
    """``n`` 5-minute open-interest buckets, published ``publish_delay`` seconds later."""
    rng = np.random.default_rng(seed)
    bucket = 5 * MINUTE
    ts = (start // bucket + np.arange(1, n + 1, dtype=np.int64)) * bucket
    recv = ts + rng.integers(publish_delay[0], publish_delay[1] + 1, n) * SECOND
    value = 80_000 + np.cumsum(rng.normal(0, 100, n))
    return MemorySource(
        [OpenInterestBatch(symbol, ts, recv, value, value * 60_000.0)],
        Stream(symbol, "open_interest"),
    )
