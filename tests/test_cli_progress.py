"""The CLI's progress line tells the truth: simulated time *delivered* (the run's clock,
not rows the merge read ahead) and an ETA from its rate, checked with a fake clock."""

from __future__ import annotations

import io

from rich.console import Console

import streamsim as ss
from adapters.binance.sample import SAMPLE_END, SAMPLE_START, sample_sources
from adapters.cli.keys import on_key
from adapters.cli.progress import ProgressLine, _Progress, eta_seconds, run_with_progress

S = ss.SECOND


class FakeTimer:
    """Wall seconds that advance only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_eta_counts_simulated_time_delivered() -> None:
    # 60 s of 600 s delivered in 2 wall seconds: 540 s left at 30 simulated s per wall s.
    assert eta_seconds(1_000 * S, 1_060 * S, 1_600 * S, 2.0) == 18.0


def test_the_eta_is_unknown_before_any_simulated_time_or_without_an_end() -> None:
    assert eta_seconds(1_000 * S, 1_000 * S, 1_600 * S, 2.0) is None
    assert eta_seconds(1_000 * S, 1_060 * S, None, 2.0) is None


def test_the_eta_is_zero_once_the_end_is_delivered() -> None:
    assert eta_seconds(1_000 * S, 1_700 * S, 1_600 * S, 2.0) == 0.0


def test_the_line_reads_the_clock_not_the_rows_read_ahead() -> None:
    progress = _Progress()
    clock = ss.VirtualClock()
    timer = FakeTimer()
    line = ProgressLine(progress, clock, until=SAMPLE_START + 100 * S, timer=timer)
    # The merge has read every row up to the end, but nothing was delivered yet.
    progress.events, progress.first = 50_000, SAMPLE_START
    timer.now += 1.0
    assert line.text() == "[cyan]sim -, 50,000 events read"
    clock._now = SAMPLE_START + 10 * S
    timer.now += 5.0  # opening the data took long: it does not count in the rate
    assert "(10%)" in line.text() and "ETA" not in line.text()
    clock._now = SAMPLE_START + 25 * S
    timer.now += 1.0
    text = line.text()
    assert "sim 2023-04-04T23:58:45.000Z (25%)" in text
    assert "ETA 5 s" in text  # 75 s left at 15 simulated s per wall second


def test_a_terminal_run_shows_delivered_time_and_still_returns_the_result() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    sources = sample_sources(["trades"])
    result = run_with_progress(console, sources, ss.Strategy(), SAMPLE_END)
    assert result.total_events > 0
    assert result.end_time >= SAMPLE_START


def test_space_pauses_and_resumes_a_paced_replay_and_the_line_says_paused() -> None:
    clock = ss.PacedClock(speed=10.0)
    line = ProgressLine(_Progress(), clock, until=None, timer=FakeTimer())
    assert not on_key("x", clock) and not clock.paused  # other keys do nothing
    assert on_key(" ", clock) and clock.paused
    assert "paused (space resumes)" in line.text()
    assert on_key("p", clock) and not clock.paused
    assert "paused" not in line.text()


def test_an_eta_under_half_a_second_before_the_end_reads_less_than_one_second() -> None:
    progress = _Progress()
    clock = ss.VirtualClock()
    timer = FakeTimer()
    line = ProgressLine(progress, clock, until=SAMPLE_START + 100 * S, timer=timer)
    progress.events, progress.first = 10, SAMPLE_START
    clock._now = SAMPLE_START + 1 * S
    line.text()  # the first redraw that saw simulated time marks the rate's start
    clock._now = SAMPLE_START + 52 * S
    timer.now += 0.1  # 51 simulated s in 0.1 s: 48 s left take under half a second
    assert "ETA <1 s" in line.text()
    clock._now = SAMPLE_START + 100 * S
    timer.now += 0.1
    assert "ETA 0 s" in line.text()
