"""Fade extreme funding while open interest rises.

Shows a strategy that reads the mark-price stream (mark, funding rate) and the open
interest stream together: when the funding rate is beyond ``threshold`` and the latest
open interest is above the previous one (new positions crowding into the paying side),
take the other side; flatten once funding is back inside ``exit_threshold``. A sketch of
the idea, not evidence that it works.
"""

from __future__ import annotations

import streamsim as ss

from .base import Tracked


class FundingFade(Tracked):
    """Short ``qty`` lots when funding > ``threshold`` and open interest rose, long when
    funding < ``-threshold`` and it rose; flat when ``|funding| <= exit_threshold``."""

    def __init__(
        self,
        symbol: str,
        qty: int = 1,
        *,
        threshold: float = 0.0005,
        exit_threshold: float | None = None,
    ) -> None:
        super().__init__(symbol)
        self.qty = qty
        self.threshold = threshold
        self.exit_threshold = threshold / 2 if exit_threshold is None else exit_threshold
        self.funding_rate: float | None = None
        self.mark: float | None = None
        self.open_interest: list[float] = []
        self.signals: list[tuple[int, int]] = []  # (time, target) at each change

    @property
    def oi_rising(self) -> bool:
        """True when the last open interest is above the one before it."""
        return len(self.open_interest) >= 2 and self.open_interest[-1] > self.open_interest[-2]

    async def on_open_interest(self, oi: ss.OpenInterest) -> None:
        if oi.symbol == self.symbol:
            self.open_interest.append(oi.value)

    async def on_mark_price(self, mark: ss.MarkPrice) -> None:
        if mark.symbol != self.symbol:
            return
        self.mark = mark.mark
        rate = self.funding_rate = mark.funding_rate
        target = self.position
        if abs(rate) <= self.exit_threshold:
            target = 0
        elif abs(rate) > self.threshold and self.oi_rising:
            target = -self.qty if rate > 0 else self.qty
        if target != self.position and not self.busy:
            self.signals.append((mark.ts_local, target))
            self.trade_to(target)
