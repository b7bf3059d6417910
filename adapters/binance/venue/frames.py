"""The venue's stream payloads, encoded from the NumPy batches a :class:`Source` yields.

A :class:`Chunk` is one batch of one stream. The frames of each channel (a depth speed,
aggTrade, markPrice, ...) are built for the whole chunk the first time a subscriber needs
that channel, with one Arrow pass for every decimal string of the chunk and one
``dumps`` per frame (pre-built level lists go in as ``orjson.Fragment``). Frame ``k`` of a
channel is due when the replay reaches row ``due[k]`` of the chunk.

Depth: ``depth@0ms`` sends each recorded diff as it is (levels in recorded order); slower
speeds merge the diffs of each window of replay time into one (``U`` and ``pu`` of its
first diff, ``u`` of its last, the last size of each price), as the venue aggregates.
Windows also end at a batch's end and at a snapshot. Snapshots in the data are never sent
as diffs (the venue has none): they update the venue's own book, which REST serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from adapters.binance.wire.codec import dumps
from streamsim.events import SELL
from streamsim.feed.batches import Batch, DepthBatch, LiquidationBatch, MarkPriceBatch, TradeBatch
from streamsim.instruments import Instrument
from streamsim.units import MS

from .decimals import Grid, float_strings, json_lists, level_pairs
from .streams import DEPTH_INTERVALS, ROW_CHANNELS

IntArray = npt.NDArray[np.int64]


@dataclass
class ChannelFrames:
    """One channel's frames of one chunk: payload ``k`` is due at row ``due[k]``."""

    due: list[int]
    payloads: list[bytes]
    #: Next frame to send (the replay moves it).
    cursor: int = 0


def last_per_window(ts: IntArray, window: int) -> IntArray:
    """Rows that end a run of equal ``ts // window`` (all rows when ``window`` is 0)."""
    n = len(ts)
    if window <= 0 or n == 0:
        return np.arange(n, dtype=np.int64)
    key = ts // window
    ends = np.ones(n, dtype=np.bool_)
    ends[:-1] = key[1:] != key[:-1]
    return np.flatnonzero(ends)


class Grids:
    """The decimal grids of one instrument."""

    __slots__ = ("price", "qty")

    def __init__(self, instrument: Instrument) -> None:
        self.price = Grid(instrument.tick_size)
        self.qty = Grid(instrument.lot_size)


@dataclass
class Chunk:
    """One batch of one stream, its rows' replay times, and its frames built on demand."""

    batch: Batch
    grids: Grids
    times: list[int] = field(init=False)
    _frames: dict[str, ChannelFrames] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.times = self.batch.ts_exchange.tolist()

    def frames(self, channel: str) -> ChannelFrames:
        """The frames of ``channel`` (built on the first call)."""
        built = self._frames.get(channel)
        if built is None:
            built = self._frames[channel] = self._build(channel)
        return built

    def _build(self, channel: str) -> ChannelFrames:
        raise NotImplementedError


