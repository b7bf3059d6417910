"""``Halt``: a run asked to stop ends at the simulated time it reached, with its results
marked interrupted and a note saying when; in paper replay a long paced wait ends too."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import Recorder, trade_source

import streamsim as ss

S = ss.SECOND


class HaltAt(Recorder):
    """Records trades; requests ``halt`` on trade number ``at``, and keeps a 1 s timer."""

    def __init__(self, halt: ss.Halt, at: int) -> None:
        super().__init__()
        self.halt = halt
        self.at = at
        self.fired: list[int] = []

    async def on_start(self, ctx: ss.Context) -> None:
        await super().on_start(ctx)
        ctx.clock.every(S, self.fired.append)

    async def on_trade(self, trade: ss.Trade) -> None:
        await super().on_trade(trade)
        if len(self.seen) == self.at:
            self.halt.request()


@pytest.mark.parametrize("end", [None, 9 * S])
def test_a_halted_run_ends_at_the_time_reached_with_a_note(end: int | None) -> None:
    halt = ss.Halt()
    strategy = HaltAt(halt, at=4)
    source = trade_source("X", [i * S for i in range(10)])
    result = ss.run_backtest([source], strategy, halt=halt, end=end)
    assert [e.trade_id for e, _ in strategy.seen] == [0, 1, 2, 3]
    assert result.end_time == 3 * S
    assert max(strategy.fired) <= 3 * S
    assert result.interrupted
    assert "stopped by the user at 1970-01-01 00:00:03.000 UTC: results so far" in (
        result.quality.notes
    )


def test_a_run_without_a_halt_request_is_not_interrupted() -> None:
    result = ss.run_backtest([trade_source("X", [0, S])], Recorder(), halt=ss.Halt())
    assert not result.interrupted
    assert not any("stopped by the user" in note for note in result.quality.notes)


def test_a_halt_ends_a_long_paced_wait_in_paper_replay() -> None:
    # Trades 1 h apart at speed 1: the halt comes (from another thread, as a signal
    # would) while the replay waits for the second; without it the wait is an hour.
    halt = ss.Halt()
    strategy = Recorder()
    source = trade_source("X", [0, 3600 * S])
    threading.Timer(0.3, halt.request).start()
    began = time.perf_counter()
    result = ss.run_backtest([source], strategy, halt=halt, clock=ss.PacedClock(1.0))
    assert 0.25 < time.perf_counter() - began < 5
    assert result.interrupted and result.end_time == 0
    assert len(strategy.seen) == 1
