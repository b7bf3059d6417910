"""Oracle strategies: the trivial baselines a simulator is checked against.

``AlwaysLong``, ``AlwaysShort``, ``Flat`` and the seeded ``RandomOracle`` show the
plumbing of a strategy (first opportunity, market orders, reduce-only exits, fills
tracked from order updates). They make no claim to make money: on a rising toy market
``AlwaysLong`` must gain and ``AlwaysShort`` lose, and ``Flat`` must do nothing at all.
"""

from __future__ import annotations

import random
from typing import Any

import streamsim as ss

from .base import Tracked


class Oracle(Tracked):
    """Enter ``side * qty`` lots with a market order at the first opportunity (the first
    depth message with both sides of the book), hold, then flatten with a reduce-only
    market order at ``exit_at`` (absolute ns) or ``hold`` ns after entry. With neither,
    the position is held to the end of the run and marked at the last mark price.
    """

    side = 0

    def __init__(
        self,
        symbol: str,
        qty: int = 1,
        *,
        exit_at: int | None = None,
        hold: int | None = None,
    ) -> None:
        super().__init__(symbol)
        self.qty = qty
        self.exit_at = exit_at
        self.hold = hold
        self.entered_at: int | None = None
        self.exited_at: int | None = None

    def choose_side(self) -> int:
        """The side to enter: +1, -1 or 0 (stay flat)."""
        return self.side

    async def on_depth(self, update: ss.DepthUpdate, book: Any) -> None:
        if self.entered_at is not None or update.symbol != self.symbol:
            return
        if book is None or book.best_bid is None or book.best_ask is None:
            return
        now = self.ctx.now()
        self.entered_at = now
        side = self.choose_side()
        if not side:
            return
        self.trade_to(side * self.qty)
        exit_at = self.exit_at if self.hold is None else now + self.hold
        if exit_at is not None:
            self.ctx.set_timer("exit", ss.HOUR, start=max(exit_at, now + 1))

    async def on_timer(self, name: str, now: int) -> None:
        if name != "exit":
            return
        if self.busy:  # entry still on its way: try again a little later
            self.ctx.set_timer("exit", ss.HOUR, start=now + 100 * ss.MS)
            return
        self.ctx.cancel_timer("exit")
        self.exited_at = now
        self.flatten()


class AlwaysLong(Oracle):
    """Buy ``qty`` lots at the first opportunity and hold (see :class:`Oracle`)."""

    side = ss.BUY


class AlwaysShort(Oracle):
    """Sell ``qty`` lots at the first opportunity and hold (see :class:`Oracle`)."""

    side = ss.SELL


class Flat(Oracle):
    """Never trade: zero PnL and zero fees, the control of every comparison."""

    side = 0


class RandomOracle(Oracle):
    """Enter long or short at random (seeded), then, every ``interval`` ns if given, draw a
    new target of long, short or flat and trade to it; exits like :class:`Oracle`.
    The same seed gives the same run."""

    def __init__(
        self,
        symbol: str,
        qty: int = 1,
        *,
        seed: int = 0,
        interval: int | None = None,
        exit_at: int | None = None,
        hold: int | None = None,
    ) -> None:
        super().__init__(symbol, qty, exit_at=exit_at, hold=hold)
        self.rng = random.Random(seed)
        self.interval = interval
        self.draws: list[int] = []

    def choose_side(self) -> int:
        side = self.rng.choice((ss.BUY, ss.SELL))
        self.draws.append(side)
        if self.interval is not None:
            self.ctx.set_timer("redraw", self.interval)
        return side

    async def on_timer(self, name: str, now: int) -> None:
        if name == "redraw":
            if self.exited_at is None and not self.busy:
                side = self.rng.choice((ss.BUY, 0, ss.SELL))
                self.draws.append(side)
                self.trade_to(side * self.qty)
            return
        if name == "exit":
            self.ctx.cancel_timer("redraw")
        await super().on_timer(name, now)