@dataclass
class DepthChunk(Chunk):
    """Depth diffs with the update ids the venue sends (assigned by the venue when the data
    has none: see :func:`assign_ids`)."""

    first: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    final: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    prev_final: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    _pairs: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        batch = self.batch
        assert isinstance(batch, DepthBatch)
        #: The ``u`` the venue sends for each message.
        self.final_ids: list[int] = self.final.tolist()
        #: Whether the data has its own update ids (checked by the venue's book).
        self.has_ids = bool(len(batch)) and int(batch.final.min()) >= 0

    def _build(self, channel: str) -> ChannelFrames:
        batch = self.batch
        assert isinstance(batch, DepthBatch)
        interval = DEPTH_INTERVALS[channel]
        diffs = np.flatnonzero(~np.asarray(batch.is_snapshot, dtype=np.bool_))
        if not len(diffs):
            return ChannelFrames([], [])
        starts = np.ones(len(diffs), dtype=np.bool_)
        if interval:
            key = batch.ts_exchange[diffs] // interval
            starts[1:] = (key[1:] != key[:-1]) | (diffs[1:] != diffs[:-1] + 1)
        group_of_diff = np.cumsum(starts) - 1
        n_groups = int(group_of_diff[-1]) + 1
        firsts = diffs[starts]
        lasts = diffs[np.concatenate((np.flatnonzero(starts)[1:] - 1, [len(diffs) - 1]))]
        group_of_message = np.full(len(batch), -1, dtype=np.int64)
        group_of_message[diffs] = group_of_diff
        offsets = batch.level_offsets
        sizes = np.diff(offsets)
        message_of_level = np.repeat(np.arange(len(batch), dtype=np.int64), sizes)
        position = np.arange(int(offsets[-1]), dtype=np.int64)
        is_ask = (position - offsets[:-1][message_of_level]) >= batch.bid_counts[message_of_level]
        group = group_of_message[message_of_level]
        rows = np.flatnonzero(group >= 0)
        if interval:
            rows = self._last_per_price(rows, group, is_ask)
        lists = 2 * group[rows] + is_ask[rows]
        if interval:  # a window's diffs interleave bids and asks: bids first, as sent
            order = np.argsort(lists, kind="stable")
            rows, lists = rows[order], lists[order]
        counts = np.bincount(lists, minlength=2 * n_groups)
        list_offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        texts = json_lists(self._level_pairs().take(rows), list_offsets)
        symbol = batch.symbol
        fragment = orjson.Fragment
        ts_ms = (batch.ts_exchange // MS).tolist()
        first, final, prev = self.first.tolist(), self.final.tolist(), self.prev_final.tolist()
        payloads = []
        for g, (lo, hi) in enumerate(zip(firsts.tolist(), lasts.tolist(), strict=True)):
            t = ts_ms[hi]
            payloads.append(
                dumps(
                    {
                        "e": "depthUpdate",
                        "E": t,
                        "T": t,
                        "s": symbol,
                        "U": first[lo],
                        "u": final[hi],
                        "pu": prev[lo],
                        "b": fragment(texts[2 * g]),
                        "a": fragment(texts[2 * g + 1]),
                    }
                )
            )
        return ChannelFrames(lasts.tolist(), payloads)

    def _level_pairs(self) -> Any:
        if self._pairs is None:
            batch = self.batch
            assert isinstance(batch, DepthBatch)
            grids = self.grids
            self._pairs = level_pairs(grids.price, grids.qty, batch.level_price, batch.level_qty)
        return self._pairs

    def _last_per_price(
        self, rows: IntArray, group: IntArray, is_ask: npt.NDArray[np.bool_]
    ) -> IntArray:
        """Of ``rows``, the last row of each (window, side, price), in their first order."""
        batch = self.batch
        assert isinstance(batch, DepthBatch)
        price = batch.level_price[rows]
        g, side = group[rows], is_ask[rows]
        order = np.lexsort((rows, price, side, g))
        same_next = np.zeros(len(order), dtype=np.bool_)
        ordered = (g[order], side[order], price[order])
        same_next[:-1] = (
            (ordered[0][1:] == ordered[0][:-1])
            & (ordered[1][1:] == ordered[1][:-1])
            & (ordered[2][1:] == ordered[2][:-1])
        )
        kept = np.sort(order[~same_next])
        return rows[kept]


def assign_ids(depth: DepthBatch, last: int) -> tuple[IntArray, IntArray, IntArray, int]:
    """Update ids for depth data that has none (``final`` -1, e.g. Tardis): each message
    advances ``u`` by its level count (at least 1), ``U = previous u + 1``, ``pu =
    previous u``; returns ``U, u, pu`` and the last ``u``. Data with ids keeps its own."""
    if not len(depth) or int(depth.final.min()) >= 0:
        last_id = int(depth.final[-1]) if len(depth) else last
        return depth.first, depth.final, depth.prev_final, last_id
    steps = np.maximum(np.diff(depth.level_offsets), 1)
    final = last + np.cumsum(steps)
    prev = np.concatenate(([last], final[:-1]))
    return prev + 1, final, prev, int(final[-1])


@dataclass
class RowChunk(Chunk):
    """Trades, mark prices or liquidations: one frame per kept row of each channel."""

    def _build(self, channel: str) -> ChannelFrames:
        batch = self.batch
        rows = last_per_window(batch.ts_exchange, ROW_CHANNELS[batch.kind][channel])
        if isinstance(batch, TradeBatch):
            payloads = self._trades(batch, rows)
        elif isinstance(batch, MarkPriceBatch):
            payloads = self._marks(batch, rows)
        else:
            assert isinstance(batch, LiquidationBatch)
            payloads = self._liquidations(batch, rows)
        return ChannelFrames(rows.tolist(), payloads)

    def _trades(self, batch: TradeBatch, rows: IntArray) -> list[bytes]:
        prices = self.grids.price.strings(batch.price[rows])
        qtys = self.grids.qty.strings(batch.qty[rows])
        symbol = batch.symbol
        out = []
        for t, trade_id, p, q, sell in zip(
            (batch.ts_exchange[rows] // MS).tolist(),
            batch.trade_id[rows].tolist(),
            prices,
            qtys,
            (batch.side[rows] == SELL).tolist(),
            strict=True,
        ):
            out.append(
                dumps(
                    {
                        "e": "aggTrade",
                        "E": t,
                        "a": trade_id,
                        "s": symbol,
                        "p": p,
                        "q": q,
                        "nq": q,
                        "f": trade_id,
                        "l": trade_id,
                        "T": t,
                        "m": sell,
                    }
                )
            )
        return out

    def _marks(self, batch: MarkPriceBatch, rows: IntArray) -> list[bytes]:
        columns = [
            float_strings(np.nan_to_num(values[rows]))
            for values in (batch.mark, batch.index, batch.settle, batch.funding_rate)
        ]
        symbol = batch.symbol
        return [
            dumps(
                {
                    "e": "markPriceUpdate",
                    "E": t,
                    "s": symbol,
                    "p": p,
                    "i": i,
                    "P": settle,
                    "r": r,
                    "T": funding,
                }
            )
            for t, p, i, settle, r, funding in zip(
                (batch.ts_exchange[rows] // MS).tolist(),
                *columns,
                (batch.next_funding_time[rows] // MS).tolist(),
                strict=True,
            )
        ]

    def _liquidations(self, batch: LiquidationBatch, rows: IntArray) -> list[bytes]:
        prices, qtys, averages = (
            float_strings(np.nan_to_num(values[rows]))
            for values in (batch.price, batch.qty, batch.avg_price)
        )
        symbol = batch.symbol
        out = []
        for t, sell, p, q, ap in zip(
            (batch.ts_exchange[rows] // MS).tolist(),
            (batch.side[rows] == SELL).tolist(),
            prices,
            qtys,
            averages,
            strict=True,
        ):
            order = {
                "s": symbol,
                "S": "SELL" if sell else "BUY",
                "o": "LIMIT",
                "f": "IOC",
                "q": q,
                "p": p,
                "ap": ap,
                "X": "FILLED",
                "l": q,
                "z": q,
                "T": t,
            }
            out.append(dumps({"e": "forceOrder", "E": t, "o": order}))
        return out


def book_ticker(
    grids: Grids, symbol: str, update_id: int, t_ms: int, top: tuple[int, ...]
) -> bytes:
    """A ``bookTicker`` payload from the venue book's best bid and ask (ticks and lots)."""
    bid, bid_qty, ask, ask_qty = top
    price, qty = grids.price, grids.qty
    return dumps(
        {
            "e": "bookTicker",
            "u": update_id,
            "s": symbol,
            "b": price.one(bid),
            "B": qty.one(bid_qty),
            "a": price.one(ask),
            "A": qty.one(ask_qty),
            "T": t_ms,
            "E": t_ms,
        }
    )
