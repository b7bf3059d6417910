"""Timeouts: ctx.timeout / ctx.wait_for keep to the world's time; wall-clock ones are refused."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import anyio
import pytest
from helpers import trade_source

import streamsim as ss

S = ss.SECOND
MS = ss.MS


class Patient(ss.Strategy):
    """On the first trade: a timeout that expires, a wait_for that does not, one that does."""

    name = "patient"

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, Any]] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def quick(self) -> int:
        await self.ctx.sleep(10 * MS)
        return 7

    async def on_trade(self, trade: ss.Trade) -> None:
        if trade.trade_id != 0:
            return
        ctx = self.ctx
        start = ctx.now()
        try:
            async with ctx.timeout(200 * MS):
                await ctx.sleep(3600 * S)
            self.outcomes.append(("slept", ctx.now() - start))
        except TimeoutError:
            self.outcomes.append(("expired", ctx.now() - start))
        self.outcomes.append(("quick", await ctx.wait_for(self.quick(), 500 * MS)))
        start = ctx.now()
        try:
            await ctx.wait_for(ctx.sleep(10 * S), 100 * MS)
        except TimeoutError:
            self.outcomes.append(("wait_for expired", ctx.now() - start))


def test_ctx_timeout_and_wait_for_expire_in_simulated_time() -> None:
    strategy = Patient()
    result = ss.run_backtest([trade_source("X", [0, S, 2 * S])], strategy)
    assert strategy.outcomes == [
        ("expired", 200 * MS),
        ("quick", 7),
        ("wait_for expired", 100 * MS),
    ]
    # The voided wake-ups and left timeouts are not counted as actions after the end.
    assert result.quality.actions_after_end == 0


def test_the_same_timeouts_work_on_the_wall_clock_in_paper_live() -> None:
    strategy = Patient()
    ss.run_paper_live([trade_source("X", [0, S, 2 * S])], strategy, speed=20.0)
    kinds = [kind for kind, _ in strategy.outcomes]
    assert kinds == ["expired", "quick", "wait_for expired"]
    assert strategy.outcomes[0][1] >= 200 * MS
    assert strategy.outcomes[1][1] == 7


class Nested(ss.Strategy):
    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_trade(self, trade: ss.Trade) -> None:
        if trade.trade_id != 0:
            return
        ctx = self.ctx
        start = ctx.now()
        try:
            async with ctx.timeout(1 * S), ctx.timeout(5 * S):
                await ctx.sleep(10 * S)
        except TimeoutError:
            self.log.append(("outer first", ctx.now() - start))
        start = ctx.now()
        async with ctx.timeout(5 * S):
            try:
                async with ctx.timeout(1 * S):
                    await ctx.sleep(10 * S)
            except TimeoutError:
                self.log.append(("inner first", ctx.now() - start))
            await ctx.sleep(2 * S)
        self.log.append(("outer kept", ctx.now() - start))
        # The 3600 s sleep's wake-up was voided: this 4000 s sleep is not cut short by it.
        start = ctx.now()
        try:
            async with ctx.timeout(1 * MS):
                await ctx.sleep(3600 * S)
        except TimeoutError:
            pass
        await ctx.sleep(4000 * S)
        self.log.append(("slept", ctx.now() - start))


def test_nested_timeouts_each_cut_their_own_block_and_voided_wakeups_stay_void() -> None:
    strategy = Nested()
    ss.run_backtest([trade_source("X", [0, S])], strategy, linger=5000 * S)
    assert strategy.log == [
        ("outer first", 1 * S),
        ("inner first", 1 * S),
        ("outer kept", 3 * S),
        ("slept", 4000 * S + 1 * MS),
    ]


class SpawnsTimedWork(ss.Strategy):
    def __init__(self) -> None:
        self.result: list[str] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx
        ctx.spawn(self.work())

    async def work(self) -> None:
        try:
            await self.ctx.wait_for(ss.SimEvent(), 3 * S)
        except TimeoutError:
            self.result.append(f"gave up at {self.ctx.now()}")


def test_a_spawned_task_can_wait_for_an_event_with_a_timeout() -> None:
    strategy = SpawnsTimedWork()
    ss.run_backtest([trade_source("X", [0, 5 * S])], strategy)
    assert strategy.result == [f"gave up at {3 * S}"]


def _asyncio_timeout() -> Any:
    return asyncio.timeout(0.001)


WALL_TIMEOUTS: dict[str, Callable[[], Any]] = {
    "asyncio.timeout": _asyncio_timeout,
    "anyio.move_on_after": lambda: anyio.move_on_after(0.001),
    "anyio.fail_after": lambda: anyio.fail_after(0.001),
}


class WallTimed(ss.Strategy):
    name = "walltimed"

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx

    async def on_trade(self, trade: ss.Trade) -> None:
        if trade.trade_id != 1:
            return
        cm = self.make()
        if isinstance(cm, AbstractContextManager):
            with cm:
                await self.ctx.sleep(3600 * S)
        else:
            async with cm:
                await self.ctx.sleep(3600 * S)


@contextmanager
def _unraisable() -> Iterator[list[Any]]:
    """Collect exceptions Python would print as 'Exception ignored in ...'."""
    seen: list[Any] = []
    before = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        yield seen
        gc.collect()
    finally:
        sys.unraisablehook = before


@pytest.mark.parametrize("kind", sorted(WALL_TIMEOUTS))
def test_a_wall_clock_timeout_in_a_strategy_is_a_strategy_error_naming_the_fix(kind: str) -> None:
    with _unraisable() as ignored:
        with pytest.raises(ss.StrategyError, match=r"wall-clock timeout.*ctx\.timeout") as info:
            ss.run_backtest([trade_source("X", [0, 10, 20])], WallTimed(WALL_TIMEOUTS[kind]))
        assert info.value.strategy == "walltimed"
        assert "on_trade (event ts_local 10)" in str(info.value)
        del info
    assert ignored == []


def test_a_wall_clock_timeout_around_the_whole_run_is_not_the_strategys() -> None:
    async def main() -> ss.RunResult:
        async with asyncio.timeout(600):
            with anyio.fail_after(600):
                return await ss.backtest([trade_source("X", [0, 5 * S, 10 * S])], Patient())

    result = asyncio.run(main())
    assert result.total_events == 3


def test_a_simulated_timeout_outside_the_simulation_says_what_to_use() -> None:
    clock = ss.VirtualClock()

    async def main() -> None:
        async with clock.timeout(S):
            pass

    with pytest.raises(RuntimeError, match=r"ctx\.spawn"):
        asyncio.run(main())
