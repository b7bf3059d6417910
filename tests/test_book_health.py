"""A damaged book never trades silently: gaps and crossed books block matching until the
book resyncs (by snapshot or by rebuild), policy="fail" fails, and every output shows it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from helpers import Venue, book_levels
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT
from adapters.binance.sample import SAMPLE_END, SAMPLE_START, sample_path
from adapters.cli.progress import summary_table
from adapters.cryptohftdata import CryptoHFTData, LocalStore
from streamsim.book import BookPolicy, CrossedBookError
from streamsim.events import DepthUpdate
from streamsim.orders import OrderRequest, OrderStatus, OrderType
from streamsim.results.artifacts import write_artifacts
from streamsim.results.report import render_report
from streamsim.sim.guard import GUARD_REJECT, GuardConfig
from streamsim.sim.matching import SimExchange

BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001", min_notional="0.05")
S = ss.SECOND
DAY05 = "orderbook/binance_futures/BTCUSDT/2023/04/05/orderbook_00.parquet"


def msg(
    t: int,
    final: int,
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    snapshot: bool = False,
    prev: int | None = None,
) -> DepthUpdate:
    levels = book_levels(bids, asks)
    previous = final - 1 if prev is None else prev
    return DepthUpdate("BTCUSDT", t, None, t, previous, final, previous, snapshot, levels, 0)


def touch(t: int, final: int, mid: int, old: int | None = None) -> DepthUpdate:
    """A diff moving the touch to bid ``mid`` / ask ``mid + 1`` (deleting the old touch)."""
    bids, asks = [(mid, 5)], [(mid + 1, 5)]
    if old is not None and old != mid:
        bids.append((old, 0) if old > mid else (old, 5))
        asks.append((old + 1, 0) if old < mid else (old + 1, 5))
    return msg(t, final, bids, asks)


class Market:
    """A SimExchange (its defaults: guard on) with a fake venue, fed by hand."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("initial_balance", 1_000_000.0)
        self.exchange = SimExchange([BTC], **options)
        self.venue = Venue()
        self.exchange.bind(self.venue)
        self.ids = 0

    @property
    def book(self) -> ss.L2Book:
        return self.exchange.books["BTCUSDT"]

    def feed(self, *events: Any) -> None:
        for event in events:
            self.venue.t = event.ts_exchange
            self.exchange.on_market([event], 0, 1)

    def send(self, side: int, qty: int, price: int | None = None, **kw: Any) -> str:
        self.ids += 1
        cid = f"o{self.ids}"
        kw.setdefault("type", OrderType.LIMIT if price is not None else OrderType.MARKET)
        order = ss.Order("BTCUSDT", side, qty, price, client_id=cid, **kw)
        self.exchange.on_order(OrderRequest("new", cid, order, self.venue.t))
        return cid

    def last(self, cid: str) -> ss.OrderUpdate:
        return [u for u in self.venue.updates if u.client_id == cid][-1]

    def fills(self) -> list[ss.OrderUpdate]:
        return [u for u in self.venue.updates if u.last_qty]

    def health(self) -> dict[str, int]:
        return self.exchange.book_health()["BTCUSDT"]


def test_a_removed_depth_message_blocks_every_fill_until_a_snapshot_resyncs() -> None:
    m = Market(book_policy=BookPolicy(resync="snapshot"))
    m.feed(msg(0, 10, [(1000, 5)], [(1001, 5)], snapshot=True), touch(S, 11, 1000))
    resting = m.send(ss.BUY, 2, 999)
    stop = m.send(ss.BUY, 1, None, type=OrderType.STOP_MARKET, stop_price=1003)
    m.feed(touch(2 * S, 13, 1002, old=1000))  # message 12 removed from the stream
    assert not m.book.valid and m.book.invalid_reason == "sequence_gap"
    for cid in (resting, stop):
        assert m.last(cid).status is OrderStatus.CANCELED
        assert m.last(cid).reason == "book guard tripped: sequence_gap"
    rejected = m.send(ss.BUY, 1)
    assert (m.last(rejected).status, m.last(rejected).code, m.last(rejected).reason) == (
        OrderStatus.REJECTED,
        GUARD_REJECT,
        "Blocked by the book guard: sequence_gap.",
    )
    m.feed(touch(3 * S, 14, 1003, old=1002), ss.Trade("BTCUSDT", 3 * S, None, 3 * S, 990, 9, -1, 1))
    assert m.fills() == []
    m.feed(msg(4 * S, 20, [(1004, 5)], [(1005, 5)], snapshot=True))
    assert m.book.valid and m.book.stats.resyncs == 1
    bought = m.send(ss.BUY, 1)
    assert m.last(bought).status is OrderStatus.FILLED and m.last(bought).last_price == 1005
    health = m.health()
    assert (health["gaps"], health["resyncs"], health["rebuilds"]) == (1, 1, 0)
    assert (health["guard_rejected"], health["guard_cancelled"]) == (1, 2)
    assert health["invalid_ns"] == 2 * S  # from the gap (2 s) to the snapshot (4 s)


