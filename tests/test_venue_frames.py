"""Frames the loopback venue builds from batches: decimal strings, merged depth windows,
venue-assigned update ids, and the sampled streams (markPrice every 3 s, forceOrder)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import orjson

import streamsim as ss
from adapters.binance.venue.decimals import Grid
from adapters.binance.venue.frames import DepthChunk, Grids, RowChunk, assign_ids
from streamsim.feed.batches import DepthBatch, LiquidationBatch, MarkPriceBatch

T0 = 1_751_371_200 * ss.SECOND
INSTRUMENT = ss.Instrument("BTCUSDT", Decimal("0.10"), Decimal("0.001"))


def depth(
    times_ms: list[int],
    levels: list[list[tuple[int, int]]],
    bids: list[int],
    ids: list[tuple[int, int, int]] | None = None,
    snapshot: list[bool] | None = None,
) -> DepthBatch:
    n = len(times_ms)
    first, final, prev = zip(*ids, strict=True) if ids else ([-1] * n,) * 3
    flat = [level for message in levels for level in message]
    return DepthBatch(
        "BTCUSDT",
        T0 + np.array(times_ms, dtype=np.int64) * ss.MS,
        None,
        np.array(first, dtype=np.int64),
        np.array(final, dtype=np.int64),
        np.array(prev, dtype=np.int64),
        np.array(snapshot or [False] * n),
        np.concatenate(([0], np.cumsum([len(m) for m in levels]))).astype(np.int64),
        np.array(bids, dtype=np.int64),
        np.array([p for p, _ in flat], dtype=np.int64),
        np.array([q for _, q in flat], dtype=np.int64),
    )


def chunk(batch: DepthBatch, last: int = 0) -> DepthChunk:
    first, final, prev, _ = assign_ids(batch, last)
    return DepthChunk(batch, Grids(INSTRUMENT), first=first, final=final, prev_final=prev)


def decoded(payloads: list[bytes]) -> list[dict[str, object]]:
    return [orjson.loads(p) for p in payloads]


def test_decimal_strings_equal_the_instruments_exact_decimals() -> None:
    ticks = np.array([0, 1, 9, 10, 587102, 12345678901], dtype=np.int64)
    for step in ("0.10", "0.001", "1", "5", "0.00000001", "0.5"):
        grid = Grid(Decimal(step))
        assert grid.strings(ticks) == [format(int(t) * Decimal(step), "f") for t in ticks]
        assert grid.one(7) == format(7 * Decimal(step), "f")


def test_a_slower_depth_stream_merges_a_window_of_diffs_keeping_the_last_size() -> None:
    batch = depth(
        [10, 110, 260],
        [[(1000, 5), (1010, 1)], [(1000, 7), (1001, 3)], [(1000, 0)]],
        bids=[1, 1, 1],
        ids=[(11, 20, 10), (21, 30, 20), (31, 40, 30)],
    )
    frames = chunk(batch).frames("depth")  # 250 ms windows: diffs 0 and 1, then diff 2
    assert frames.due == [1, 2]
    merged, last = decoded(frames.payloads)
    assert (merged["U"], merged["u"], merged["pu"]) == (11, 30, 10)
    assert merged["b"] == [["100.00", "0.007"]]
    assert merged["a"] == [["101.00", "0.001"], ["100.10", "0.003"]]
    assert (last["U"], last["u"], last["pu"]) == (31, 40, 30)
    assert last["E"] == (T0 // ss.MS) + 260


def test_the_0ms_stream_sends_each_recorded_diff_as_it_is() -> None:
    batch = depth(
        [10, 20], [[(1000, 5), (1000, 6)], [(1001, 1)]], bids=[2, 0], ids=[(1, 2, 0), (3, 4, 2)]
    )
    frames = decoded(chunk(batch).frames("depth@0ms").payloads)
    assert frames[0]["b"] == [["100.00", "0.005"], ["100.00", "0.006"]]
    assert frames[1]["b"] == [] and frames[1]["a"] == [["100.10", "0.001"]]


def test_data_without_update_ids_gets_chained_venue_ids_and_a_snapshot_breaks_the_chain() -> None:
    batch = depth(
        [0, 100, 200, 300],
        [[(1000, 1), (1001, 2)], [(1000, 3)], [(999, 1), (1002, 1)], [(1000, 2)]],
        bids=[1, 1, 1, 1],
        snapshot=[False, False, True, False],
    )
    frames = decoded(chunk(batch, last=500).frames("depth@0ms").payloads)
    assert [(f["U"], f["u"], f["pu"]) for f in frames] == [
        (501, 502, 500),
        (503, 503, 502),
        # The snapshot (ids 504-505) is not sent: the next diff's pu names it, so a synced
        # client sees a gap and fetches a new REST snapshot.
        (506, 506, 505),
    ]


def test_mark_price_every_3_s_and_force_order_every_second_keep_the_latest_row() -> None:
    times = T0 + np.array([0, 1000, 2000, 3000, 3500], dtype=np.int64) * ss.MS
    ones = np.ones(5)
    marks = MarkPriceBatch(
        "BTCUSDT", times, None, np.arange(5.0) + 100.5, ones, ones, ones * 1e-4, times + ss.HOUR
    )
    grids = Grids(INSTRUMENT)
    every_second = decoded(RowChunk(marks, grids).frames("markPrice@1s").payloads)
    every_three = RowChunk(marks, grids).frames("markPrice")
    assert [f["p"] for f in every_second] == ["100.5", "101.5", "102.5", "103.5", "104.5"]
    assert every_second[0]["r"] == "0.0001"
    assert every_three.due == [2, 4]
    side = np.array([1, -1, -1, 1, -1], dtype=np.int8)
    liquidations = LiquidationBatch("BTCUSDT", times, None, side, ones * 99.5, ones, ones * 99.5)
    forced = RowChunk(liquidations, grids).frames("forceOrder")
    assert forced.due == [0, 1, 2, 4]
    last = orjson.loads(forced.payloads[-1])
    assert last["e"] == "forceOrder" and last["o"]["S"] == "SELL" and last["o"]["p"] == "99.5"
