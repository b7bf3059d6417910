"""The data-quality report a run returns: every clamp, correction and shift, counted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StreamQuality:
    """What the feed did to one stream's times.

    ``exchange_backwards``: rows whose ``ts_exchange`` went backwards (only with the clamp
    policy; the default fails). ``clamped_to_exchange``: rows whose modelled ``ts_local``
    fell before ``ts_exchange`` and were raised to it. ``offset_corrected``: rows the
    ``recorded`` model shifted to undo the recorder's clock offset, with the smallest and
    largest shift. ``shown_before_recv``: rows the strategy sees before the recorder had
    them (modelled delays only). ``raised_to_recv``: rows held back to ``ts_recv`` by
    ``not_before_recv``. ``monotone_clamped``: rows raised to keep ``ts_local``
    non-decreasing.
    """

    stream: str
    feed_model: str
    rows: int = 0
    exchange_backwards: int = 0
    exchange_backwards_max_ns: int = 0
    clamped_to_exchange: int = 0
    offset_corrected: int = 0
    offset_shift_min_ns: int | None = None
    offset_shift_max_ns: int | None = None
    shown_before_recv: int = 0
    shown_before_recv_max_ns: int = 0
    shown_before_recv_total_ns: int = 0
    raised_to_recv: int = 0
    monotone_clamped: int = 0
    monotone_max_shift_ns: int = 0
    first_ts_exchange: int | None = None
    last_ts_exchange: int | None = None
    delivered: int = 0

    def note_offset_shift(self, count: int, low: int, high: int) -> None:
        """Record ``count`` rows shifted by between ``low`` and ``high`` ns."""
        self.offset_corrected += count
        self.offset_shift_min_ns = (
            low if self.offset_shift_min_ns is None else min(self.offset_shift_min_ns, low)
        )
        self.offset_shift_max_ns = (
            high if self.offset_shift_max_ns is None else max(self.offset_shift_max_ns, high)
        )


@dataclass
class DataQuality:
    """Per-stream :class:`StreamQuality` plus run-level counts.

    ``actions_after_end``: queued actions (responses, timers, wake-ups) the run ended
    before. ``tasks_cancelled_at_end``: callbacks or spawned tasks still waiting then.
    ``undelivered_at_end``: events still queued for a strategy then. ``books``: per
    symbol, what the strategy-side book saw (messages, snapshots, sequence gaps, crossed
    states, stale messages skipped, messages skipped while invalid, resyncs, rebuilds,
    exchange time invalid; ``undelivered_skipped``: skipped messages no book-using
    strategy got). ``exchange_books``: the same for the exchange-side books the
    orders matched against, with what the book guard did (``guard_*``; see
    :func:`note_book_health`). ``quarantined``: per
    stream and reason, input rows or messages the adapters skipped under the quarantine
    policy (each also written to the quarantine JSONL file). ``implausible``: per stream and
    reason, values used as given but flagged at run time by a cross-stream check (a mark
    price far from the book mid; see :mod:`streamsim.feed.plausibility`), each kind also
    described once in ``notes``.
    """

    streams: dict[str, StreamQuality] = field(default_factory=dict)
    actions_after_end: int = 0
    tasks_cancelled_at_end: int = 0
    undelivered_at_end: int = 0
    books: dict[str, dict[str, int]] = field(default_factory=dict)
    exchange_books: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)
    implausible: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, streams in name order."""
        data = asdict(self)
        data["streams"] = {name: data["streams"][name] for name in sorted(data["streams"])}
        return data

    def damaged_books(self) -> list[str]:
        """Symbols whose book (either side) had a gap or a crossed state, or whose orders
        the guard rejected or cancelled."""
        return sorted(
            symbol
            for side in (self.exchange_books, self.books)
            for symbol, counts in side.items()
            if book_health_line(symbol, counts, "") is not None
        )


