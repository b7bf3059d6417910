"""The feed's book sync state machine and back-off, without a network."""

from __future__ import annotations

import random
from typing import Any

from adapters.binance.feed import Backoff, DepthSync


def diff(first: int, final: int, prev: int, t: int = 1000) -> tuple[int, dict[str, Any]]:
    return t, {"e": "depthUpdate", "E": t, "U": first, "u": final, "pu": prev, "b": [], "a": []}


def snap(last: int, t: int = 2000) -> tuple[int, dict[str, Any]]:
    return t, {"lastUpdateId": last, "E": t, "T": t, "bids": [["1.0", "1"]], "asks": []}


def ids(frames: list[tuple[int, dict[str, Any]]]) -> list[Any]:
    return [f[1].get("lastUpdateId", f[1].get("u")) for f in frames]


def test_diffs_older_than_the_snapshot_are_dropped_and_the_straddling_one_starts_the_chain() -> (
    None
):
    sync = DepthSync()
    for frame in (diff(1, 5, 0), diff(6, 9, 5), diff(10, 14, 9)):
        sync.push(frame)
    assert sync.wants_snapshot
    sync.snapshot(snap(11))
    out = sync.take()
    assert ids(out) == [11, 14]
    assert out[0][1]["E"] == 1000  # clamped to the first diff's time
    assert sync.synced and sync.counts.dropped == 2 and sync.counts.snapshots == 1


def test_a_snapshot_no_diff_has_reached_yet_waits_for_one() -> None:
    sync = DepthSync()
    sync.push(diff(1, 5, 0))
    sync.snapshot(snap(7))
    assert sync.take() == [] and not sync.synced and not sync.wants_snapshot
    sync.push(diff(6, 9, 5))
    assert ids(sync.take()) == [7, 9]


def test_a_snapshot_too_old_to_straddle_asks_for_another() -> None:
    sync = DepthSync()
    sync.push(diff(10, 14, 9))
    sync.snapshot(snap(3))
    assert sync.take() == [] and sync.wants_snapshot
    assert sync.counts.stale_snapshots == 1


def test_a_gap_passes_the_breaking_diff_on_and_resyncs_from_the_next_snapshot() -> None:
    sync = DepthSync()
    sync.push(diff(1, 5, 0))
    sync.snapshot(snap(3))
    sync.push(diff(6, 9, 5))
    assert ids(sync.take()) == [3, 5, 9]
    sync.push(diff(15, 20, 14))  # 10..14 never came
    sync.push(diff(21, 25, 20))
    assert ids(sync.take()) == [20]  # the strategy's book sees the break
    assert not sync.synced and sync.wants_snapshot and sync.counts.gaps == 1
    sync.snapshot(snap(22))
    assert ids(sync.take()) == [22, 25]
    assert sync.counts.resyncs == 1


def test_a_disconnect_forgets_the_buffer_and_waits_for_new_diffs() -> None:
    sync = DepthSync()
    sync.push(diff(1, 5, 0))
    sync.snapshot(snap(3))
    sync.take()
    sync.disconnected()
    assert not sync.synced and not sync.wants_snapshot
    sync.push(diff(30, 35, 29))
    assert sync.wants_snapshot
    sync.snapshot(snap(31))
    assert ids(sync.take()) == [31, 35]
    assert sync.counts.disconnects == 1 and sync.counts.resyncs == 1


def test_back_off_doubles_up_to_its_maximum_with_jitter_below_each_step() -> None:
    backoff = Backoff(0.1, 1.0, 0.5, random.Random(7))
    waits = [backoff.next() for _ in range(6)]
    for wait, step in zip(waits, (0.1, 0.2, 0.4, 0.8, 1.0, 1.0), strict=True):
        assert step * 0.5 <= wait <= step
    backoff.reset()
    assert backoff.next() <= 0.1
