"""The value rules of streamsim.feed.plausibility, and the run-time mark-against-mid check."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Recorder

import streamsim as ss
from streamsim.feed.batches import DepthBatch, MarkPriceBatch
from streamsim.feed.plausibility import (
    Limits,
    beyond_book,
    limits_from,
    price_jumps,
    wrong_unit,
)
from streamsim.units import HOUR, MS, SECOND

T0 = 1_680_652_700 * SECOND  # 2023-04-04T23:58:20Z


def test_a_time_in_another_unit_is_named_by_that_unit() -> None:
    ns = np.array([T0, T0 // 1000, T0 // MS, T0 // SECOND, 5], dtype=np.int64)
    flags = wrong_unit(ns, "ts", "ns")
    reasons = {flag.reason.split(",")[0]: np.flatnonzero(flag.mask).tolist() for flag in flags}
    assert reasons == {
        "looks like microseconds": [1],
        "looks like milliseconds": [2],
        "looks like seconds": [3],
        "not a time in nanoseconds (outside 2000-2100)": [4],
    }
    ms = np.array([T0 // MS, T0 // SECOND, T0], dtype=np.int64)
    found = {
        f.reason.split(",")[0]: np.flatnonzero(f.mask).tolist() for f in wrong_unit(ms, "E", "ms")
    }
    assert found == {"looks like seconds": [1], "looks like nanoseconds": [2]}


def test_times_far_from_the_files_date_are_flagged() -> None:
    day = (T0 - T0 % (24 * HOUR), T0 - T0 % (24 * HOUR) + 24 * HOUR)
    ms = np.array([T0 // MS, (T0 + 3 * 24 * HOUR) // MS], dtype=np.int64)
    (flag,) = Limits().times(ms, "event_time", "ms", day)
    assert flag.mask.tolist() == [False, True] and "file's date 2023-04-04" in flag.reason
    assert Limits(date_slack=None).times(ms, "event_time", "ms", day) == []


def test_clock_offset_funding_cap_and_fat_finger_are_configurable() -> None:
    ex = np.array([T0, T0, T0], dtype=np.int64)
    recv = np.array([T0 + MS, T0 + 2 * HOUR, T0 - 400 * 24 * HOUR], dtype=np.int64)
    (flag,) = Limits().clock(ex, recv)
    assert flag.mask.tolist() == [False, True, True]
    assert Limits(max_clock_offset=3 * HOUR).clock(ex, recv)[0].mask.tolist() == [
        False,
        False,
        True,
    ]
    rates = np.array([0.0001, -0.02, 0.05, -0.5])
    assert Limits().funding(rates)[0].mask.tolist() == [False, False, True, True]
    assert Limits(funding_cap=0.01).funding(rates)[0].mask.tolist() == [False, True, True, True]
    prices = np.full(100, 28_000.0)
    prices[[10, 20]] = [280_000.0, 1.0]
    flag, reference = price_jumps(prices, "price", 0.5)
    assert np.flatnonzero(flag.mask).tolist() == [10, 20] and reference == 28_000.0
    # A short block uses the carried reference.
    flag, _ = price_jumps(np.array([60_000.0]), "price", 0.5, reference)
    assert flag.mask.tolist() == [True]
    assert Limits(max_price_jump=None).prices(prices, "price") == ([], None)
    ticks = np.array([281_000, 281_001, 281_000 + 20_000_000, 280_999, 281_002], dtype=np.int64)
    assert beyond_book(ticks, "price").mask.tolist() == [False, False, True, False, False]


def test_bad_limits_are_config_errors_naming_the_key() -> None:
    with pytest.raises(ss.ConfigError, match=r"plausibility.funding_cap"):
        Limits(funding_cap=-1)
    with pytest.raises(ss.ConfigError, match=r"plausibility.max_price_jump"):
        Limits(max_price_jump=float("nan"))
    with pytest.raises(ss.ConfigError, match=r"unknown key\(s\) bogus"):
        limits_from({"bogus": 1})
    assert limits_from({"funding_cap": 0.01}).funding_cap == 0.01


def _book(symbol: str) -> DepthBatch:
    return DepthBatch(
        symbol,
        np.array([T0], dtype=np.int64),
        np.array([T0], dtype=np.int64),
        np.array([1], dtype=np.int64),
        np.array([1], dtype=np.int64),
        np.array([-1], dtype=np.int64),
        np.array([True]),
        np.array([0, 2], dtype=np.int64),
        np.array([1], dtype=np.int64),
        np.array([280_000, 280_010], dtype=np.int64),
        np.array([5, 5], dtype=np.int64),
    )


def test_a_mark_far_from_the_book_mid_is_counted_and_noted() -> None:
    symbol = "BTCUSDT"
    instrument = ss.Instrument(symbol, "0.1", "0.001")
    marks = MarkPriceBatch(
        symbol,
        np.array([T0 + SECOND, T0 + 2 * SECOND, T0 + 3 * SECOND], dtype=np.int64),
        np.array([T0 + SECOND, T0 + 2 * SECOND, T0 + 3 * SECOND], dtype=np.int64),
        np.array([28_000.5, 56_000.0, 5.0]),
        np.array([28_000.5, 28_000.5, 28_000.5]),
        np.array([np.nan] * 3),
        np.array([0.0001] * 3),
        np.array([T0 + 8 * HOUR] * 3, dtype=np.int64),
    )
    sources = [ss.MemorySource([_book(symbol)]), ss.MemorySource([marks])]
    exchange = ss.SimExchange([instrument])
    result = ss.run_backtest(sources, Recorder(), exchange=exchange)
    assert result.quality.implausible == {
        "BTCUSDT.mark_price": {"more than 10% from the book mid": 2}
    }
    notes = [n for n in result.quality.notes if "mark price 56000" in n]
    assert len(notes) == 1 and "from the book mid 28000.5" in notes[0]
