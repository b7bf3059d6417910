"""When funding is due, and what the mark stream did not say about it.

Each mark event names the next funding time and the current rate. At the first mark at
or after a funding time ``T`` the position pays with the rate of the last mark before
``T``. A mark stream with a hole can skip funding times: then only one is settled, and
the run says so in a data-quality note (never silently), with how many were skipped.
Binance funds every 8 h at most; once two funding times were settled the interval
between them is the symbol's own.
"""

from __future__ import annotations

from ..events import MarkPrice
from ..feed.quality import DataQuality
from ..units import HOUR

#: The longest funding interval of the venue (Binance: 8 h; some symbols fund every 1-4 h).
MAX_INTERVAL = 8 * HOUR


class FundingClock:
    """Per symbol: the funding time due and its rate, and the last time settled."""

    __slots__ = ("_due", "_settled")

    def __init__(self) -> None:
        self._due: dict[str, tuple[int, float]] = {}
        self._settled: dict[str, int] = {}

    def on_mark(self, mark: MarkPrice, quality: DataQuality) -> tuple[int, float] | None:
        """The funding ``(time, rate)`` this mark settles, if one is due; remembers the
        mark's next funding time and rate; skipped funding times go to ``quality``."""
        symbol = mark.symbol
        due = self._due.get(symbol)
        self._due[symbol] = (mark.next_funding_time, mark.funding_rate)
        if due is None or mark.ts_exchange < due[0]:
            return None
        self._check_skipped(symbol, due[0], mark, quality)
        self._settled[symbol] = due[0]
        return due

    def _check_skipped(self, symbol: str, time: int, mark: MarkPrice, quality: DataQuality) -> None:
        previous = self._settled.get(symbol)
        interval = MAX_INTERVAL if previous is None else min(time - previous, MAX_INTERVAL)
        if interval <= 0:
            return
        skipped = (mark.next_funding_time - time) // interval - 1
        if skipped > 0:
            quality.notes.append(
                f"{symbol}.mark_price: the mark stream skipped {skipped} funding time(s) "
                f"after {time} ns (next funding time {mark.next_funding_time} ns): funding "
                "there was not charged; only the one at the first mark after the hole was"
            )
