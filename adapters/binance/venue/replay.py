"""The replay: every source's rows in ``ts_exchange`` order, published at replay time.

One coroutine drives it. It keeps the current batch of each source as a
:class:`~.frames.Chunk` and pops the stream whose next row is earliest (ties by stream
kind, then source order). When that row's time is ahead of the clock, the clock paces
(``PacedClock``: wall clock x speed; ``VirtualClock``: no wait, the sockets' back-pressure
sets the pace) and runs the timers due on the way (server pings, disconnects). The row then
updates the venue's market state and the frames due at it go out; no task is created per
frame. The clock is the one object that owns time: the lockstep mode replaces it.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from streamsim.errors import ConfigError
from streamsim.feed.batches import KINDS, Batch, DepthBatch, MarkPriceBatch, OpenInterestBatch
from streamsim.feed.sources import Source
from streamsim.run.clock import VirtualClock
from streamsim.run.halt import Halt
from streamsim.units import MS

from .connections import Hub
from .frames import Chunk, DepthChunk, RowChunk, assign_ids, book_ticker
from .market import Mark, SymbolMarket
from .streams import BOOK_TICKER, DEPTH_INTERVALS, ROW_CHANNELS, stream_name

log = logging.getLogger(__name__)

#: Rows between two yields to the event loop (so REST and control messages are served).
YIELD_EVERY = 8


class _Cursor:
    """One source's position: its iterator, current chunk and row."""

    __slots__ = ("channels", "chunk", "events", "iterator", "kind", "rank", "row", "symbol")

    def __init__(self, source: Source, rank: int) -> None:
        self.iterator: AsyncIterator[Batch] = source.__aiter__()
        self.symbol = source.stream.symbol
        self.kind = source.stream.kind
        self.rank = rank
        self.chunk: Chunk | None = None
        self.events: list[Any] = []
        self.row = 0
        #: (channel, stream name) pairs this stream's rows can send.
        names = DEPTH_INTERVALS if self.kind == "depth" else ROW_CHANNELS.get(self.kind, {})
        self.channels = [(channel, stream_name(self.symbol, channel)) for channel in names]


