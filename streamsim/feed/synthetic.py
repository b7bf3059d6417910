"""Seeded synthetic streams for examples, tests and benchmarks (not market-realistic).

Prices follow a random walk in ticks; receive times trail event times by a random delay.
Everything is built with whole-array NumPy operations and split into batches.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..units import MINUTE, MS, SECOND
from .batches import DepthBatch, MarkPriceBatch, OpenInterestBatch, TradeBatch
from .sources import MemorySource, Stream

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


def _trade_batches(
    symbol: str,
    ts: IntArray,
    recv: IntArray,
    price: IntArray,
    side: npt.NDArray[np.int8],
    qty: IntArray,
    batch_size: int,
) -> MemorySource:
    ids = np.arange(1, len(ts) + 1, dtype=np.int64)
    return MemorySource(
        (
            TradeBatch(symbol, ts[a:b], recv[a:b], price[a:b], qty[a:b], side[a:b], ids[a:b])
            for a, b in _chunks(len(ts), batch_size)
        ),
        Stream(symbol, "trades"),
    )


def trades(
    symbol: str,
    start: int,
    n: int,
    mean_gap: int = 10 * MS,
    seed: int = 0,
    batch_size: int = 10_000,
    first_price: int = 600_000,
) -> MemorySource:
    """``n`` trades from ``start``, about ``mean_gap`` ns apart, on their own random walk."""
    rng = np.random.default_rng(seed)
    ts = _times(rng, start, n, mean_gap)
    recv = _recv(rng, ts, 5 * MS)
    price = _walk(rng, n, first_price)
    qty = rng.integers(1, 50, n).astype(np.int64)
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    return _trade_batches(symbol, ts, recv, price, side, qty, batch_size)


def _depth_batches(
    symbol: str,
    ts: IntArray,
    recv: IntArray,
    mid: IntArray,
    levels: int,
    seed: int,
    batch_size: int,
) -> MemorySource:
    """Diffs that set ``levels`` levels a side around ``mid`` and delete both sides at ``mid``,
    so with a mid moving at most one tick a message the book never crosses."""
    rng = np.random.default_rng(seed)
    n = len(ts)
    offsets = np.arange(0, levels + 1, dtype=np.int64)
    bids = mid.reshape(-1, 1) - offsets.reshape(1, -1)
    asks = mid.reshape(-1, 1) + offsets.reshape(1, -1)
    price: IntArray = np.concatenate((bids, asks), axis=1)
    qty = rng.integers(1, 100, price.shape).astype(np.int64)
    qty[:, 0] = 0
    qty[:, levels + 1] = 0
    final = np.arange(1, n + 1, dtype=np.int64) * 10
    width = 2 * (levels + 1)
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
                np.arange(m + 1, dtype=np.int64) * width,
                np.full(m, levels + 1, dtype=np.int64),
                price[a:b].ravel(),
                qty[a:b].ravel(),
            )
        )
    return MemorySource(batches, Stream(symbol, "depth"))


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
    """``n`` depth diffs of ``levels`` bid and ask levels around a random walk (never crossed)."""
    rng = np.random.default_rng(seed)
    ts = _times(rng, start, n, mean_gap)
    recv = _recv(rng, ts, 5 * MS)
    mid = _walk(rng, n, first_price)
    return _depth_batches(symbol, ts, recv, mid, levels, seed + 1, batch_size)


def market(
    symbol: str,
    start: int,
    n_depth: int,
    n_trades: int,
    levels: int = 4,
    seed: int = 0,
    batch_size: int = 10_000,
    first_price: int = 600_000,
) -> list[MemorySource]:
    """Depth and trades that agree: trades print at the touch of the latest depth message
    (buys at the ask, sells at the bid), so resting orders see realistic queue activity."""
    rng = np.random.default_rng(seed)
    span = n_depth * 10 * MS
    depth_ts = _times(rng, start, n_depth, 10 * MS)
    trade_ts = np.sort(start + rng.integers(1, span, n_trades)).astype(np.int64)
    mid = _walk(rng, n_depth, first_price)
    latest = np.maximum(np.searchsorted(depth_ts, trade_ts, side="right") - 1, 0)
    side = np.where(rng.random(n_trades) < 0.5, 1, -1).astype(np.int8)
    price = mid[latest] + side.astype(np.int64)
    qty = rng.integers(1, 30, n_trades).astype(np.int64)
    return [
        _depth_batches(
            symbol, depth_ts, _recv(rng, depth_ts, 5 * MS), mid, levels, seed + 1, batch_size
        ),
        _trade_batches(
            symbol, trade_ts, _recv(rng, trade_ts, 5 * MS), price, side, qty, batch_size
        ),
    ]


def spaced_market(
    symbol: str,
    start: int,
    n: int,
    gap: int = 200 * MS,
    levels: int = 4,
    seed: int = 0,
    first_price: int = 600_000,
) -> list[MemorySource]:
    """Depth every ``gap`` ns and one trade at the touch half-way between two messages:
    events evenly spaced, for comparing worlds whose timing jitters (backtest vs paper
    live). Receive times equal event times."""
    rng = np.random.default_rng(seed)
    depth_ts = start + np.arange(n, dtype=np.int64) * gap
    trade_ts = depth_ts + gap // 2
    mid = _walk(rng, n, first_price)
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    price = mid + side.astype(np.int64)
    qty = rng.integers(1, 30, n).astype(np.int64)
    return [
        _depth_batches(symbol, depth_ts, depth_ts.copy(), mid, levels, seed + 1, n),
        _trade_batches(symbol, trade_ts, trade_ts.copy(), price, side, qty, n),
    ]


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
