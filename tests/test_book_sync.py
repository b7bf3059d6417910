"""The strategy's book is never silently wrong: a book with update ids is invalid until a
snapshot syncs it, and a depth message the strategy-side book skipped never reaches a
book-using strategy's ``on_depth`` (it is counted); strategies that keep no book get every
message. The exchange-side book follows the same rule, so the guard blocks matching on a
venue book that is not synced yet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from helpers import Venue, book_levels

import streamsim as ss
from streamsim.book import AWAITING_SNAPSHOT, BookPolicy, L2Book
from streamsim.events import DepthUpdate
from streamsim.feed.batches import DepthBatch
from streamsim.orders import OrderRequest, OrderStatus, OrderType
from streamsim.sim.guard import GUARD_REJECT
from streamsim.sim.matching import SimExchange

S = ss.SECOND
BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001", min_notional="0.05")

#: (ts, first, final, prev_final, snapshot, bid, ask): one level a side per message.
Row = tuple[int, int, int, int, bool, int, int]


def update(row: Row) -> DepthUpdate:
    t, first, final, prev, snapshot, bid, ask = row
    levels = book_levels([(bid, 5)], [(ask, 5)])
    return DepthUpdate("BTCUSDT", t, None, t, first, final, prev, snapshot, levels, 0)


def diff(t: int, first: int, final: int, bid: int = 1000, ask: int = 1001) -> Row:
    return (t, first, final, first - 1, False, bid, ask)


def snapshot(t: int, final: int, bid: int = 1000, ask: int = 1001) -> Row:
    return (t, final, final, final, True, bid, ask)


def source(rows: Sequence[Row]) -> list[ss.MemorySource]:
    """The rows as one depth batch, the snapshot rows with a full (one-level) book."""
    n = len(rows)
    column = list(zip(*rows, strict=True))
    prices = np.array([p for r in rows for p in (r[5], r[6])], dtype=np.int64)
    batch = DepthBatch(
        "BTCUSDT",
        np.array(column[0], dtype=np.int64),
        None,
        np.array(column[1], dtype=np.int64),
        np.array(column[2], dtype=np.int64),
        np.array(column[3], dtype=np.int64),
        np.array(column[4], dtype=np.bool_),
        np.arange(n + 1, dtype=np.int64) * 2,
        np.ones(n, dtype=np.int64),
        prices,
        np.full(2 * n, 5, dtype=np.int64),
    )
    return [ss.MemorySource([batch], ss.Stream("BTCUSDT", "depth"))]


class Watcher(ss.Strategy):
    """Records, for each depth message it gets, its final id and whether the book was valid."""

    def __init__(self, uses_books: bool = True) -> None:
        self.uses_books = uses_books
        self.seen: list[tuple[int, bool | None, str | None]] = []

    async def on_depth(self, update: DepthUpdate, book: Any) -> None:
        valid = None if book is None else book.valid
        self.seen.append((update.final, valid, None if book is None else book.invalid_reason))


# -- the book ---------------------------------------------------------------------------


def test_a_book_with_update_ids_is_invalid_until_its_first_snapshot() -> None:
    book = L2Book("BTCUSDT")
    assert book.apply(update(diff(0, 8, 9)))
    assert not book.valid and book.invalid_reason == AWAITING_SNAPSHOT and book.rebuilding
    assert book.apply(update(diff(1, 10, 12)))
    assert not book.valid
    assert book.apply(update(snapshot(2, 10, bid=990, ask=1005)))
    # The snapshot synced it (not a resync: it was never in sync); the diff it does not
    # contain (10..12) is replayed on top of it, the older one skipped as stale.
    assert book.valid and book.invalid_reason is None and not book.rebuilding
    assert book.last_update_id == 12 and book.stats.stale_skipped == 1
    assert (book.stats.resyncs, book.stats.gaps, book.stats.rebuilds) == (0, 0, 0)
    assert book.snapshot() == {"bids": [(1000, 5), (990, 5)], "asks": [(1001, 5), (1005, 5)]}
    assert book.stats.invalid_ns == 2  # from the first diff (0) to the snapshot (2)


def test_a_book_whose_first_message_is_a_snapshot_is_valid_throughout() -> None:
    book = L2Book("BTCUSDT")
    book.apply(update(snapshot(0, 10)))
    assert book.valid
    book.apply(update(diff(1, 10, 12)))
    assert book.valid and book.stats.invalid_ns == 0


@pytest.mark.parametrize("sequencing", ["futures", "spot", None])
def test_data_without_update_ids_is_valid_from_the_first_message(sequencing: Any) -> None:
    book = L2Book("BTCUSDT", sequencing)
    book.apply(update((0, -1, -1, -1, False, 1000, 1001)))
    assert book.valid and book.invalid_reason is None


def test_without_sequencing_update_ids_are_not_read() -> None:
    book = L2Book("BTCUSDT", None)
    book.apply(update(diff(0, 8, 9)))
    assert book.valid


def test_under_resync_snapshot_early_diffs_wait_for_the_snapshot_and_are_replayed() -> None:
    book = L2Book("BTCUSDT", policy=BookPolicy(resync="snapshot", rebuild_window=S))
    for t in range(5):
        assert book.apply(update(diff(t * S, 10 + 2 * t, 11 + 2 * t)))
    assert not book.valid and not book.rebuilding and book.stats.skipped_while_invalid == 0
    book.apply(update(snapshot(5 * S, 14)))
    assert book.valid and book.last_update_id == 19 and book.stats.stale_skipped == 2


def test_data_with_update_ids_and_no_snapshot_is_valid_after_the_rebuild_window() -> None:
    book = L2Book("BTCUSDT", policy=BookPolicy(rebuild_window=2 * S))
    for t in range(4):
        book.apply(update(diff(t * S, t + 1, t + 1)))
        assert book.valid is (t >= 2), t
    # Starting from diffs is not a recovery from a break: no rebuild counted.
    assert (book.stats.rebuilds, book.stats.gaps, book.stats.invalid_ns) == (0, 0, 2 * S)


def test_a_gap_while_awaiting_the_snapshot_is_still_a_gap() -> None:
    book = L2Book("BTCUSDT")
    book.apply(update(diff(0, 1, 2)))
    book.apply(update(diff(S, 5, 6)))
    assert book.stats.gaps == 1 and book.invalid_reason == "sequence_gap"


# -- delivery to strategies ------------------------------------------------------------------


def test_diffs_before_the_snapshot_reach_on_depth_with_the_book_invalid() -> None:
    watcher = Watcher()
    result = ss.run_backtest(
        source([diff(0, 8, 9), diff(S, 10, 12), snapshot(2 * S, 10), diff(3 * S, 13, 14)]),
        watcher,
    )
    assert watcher.seen == [
        (9, False, AWAITING_SNAPSHOT),
        (12, False, AWAITING_SNAPSHOT),
        (10, True, None),
        (14, True, None),
    ]
    assert result.quality.books["BTCUSDT"]["undelivered_skipped"] == 0


def test_a_stale_diff_after_the_snapshot_never_reaches_a_book_using_strategy() -> None:
    rows = [snapshot(0, 10), diff(S, 5, 8), diff(2 * S, 9, 11), diff(3 * S, 12, 13)]
    watcher, raw = Watcher(), Watcher(uses_books=False)
    result = ss.run_backtest(source(rows), [watcher, raw])
    assert [final for final, _, _ in watcher.seen] == [10, 11, 13]
    assert all(valid for _, valid, _ in watcher.seen)
    # A strategy that keeps no book sees every message as it came.
    assert [final for final, _, _ in raw.seen] == [10, 8, 11, 13]
    books = result.quality.books["BTCUSDT"]
    assert books["undelivered_skipped"] == 1 and books["stale_skipped"] == 1
    assert result.events["BTCUSDT.depth"] == 4  # all reached the strategy timeline


def test_diffs_skipped_while_waiting_for_a_snapshot_after_a_gap_are_not_delivered() -> None:
    rows = [snapshot(0, 10), diff(S, 10, 12), diff(2 * S, 20, 21), diff(3 * S, 22, 23)]
    rows += [snapshot(4 * S, 30), diff(5 * S, 30, 31)]
    watcher = Watcher()
    result = ss.run_backtest(
        source(rows), watcher, book_policy=BookPolicy(resync="snapshot", crossed="fail")
    )
    # The gap diff (21) is skipped and so is the next (23): the book waits for a snapshot.
    assert [final for final, _, _ in watcher.seen] == [10, 12, 30, 31]
    assert all(valid for _, valid, _ in watcher.seen)
    books = result.quality.books["BTCUSDT"]
    assert books["undelivered_skipped"] == 2 and books["gaps"] == 1
    assert books["skipped_while_invalid"] == 1 and books["resyncs"] == 1


def test_diffs_after_a_gap_reach_on_depth_flagged_until_the_rebuild_completes() -> None:
    rows = [snapshot(0, 10), diff(S, 10, 12), diff(2 * S, 20, 21), diff(3 * S, 22, 23)]
    rows += [diff(8 * S, 24, 25)]
    watcher = Watcher()
    result = ss.run_backtest(source(rows), watcher)  # resync="rebuild", a 5 s window
    gap = (False, "sequence_gap")
    assert [(valid, why) for _, valid, why in watcher.seen] == [
        (True, None),
        (True, None),
        gap,
        gap,
        (True, None),
    ]
    books = result.quality.books["BTCUSDT"]
    assert books["undelivered_skipped"] == 0 and books["rebuilds"] == 1


def test_paper_live_delivers_by_the_same_rule() -> None:
    rows = [snapshot(0, 10), diff(S // 100, 5, 8), diff(2 * S // 100, 9, 11)]
    watcher, raw = Watcher(), Watcher(uses_books=False)
    result = ss.run_paper_live(source(rows), [watcher, raw], speed=1000.0)
    assert [final for final, _, _ in watcher.seen] == [10, 11]
    assert [final for final, _, _ in raw.seen] == [10, 8, 11]
    assert result.quality.books["BTCUSDT"]["undelivered_skipped"] == 1


# -- the exchange side ----------------------------------------------------------------------


def test_the_venue_rejects_orders_until_its_book_is_synced_and_counts_no_trip() -> None:
    exchange = SimExchange([BTC], initial_balance=1_000_000.0)
    venue = Venue()
    exchange.bind(venue)
    statuses = []
    for n, row in enumerate([diff(0, 8, 9), snapshot(S, 9), diff(2 * S, 10, 10)]):
        venue.t = row[0]
        exchange.on_market([update(row)], 0, 1)
        order = ss.Order("BTCUSDT", ss.BUY, 1, type=OrderType.MARKET, client_id=f"o{n}")
        exchange.on_order(OrderRequest("new", f"o{n}", order, venue.t))
        statuses.append(
            [(u.status, u.code, u.reason) for u in venue.updates if u.client_id == f"o{n}"]
        )
    blocked = "Blocked by the book guard: awaiting_snapshot."
    assert statuses[0] == [(OrderStatus.REJECTED, GUARD_REJECT, blocked)]
    for later in statuses[1:]:
        assert later[0][0] is OrderStatus.NEW and later[-1][0] is OrderStatus.FILLED
    health = exchange.book_health()["BTCUSDT"]
    assert health["guard_trips"] == 0 and health["guard_rejected"] == 0
    assert health["guard_warmup_rejected"] == 1  # before the first snapshot: not damage
