"""Book guard: block matching on a symbol while its exchange-side book looks wrong.

On by default in :class:`~streamsim.sim.matching.SimExchange`: while a guard has a
reason, submits are rejected with :data:`GUARD_REJECT`, resting orders and stops were
cancelled at the trip, triggered stops expire, and trades fill nothing on that symbol.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..book import AWAITING_SNAPSHOT, L2Book
from ..errors import ConfigError
from ..order_checks import GUARD_REJECT as GUARD_REJECT  # noqa: PLC0414 (re-export)

#: Problems of a book that has not started yet: they block, but are not trips.
_STARTING = ("warmup", AWAITING_SNAPSHOT)


@dataclass(frozen=True)
class GuardConfig:
    """Limits per symbol; ``None`` turns a check off.

    ``max_spread_ticks`` / ``max_spread_bps``: widest spread allowed. ``max_staleness``:
    longest time (ns, exchange clock) since the book's last message. ``block_crossed`` /
    ``block_gap``: trip on a crossed book, or block on a book out of sync (an invalid
    book after a sequence gap, or one with update ids before its first snapshot:
    ``invalid_reason`` says which; the start is not counted as a trip). ``warmup_messages``: book
    messages needed before trading. ``cooldown``: ns the guard stays tripped after the
    condition clears.
    """

    max_spread_ticks: int | None = None
    max_spread_bps: float | None = None
    max_staleness: int | None = None
    block_crossed: bool = True
    block_gap: bool = True
    warmup_messages: int = 0
    cooldown: int = 0

    def __post_init__(self) -> None:
        if self.cooldown < 0 or self.warmup_messages < 0:
            raise ConfigError("guard cooldown and warmup_messages must be >= 0")


@dataclass
class GuardStats:
    """Trips and blocked submits, by reason; and per symbol, what the guard did
    (``trips``, ``rejected`` submits, ``warmup_rejected`` submits before the book started,
    ``cancelled`` orders and stops, ``stops_expired``)."""

    trips: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)
    symbols: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, symbol: str, what: str, n: int = 1) -> None:
        """Add ``n`` to ``what`` of ``symbol``."""
        self.symbols.setdefault(symbol, Counter())[what] += n


class BookGuard:
    """Evaluates one symbol's book against a :class:`GuardConfig`."""

    def __init__(self, config: GuardConfig, stats: GuardStats, symbol: str = "") -> None:
        self.config = config
        self.stats = stats
        self.symbol = symbol
        self.reason: str | None = None
        self._clear_at: int | None = None
        self._last_message = 0

    def _problem(self, book: L2Book, now: int) -> str | None:
        config = self.config
        if book.stats.messages < config.warmup_messages:
            return "warmup"
        if not book.valid:
            reason = book.invalid_reason or "sequence_gap"
            if config.block_crossed if reason == "crossed" else config.block_gap:
                return reason
        if config.block_crossed and book.crossed:
            return "crossed"
        if config.max_staleness is not None and now - self._last_message > config.max_staleness:
            return "stale"
        spread = book.spread
        if spread is not None and book.best_bid is not None:
            if config.max_spread_ticks is not None and spread > config.max_spread_ticks:
                return "spread"
            mid = book.best_bid + spread / 2
            if config.max_spread_bps is not None and spread / mid * 1e4 > config.max_spread_bps:
                return "spread"
        return None

    def update(self, book: L2Book, now: int, message: bool) -> bool:
        """Re-evaluate at exchange time ``now``; True if the guard just tripped."""
        if message:
            self._last_message = now
        problem = self._problem(book, now)
        if problem is not None:
            tripped = self.reason is None and problem not in _STARTING
            if tripped:
                self.stats.trips[problem] += 1
                self.stats.count(self.symbol, "trips")
            self.reason = problem
            self._clear_at = None
            return tripped
        if self.reason is not None:
            if self._clear_at is None:  # the condition just cleared: the cooldown starts
                self._clear_at = now + self.config.cooldown
            if now >= self._clear_at:
                self.reason = None
                self._clear_at = None
        return False

    def blocks(self, book: L2Book, now: int) -> str | None:
        """The reason a submit at ``now`` is blocked, or None (counted when blocked)."""
        self.update(book, now, message=False)
        if self.reason is not None:
            self.stats.blocked[self.reason] += 1
            # Before the book has started (warm-up, no snapshot yet) nothing is broken.
            starting = self.reason in _STARTING
            self.stats.count(self.symbol, "warmup_rejected" if starting else "rejected")
        return self.reason

    def halts(self, book: L2Book, now: int) -> str | None:
        """The reason no fill may happen at ``now``, or None (not counted)."""
        if self.reason is None:
            return None
        self.update(book, now, message=False)
        return self.reason