def test_data_without_snapshots_recovers_by_rebuilding_from_later_diffs() -> None:
    m = Market()  # resync="rebuild", a 5 s window
    mid = 1000
    m.feed(msg(0, 1, [(mid, 5), (mid - 1, 5)], [(mid + 1, 5), (mid + 2, 5)]))
    m.feed(touch(S, 3, mid + 1, old=mid))  # message 2 is missing
    assert not m.book.valid and m.book.rebuilding and m.book.stats.gaps == 1
    # Cleared, then rebuilt from the diff: the bid at 999, which it did not touch, is
    # missing (a documented synthetic resync).
    assert m.book.snapshot() == {"bids": [(1001, 5), (1000, 5)], "asks": [(1002, 5)]}
    final, mid = 3, mid + 1
    statuses = []
    for second in range(2, 9):  # the market moves up a tick a second
        final += 1
        m.feed(touch(second * S, final, mid + 1, old=mid))
        mid += 1
        cid = m.send(ss.BUY, 1)
        statuses.append((second, m.last(cid).status, m.last(cid).last_price))
    # Blocked until 5 s of exchange time after the gap (at 1 s), then filled at the live ask.
    assert [s for s, status, _ in statuses if status is OrderStatus.REJECTED] == [2, 3, 4, 5]
    assert [(s, p) for s, status, p in statuses if status is OrderStatus.FILLED] == [
        (6, 1007),
        (7, 1008),
        (8, 1009),
    ]
    # Never synced before the gap either (update ids, no snapshot): invalid from 0 to 6 s.
    assert m.book.valid and m.book.stats.rebuilds == 1 and m.book.stats.invalid_ns == 6 * S


def test_a_fake_crossed_bid_far_above_the_market_fills_no_market_sell() -> None:
    m = Market(book_policy=BookPolicy(crossed="resync"))
    m.feed(msg(0, 10, [(1000, 5)], [(1001, 5)], snapshot=True))
    m.feed(msg(S, 11, [(1500, 100)], []))  # one fake bid, 50 % above the market
    assert not m.book.valid and m.book.invalid_reason == "crossed"
    assert m.book.stats.crossed == 1 and m.book.qty_at(ss.BID, 1500) == 0  # cleared
    sells = [m.send(ss.SELL, 1)]
    final = 11
    for second in range(2, 10):
        final += 1
        m.feed(touch(second * S, final, 1000))
        sells.append(m.send(ss.SELL, 1))
    prices = [u.last_price for u in m.fills()]
    assert prices and all(price == 1000 for price in prices)
    assert m.last(sells[0]).reason == "Blocked by the book guard: crossed."
    assert m.health()["guard_rejected"] >= 5 and m.health()["rebuilds"] == 1


def test_a_crossed_book_fails_by_default_naming_symbol_time_and_prices() -> None:
    m = Market()
    m.feed(msg(0, 10, [(1000, 5)], [(1001, 5)], snapshot=True))
    with pytest.raises(CrossedBookError) as info:
        m.feed(msg(7 * S, 11, [(1500, 100)], []))
    assert isinstance(info.value, ss.DataError)
    text = str(info.value)
    assert "BTCUSDT" in text and f"ts_exchange {7 * S} ns" in text
    assert "best bid 1500 ticks >= best ask 1001 ticks (150 >= 100.1)" in text


