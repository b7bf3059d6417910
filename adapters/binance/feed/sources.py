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
        #: Silences longer than ``stale_after`` (one per silence, however long).
        self.stale_periods = 0
        self._stale = False

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def stream(self) -> Stream:
        return Stream(self.symbol, self.kind)

    @property
    def notes(self) -> list[str]:
        """The report's lines on this stream."""
        out = []
        if self.disconnects:
            out.append(f"{self.stream}: {self.disconnects} disconnects, reconnected")
        out.extend(self._stale_note())
        return out

    def _stale_note(self) -> list[str]:
        if not self.stale_periods:
            return []
        after = self.feed.config.stale_after
        return [
            f"{self.stream}: silent for more than {after:g} s {self.stale_periods} times "
            "(a stream subscribed on the wrong route is silent)"
        ]

    async def _take(self) -> list[Item]:
        """The next entries; an empty list when the stream was silent too long (counted
        as a stale period, once per silence)."""
        config = self.feed.config
        items = await take(self.queue, config.max_batch, config.stale_after)
        if not items:
            if not self._stale:
                self._stale = True
                self.stale_periods += 1
        else:
            self._stale = False
        return items

    async def __aiter__(self) -> AsyncIterator[Batch]:
        await self.feed.start()
        while True:
            items = await self._take()
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
        out = self._stale_note()
        if c.gaps or c.resyncs or c.disconnects or c.stale_snapshots:
            out.insert(
                0,
                f"{self.stream}: {c.gaps} gaps in the pu chain, {c.disconnects} disconnects, "
                f"{c.resyncs} resyncs from a REST snapshot ({c.snapshots} snapshots, "
                f"{c.stale_snapshots} too old to straddle, {c.dropped} diffs older than one)",
            )
        return out

    async def __aiter__(self) -> AsyncIterator[Batch]:
        await self.feed.start()
        sync = self.sync
        while True:
            items = await self._take()
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
