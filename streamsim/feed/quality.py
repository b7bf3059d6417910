"""The data-quality report a run returns: every clamp, correction and shift, counted."""

from __future__ import annotations

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
    states, stale messages skipped, messages skipped while invalid). ``quarantined``: per
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
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)
    implausible: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, streams in name order."""
        data = asdict(self)
        data["streams"] = {name: data["streams"][name] for name in sorted(data["streams"])}
        return data
