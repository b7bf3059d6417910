"""Market events as strategies receive them.

Every event carries ``symbol``, ``ts_exchange`` (venue time), ``ts_recv`` (recorder receive
time, ``None`` when the data has none) and ``ts_local`` (when the strategy may see it), all
``int`` nanoseconds. Prices inside the book and matching are integer ticks and sizes integer
lots; mark, index and other reference prices are floats in the quote currency. Events are
shared between strategies and both timelines: treat them as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

BUY = 1
SELL = -1


@dataclass(slots=True)
class Trade:
    """One trade. ``side`` is the aggressor: ``BUY`` (+1) or ``SELL`` (-1)."""

    symbol: str
    ts_exchange: int
    ts_recv: int | None
    ts_local: int
    price: int
    qty: int
    side: int
    trade_id: int


class Levels:
    """The level arrays of one batch of depth messages, shared by its messages (read-only).

    Message ``i`` owns levels ``starts[i]:ends[i]``: bids up to ``mids[i]``, then asks.
    Books read the derived arrays of :meth:`for_book`, computed once per batch.
    """

    __slots__ = ("_for_book", "ends", "mids", "price", "qty", "starts")

    def __init__(self, price: IntArray, qty: IntArray, offsets: IntArray, bid_counts: IntArray):
        self.price = price
        self.qty = qty
        self.starts: list[int] = offsets[:-1].tolist()
        self.mids: list[int] = (offsets[:-1] + bid_counts).tolist()
        self.ends: list[int] = offsets[1:].tolist()
        self._for_book: BookLevels | None = None

    def for_book(self) -> BookLevels:
        """Per-batch arrays a book applies messages with (computed on first use)."""
        if self._for_book is None:
            self._for_book = BookLevels(self)
        return self._for_book


_LOWEST = np.iinfo(np.int64).min
_HIGHEST = np.iinfo(np.int64).max


class BookLevels:
    """Whole-batch precomputation for books: one vectorised pass instead of one per message.

    Within a message the last row for a (side, price) wins; the rows it overrides are
    dropped here, so a book applies each message with one plain assignment. ``key``
    interleaves the sides (``2 * price`` for bids, ``2 * price + 1`` for asks) and
    ``qty`` holds the sizes of the rows kept; message ``i`` owns ``starts[i]:ends[i]`` of
    them. Per message also: lowest and highest price, best bid and best ask added
    (size > 0), or the int64 extremes when there are none.
    """

    __slots__ = ("ends", "high", "key", "low", "qty", "starts", "top_ask", "top_bid")

    def __init__(self, levels: Levels) -> None:
        price, qty = levels.price, levels.qty
        starts = np.asarray(levels.starts, dtype=np.int64)
        sizes = np.asarray(levels.ends, dtype=np.int64) - starts
        n_messages = len(starts)
        message = np.repeat(np.arange(n_messages, dtype=np.int64), sizes)
        is_ask = np.arange(len(price)) >= np.asarray(levels.mids, dtype=np.int64)[message]
        key = 2 * price + is_ask
        if len(key):
            span = int(key.max()) - int(key.min()) + 1
            order = np.argsort(message * span + (key - key.min()), kind="stable")
            grouped = (message * span + key)[order]
            last = np.ones(len(order), dtype=np.bool_)
            last[:-1] = grouped[1:] != grouped[:-1]
            kept = np.sort(order[last])
        else:
            kept = np.arange(0, dtype=np.int64)
        self.key = key[kept]
        self.qty = qty[kept]
        price = price[kept]
        is_ask = is_ask[kept]
        counts = np.bincount(message[kept], minlength=n_messages)
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.starts: list[int] = offsets[:-1].tolist()
        self.ends: list[int] = offsets[1:].tolist()
        low = np.full(n_messages, _HIGHEST, dtype=np.int64)
        high = np.full(n_messages, _LOWEST, dtype=np.int64)
        top_bid = high.copy()
        top_ask = low.copy()
        filled = counts > 0
        cuts = offsets[:-1][filled]
        if len(cuts):
            live = self.qty > 0
            low[filled] = np.minimum.reduceat(price, cuts)
            high[filled] = np.maximum.reduceat(price, cuts)
            top_bid[filled] = np.maximum.reduceat(np.where(live & ~is_ask, price, _LOWEST), cuts)
            top_ask[filled] = np.minimum.reduceat(np.where(live & is_ask, price, _HIGHEST), cuts)
        self.low: list[int] = low.tolist()
        self.high: list[int] = high.tolist()
        self.top_bid: list[int] = top_bid.tolist()
        self.top_ask: list[int] = top_ask.tolist()


@dataclass(slots=True)
class DepthUpdate:
    """One venue depth message: bid and ask levels in ticks and lots (size 0 deletes a level).

    ``first``, ``final`` and ``prev_final`` are the venue's update ids (Binance ``U``, ``u``,
    ``pu``; -1 where the venue has none). Level arrays are NumPy views into the batch the
    message came in (``levels``, message number ``index``), so a message costs no Python
    object per level.
    """

    symbol: str
    ts_exchange: int
    ts_recv: int | None
    ts_local: int
    first: int
    final: int
    prev_final: int
    is_snapshot: bool
    levels: Levels
    index: int

    @property
    def bid_prices(self) -> IntArray:
        lv, i = self.levels, self.index
        return lv.price[lv.starts[i] : lv.mids[i]]

    @property
    def bid_qtys(self) -> IntArray:
        lv, i = self.levels, self.index
        return lv.qty[lv.starts[i] : lv.mids[i]]

    @property
    def ask_prices(self) -> IntArray:
        lv, i = self.levels, self.index
        return lv.price[lv.mids[i] : lv.ends[i]]

    @property
    def ask_qtys(self) -> IntArray:
        lv, i = self.levels, self.index
        return lv.qty[lv.mids[i] : lv.ends[i]]


@dataclass(slots=True)
class MarkPrice:
    """Mark price with index, estimated settle price and funding."""

    symbol: str
    ts_exchange: int
    ts_recv: int | None
    ts_local: int
    mark: float
    index: float
    settle: float
    funding_rate: float
    next_funding_time: int


@dataclass(slots=True)
class OpenInterest:
    """Open interest of the bucket that starts at ``bucket_time`` (its ``ts_exchange``)."""

    symbol: str
    ts_exchange: int
    ts_recv: int | None
    ts_local: int
    value: float
    notional: float
    bucket_time: int


@dataclass(slots=True)
class Ticker:
    """24-hour rolling statistics."""

    symbol: str
    ts_exchange: int
    ts_recv: int | None
    ts_local: int
    last_price: float
    open: float
    high: float
    low: float
    base_volume: float
    quote_volume: float


@dataclass(slots=True)
class Liquidation:
    """A forced order the venue published. ``side`` is the liquidation order's side."""

    symbol: str
    ts_exchange: int
    ts_recv: int | None
    ts_local: int
    side: int
    price: float
    qty: float
    avg_price: float


@dataclass(slots=True)
class Bar:
    """OHLCV bar; ``ts_exchange`` is the bar's close time, ``interval`` its length in ns."""

    symbol: str
    ts_exchange: int
    ts_recv: int | None
    ts_local: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    interval: int


MarketEvent = Trade | DepthUpdate | MarkPrice | OpenInterest | Ticker | Liquidation | Bar
