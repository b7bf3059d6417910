"""Batch slicing: rows for row batches, whole messages (with their levels) for depth."""

from __future__ import annotations

import numpy as np

import streamsim as ss
from streamsim.feed import synthetic


def _batch(source: ss.MemorySource) -> ss.Batch:
    (batch,) = source._batches
    return batch


def test_depth_slice_keeps_messages_with_their_levels() -> None:
    depth = _batch(synthetic.depth("BTCUSDT", 0, 40, levels=3, batch_size=40))
    assert isinstance(depth, ss.DepthBatch)
    part = depth.slice(10, 25)
    part.validate()
    assert len(part) == 15
    assert part.level_offsets[0] == 0
    times = np.arange(len(depth), dtype=np.int64)
    whole = depth.events(depth.ts_exchange, times)[10:25]
    sliced = part.events(part.ts_exchange, times[10:25])
    for a, b in zip(whole, sliced, strict=True):
        assert (a.final, a.ts_local) == (b.final, b.ts_local)
        assert a.bid_prices.tolist() == b.bid_prices.tolist()
        assert a.ask_qtys.tolist() == b.ask_qtys.tolist()
    assert len(depth.slice(35, 100)) == 5  # past the end: up to the end
    assert len(depth.slice(50, 60)) == 0


def test_row_slice_is_views_of_every_column() -> None:
    trades = _batch(synthetic.trades("BTCUSDT", 0, 30, batch_size=30))
    part = trades.slice(5, 12)
    part.validate()
    assert type(part) is type(trades)
    assert part.trade_id.tolist() == trades.trade_id[5:12].tolist()
    assert np.shares_memory(part.price, trades.price)
    assert len(trades.slice(25, 40)) == 5