def test_a_guarded_book_fills_no_resting_order_and_expires_triggered_stops() -> None:
    m = Market(guard=GuardConfig(max_staleness=S))
    m.feed(msg(0, 10, [(1000, 5)], [(1001, 5)], snapshot=True))
    resting = m.send(ss.BUY, 2, 1000)
    stop = m.send(ss.BUY, 1, None, type=OrderType.STOP_MARKET, stop_price=1003)
    m.venue.t = 3 * S
    assert m.last(m.send(ss.BUY, 1)).reason == "Blocked by the book guard: stale."
    m.feed(
        ss.Trade("BTCUSDT", 3 * S, None, 3 * S, 990, 50, -1, 1),  # through the resting bid
        ss.Trade("BTCUSDT", 3 * S, None, 3 * S, 1004, 1, 1, 2),  # triggers the stop
    )
    assert m.fills() == [] and m.last(resting).status is OrderStatus.NEW
    assert (m.last(stop).status, m.last(stop).code) == (OrderStatus.EXPIRED, GUARD_REJECT)
    assert m.health()["guard_stops_expired"] == 1


def test_the_guard_can_be_turned_off_from_python_and_toml() -> None:
    m = Market(guard=None, book_policy=BookPolicy(resync="snapshot"))
    m.feed(msg(0, 10, [(1000, 5)], [(1001, 5)], snapshot=True), touch(S, 12, 1000))
    assert not m.book.valid and m.last(m.send(ss.BUY, 1)).status is OrderStatus.FILLED
    assert m.health()["guard"] == 0
    line = ss.feed.quality.book_health_line("BTCUSDT", m.health(), "exchange side")
    assert line is not None and "guard OFF" in line
    config = ss.RunConfig.from_toml(
        '[strategy]\nclass = "x:Y"\n[exchange.guard]\nenabled = false\n'
    )
    exchange = config.make_exchange([BTC])
    assert isinstance(exchange, SimExchange) and exchange._guards == {}
    default = ss.RunConfig.from_toml('[strategy]\nclass = "x:Y"\n').make_exchange([BTC])
    assert isinstance(default, SimExchange) and set(default._guards) == {"BTCUSDT"}
    assert default.books["BTCUSDT"].policy == BookPolicy("rebuild", 5 * S, "fail")


