"""Columnar batches of one stream: what a :class:`~streamsim.sources.Source` yields.

A batch holds NumPy columns for many rows of one stream; the merge turns each batch into
event objects once, with one C-level ``map`` per batch rather than a Python loop per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from itertools import repeat
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from .. import events as ev
from ..errors import DataError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Stream kinds, in their default tie-break rank order.
KINDS = ("depth", "trades", "mark_price", "open_interest", "ticker", "liquidations", "bars")


@dataclass(frozen=True, eq=False)
class Batch:
    """Rows of one stream of one symbol, ordered by ``ts_exchange``.

    Subclasses add one array per event field; all arrays have one entry per row.
    """

    kind: ClassVar[str]
    event_type: ClassVar[Callable[..., Any]]

    symbol: str
    ts_exchange: IntArray
    ts_recv: IntArray | None

    def __len__(self) -> int:
        return len(self.ts_exchange)

    def slice(self, start: int, stop: int) -> Self:
        """Rows ``[start, stop)`` as a batch of the same kind, of views (no copies)."""
        columns: dict[str, Any] = {}
        for f in fields(self)[1:]:
            column = getattr(self, f.name)
            columns[f.name] = None if column is None else column[start:stop]
        return replace(self, **columns)

    def _row_columns(self) -> list[Iterable[Any]]:
        """Per-row values of the event fields after the three times, in field order."""
        return [getattr(self, f.name).tolist() for f in fields(self)[3:]]

    def validate(self) -> None:
        """Check column lengths and integer time columns; raise :class:`DataError` if not."""
        n = len(self.ts_exchange)
        times = [("ts_exchange", self.ts_exchange)]
        if self.ts_recv is not None:
            times.append(("ts_recv", self.ts_recv))
        for name, column in times:
            if column.dtype != np.int64:
                raise DataError(f"{self.kind} batch of {self.symbol}: {name} must be int64 ns")
        for f in fields(self)[2:]:
            column = getattr(self, f.name)
            if column is not None and len(column) != n:
                raise DataError(
                    f"{self.kind} batch of {self.symbol}: column {f.name!r} has "
                    f"{len(column)} rows, ts_exchange has {n}"
                )

    def events(self, ts_exchange: IntArray, ts_local: IntArray) -> list[Any]:
        """Build this batch's events with the given (possibly clamped) times."""
        recv: Iterable[int | None] = repeat(None) if self.ts_recv is None else self.ts_recv.tolist()
        return list(
            map(
                self.event_type,
                repeat(self.symbol),
                ts_exchange.tolist(),
                recv,
                ts_local.tolist(),
                *self._row_columns(),
            )
        )


@dataclass(frozen=True, eq=False)
class TradeBatch(Batch):
    """Trades: price in ticks, qty in lots, side +1 (buyer aggressor) / -1."""

    kind = "trades"
    event_type = ev.Trade

    price: IntArray
    qty: IntArray
    side: npt.NDArray[np.int8]
    trade_id: IntArray


@dataclass(frozen=True, eq=False)
class DepthBatch(Batch):
    """Depth messages. Message ``i`` owns levels ``level_offsets[i]:level_offsets[i+1]``,
    bids first (``bid_counts[i]`` of them), then asks."""

    kind = "depth"
    event_type = ev.DepthUpdate

    first: IntArray
    final: IntArray
    prev_final: IntArray
    is_snapshot: BoolArray
    level_offsets: IntArray
    bid_counts: IntArray
    level_price: IntArray
    level_qty: IntArray

    def slice(self, start: int, stop: int) -> Self:
        """Messages ``[start, stop)`` with their levels, as views (offsets start at 0)."""
        start, stop, _ = slice(start, stop).indices(len(self))
        stop = max(start, stop)
        lo, hi = int(self.level_offsets[start]), int(self.level_offsets[stop])
        return replace(
            self,
            ts_exchange=self.ts_exchange[start:stop],
            ts_recv=None if self.ts_recv is None else self.ts_recv[start:stop],
            first=self.first[start:stop],
            final=self.final[start:stop],
            prev_final=self.prev_final[start:stop],
            is_snapshot=self.is_snapshot[start:stop],
            level_offsets=self.level_offsets[start : stop + 1] - lo,
            bid_counts=self.bid_counts[start:stop],
            level_price=self.level_price[lo:hi],
            level_qty=self.level_qty[lo:hi],
        )

    def validate(self) -> None:
        n = len(self.ts_exchange)
        for name in ("first", "final", "prev_final", "is_snapshot", "bid_counts"):
            if len(getattr(self, name)) != n:
                raise DataError(f"depth batch of {self.symbol}: column {name!r} length != {n}")
        if len(self.level_offsets) != n + 1:
            raise DataError(f"depth batch of {self.symbol}: level_offsets needs {n + 1} entries")
        if self.ts_exchange.dtype != np.int64:
            raise DataError(f"depth batch of {self.symbol}: ts_exchange must be int64 ns")
        total = int(self.level_offsets[-1]) if n else 0
        if len(self.level_price) != total or len(self.level_qty) != total:
            raise DataError(f"depth batch of {self.symbol}: level arrays need {total} entries")
        sizes = np.diff(self.level_offsets)
        if (sizes < 0).any() or (self.bid_counts < 0).any() or (self.bid_counts > sizes).any():
            raise DataError(f"depth batch of {self.symbol}: inconsistent level offsets")

    def _row_columns(self) -> list[Iterable[Any]]:
        return [
            self.first.tolist(),
            self.final.tolist(),
            self.prev_final.tolist(),
            self.is_snapshot.tolist(),
            repeat(
                ev.Levels(self.level_price, self.level_qty, self.level_offsets, self.bid_counts)
            ),
            range(len(self.first)),
        ]


@dataclass(frozen=True, eq=False)
class MarkPriceBatch(Batch):
    """Mark price rows (prices float, ``next_funding_time`` int ns)."""

    kind = "mark_price"
    event_type = ev.MarkPrice

    mark: FloatArray
    index: FloatArray
    settle: FloatArray
    funding_rate: FloatArray
    next_funding_time: IntArray


@dataclass(frozen=True, eq=False)
class OpenInterestBatch(Batch):
    """Open interest rows; ``ts_exchange`` is the bucket time."""

    kind = "open_interest"
    event_type = ev.OpenInterest

    value: FloatArray
    notional: FloatArray

    def _row_columns(self) -> list[Iterable[Any]]:
        # bucket_time is the venue's own stamp, kept even where the feed clamps ts_exchange.
        return [self.value.tolist(), self.notional.tolist(), self.ts_exchange.tolist()]


@dataclass(frozen=True, eq=False)
class TickerBatch(Batch):
    """24-hour ticker rows."""

    kind = "ticker"
    event_type = ev.Ticker

    last_price: FloatArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    base_volume: FloatArray
    quote_volume: FloatArray


@dataclass(frozen=True, eq=False)
class LiquidationBatch(Batch):
    """Liquidation orders the venue published."""

    kind = "liquidations"
    event_type = ev.Liquidation

    side: npt.NDArray[np.int8]
    price: FloatArray
    qty: FloatArray
    avg_price: FloatArray


@dataclass(frozen=True, eq=False)
class BarBatch(Batch):
    """OHLCV bars; ``ts_exchange`` is each bar's close time."""

    kind = "bars"
    event_type = ev.Bar

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    interval: IntArray
