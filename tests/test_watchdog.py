"""No hang: the watchdog ends a run whose strategy code loops or blocks without awaiting,
and an await the simulation cannot complete is a named error or a bounded end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import Recorder, trade_source

import streamsim as ss
from streamsim.run.watchdog import CallbackOverrun, Progress, Watchdog, check_timeout

S = ss.SECOND
MS = ss.MS
BUDGET = 0.5


def spin() -> None:
    while True:
        pass


def block() -> None:
    time.sleep(60)


STUCK: dict[str, Callable[[], None]] = {"a loop without await": spin, "time.sleep": block}


class StuckOnTrade(Recorder):
    """Gets stuck in the callback of trade 1."""

    def __init__(self, stuck: Callable[[], None]) -> None:
        super().__init__("stuck")
        self.stuck = stuck

    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)
        if trade.trade_id == 1:
            self.stuck()


def _run(world: str, strategy: ss.Strategy, times: list[int], **options: Any) -> ss.RunResult:
    sources = [trade_source("X", times)]
    options.setdefault("callback_timeout", BUDGET)
    if world == "backtest":
        options.pop("speed", None)
        return ss.run_backtest(sources, strategy, **options)
    if world == "paper replay":
        clock = ss.PacedClock(options.pop("speed", None) or 1000.0)
        return ss.run_backtest(sources, strategy, clock=clock, **options)
    speed = options.pop("speed", 1000.0)
    return ss.run_paper_live(sources, strategy, speed=speed, handle_signals=False, **options)


WORLDS = ["backtest", "paper replay", "paper live"]


@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize("how", sorted(STUCK))
def test_a_stuck_callback_ends_the_run_with_a_strategy_error_naming_it(
    world: str, how: str
) -> None:
    strategy = StuckOnTrade(STUCK[how])
    with pytest.raises(ss.StrategyError, match="without awaiting") as info:
        _run(world, strategy, [0, MS, 2 * MS])
    assert info.value.strategy == "stuck"
    assert info.value.during.startswith("on_trade (event ts_local ")
    assert isinstance(info.value.__cause__, CallbackOverrun)
    assert [event.trade_id for event, _ in strategy.seen] == [0, 1]


class SwallowsEverything(Recorder):
    """A strategy that catches every ``Exception`` inside its busy loop."""

    async def on_trade(self, trade: ss.Trade) -> None:
        while True:
            with contextlib.suppress(Exception):
                sum(range(1000))


def test_a_callback_catching_exception_cannot_swallow_the_watchdog() -> None:
    with pytest.raises(ss.StrategyError, match="without awaiting"):
        _run("backtest", SwallowsEverything("greedy"), [0])


class SpawnsSpinner(Recorder):
    async def on_start(self, ctx: ss.Context) -> None:
        await super().on_start(ctx)

        async def spinner() -> None:
            await ctx.sleep(MS)
            spin()

        ctx.spawn(spinner(), "spinner")


@pytest.mark.parametrize("world", WORLDS)
def test_a_stuck_spawned_task_is_named(world: str) -> None:
    with pytest.raises(ss.StrategyError, match="without awaiting") as info:
        _run(world, SpawnsSpinner("spawner"), [0, 5 * MS])
    assert info.value.strategy == "spawner"
    assert "spawned task" in info.value.during


class StuckOnStop(Recorder):
    async def on_stop(self, ctx: ss.Context) -> None:
        spin()


@pytest.mark.parametrize("world", WORLDS)
def test_a_stuck_on_stop_is_named(world: str) -> None:
    with pytest.raises(ss.StrategyError, match="without awaiting") as info:
        _run(world, StuckOnStop("stopper"), [0])
    assert info.value.during == "on_stop"


class BusyButAwaiting(Recorder):
    """Each callback computes longer than the budget in total, awaiting in between."""

    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)
        assert self.ctx is not None
        for _ in range(4):
            time.sleep(BUDGET / 4)
            await self.ctx.sleep(MS)


@pytest.mark.parametrize("world", WORLDS)
def test_the_watchdog_never_fires_on_callbacks_that_await_between_work(world: str) -> None:
    strategy = BusyButAwaiting()
    result = _run(world, strategy, [0, 10 * MS], linger=60 * S, speed=1.0)
    assert [event.trade_id for event, _ in strategy.seen] == [0, 1]
    assert result.quality.tasks_cancelled_at_end == 0


class SlowSource:
    """A source whose batches take longer than the budget to arrive (the kernel waits)."""

    def __init__(self, times: list[int], wait: float) -> None:
        self.inner = trade_source("X", times, sizes=(1,))
        self.stream = self.inner.stream
        self.wait = wait

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for batch in self.inner:
            await anyio.sleep(self.wait)
            yield batch


@pytest.mark.parametrize("world", ["backtest", "paper live"])
def test_the_watchdog_never_fires_while_the_run_waits_for_data(world: str) -> None:
    strategy = Recorder()
    source: Any = SlowSource([0, MS, 2 * MS], wait=2 * BUDGET)
    if world == "backtest":
        result = ss.run_backtest([source], strategy, callback_timeout=BUDGET)
    else:
        result = ss.run_paper_live([source], strategy, speed=1000.0, callback_timeout=BUDGET)
    assert result.total_events == 3 == len(strategy.seen)


def test_the_watchdog_never_fires_while_paper_replay_waits_for_the_clock() -> None:
    strategy = Recorder()
    result = _run("paper replay", strategy, [0, 2 * S], speed=1.0)
    assert len(strategy.seen) == 2 and result.total_events == 2


def test_off_the_main_thread_the_watchdog_still_ends_a_loop() -> None:
    caught: list[BaseException] = []

    def run() -> None:
        try:
            _run("backtest", StuckOnTrade(spin), [0, MS, 2 * MS])
        except ss.StrategyError as error:
            caught.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert caught and isinstance(caught[0].__cause__, CallbackOverrun)
    assert "on_trade" in str(caught[0])


def test_a_long_normal_run_with_the_default_budget_delivers_everything() -> None:
    n = 200_000
    strategy = Recorder()
    times = [i * MS for i in range(n)]
    result = ss.run_backtest([trade_source("X", times, sizes=(4_000,))], strategy)
    assert result.total_events == n == len(strategy.seen)


def test_a_disabled_watchdog_starts_no_thread() -> None:
    dog = Watchdog(check_timeout(0), Progress(), [])
    with dog:
        assert dog._thread is None
    assert check_timeout(None) is None


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "10", True])
def test_a_bad_budget_is_a_config_error(bad: Any) -> None:
    with pytest.raises(ss.ConfigError, match="callback_timeout"):
        ss.run_backtest([trade_source("X", [0])], Recorder(), callback_timeout=bad)


def test_the_budget_is_a_run_config_key() -> None:
    strategy = {"strategy": {"class": "x:Y"}}
    config = ss.RunConfig.from_dict({**strategy, "run": {"callback_timeout": 0.25}})
    assert config.run_options([])["callback_timeout"] == 0.25
    assert ss.RunConfig.from_dict(strategy).run.callback_timeout == 10.0
    with pytest.raises(ss.ConfigError, match=r"run\.callback_timeout"):
        ss.RunConfig.from_dict({**strategy, "run": {"callback_timeout": -1.0}})


# -- awaits the simulation cannot complete ---------------------------------------------------


def _never_done_future() -> Any:
    return asyncio.get_running_loop().create_future()


async def _anyio_event() -> None:
    await anyio.Event().wait()


async def _silent_socket() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        reader, _writer = await asyncio.open_connection(*server.getsockname()[:2])
        await reader.read(1)
    finally:
        server.close()


AWAITS: dict[str, Callable[[], Any]] = {
    "an asyncio future": _never_done_future,
    "an anyio event never set": _anyio_event,
    "a socket that never answers": _silent_socket,
}


class AwaitsForever(Recorder):
    def __init__(self, what: Callable[[], Any]) -> None:
        super().__init__("waiter")
        self.what = what

    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)
        await self.what()


@pytest.mark.parametrize("what", sorted(AWAITS))
def test_awaiting_what_the_simulation_cannot_complete_is_a_strategy_error(what: str) -> None:
    with pytest.raises(ss.StrategyError, match="cannot wait on") as info:
        _run("backtest", AwaitsForever(AWAITS[what]), [0, MS])
    assert info.value.strategy == "waiter"
    assert info.value.during == "on_trade (event ts_local 0)"


@pytest.mark.parametrize("what", sorted(AWAITS))
def test_awaiting_forever_in_paper_live_ends_after_linger_and_says_so(what: str) -> None:
    strategy = AwaitsForever(AWAITS[what])
    result = _run("paper live", strategy, [0, MS], linger=100 * S)
    assert [event.trade_id for event, _ in strategy.seen] == [0]
    assert result.quality.tasks_cancelled_at_end == 1
    assert result.quality.undelivered_at_end == 1
    assert any("waiter" in n and "on_trade" in n for n in result.quality.notes)


def test_awaiting_a_sim_event_never_set_ends_the_backtest_and_says_so() -> None:
    strategy = AwaitsForever(ss.SimEvent)
    result = _run("backtest", strategy, [0, MS])
    assert result.quality.tasks_cancelled_at_end == 1
    assert any("waiter" in n and "on_trade" in n for n in result.quality.notes)


STUCK_STRATEGY = """
import streamsim as ss

