"""The feed's live ``Source``s: depth (synced by :class:`DepthSync`), aggTrade, mark price."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from streamsim.feed.batches import Batch
from streamsim.feed.sources import Stream
from streamsim.instruments import Instrument

from . import decode
from .markers import Item, Marker
from .queues import take
from .snapshot import fetch_snapshot
from .sync import DepthSync, Frame

if TYPE_CHECKING:
    from .client import BinanceFeed


class _QueueSource:
    """Frames of one stream from its queue, decoded into one batch per run of frames."""

    kind = ""

    def __init__(self, feed: BinanceFeed, instrument: Instrument) -> None:
        self.feed = feed
        self.instrument = instrument
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.frames = 0
        self.disconnects = 0

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def stream(self) -> Stream:
        return Stream(self.symbol, self.kind)

    @property
    def notes(self) -> list[str]:
        """The report's lines on this stream."""
        if not self.disconnects:
            return []
        return [f"{self.stream}: {self.disconnects} disconnects, reconnected"]

    async def __aiter__(self) -> AsyncIterator[Batch]:
        await self.feed.start()
        limit = self.feed.config.max_batch
        while True:
            items = await take(self.queue, limit)
            frames: list[Frame] = []
            closed = False
            for item in items:
                if item is Marker.CLOSED:
                    closed = True
                    break
                if item is Marker.DISCONNECTED:
                    self.disconnects += 1
                    continue
                assert not isinstance(item, Marker)
                frames.append(item)
            if frames:
                self.frames += len(frames)
                yield self._batch(frames)
            if closed:
                return

    def _batch(self, frames: list[Frame]) -> Batch:
        raise NotImplementedError


class TradeSource(_QueueSource):
    """``aggTrade`` frames as :class:`TradeBatch` es (the trade id is the aggTrade id ``a``)."""

    kind = "trades"

    def _batch(self, frames: list[Frame]) -> Batch:
        return decode.trades(frames, self.instrument, self.feed.config.limits)


class MarkPriceSource(_QueueSource):
    """``markPriceUpdate`` frames (``@markPrice@1s``) as :class:`MarkPriceBatch` es."""

    kind = "mark_price"

    def _batch(self, frames: list[Frame]) -> Batch:
        return decode.mark_prices(frames, self.instrument, self.feed.config.limits)


class DepthSource(_QueueSource):
    """The diff stream synced by the documented procedure, as :class:`DepthBatch` es: each
    REST snapshot is a snapshot row (so the strategy's ``L2Book`` syncs), then the diffs
    chained from it. A gap resyncs from a new snapshot on the same connection; a
    disconnect, once reconnected."""

    kind = "depth"

    def __init__(self, feed: BinanceFeed, instrument: Instrument) -> None:
        super().__init__(feed, instrument)
        self.sync = DepthSync()

    @property
    def notes(self) -> list[str]:
        c = self.sync.counts
        if not (c.gaps or c.resyncs or c.disconnects or c.stale_snapshots):
            return []
        return [
            f"{self.stream}: {c.gaps} gaps in the pu chain, {c.disconnects} disconnects, "
            f"{c.resyncs} resyncs from a REST snapshot ({c.snapshots} snapshots, "
            f"{c.stale_snapshots} too old to straddle, {c.dropped} diffs older than one)"
        ]

    async def __aiter__(self) -> AsyncIterator[Batch]:
        await self.feed.start()
        config = self.feed.config
        sync = self.sync
        while True:
            items = await take(self.queue, config.max_batch)
            closed = False
            for item in items:
                if item is Marker.CLOSED:
                    closed = True
                    break
                if item is Marker.DISCONNECTED:
                    sync.disconnected()
                    continue
                assert not isinstance(item, Marker)
                self.frames += 1
                sync.push(item)
            out = sync.take()
            if out:
                yield self._batch(out)
            if closed:
                return
            if sync.wants_snapshot:
                sync.snapshot(await self._snapshot())
                out = sync.take()
                if out:
                    yield self._batch(out)

    async def _snapshot(self) -> Frame:
        config = self.feed.config
        return await fetch_snapshot(
            self.feed.session,
            config.rest_url,
            self.symbol,
            config.snapshot_limit,
            config.snapshot_retries,
        )

    def _batch(self, frames: list[Frame]) -> Batch:
        return decode.depth(frames, self.instrument, self.feed.config.limits)
