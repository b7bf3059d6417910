"""Marking without a mark-price stream: a fallback the run must ask for by name.

The simulated venue marks positions to market, settles funding and checks liquidation on
mark-price events. A symbol traded with no ``mark_price`` stream has none of these, and
an account deep under water would report its entry-price equity. So a run must either
fail at start (the default: :func:`plan_marks` raises :class:`ConfigError` naming the
symbols) or name a fallback mark:

* ``"mid"``: the exchange-side book's mid, read after a depth message the book applied
  (never from a book that is invalid or one-sided);
* ``"last"``: the price of the last trade.

Either marks a symbol at most once per :data:`FALLBACK_INTERVAL` of exchange time (the
cadence of Binance's ``markPrice@1s``), on the first qualifying event at or after the
next due time. Funding is never charged from a fallback: the rate comes only with
mark-price data. The run's data notes say both (:meth:`FallbackMarks.notes`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from ..book import L2Book
from ..errors import ConfigError
from ..events import DepthUpdate, Trade
from ..instruments import Instrument
from ..units import SECOND

MarkFallback = Literal["mid", "last"]
#: The values ``SimExchange(mark_fallback=...)`` takes (None: no fallback, fail at start).
MARK_FALLBACKS: tuple[MarkFallback | None, ...] = (None, "mid", "last")
#: Exchange time between two fallback marks of one symbol, at least.
FALLBACK_INTERVAL = SECOND

_SOURCES = {"mid": "the exchange-side book's mid", "last": "the last trade price"}


def check_mark_fallback(value: object) -> MarkFallback | None:
    """``value`` if it is a mark fallback, else a :class:`ConfigError` naming the choices."""
    if value not in MARK_FALLBACKS:
        raise ConfigError(f"mark_fallback must be None, 'mid' or 'last', got {value!r}")
    return value


def unmarked_symbols(symbols: Iterable[str], streams: Iterable[str]) -> list[str]:
    """The symbols of ``symbols`` with market data in ``streams`` (names ``SYMBOL.kind``)
    but no ``SYMBOL.mark_price`` stream, sorted."""
    kinds: dict[str, set[str]] = {}
    for name in streams:
        symbol, _, kind = name.rpartition(".")
        kinds.setdefault(symbol, set()).add(kind)
    return sorted(s for s in set(symbols) if s in kinds and "mark_price" not in kinds[s])


class FallbackMarks:
    """Which symbols are marked from ``source`` and when the next mark of each is due."""

    __slots__ = ("_due", "event_type", "marks", "source", "symbols")

    def __init__(self, source: MarkFallback, symbols: Iterable[str]) -> None:
        self.source: MarkFallback = source
        self.symbols = frozenset(symbols)
        #: The event type that can carry a fallback mark (depth for mid, trades for last).
        self.event_type: type = DepthUpdate if source == "mid" else Trade
        self._due: dict[str, int] = {}
        #: Fallback marks applied, per symbol.
        self.marks: dict[str, int] = dict.fromkeys(sorted(self.symbols), 0)

    def price(
        self, event: DepthUpdate | Trade, book: L2Book, instrument: Instrument
    ) -> float | None:
        """The fallback mark ``event`` gives its symbol now, or None when none is due
        (not a fallback symbol, too soon after the last mark, no usable price)."""
        symbol = event.symbol
        now = event.ts_exchange
        if symbol not in self.symbols or now < self._due.get(symbol, now):
            return None
        if isinstance(event, Trade):
            ticks: float | None = event.price
        else:
            ticks = book.mid if book.valid else None
        if ticks is None:
            return None
        self._due[symbol] = now + FALLBACK_INTERVAL
        self.marks[symbol] += 1
        return instrument.ticks_to_price(1) * ticks

    def notes(self) -> list[str]:
        """The data-quality notes of a run marked from this fallback, one per symbol."""
        return [
            f"{symbol}: no mark_price stream; positions marked and liquidation checked from "
            f"{_SOURCES[self.source]} (mark_fallback={self.source!r}), at most once per "
            f"{FALLBACK_INTERVAL / SECOND:g} s of exchange time; funding was not charged "
            "(the funding rate comes only with mark-price data)"
            for symbol in sorted(self.symbols)
        ]


def plan_marks(
    symbols: Iterable[str], streams: Iterable[str], fallback: MarkFallback | None
) -> FallbackMarks | None:
    """The fallback marks a run over ``streams`` needs, None if every traded symbol has a
    mark stream; without a ``fallback`` a symbol lacking one is a :class:`ConfigError`
    naming it and the two fixes."""
    missing = unmarked_symbols(symbols, streams)
    if not missing:
        return None
    if fallback is None:
        names = ", ".join(missing)
        raise ConfigError(
            f"no mark_price stream for {names}: the simulated exchange marks positions, "
            "charges funding and checks liquidation from mark prices, so without them a "
            "losing position would look unmarked and never be liquidated. Add the "
            f"mark_price stream of {names} to the run, or mark from a fallback: "
            "SimExchange(mark_fallback='mid' or 'last'), in a config file "
            '[exchange] mark_fallback = "mid" (no funding is charged then)'
        )
    return FallbackMarks(fallback, missing)
