"""What the venue knows of each symbol at the replay time reached: its own L2 book (from
the replayed depth), the last mark price and the last open interest.

The book is :class:`streamsim.book.L2Book`, fed every depth message the replay reaches, so
a REST snapshot's ``lastUpdateId`` is the ``u`` of the last diff the venue has published
(or is publishing): a client's documented sync procedure works against it. Depth is served
once the book is whole: after a snapshot in the data, or, for data without one, after a
warm-up of replay time in which the book fills from the diffs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamsim.book import AWAITING_SNAPSHOT, BookPolicy, L2Book
from streamsim.instruments import Instrument
from streamsim.units import SECOND

from .frames import Grids


@dataclass(frozen=True, slots=True)
class Mark:
    """The last replayed mark price row (prices float, times ns)."""

    ts: int
    mark: float
    index: float
    settle: float
    funding_rate: float
    next_funding_time: int


@dataclass
class SymbolMarket:
    """One symbol's state on the venue side."""

    instrument: Instrument
    grids: Grids = field(init=False)
    book: L2Book | None = None
    #: The ``u`` of the last depth message applied (the venue's own when the data has none).
    last_id: int = 0
    #: The last id the venue assigned (data without update ids).
    assigned_id: int = 0
    first_depth: int | None = None
    snapshot_seen: bool = False
    #: The last best bid/ask (ticks, lots) sent as a bookTicker.
    top: tuple[int, int, int, int] | None = None
    mark: Mark | None = None
    open_interest: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        self.grids = Grids(self.instrument)

    def book_for(self, has_ids: bool) -> L2Book:
        """The book, created for data with update ids (checked by the ``pu`` chain) or
        without (the venue assigns ids; no checks)."""
        if self.book is None:
            self.book = L2Book(
                self.instrument.symbol,
                "futures" if has_ids else None,
                BookPolicy(crossed="keep"),
            )
        return self.book

    def depth_unavailable(self, now: int, warmup: int) -> str | None:
        """Why depth cannot be served at replay time ``now`` (None: it can)."""
        book = self.book
        symbol = self.instrument.symbol
        if book is None or self.first_depth is None:
            return f"no depth of {symbol} replayed yet"
        if not book.valid:
            if book.invalid_reason == AWAITING_SNAPSHOT:
                return f"the {symbol} book is warming up (no snapshot in the data yet)"
            return f"the {symbol} book is resyncing after {book.invalid_reason} in the data"
        if not self.snapshot_seen and now - self.first_depth < warmup:
            left = (warmup - (now - self.first_depth)) / SECOND
            return f"the {symbol} book is warming up ({left:.1f} s of replay time left)"
        return None

    def best(self) -> tuple[int, int, int, int] | None:
        """Best bid, its size, best ask, its size (None while a side is empty)."""
        book = self.book
        if book is None or book.best_bid is None or book.best_ask is None:
            return None
        return book.best_bid, book.best_bid_qty, book.best_ask, book.best_ask_qty
