"""Runs of frames into batches with the columnar decoders (one parse per message, levels
as NumPy columns), under the feed's plausibility ``Limits``."""

from __future__ import annotations

from collections.abc import Sequence

from streamsim.feed.batches import DepthBatch, MarkPriceBatch, TradeBatch
from streamsim.feed.plausibility import Limits
from streamsim.instruments import Instrument

from ..messages import collect_depth, collect_mark_prices, collect_trades
from .sync import Frame


def depth(frames: Sequence[Frame], instrument: Instrument, limits: Limits) -> DepthBatch:
    """Diffs and snapshot rows (the first bad message raises ``DataError``)."""
    columns = collect_depth([f[1] for f in frames], [f[0] for f in frames], limits=limits)
    assert columns.rejects is not None
    columns.rejects.raise_first(None, f"{instrument.symbol} depth")
    return columns.to_batch(instrument)


def trades(frames: Sequence[Frame], instrument: Instrument, limits: Limits) -> TradeBatch:
    """``aggTrade`` payloads (the trade id is the aggTrade id ``a``)."""
    columns = collect_trades([f[1] for f in frames], [f[0] for f in frames], limits=limits)
    assert columns.rejects is not None
    columns.rejects.raise_first(None, f"{instrument.symbol} aggTrade")
    return columns.to_batch(instrument)


def mark_prices(frames: Sequence[Frame], instrument: Instrument, limits: Limits) -> MarkPriceBatch:
    """``markPriceUpdate`` payloads."""
    batch, rejects = collect_mark_prices(
        instrument.symbol, [f[1] for f in frames], [f[0] for f in frames], limits
    )
    rejects.raise_first(None, f"{instrument.symbol} markPriceUpdate")
    return batch