#: Book counts that mean something went wrong (a health line is written for them).
_PROBLEMS = (
    "gaps",
    "crossed",
    "guard_trips",
    "guard_rejected",
    "guard_cancelled",
    "guard_stops_expired",
)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def book_health_line(symbol: str, counts: Mapping[str, int], side: str) -> str | None:
    """One line on a book that broke or was guarded, or None if it stayed whole.

    The line counts gaps, crossings, resyncs (by snapshot and by rebuild), the exchange
    time spent invalid and what the guard did; it says whether the book was still
    invalid at the end and whether orders could match on it (guard off).
    """
    if not any(counts.get(key, 0) for key in _PROBLEMS):
        return None
    parts = [
        f"{_plural(counts.get('gaps', 0), 'sequence gap')}, {counts.get('crossed', 0):,} crossed",
        f"resynced {counts.get('resyncs', 0):,} by snapshot, "
        f"{counts.get('rebuilds', 0):,} by rebuild",
        f"invalid {counts.get('invalid_ns', 0) / 1e9:,.3f} s of exchange time",
    ]
    if counts.get("invalid_at_end"):
        parts.append("still invalid at the end")
    if "guard" in counts:
        if counts["guard"]:
            parts.append(
                f"guard: {_plural(counts.get('guard_rejected', 0), 'order')} rejected, "
                f"{counts.get('guard_cancelled', 0):,} cancelled, "
                f"{_plural(counts.get('guard_stops_expired', 0), 'triggered stop')} expired"
            )
        else:
            parts.append("guard OFF: orders matched on the damaged book")
    where = f" ({side})" if side else ""
    return f"book {symbol}{where}: " + "; ".join(parts)


def skipped_lines(quality: Mapping[str, Any]) -> list[str]:
    """One line per stream and reason of input skipped (``quarantined``) or flagged as
    implausible, from :meth:`DataQuality.to_dict` (or a manifest's ``run.quality``): the
    one wording the CLI summary and ``report.html`` share."""
    quarantined = quality.get("quarantined") or {}
    implausible = quality.get("implausible") or {}
    return [
        f"{stream}: {count:,} rows quarantined ({reason})"
        for stream, reasons in sorted(quarantined.items())
        for reason, count in sorted(reasons.items())
    ] + [
        f"{stream}: {count:,} values {reason} (used as given)"
        for stream, reasons in sorted(implausible.items())
        for reason, count in sorted(reasons.items())
    ]


def health_lines(
    exchange_books: Mapping[str, Mapping[str, int]], books: Mapping[str, Mapping[str, int]]
) -> list[str]:
    """The health line of each book that broke (:func:`book_health_line`): the exchange
    side, then the strategy side of symbols the venue keeps no book of. The notes hold
    them; the CLI's and the report's book-health blocks show them instead of the notes."""
    lines = [
        line
        for symbol, counts in sorted(exchange_books.items())
        if (line := book_health_line(symbol, counts, "exchange side")) is not None
    ]
    lines += [
        line
        for symbol, counts in sorted(books.items())
        if symbol not in exchange_books
        and (line := book_health_line(symbol, counts, "strategy side")) is not None
    ]
    return lines


def note_book_health(quality: DataQuality, exchange_books: Mapping[str, dict[str, int]]) -> None:
    """Record the exchange-side book health in ``quality`` and add a note per symbol
    whose book broke (exchange side; the strategy side for symbols the venue has no
    book of). Called once at the end of a run."""
    quality.exchange_books = {s: dict(c) for s, c in sorted(exchange_books.items())}
    quality.notes.extend(health_lines(quality.exchange_books, quality.books))
    for symbol, counts in quality.exchange_books.items():
        waited = counts.get("guard_warmup_rejected", 0)
        if waited:
            quality.notes.append(
                f"book {symbol} (exchange side): {_plural(waited, 'order')} rejected while the "
                "book was starting (no snapshot yet, or the warm-up; -9001); this is not damage"
            )
    for symbol in sorted({*quality.exchange_books, *quality.books}):
        spot = max(
            side.get(symbol, {}).get("spot_rule", 0)
            for side in (quality.exchange_books, quality.books)
        )
        if spot:
            quality.notes.append(
                f"book {symbol}: {spot:,} depth diffs carry update ids but no "
                "prev_final_update_id (pu), as spot data does: they were checked by the "
                'spot rule (first == previous final + 1); set sequencing = "spot" to say so'
            )
