"""Trade on a fixed schedule: at given offsets from the start of the run, move the
position to given targets with market orders.

Shows timers (``ctx.set_timer`` with a ``start``) driving orders independently of market
data, and reduce-only exits. The schedule says nothing about the market.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamsim as ss

from .base import Tracked


class Scheduled(Tracked):
    """``schedule`` is a list of ``(offset_ns, target_lots)``: at the run's start time plus
    ``offset_ns``, trade to ``target_lots`` (positive long, negative short, 0 flat).

    A step that finds orders still in flight retries every ``retry`` ns.
    """

    def __init__(
        self, symbol: str, schedule: Sequence[tuple[int, int]], retry: int = 100 * ss.MS
    ) -> None:
        super().__init__(symbol)
        self.schedule = sorted(schedule)
        self.retry = retry
        self.done: list[tuple[int, int]] = []  # (time, target) of the steps carried out

    async def on_start(self, ctx: ss.Context) -> None:
        await super().on_start(ctx)
        start = ctx.now()
        for i, (offset, _) in enumerate(self.schedule):
            ctx.set_timer(f"step-{i}", ss.HOUR, start=start + max(offset, 1))

    async def on_timer(self, name: str, now: int) -> None:
        if not name.startswith("step-"):
            return
        index = int(name.removeprefix("step-"))
        if self.busy:
            self.ctx.set_timer(name, ss.HOUR, start=now + self.retry)
            return
        self.ctx.cancel_timer(name)
        target = self.schedule[index][1]
        self.done.append((now, target))
        self.trade_to(target)