class Stuck(ss.Strategy):
    async def on_trade(self, trade):
        while True:
            pass
"""


def test_the_command_ends_a_stuck_strategy_with_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "stuck.py").write_text(STUCK_STRATEGY)
    config = tmp_path / "stuck.toml"
    config.write_text(
        '[strategy]\nclass = "stuck:Stuck"\n[data]\nadapter = "sample"\n'
        'start = "2023-04-04T23:59:00Z"\nend = "2023-04-05T00:00:00Z"\n'
        "[run]\ncallback_timeout = 0.5\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{tmp_path}"}
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "run", str(config), "--out", str(tmp_path / "o")],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    said = " ".join((done.stdout + done.stderr).split())  # the console wraps long lines
    assert done.returncode == 1
    assert "StrategyError: strategy 'Stuck-0'" in said
    assert "on_trade" in said and "without awaiting" in said
    assert "Traceback" not in said


# -- waits that never let simulated time pass; threads under simulation ----------------------


class SleepsZeroForever(Recorder):
    async def on_trade(self, trade: ss.Trade) -> None:
        self._record(trade)
        while True:
            await self.ctx.sleep(0)


class SubmitsAndCancelsForever(Recorder):
    """With zero order latency every answer comes at the same simulated instant."""

    async def on_trade(self, trade: ss.Trade) -> None:
        while True:
            handle = self.ctx.broker.submit(ss.Order("X", ss.BUY, 1, price=1))
            self.ctx.broker.cancel(handle)
            await handle.done()


@pytest.mark.parametrize("strategy", [SleepsZeroForever, SubmitsAndCancelsForever])
def test_a_loop_that_never_lets_simulated_time_pass_is_a_strategy_error(
    strategy: type[Recorder],
) -> None:
    with pytest.raises(ss.StrategyError, match="simulated time no longer moves") as info:
        _run("backtest", strategy("frozen"), [0, MS], callback_timeout=None)
    assert info.value.strategy == "frozen"
    assert info.value.now == 0


class SleepsZeroAFewTimes(Recorder):
    async def on_trade(self, trade: ss.Trade) -> None:
        for _ in range(10_000):
            await self.ctx.sleep(0)
        self._record(trade)


def test_many_zero_sleeps_that_end_are_not_a_stall() -> None:
    strategy = SleepsZeroAFewTimes("patient")
    _run("backtest", strategy, [0, MS, 2 * MS])
    assert [event.trade_id for event, _ in strategy.seen] == [0, 1, 2]


THREADED: dict[str, Callable[[], Any]] = {
    "run_in_executor": lambda: asyncio.get_running_loop().run_in_executor(None, time.sleep, 5),
    "asyncio.to_thread": lambda: asyncio.to_thread(time.sleep, 5),
}


class HandsWorkToAThread(Recorder):
    def __init__(self, how: Callable[[], Any]) -> None:
        super().__init__("threaded")
        self.how = how

    async def on_trade(self, trade: ss.Trade) -> None:
        await self.how()


@pytest.mark.parametrize("how", sorted(THREADED))
def test_work_handed_to_a_thread_under_simulation_is_refused_at_once(how: str) -> None:
    started = threading.active_count()
    with pytest.raises(ss.StrategyError, match="handed work to a thread") as info:
        _run("backtest", HandsWorkToAThread(THREADED[how]), [0, MS])
    assert info.value.strategy == "threaded"
    assert threading.active_count() <= started  # no thread left sleeping behind the run


class ResolvesInAThread:
    """A source that uses the loop's default pool (as DNS lookups of the S3 stack do)."""

    def __init__(self) -> None:
        self.inner = trade_source("X", [0, MS])
        self.stream = self.inner.stream

    async def __aiter__(self) -> AsyncIterator[Any]:
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.01)
        async for batch in self.inner:
            yield batch


def test_code_outside_strategies_still_gets_threads_during_a_backtest() -> None:
    strategy = Recorder("plain")
    ss.run_backtest([ResolvesInAThread()], strategy)
    assert [event.trade_id for event, _ in strategy.seen] == [0, 1]
