"""The causal merge: many sources in, one order of events on each timeline out.

Each source is read by its own prefetch task into a small bounded buffer (back-pressure),
and each batch is prepared there once: checked, given ``ts_local`` by its feed model,
clamped, counted and turned into event objects. The merge then works in *epochs*: the
horizon ``H`` is the smallest last ``ts_exchange`` buffered over all live streams, so no
row still unread can happen before ``H`` (one may share ``H`` itself and rank first on a
tie). Every buffered row strictly before ``H`` is sorted onto the exchange timeline (by
``ts_exchange``) and every row whose ``ts_local`` is strictly before ``H`` onto the
strategy timeline (by ``ts_local``); later rows wait. A stream
is read again only when its buffer is used up, i.e. when its next row could be the next to
happen, so slow storage can delay the run but never reorder it. Ties break by
``(time, stream rank, row sequence within the stream)``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import numpy as np
import numpy.typing as npt
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..errors import ConfigError, DataError, OutOfOrderError, SourceError, StreamsimError
from .batches import KINDS, Batch
from .feed_models import Constant, FeedModel, Recorded
from .quality import DataQuality, StreamQuality
from .sources import Source, Stream

IntArray = npt.NDArray[np.int64]
OutOfOrderPolicy = Literal["fail", "clamp"]
FeedConfig = FeedModel | dict[str, FeedModel] | None

_EMPTY = np.empty(0, dtype=np.int64)


@dataclass(slots=True)
class Prepared:
    """One batch after the feed: times final, events built."""

    ts_exchange: IntArray
    ts_local: IntArray
    events: list[Any]


@dataclass(slots=True)
class Epoch:
    """Everything up to the horizon, sorted onto both timelines."""

    horizon: float
    first_time: int
    ex_times: list[int]
    ex_events: list[Any]
    local_times: list[int]
    local_events: list[Any]
    local_streams: list[int]
    local_stream_array: IntArray


#: What a key of ``feed`` may be, for its errors.
FEED_KEYS = (
    f'"*" (every stream), a stream kind ({", ".join(KINDS)}) or SYMBOL.kind '
    '(such as "BTCUSDT.trades")'
)


def feed_key_error(key: Any) -> str | None:
    """Why ``key`` cannot be a key of a feed table (``None``: it can)."""
    if isinstance(key, str) and (key == "*" or key in KINDS):
        return None
    if isinstance(key, str):
        symbol, dot, kind = key.rpartition(".")
        if dot and symbol and kind in KINDS:
            return None
    return f"unknown feed key {key!r}; a key is {FEED_KEYS}"


def pick_models(streams: list[Stream], feed: FeedConfig) -> list[FeedModel | None]:
    """Each stream's model (see :func:`pick_model`); a key of ``feed`` that is malformed
    or matches none of ``streams`` is a :class:`ConfigError` (a typo would otherwise
    leave its stream on the default model without a word)."""
    if isinstance(feed, dict):
        names = {str(stream) for stream in streams} | {stream.kind for stream in streams}
        for key in feed:
            problem = feed_key_error(key)
            if problem is not None:
                raise ConfigError(f"feed: {problem}")
            if key != "*" and key not in names:
                raise ConfigError(
                    f"feed key {key!r} matches no stream of this run; its streams are "
                    + ", ".join(str(stream) for stream in streams)
                )
    return [pick_model(stream, feed) for stream in streams]


def pick_model(stream: Stream, feed: FeedConfig) -> FeedModel | None:
    """The model configured for ``stream``: by full name, then kind, then ``"*"``."""
    if feed is None or not isinstance(feed, dict):
        return feed
    for key in (str(stream), stream.kind, "*"):
        if key in feed:
            return feed[key]
    return None


class StreamFeed:
    """Per-stream preparation: order check, feed model, clamps, counts, events."""

    def __init__(
        self,
        stream: Stream,
        rank: int,
        model: FeedModel | None,
        policy: OutOfOrderPolicy,
        quality: DataQuality,
    ) -> None:
        self.stream = stream
        self.rank = rank
        self._configured = model
        self.model: FeedModel | None = None
        self.policy = policy
        self._quality = quality
        self.quality: StreamQuality | None = None
        self._last_ex: int | None = None
        self._last_local: int | None = None
        self._seq = 0

    def _bind_model(self, batch: Batch) -> FeedModel:
        if self._configured is not None:
            model = copy.deepcopy(self._configured)
        elif batch.ts_recv is not None:
            model = Recorded()
        else:
            model = Constant(0)
            self._quality.notes.append(
                f"{self.stream}: no ts_recv and no feed model configured; using constant(0)"
            )
        self.model = model
        self.quality = StreamQuality(str(self.stream), model.describe())
        self._quality.streams[str(self.stream)] = self.quality
        return model

    def prepare(self, batch: Batch) -> Prepared:
        if batch.symbol != self.stream.symbol or batch.kind != self.stream.kind:
            raise DataError(f"stream {self.stream}: got a {batch.kind} batch of {batch.symbol}")
        batch.validate()
        model = self.model or self._bind_model(batch)
        quality = self.quality
        assert quality is not None
        ex = self._check_order(batch.ts_exchange, quality)
        recv = batch.ts_recv
        local = model.local_times(ex, recv, quality)
        low = local < ex
        if low.any():
            quality.clamped_to_exchange += int(low.sum())
            local = np.maximum(local, ex)
        if recv is not None:
            if model.not_before_recv:
                held = local < recv
                if held.any():
                    quality.raised_to_recv += int(held.sum())
                    local = np.maximum(local, recv)
            else:
                early = recv - local
                shown = early > 0
                if shown.any():
                    quality.shown_before_recv += int(shown.sum())
                    quality.shown_before_recv_max_ns = max(
                        quality.shown_before_recv_max_ns, int(early.max())
                    )
                    quality.shown_before_recv_total_ns += int(early[shown].sum())
        local = self._monotone(local, quality)
        n = len(ex)
        quality.rows += n
        if n:
            if quality.first_ts_exchange is None:
                quality.first_ts_exchange = int(ex[0])
            quality.last_ts_exchange = int(ex[-1])
        self._seq += n
        return Prepared(ex, local, batch.events(ex, local))

    def _check_order(self, ex: IntArray, quality: StreamQuality) -> IntArray:
        if not len(ex):
            return ex
        start = ex[0] if self._last_ex is None else self._last_ex
        steps = np.diff(ex, prepend=start)
        if (steps < 0).any():
            if self.policy == "fail":
                i = int(np.flatnonzero(steps < 0)[0])
                previous = int(ex[i - 1]) if i else int(start)
                raise OutOfOrderError(str(self.stream), self._seq + i, previous, int(ex[i]))
            clamped = np.maximum.accumulate(np.maximum(ex, start))
            moved = clamped != ex
            quality.exchange_backwards += int(moved.sum())
            quality.exchange_backwards_max_ns = max(
                quality.exchange_backwards_max_ns, int((clamped - ex).max())
            )
            ex = clamped
        self._last_ex = int(ex[-1])
        return ex

    def _monotone(self, local: IntArray, quality: StreamQuality) -> IntArray:
        if not len(local):
            return local
        floor = local[0] if self._last_local is None else self._last_local
        clamped = np.maximum.accumulate(np.maximum(local, floor))
        moved = clamped != local
        if moved.any():
            quality.monotone_clamped += int(moved.sum())
            quality.monotone_max_shift_ns = max(
                quality.monotone_max_shift_ns, int((clamped - local).max())
            )
        self._last_local = int(clamped[-1])
        return clamped


class _Reader:
    """Prefetches one source's prepared batches and holds the rows not yet merged."""

    def __init__(self, source: Source, feed: StreamFeed, prefetch: int) -> None:
        self.source = source
        self.feed = feed
        send, receive = anyio.create_memory_object_stream[Prepared](max_buffer_size=prefetch)
        self._send: MemoryObjectSendStream[Prepared] = send
        self._receive: MemoryObjectReceiveStream[Prepared] = receive
        self.ended = False
        self.ex = _EMPTY
        self.local = _EMPTY
        self.events: list[Any] = []
        self.pos = 0
        self.pend_local = _EMPTY
        self.pend_events: list[Any] = []

    async def pump(self) -> None:
        last: int | None = None
        async with self._send:
            try:
                async for batch in self.source:
                    prepared = self.feed.prepare(batch)
                    if len(prepared.ts_exchange):
                        last = int(prepared.ts_exchange[-1])
                        await self._send.send(prepared)
            except StreamsimError:
                raise
            except Exception as exc:
                raise SourceError(str(self.feed.stream), last, exc) from exc

    async def _receive_next(self) -> Prepared | None:
        try:
            return self._receive.receive_nowait()
        except anyio.WouldBlock:
            try:
                return await self._receive.receive()
            except anyio.EndOfStream:
                return None
        except anyio.EndOfStream:
            return None

    async def fill(self) -> None:
        """Read until a buffered row is earlier than the last one, or the source ends.

        Until then the next unread row could share the last buffered time, so that time
        cannot bound the epoch.
        """
        while not self.ended and (self.pos == len(self.ex) or self.ex[self.pos] == self.ex[-1]):
            batch = await self._receive_next()
            if batch is None:
                self.ended = True
            elif self.pos == len(self.ex):
                self.ex, self.local, self.events, self.pos = (
                    batch.ts_exchange,
                    batch.ts_local,
                    batch.events,
                    0,
                )
            else:
                pos = self.pos
                self.ex = np.concatenate((self.ex[pos:], batch.ts_exchange))
                self.local = np.concatenate((self.local[pos:], batch.ts_local))
                self.events = self.events[pos:] + batch.events
                self.pos = 0

    def close(self) -> None:
        """Release both ends of the prefetch buffer (the run is over)."""
        self._send.close()
        self._receive.close()

    @property
    def drained(self) -> bool:
        return self.ended and self.pos == len(self.ex) and not self.pend_events