# -- fuzz: no fill ever happens while the exchange-side book is invalid -----------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["ok", "ok", "ok", "delete", "duplicate", "cross"]), max_size=60),
    st.sampled_from(["rebuild", "snapshot"]),
    st.integers(0, 2**32 - 1),
)
def test_random_damage_never_fills_while_the_exchange_book_is_invalid(
    actions: list[str], resync: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    m = Market(book_policy=BookPolicy(resync, 2 * S, "resync"))  # type: ignore[arg-type]
    mid, final, t = 1000, 1, 0
    m.feed(msg(0, 1, [(mid, 5)], [(mid + 1, 5)], snapshot=True))
    for i, action in enumerate(actions):
        t += S // 2
        step = int(rng.integers(-1, 2))
        final += 1
        update = touch(t, final, mid + step, old=mid)
        mid += step
        if action == "cross":
            update = msg(t, final, [(mid + 50, 3)], [])
        if i % 10 == 9:  # now and then a snapshot
            update = msg(t, final, [(mid, 5)], [(mid + 1, 5)], snapshot=True)
        events: list[Any] = [] if action == "delete" else [update]
        if action == "duplicate":
            events.append(update)
        side = ss.BUY if rng.random() < 0.5 else ss.SELL
        events.append(ss.Trade("BTCUSDT", t, None, t, mid - 2 * side, 3, -side, i))
        for event in events:
            before = len(m.fills())
            m.feed(event)
            assert len(m.fills()) == before or m.book.valid
        for cid in (m.send(ss.BUY, 1), m.send(ss.SELL, 1, mid + 1), m.send(ss.BUY, 1, mid)):
            update_ = m.last(cid)
            if not m.book.valid:
                assert update_.status is OrderStatus.REJECTED and update_.code == GUARD_REJECT
    for fill in m.fills():
        assert fill.last_price < 1000 + 40 + len(actions)  # never at a fake crossed bid


# -- the data policy: a gap in the update-id chain fails, or is quarantined and resynced ----


def _sample_copy(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(sample_path(), root)
    return root


def _remove_a_message(root: Path) -> tuple[int, int]:
    """Remove one depth message from the middle of the day-05 file; returns the file row of
    the next message (where the gap is seen) and its final_update_id."""
    path = root / DAY05
    table = pq.read_table(path)
    finals = table["final_update_id"].to_numpy()
    unique = np.unique(finals)
    gone, after = int(unique[len(unique) // 2]), int(unique[len(unique) // 2 + 1])
    keep = pc.not_equal(table["final_update_id"], gone)
    table = table.filter(keep)
    pq.write_table(table, path)
    row = int(np.flatnonzero(table["final_update_id"].to_numpy() == after)[0])
    return row, after


def _fake_bid(root: Path, price: str) -> None:
    """Add one bid level far above the market to a depth message in the middle of the day."""
    path = root / DAY05
    table = pq.read_table(path)
    middle = table.num_rows // 2
    row = table.slice(middle, 1).to_pylist()[0]
    row.update(side="bid", price=price, quantity="1.000")
    fake = pa.Table.from_pylist([row], schema=table.schema)
    pq.write_table(
        pa.concat_tables([table.slice(0, middle + 1), fake, table.slice(middle + 1)]), path
    )


def _sources(root: Path, **options: Any) -> list[ss.Source]:
    data = CryptoHFTData(LocalStore(root), instruments={"BTCUSDT": SAMPLE_INSTRUMENT}, **options)
    return data.sources(
        ["BTCUSDT"], ["depth", "trades", "mark_price"], start=SAMPLE_START, end=SAMPLE_END
    )


class Seller(ss.Strategy):
    """A market sell of one lot every second."""

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx
        ctx.set_timer("sell", ss.SECOND)

    async def on_timer(self, name: str, now: int) -> None:
        self.ctx.broker.submit(ss.Order("BTCUSDT", ss.SELL, 1, type=OrderType.MARKET))


def test_policy_fail_names_the_file_row_and_column_of_a_depth_gap(tmp_path: Path) -> None:
    root = _sample_copy(tmp_path)
    row, _ = _remove_a_message(root)
    with pytest.raises(ss.DataError) as info:
        ss.run_backtest(_sources(root), Seller(), exchange=SimExchange([SAMPLE_INSTRUMENT]))
    text = str(info.value)
    assert f"{root / DAY05}, row {row}, column 'prev_final_update_id': sequence gap" in text


def test_a_quarantined_gap_resyncs_and_every_output_shows_book_health(tmp_path: Path) -> None:
    root = _sample_copy(tmp_path)
    _, after = _remove_a_message(root)
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    result = ss.run_backtest(
        _sources(root, policy="quarantine", quarantine=quarantine),
        Seller(),
        exchange=SimExchange([SAMPLE_INSTRUMENT]),
    )
    quarantine.close()
    [line] = [json.loads(x) for x in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert line["column"] == "prev_final_update_id" and line["record"]["final_update_id"] == after
    health = result.quality.exchange_books["BTCUSDT"]
    assert (health["gaps"], health["rebuilds"], health["invalid_at_end"]) == (1, 1, 0)
    assert health["invalid_ns"] >= 5 * S and health["guard_rejected"] >= 4
    assert result.quality.books["BTCUSDT"]["gaps"] == 1  # the strategy side saw it too
    note = next(n for n in result.quality.notes if n.startswith("book BTCUSDT"))
    assert (
        "(exchange side): 1 sequence gap, 0 crossed; resynced 0 by snapshot, 1 by rebuild" in note
    )
    assert note in result.summary()
    console = Console(width=300, record=True)
    console.print(summary_table(result, "run"))
    text = console.export_text()
    assert "book health" in text and "1 sequence gap" in text and "no notes" not in text
    out = tmp_path / "out"
    write_artifacts(result, out)
    html = render_report(out)
    assert '<section id="book-health" class="health warn">' in html
    assert html.index("book-health") < html.index('id="equity"')
    assert "Warning: a book broke during this run." in html and "1 sequence gap" in html


def test_a_whole_book_is_reported_whole() -> None:
    from adapters.binance import sample_sources

    result = ss.run_backtest(
        sample_sources(["depth", "trades", "mark_price"]),
        Seller(),
        exchange=SimExchange([SAMPLE_INSTRUMENT]),
    )
    assert result.quality.damaged_books() == []
    assert not any(n.startswith("book ") for n in result.quality.notes)
    console = Console(width=300, record=True)
    console.print(summary_table(result, "run"))
    assert "whole: BTCUSDT" in console.export_text()


def test_the_cli_shows_a_crossed_book_and_fails_on_it_by_default(tmp_path: Path) -> None:
    root = _sample_copy(tmp_path)
    _fake_bid(root, "40000.00")
    config = tmp_path / "crossed.toml"
    config.write_text(
        f'[data]\nadapter = "cryptohftdata"\nroot = "{root}"\nsymbols = ["BTCUSDT"]\n'
        'kinds = ["depth", "trades", "mark_price"]\n'
        f"start = {SAMPLE_START}\nend = {SAMPLE_END}\n"
        '[strategy]\nclass = "strategies.market_maker:MarketMaker"\nparams = {qty = 1}\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "adapters.cli", "run", str(config)]
    failed = subprocess.run(
        [*command, "--out", str(tmp_path / "a")],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert failed.returncode != 0 and "Traceback" not in failed.stdout + failed.stderr
    assert "BTCUSDT: crossed at ts_exchange" in failed.stdout
    assert "40000 >=" in failed.stdout and "run.crossed_book" in failed.stdout
    shown = subprocess.run(
        [*command, "--out", str(tmp_path / "b"), "--set", "run.crossed_book=resync"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "book health" in shown.stdout and "0 sequence gaps, 1 crossed" in shown.stdout
    assert "no other notes (book health above)" in shown.stdout  # the line is shown once
    html = (tmp_path / "b" / "report.html").read_text()
    assert 'class="health warn"' in html and "1 crossed" in html


def _edit_a_message(root: Path, column: str, value: Any) -> int:
    """Set ``column`` of every row of one depth message in the middle of the day; its row."""
    path = root / DAY05
    table = pq.read_table(path)
    finals = table["final_update_id"].to_numpy()
    target = int(np.unique(finals)[len(np.unique(finals)) // 2])
    rows = finals == target
    values = table[column].to_numpy().copy()
    values[rows] = target + 5 if value == "after_final" else value
    index = table.schema.get_field_index(column)
    table = table.set_column(index, column, pa.array(values, type=table.schema.field(column).type))
    pq.write_table(table, path)
    return int(np.flatnonzero(rows)[0])


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("prev_final_update_id", -1, "sequence gap"),  # a chained stream lost one id
        ("first_update_id", "after_final", "after final_update_id"),
    ],
)
def test_impossible_update_ids_are_data_errors_naming_file_row_and_column(
    tmp_path: Path, column: str, value: Any, reason: str
) -> None:
    root = _sample_copy(tmp_path)
    row = _edit_a_message(root, column, value)
    with pytest.raises(ss.DataError) as info:
        ss.run_backtest(_sources(root), Seller(), exchange=SimExchange([SAMPLE_INSTRUMENT]))
    assert f"{root / DAY05}, row {row}, column '{column}': {reason}" in str(info.value)


def test_orders_rejected_while_a_book_starts_are_a_note_not_damage() -> None:
    from streamsim.feed.quality import DataQuality, health_lines, note_book_health

    quality = DataQuality()
    counts = {"gaps": 0, "crossed": 0, "guard": 1, "invalid_ns": 5_099_000_000}
    note_book_health(quality, {"BTCUSDT": {**counts, "guard_warmup_rejected": 10}})
    assert health_lines(quality.exchange_books, quality.books) == []
    assert quality.damaged_books() == []
    assert quality.notes == [
        "book BTCUSDT (exchange side): 10 orders rejected while the book was starting "
        "(no snapshot yet, or the warm-up; -9001); this is not damage"
    ]
    # A real rejection (a gap) still makes the book damaged.
    note_book_health(quality, {"BTCUSDT": {**counts, "gaps": 1, "guard_rejected": 2}})
    assert quality.damaged_books() == ["BTCUSDT"]
