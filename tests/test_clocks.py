"""Clocks: virtual ordering, paced replay against the wall, and the wall clock."""

from __future__ import annotations

import heapq
import itertools
import time

import anyio
import pytest
from helpers import Recorder, trade_source

import streamsim as ss
from streamsim.run import clock as clock_module
from streamsim.run.clock import PHASE_RESPONSE, PHASE_WAKE

S = ss.SECOND


def test_virtual_clock_queue_orders_by_time_phase_then_fifo() -> None:
    clock = ss.VirtualClock(start=100)
    log: list[str] = []
    clock.schedule(200, PHASE_WAKE, log.append, "wake@200")
    clock.schedule(200, PHASE_RESPONSE, log.append, "response@200")
    clock.schedule(150, PHASE_WAKE, log.append, "first")
    clock.schedule(200, PHASE_WAKE, log.append, "wake@200 second")
    clock.schedule(50, PHASE_WAKE, log.append, "past -> now")
    order = []
    while clock._heap:
        when, _, _, action, arg = heapq.heappop(clock._heap)
        order.append(when)
        action(arg)
    assert log == ["past -> now", "first", "response@200", "wake@200", "wake@200 second"]
    assert order == [100, 150, 200, 200, 200]
    assert clock.sleep(-5).until == 100 and clock.sleep_until(10).until == 100
    with pytest.raises(ss.ConfigError):
        clock.every(0, print)


def test_paced_clock_replays_at_wall_clock_times_speed() -> None:
    # 2 s of simulated events at speed 20 should take about 0.1 s of wall time.
    times = [i * S // 100 for i in range(201)]
    strategy = Recorder()
    wall = time.perf_counter()
    result = ss.run_backtest([trade_source("X", times)], strategy, clock=ss.PacedClock(speed=20))
    elapsed = time.perf_counter() - wall
    assert result.total_events == 201
    assert [now for _, now in strategy.seen] == times
    assert 0.05 < elapsed < 1.0  # generous band around 0.1 s

    with pytest.raises(ss.ConfigError):
        ss.PacedClock(speed=0)


@pytest.mark.asyncio
async def test_wall_clock_sleeps_and_timers() -> None:
    clock = ss.WallClock()
    before = clock.now()
    await clock.sleep(20 * ss.MS)
    await clock.sleep_until(clock.now() - S)  # in the past: returns at once
    assert clock.now() - before >= 20 * ss.MS
    fired: list[int] = []
    timer = clock.every(10 * ss.MS, fired.append)
    async with anyio.create_task_group() as group:
        group.start_soon(clock.run)  # the live runtime runs it
        with anyio.fail_after(5):
            while len(fired) < 3:
                await anyio.sleep(0.005)
        timer.cancel()
        count = len(fired)
        await anyio.sleep(0.05)
        group.cancel_scope.cancel()
    assert len(fired) == count  # cancelled timers stay silent
    assert fired == sorted(fired)
    assert all(b - a == 10 * ss.MS for a, b in itertools.pairwise(fired))


class _FakeTime:
    """The clock module's view of the wall: ``perf_counter_ns`` returns ``t``."""

    def __init__(self) -> None:
        self.t = 0

    def perf_counter_ns(self) -> int:
        return self.t


def test_a_paused_paced_clock_releases_no_time_and_resumes_where_it_stood(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wall = _FakeTime()
    monkeypatch.setattr(clock_module, "time", wall)
    clock = ss.PacedClock(speed=2.0)
    assert anyio.run(clock.pace, 0)  # anchors: simulated 0 at wall 0
    wall.t = ss.SECOND
    assert clock.released() == 2 * ss.SECOND
    clock.pause()
    wall.t = 10 * ss.SECOND
    assert clock.paused and clock.released() == 2 * ss.SECOND  # frozen while paused
    halt = ss.Halt()
    halt.request()
    assert anyio.run(clock.pace, ss.SECOND, halt) is False  # a paused wait still halts
    clock.resume()
    assert not clock.paused and clock.released() == 2 * ss.SECOND  # the pause not caught up
    wall.t = 11 * ss.SECOND
    assert clock.released() == 4 * ss.SECOND
    assert anyio.run(clock.pace, 4 * ss.SECOND)  # due: no wait
