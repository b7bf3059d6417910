"""The lockstep horizon (no network): conservative synchronisation of the venue's replay
with its clients' progress and the orders they announced."""

from __future__ import annotations

import asyncio

from adapters.binance.venue.lockstep import LockstepClock, Progress

MS = 1_000_000


def test_the_venue_waits_for_a_first_report_then_reaches_progress_plus_min_latency() -> None:
    progress = Progress(min_entry_latency=5 * MS)
    assert not progress.allows(0)  # no client yet: wait
    progress.report("a", 100 * MS, 0)
    assert progress.allows(105 * MS) and not progress.allows(105 * MS + 1)


def test_the_slowest_client_sets_the_horizon_and_it_never_goes_back() -> None:
    progress = Progress(min_entry_latency=MS)
    progress.report("a", 100 * MS, 0)
    progress.report("b", 50 * MS, 0)
    assert progress.horizon() == 101 * MS  # b joined later: the horizon reached stays
    progress.report("b", 200 * MS, 0)
    assert progress.horizon() == 101 * MS  # a is the slowest now
    progress.report("a", 300 * MS, 0)
    assert progress.horizon() == 201 * MS


def test_progress_announcing_an_order_not_yet_received_holds_the_horizon() -> None:
    progress = Progress(min_entry_latency=MS)
    progress.report("a", 10 * MS, 0)
    progress.report("a", 500 * MS, 1)  # it sent an order the venue has not seen yet
    assert progress.horizon() == 11 * MS
    progress.order_received()
    assert progress.horizon() == 501 * MS


def test_once_every_client_has_left_and_its_grace_passed_the_replay_runs_free() -> None:
    progress = Progress(min_entry_latency=MS, grace=0.0)
    progress.report("a", 10 * MS, 0)
    progress.leave("a")
    assert progress.running_free and progress.allows(10**18)


def test_a_client_that_drops_its_connection_holds_the_venue_until_it_is_back() -> None:
    progress = Progress(min_entry_latency=MS, grace=60.0)
    progress.report("conn-1", 10 * MS, 2, name="me")
    progress.order_received()
    progress.order_received()
    progress.leave("conn-1")  # a dropped connection: the venue must not run past it
    assert not progress.running_free and not progress.allows(12 * MS)
    progress.report("conn-2", 20 * MS, 2, name="me")  # back, under its name
    assert progress.clients == 1 and progress.allows(21 * MS)


def test_the_connections_of_one_client_count_its_orders_once() -> None:
    progress = Progress(min_entry_latency=MS)
    progress.report("public", 10 * MS, 1, name="me")
    progress.report("market", 10 * MS, 1, name="me")
    progress.order_received()  # one order, announced on both connections
    assert progress.allows(11 * MS)


def test_a_blocked_clock_sends_one_idle_frame_per_change_and_resumes_on_progress() -> None:
    async def scenario() -> list[int]:
        progress = Progress(min_entry_latency=MS)
        clock = LockstepClock(progress, start=0)
        told: list[int] = []

        async def blocked(next_time: int) -> None:
            told.append(next_time)

        clock.blocked = blocked
        progress.report("a", 0, 0)
        waiting = asyncio.ensure_future(clock.pace(50 * MS))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        progress.report("a", 50 * MS, 0)  # the client read the idle frame: nothing before 50
        assert await asyncio.wait_for(waiting, 1.0)
        return told

    assert asyncio.run(scenario()) == [50 * MS]


def test_an_order_scheduled_while_waiting_is_reached_first() -> None:
    async def scenario() -> int:
        progress = Progress(min_entry_latency=MS)
        clock = LockstepClock(progress, start=0)
        progress.report("a", 0, 0)
        waiting = asyncio.ensure_future(clock.pace(50 * MS))
        await asyncio.sleep(0.01)
        clock.schedule(MS, 1, lambda _: None, None)  # an order matching at 1 ms
        await asyncio.wait_for(waiting, 1.0)  # horizon 1 ms allows it: pace returns
        return clock.next_due() or -1

    assert asyncio.run(scenario()) == MS
