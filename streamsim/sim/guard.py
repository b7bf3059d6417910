"""Book guard: block order submission on a symbol while its exchange-side book looks wrong."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..book import L2Book
from ..errors import ConfigError

#: streamsim's own reject code for a submit blocked by the book guard (not a venue code).
GUARD_REJECT = -9001


@dataclass(frozen=True)
class GuardConfig:
    """Limits per symbol; ``None`` turns a check off.

    ``max_spread_ticks`` / ``max_spread_bps``: widest spread allowed. ``max_staleness``:
    longest time (ns, exchange clock) since the book's last message. ``block_crossed`` /
    ``block_gap``: trip on a crossed book or a sequence gap. ``warmup_messages``: book
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
    """Trips and blocked submits, by reason."""

    trips: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)


class BookGuard:
    """Evaluates one symbol's book against a :class:`GuardConfig`."""

    def __init__(self, config: GuardConfig, stats: GuardStats) -> None:
        self.config = config
        self.stats = stats
        self.reason: str | None = None
        self._clear_at: int | None = None
        self._last_message = 0

    def _problem(self, book: L2Book, now: int) -> str | None:
        config = self.config
        if book.stats.messages < config.warmup_messages:
            return "warmup"
        if config.block_gap and not book.valid:
            return "sequence_gap"
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
            tripped = self.reason is None and problem != "warmup"
            if tripped:
                self.stats.trips[problem] += 1
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
        return self.reason
