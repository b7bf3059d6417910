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
    """Price and size arrays of the levels of a batch of depth messages (shared, read-only)."""

    __slots__ = ("price", "qty")

    def __init__(self, price: IntArray, qty: IntArray) -> None:
        self.price = price
        self.qty = qty


@dataclass(slots=True)
class DepthUpdate:
    """One venue depth message: bid and ask levels in ticks and lots (size 0 deletes a level).

    ``first``, ``final`` and ``prev_final`` are the venue's update ids (Binance ``U``, ``u``,
    ``pu``; -1 where the venue has none). Level arrays are NumPy views into the batch the
    message came in, so a message costs no Python object per level.
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
    start: int
    mid: int
    end: int

    @property
    def bid_prices(self) -> IntArray:
        return self.levels.price[self.start : self.mid]

    @property
    def bid_qtys(self) -> IntArray:
        return self.levels.qty[self.start : self.mid]

    @property
    def ask_prices(self) -> IntArray:
        return self.levels.price[self.mid : self.end]

    @property
    def ask_qtys(self) -> IntArray:
        return self.levels.qty[self.mid : self.end]


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