class Replay:
    """Replays ``sources`` into ``markets`` and the ``hub``'s subscribers on ``clock``."""

    def __init__(
        self,
        sources: Sequence[Source],
        markets: Mapping[str, SymbolMarket],
        clock: VirtualClock,
        hub: Hub,
        halt: Halt,
    ) -> None:
        missing = sorted({s.stream.symbol for s in sources} - set(markets))
        if missing:
            raise ConfigError(f"no instrument for {', '.join(missing)}: pass one for each symbol")
        self.markets = markets
        self.clock = clock
        self.hub = hub
        self.halt = halt
        order = {kind: i for i, kind in enumerate(KINDS)}
        self._cursors = [
            _Cursor(source, order.get(source.stream.kind, len(KINDS)) * len(sources) + i)
            for i, source in enumerate(sources)
        ]
        self._heap: list[tuple[int, int, int]] = []
        #: Takes every replayed event at its time (the trading desk's exchange), or None.
        self.exchange: Callable[[Any], None] | None = None
        #: Per symbol, the depth channels whose next frame is left out (a fault).
        self.skip_depth: dict[str, set[str]] = {}
        self.rows = 0
        self.frames = 0

    async def prime(self) -> int | None:
        """Read every source's first batch; returns the first event time (None: no data)."""
        for index, cursor in enumerate(self._cursors):
            if await self._next_chunk(cursor):
                heapq.heappush(self._heap, (cursor.chunk.times[0], cursor.rank, index))  # type: ignore[union-attr]
        return self._heap[0][0] if self._heap else None

    async def _next_chunk(self, cursor: _Cursor) -> bool:
        """Move ``cursor`` to its next non-empty batch; False at the end of its source."""
        async for batch in cursor.iterator:
            if len(batch):
                cursor.chunk = self._chunk(cursor, batch)
                cursor.row = 0
                return True
        return False

    def _chunk(self, cursor: _Cursor, batch: Batch) -> Chunk:
        market = self.markets[cursor.symbol]
        if isinstance(batch, DepthBatch):
            first, final, prev, market.assigned_id = assign_ids(batch, market.assigned_id)
            cursor.events = batch.events(batch.ts_exchange, batch.ts_exchange)
            return DepthChunk(batch, market.grids, first=first, final=final, prev_final=prev)
        if self.exchange is not None:
            cursor.events = batch.events(batch.ts_exchange, batch.ts_exchange)
        return RowChunk(batch, market.grids)

    async def run(self, until: int | None = None) -> None:
        """Replay to the end of every source, or up to replay time ``until`` (rows at it
        included; the clock then stands at ``until``), or until ``halt``."""
        clock, heap, halt = self.clock, self._heap, self.halt
        cursors = self._cursors
        since_yield = 0
        while heap:
            when = heap[0][0]
            if until is not None and when > until:
                clock.advance(until)
                return
            due = clock.next_due()
            if due is not None and due < when:
                # An action before the next row: a timer, or an order a lockstep client
                # sent (the exchange sees market data first, then orders, at one time).
                if due > clock.now() and clock.paced and not await clock.pace(due, halt):
                    return
                earlier = clock.next_due()
                if earlier is None or earlier >= due:
                    clock.advance(due)
                await self._control()
                continue
            if when > clock.now():
                if clock.paced and not await clock.pace(when, halt):
                    return
                due = clock.next_due()
                if due is not None and due < when:  # scheduled while pacing: first
                    continue
                clock.advance(when, inclusive=False)  # actions at ``when`` follow its rows
                await self._control()
            _, rank, index = heapq.heappop(heap)
            cursor = cursors[index]
            chunk = cursor.chunk
            assert chunk is not None
            await self._row(cursor, chunk, cursor.row)
            self.rows += 1
            cursor.row += 1
            if cursor.row < len(chunk.times) or await self._next_chunk(cursor):
                heapq.heappush(heap, (cursor.chunk.times[cursor.row], rank, index))  # type: ignore[union-attr]
            since_yield += 1
            if since_yield >= YIELD_EVERY:
                since_yield = 0
                await asyncio.sleep(0)
                if halt.requested:
                    return

    async def _control(self) -> None:
        """Run the control work the clock's timers queued (pings, disconnects, idle frames)."""
        hub = self.hub
        if hub.control:
            work, hub.control = hub.control, []
            for job in work:
                await job()

    async def _row(self, cursor: _Cursor, chunk: Chunk, row: int) -> None:
        market = self.markets[cursor.symbol]
        kind = cursor.kind
        if kind == "depth":
            self._apply_depth(cursor, chunk, market, row)
        elif kind == "mark_price":
            self._mark(chunk.batch, market, row)
        elif kind == "open_interest":
            batch = chunk.batch
            assert isinstance(batch, OpenInterestBatch)
            market.open_interest = (float(batch.value[row]), int(batch.ts_exchange[row]))
        if self.exchange is not None:
            self.exchange(cursor.events[row])
        subscribers = self.hub.subscribers
        skip = self.skip_depth.get(cursor.symbol) if kind == "depth" else None
        for channel, name in cursor.channels:
            if subscribers.get(name):
                frames = chunk.frames(channel)
                due, k = frames.due, frames.cursor
                while k < len(due) and due[k] < row:
                    k += 1
                if k < len(due) and due[k] == row:
                    if skip is not None and channel in skip:  # the fault: one id left out
                        skip.discard(channel)
                    else:
                        await self.hub.publish(name, frames.payloads[k])
                        self.frames += 1
                    k += 1
                frames.cursor = k
        if skip is not None and not skip:
            del self.skip_depth[cursor.symbol]
        if kind == "depth":
            await self._book_ticker(cursor.symbol, market, chunk, row)

    def _apply_depth(self, cursor: _Cursor, chunk: Chunk, market: SymbolMarket, row: int) -> None:
        assert isinstance(chunk, DepthChunk)
        event = cursor.events[row]
        market.book_for(chunk.has_ids).apply(event)
        market.last_id = chunk.final_ids[row]
        if market.first_depth is None:
            market.first_depth = event.ts_exchange
        if event.is_snapshot:
            market.snapshot_seen = True

    async def _book_ticker(self, symbol: str, market: SymbolMarket, chunk: Chunk, row: int) -> None:
        name = stream_name(symbol, BOOK_TICKER)
        if not self.hub.subscribers.get(name):
            market.top = None
            return
        if market.depth_unavailable(self.clock.now(), self.hub.config.warmup) is not None:
            return
        top = market.best()
        if top is None or top == market.top:
            return
        market.top = top
        payload = book_ticker(market.grids, symbol, market.last_id, chunk.times[row] // MS, top)
        await self.hub.publish(name, payload)
        self.frames += 1

    @staticmethod
    def _mark(batch: Batch, market: SymbolMarket, row: int) -> None:
        assert isinstance(batch, MarkPriceBatch)
        market.mark = Mark(
            int(batch.ts_exchange[row]),
            float(batch.mark[row]),
            float(batch.index[row]),
            float(batch.settle[row]),
            float(batch.funding_rate[row]),
            int(batch.next_funding_time[row]),
        )
