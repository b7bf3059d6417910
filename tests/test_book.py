"""The L2 book against a naive dict-of-levels reference, and its sequence rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streamsim.book import ASK, BID, BookPolicy, L2Book
from streamsim.events import DepthUpdate, Levels


def message(
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    first: int = -1,
    final: int = -1,
    prev: int = -1,
    snapshot: bool = False,
) -> DepthUpdate:
    rows = bids + asks
    price = np.array([p for p, _ in rows], dtype=np.int64)
    qty = np.array([q for _, q in rows], dtype=np.int64)
    offsets = np.array([0, len(rows)], dtype=np.int64)
    levels = Levels(price, qty, offsets, np.array([len(bids)], dtype=np.int64))
    return DepthUpdate("X", 0, None, 0, first, final, prev, snapshot, levels, 0)


levels = st.lists(st.tuples(st.integers(990, 1010), st.integers(0, 5)), max_size=12)
messages = st.lists(st.tuples(levels, levels, st.booleans()), min_size=1, max_size=30)


class Naive:
    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def apply(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]], snap: bool) -> None:
        if snap:
            self.bids.clear()
            self.asks.clear()
        for side, rows in ((self.bids, bids), (self.asks, asks)):
            for price, qty in rows:  # last row for a price wins
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)


@given(messages, st.integers(-3000, 3000))
def test_book_equals_naive_reference_after_every_message(
    msgs: list[tuple[list[tuple[int, int]], list[tuple[int, int]], bool]], shift: int
) -> None:
    book = L2Book(sequencing=None, policy=BookPolicy(crossed="keep"))  # the raw book
    naive = Naive()
    for bids, asks, snap in msgs:
        bids = [(p + shift, q) for p, q in bids]
        asks = [(p + shift * 2, q) for p, q in asks]  # far moves force the window to grow
        book.apply(message(bids, asks, snapshot=snap))
        naive.apply(bids, asks, snap)
        assert book.best_bid == (max(naive.bids) if naive.bids else None)
        assert book.best_ask == (min(naive.asks) if naive.asks else None)
        snapshot = book.snapshot()
        assert snapshot["bids"] == sorted(naive.bids.items(), reverse=True)
        assert snapshot["asks"] == sorted(naive.asks.items())
        for price, qty in naive.bids.items():
            assert book.qty_at(BID, price) == qty
        crossed = bool(naive.bids and naive.asks and max(naive.bids) >= min(naive.asks))
        assert book.crossed == crossed


def test_depth_impact_and_queue() -> None:
    book = L2Book(sequencing=None)
    book.apply(message([(100, 5), (99, 10), (97, 1)], [(101, 2), (103, 4), (104, 10)]))
    assert (book.best_bid, book.best_ask, book.spread, book.mid) == (100, 101, 1, 100.5)
    assert book.levels(BID, 2)[0].tolist() == [100, 99]
    assert book.depth(ASK, 3).tolist() == [2, 6, 16]
    assert book.impact_price(ASK, 4) == (101 * 2 + 103 * 2) / 4
    assert book.impact_price(ASK, 100) is None
    assert book.impact_lots_for_notional(ASK, 101 * 2 + 103 * 1) == 3
    assert book.qty_at(ASK, 103) == 4 and book.qty_at(ASK, 102) == 0
    assert book.best_bid_qty == 5 and book.best_ask_qty == 2


def test_futures_sequence_gap_invalidates_until_snapshot() -> None:
    book = L2Book(sequencing="futures", policy=BookPolicy(resync="snapshot"))
    book.apply(message([(100, 1)], [(101, 1)], final=10, snapshot=True))
    assert book.apply(message([(100, 2)], [], first=8, final=12, prev=7))  # straddles 10
    assert book.apply(message([(100, 3)], [], first=13, final=15, prev=12))
    assert not book.apply(message([(100, 4)], [], first=20, final=22, prev=19))  # gap
    assert not book.valid and book.stats.gaps == 1
    assert not book.apply(message([(100, 5)], [], first=23, final=24, prev=22))
    assert book.qty_at(BID, 100) == 3  # nothing applied while invalid
    book.apply(message([(100, 9)], [(102, 1)], final=30, snapshot=True))
    assert book.valid and book.best_ask == 102 and book.qty_at(ASK, 101) == 0
    assert not book.apply(message([(100, 1)], [], first=25, final=29, prev=24))  # stale
    assert book.stats.stale_skipped == 1
    assert book.apply(message([(100, 7)], [], first=29, final=31, prev=29))
    assert book.stats.snapshots == 2 and book.qty_at(BID, 100) == 7


def test_spot_sequence_uses_first_equals_previous_final_plus_one() -> None:
    book = L2Book(sequencing="spot", policy=BookPolicy(resync="snapshot"))
    book.apply(message([(100, 1)], [(101, 1)], final=10, snapshot=True))
    assert book.apply(message([(100, 2)], [], first=9, final=12))
    assert book.apply(message([(100, 3)], [], first=13, final=14))
    assert not book.apply(message([(100, 3)], [], first=16, final=17))
    assert book.stats.gaps == 1


def test_diffs_before_the_first_snapshot_are_replayed_after_it() -> None:
    # As in a real capture: two diffs arrive before the REST snapshot, the second newer
    # than it; the next diff continues from that second one.
    book = L2Book(sequencing="futures")
    assert book.apply(message([(100, 1)], [], first=5, final=8, prev=4))
    assert book.apply(message([(101, 2)], [(105, 1)], first=9, final=12, prev=8))
    book.apply(message([(99, 7)], [(104, 3)], final=10, snapshot=True))
    assert book.apply(message([(101, 4)], [], first=13, final=14, prev=12))
    assert book.valid and book.stats.gaps == 0
    assert book.stats.stale_skipped == 1  # the diff ending at 8 is older than the snapshot
    assert book.snapshot()["bids"] == [(101, 4), (99, 7)]
    assert book.snapshot()["asks"] == [(104, 3), (105, 1)]


def test_spot_skips_a_diff_ending_at_the_snapshot_id() -> None:
    book = L2Book(sequencing="spot")
    book.apply(message([(100, 1)], [(101, 1)], final=10, snapshot=True))
    assert not book.apply(message([(100, 5)], [], first=8, final=10))
    assert book.qty_at(BID, 100) == 1


def test_data_without_update_ids_never_replays_over_a_snapshot() -> None:
    book = L2Book(sequencing="futures")
    book.apply(message([(100, 5)], []))
    book.apply(message([(100, 7)], [], snapshot=True))
    assert book.qty_at(BID, 100) == 7


def test_a_futures_book_checks_diffs_without_prev_ids_by_the_spot_rule_and_counts_them() -> None:
    book = L2Book(sequencing="futures", policy=BookPolicy(resync="snapshot"))
    book.apply(message([(100, 1)], [(101, 1)], final=10, snapshot=True))
    assert book.apply(message([(100, 2)], [], first=9, final=12))  # spot data: no pu
    assert book.apply(message([(100, 3)], [], first=13, final=14))
    assert book.valid and book.stats.gaps == 0 and book.stats.spot_rule == 2
    assert not book.apply(message([(100, 4)], [], first=16, final=17))  # 15 is missing
    assert book.stats.gaps == 1 and book.stats.spot_rule == 3