class Merge:
    """Causal merge of several sources into epochs (see the module docstring)."""

    def __init__(
        self,
        sources: list[Source],
        feed: FeedConfig,
        quality: DataQuality,
        out_of_order: OutOfOrderPolicy = "fail",
        prefetch: int = 4,
        exchange_timeline: bool = True,
    ) -> None:
        seen: set[Stream] = set()
        self.readers: list[_Reader] = []
        models = pick_models([source.stream for source in sources], feed)
        for rank, (source, model) in enumerate(zip(sources, models, strict=True)):
            stream = source.stream
            if stream in seen:
                raise DataError(f"stream {stream} is given by two sources")
            seen.add(stream)
            feed_stream = StreamFeed(stream, rank, model, out_of_order, quality)
            self.readers.append(_Reader(source, feed_stream, max(prefetch, 1)))
        self.streams = [str(r.feed.stream) for r in self.readers]
        self._exchange_timeline = exchange_timeline
        self.last_local: int | None = None

    def start(self, group: TaskGroup) -> None:
        """Start every reader's prefetch task in ``group``."""
        for reader in self.readers:
            group.start_soon(reader.pump, name=f"streamsim source {reader.feed.stream}")

    def close(self) -> None:
        """Release every reader's buffer."""
        for reader in self.readers:
            reader.close()

    async def next_epoch(self) -> Epoch | None:
        """The next epoch, or None when every stream is exhausted and nothing is pending.

        Rows strictly before the horizon are released (a row still unread may share the
        horizon's time and rank first). Parts are concatenated in stream-rank order, each
        stream's rows in sequence, so a stable sort on time alone yields the
        ``(time, rank, sequence)`` order.
        """
        for reader in self.readers:
            await reader.fill()
        if all(reader.drained for reader in self.readers):
            return None
        bounds = [int(r.ex[-1]) for r in self.readers if not r.ended]
        horizon: float = min(bounds) if bounds else math.inf
        ex_parts: list[IntArray] = []
        ex_events: list[Any] = []
        local_parts: list[IntArray] = []
        local_events: list[Any] = []
        rank_parts: list[IntArray] = []
        for reader in self.readers:
            start = reader.pos
            stop = (
                len(reader.ex)
                if horizon == math.inf
                else int(np.searchsorted(reader.ex, horizon, side="left"))
            )
            local = reader.pend_local
            evs = reader.pend_events
            if stop > start:
                reader.pos = stop
                new_events = reader.events[start:stop]
                ex_parts.append(reader.ex[start:stop])
                ex_events.extend(new_events)
                local = np.concatenate((local, reader.local[start:stop]))
                evs = evs + new_events
            if not evs:
                continue
            cut = (
                len(local)
                if horizon == math.inf
                else int(np.searchsorted(local, horizon, side="left"))
            )
            reader.pend_local = local[cut:]
            reader.pend_events = evs[cut:]
            if cut:
                local_parts.append(local[:cut])
                local_events.extend(evs[:cut])
                rank_parts.append(np.full(cut, reader.feed.rank, dtype=np.int64))
        ex_times: list[int] = []
        sorted_ex: list[Any] = []
        first_time: int | None = None
        if ex_parts:
            ex = np.concatenate(ex_parts)
            first_time = int(ex.min())
            if self._exchange_timeline:
                order = np.argsort(ex, kind="stable")
                ex_times = ex[order].tolist()
                sorted_ex = list(map(ex_events.__getitem__, order.tolist()))
        if local_parts:
            local = np.concatenate(local_parts)
            order = np.argsort(local, kind="stable")
            local = local[order]
            ranks = np.concatenate(rank_parts)[order]
            released = list(map(local_events.__getitem__, order.tolist()))
            self.last_local = int(local[-1])
        else:
            local = _EMPTY
            ranks = _EMPTY
            released = []
        if first_time is None:
            first_time = int(local[0]) if len(local) else 0
        return Epoch(
            horizon=horizon,
            first_time=first_time,
            ex_times=ex_times,
            ex_events=sorted_ex,
            local_times=local.tolist(),
            local_events=released,
            local_streams=ranks.tolist(),
            local_stream_array=ranks,
        )
