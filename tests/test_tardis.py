"""Tardis CSV adapter: each data type through a run, the book against a naive reference,
and every class of bad input under both ingestion policies."""

from __future__ import annotations

import gzip
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from helpers import Recorder

import streamsim as ss
from adapters.tardis import TardisSource, infer_data_type, tardis_sources
from streamsim.book import ASK, BID, L2Book
from streamsim.feed import plausibility

EX = "binance-futures"
SYM = "BTCUSDT"
DAY = "2024-01-01"
INST = ss.Instrument(SYM, "0.1", "0.001")
L2 = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
TRADES = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
TICKER = (
    "exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,"
    "predicted_funding_rate,open_interest,last_price,index_price,mark_price"
)
LIQ = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
SMALL = 1024  # smallest block size: forces many blocks and carried messages


@pytest.fixture(autouse=True)
def small_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """These rows use small synthetic times (microseconds from 0, not 2024): switch off the
    time-range and file-date rules here; tests/test_plausibility.py covers them."""
    monkeypatch.setattr(
        plausibility, "DEFAULT_LIMITS", plausibility.Limits(time_range=None, date_slack=None)
    )


def write(path: Path, header: str | None, rows: Sequence[Sequence[Any]], gz: bool = True) -> Path:
    """A Tardis CSV file: ``rows`` after the common exchange and symbol columns."""
    lines = [] if header is None else [header]
    lines += [",".join([EX, SYM, *map(str, row)]) for row in rows]
    data = ("\n".join(lines) + "\n").encode() if lines else b""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def tree(root: Path, data_type: str, header: str, rows: Sequence[Sequence[Any]]) -> Path:
    return write(root / EX / data_type / DAY / f"{SYM}.csv.gz", header, rows)


class Everything(Recorder):
    """Records liquidations too."""

    async def on_liquidation(self, liquidation: ss.Liquidation) -> None:
        self._record(liquidation)


def run(sources: Sequence[ss.Source], **options: Any) -> tuple[list[Any], ss.RunResult]:
    strategy = Everything()
    result = ss.run_backtest(list(sources), strategy, sequencing=None, **options)
    return [event for event, _ in strategy.seen], result


def levels(update: ss.DepthUpdate) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    bids = list(zip(update.bid_prices.tolist(), update.bid_qtys.tolist(), strict=True))
    asks = list(zip(update.ask_prices.tolist(), update.ask_qtys.tolist(), strict=True))
    return bids, asks


def quarantined(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# -- incremental_book_L2 ------------------------------------------------------------------


def l2_rows() -> list[tuple[Any, ...]]:
    """A snapshot, diffs (two sharing a local_timestamp), a snapshot switch, more diffs."""
    return [
        (1000, 1010, "true", "bid", "100.0", "1.000"),
        (1000, 1010, "true", "ask", "100.5", "2.000"),
        (1000, 1010, "true", "bid", "99.9", "3.000"),
        (1100, 1120, "false", "ask", "100.6", "1.500"),
        (1100, 1120, "false", "bid", "100.0", "0"),  # deletes; bids first in the message
        (1150, 1120, "false", "bid", "99.8", "4.000"),  # same local_timestamp: same message
        (1200, 1300, "false", "ask", "100.5", "0"),
        (1200, 1300, "true", "bid", "98.0", "1.000"),  # false->true at the same local time
        (1200, 1300, "true", "ask", "98.5", "1.000"),
        (1250, 1400, "true", "ask", "98.6", "2.000"),  # rest of the same snapshot run
        (1300, 1500, "false", "bid", "98.1", "0.500"),
    ]


@pytest.mark.parametrize("block_size", [SMALL, 1 << 20])
def test_incremental_book_messages(tmp_path: Path, block_size: int) -> None:
    copies = 20  # the pattern again and again, later: with small blocks, messages straddle
    rows = [
        (a + k * 10_000, b + k * 10_000, *rest) for k in range(copies) for a, b, *rest in l2_rows()
    ]
    tree(tmp_path, "incremental_book_L2", L2, rows)
    sources = tardis_sources(
        tmp_path, EX, SYM, "incremental_book_L2", DAY, INST, block_size=block_size
    )
    events, result = run(sources)
    assert [type(e) for e in events] == [ss.DepthUpdate] * 6 * copies
    for k in range(1, copies):
        assert [levels(e) for e in events[6 * k : 6 * k + 6]] == [levels(e) for e in events[:6]]
        assert [e.is_snapshot for e in events[6 * k : 6 * k + 6]] == [
            e.is_snapshot for e in events[:6]
        ]
        assert events[6 * k].ts_recv == events[0].ts_recv + k * 10_000_000
    events = events[:6]
    assert [e.ts_recv for e in events] == [
        1010_000,
        1120_000,
        1300_000,
        1300_000,
        1400_000,
        1500_000,
    ]
    assert [e.ts_exchange for e in events] == [
        1000_000,
        1150_000,  # the largest timestamp of the message's rows
        1200_000,
        1200_000,
        1250_000,
        1300_000,
    ]
    assert [e.is_snapshot for e in events] == [True, False, False, True, False, False]
    assert [(e.first, e.final, e.prev_final) for e in events] == [(-1, -1, -1)] * 6
    assert levels(events[0]) == ([(1000, 1000), (999, 3000)], [(1005, 2000)])
    assert levels(events[1]) == ([(1000, 0), (998, 4000)], [(1006, 1500)])
    assert levels(events[3]) == ([(980, 1000)], [(985, 1000)])
    assert levels(events[4]) == ([], [(986, 2000)])
    assert result.events == {"BTCUSDT.depth": 6 * copies}
    assert result.quality.quarantined == {}


def test_updates_before_the_first_snapshot_are_skipped_counted_and_noted(tmp_path: Path) -> None:
    early = [
        (900, 905, "false", "bid", "90.0", "7.000"),  # a level of a book nobody has seen
        (950, 955, "false", "ask", "91.0", "1.000"),
    ]
    tree(tmp_path, "incremental_book_L2", L2, early + l2_rows())
    sources = tardis_sources(tmp_path, EX, SYM, "incremental_book_L2", DAY, INST)
    events, result = run(sources)
    assert len(events) == 6 and events[0].is_snapshot  # the book starts at the snapshot
    assert all(price != 900 for e in events for price, _ in levels(e)[0])  # 90.0 never set
    assert any(
        "2 update messages before the first snapshot skipped" in n for n in result.quality.notes
    )


def naive_messages(rows: Sequence[tuple[Any, ...]]) -> list[tuple[bool, list[tuple[Any, ...]]]]:
    """Reference grouping, row by row in Python: (resets the book, rows) per message."""
    out: list[tuple[bool, list[tuple[Any, ...]]]] = []
    previous: tuple[Any, ...] | None = None
    for row in rows:
        snap = row[2] == "true"
        switch = snap and (previous is None or previous[2] == "false")
        same = previous is not None and previous[1] == row[1] and previous[2] == row[2]
        if same:
            out[-1][1].append(row)
        else:
            out.append((switch, [row]))
        previous = row
    return out


def random_l2(seed: int, n_messages: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    ts = local = 10_000
    snapshot_at = {0, n_messages // 2}
    for m in range(n_messages):
        local += rng.choice((0, 1, 7, 250)) if m else 0
        ts = local - rng.randint(0, 5)
        snap = m in snapshot_at
        if rows and rows[-1][1] == local and rows[-1][2] == ("true" if snap else "false"):
            local += 1  # keep the reference's grouping simple: one message per local time
        count = rng.randint(5, 40) if snap else rng.randint(1, 6)
        for _ in range(count):
            side = rng.choice(("bid", "ask"))
            tick = rng.randint(9_950, 9_999) if side == "bid" else rng.randint(10_001, 10_050)
            qty = 0 if not snap and rng.random() < 0.3 else rng.randint(1, 5000)
            rows.append(
                (
                    ts,
                    local,
                    "true" if snap else "false",
                    side,
                    f"{tick / 10:.1f}",
                    f"{qty / 1000:.3f}",
                )
            )
    return rows


class BookChecker(Recorder):
    """Applies each depth message to its own L2Book and to a naive dict book, in lockstep
    with the reference messages read straight from the rows."""

    def __init__(self, reference: list[tuple[bool, list[tuple[Any, ...]]]]) -> None:
        super().__init__()
        self.reference = reference
        self.book = L2Book(SYM, sequencing=None)
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.checked = 0

    async def on_depth(self, update: ss.DepthUpdate, book: object) -> None:
        reset, rows = self.reference[self.checked]
        if reset:
            self.bids.clear()
            self.asks.clear()
        for _, _, _, side, price, amount in rows:
            levels = self.bids if side == "bid" else self.asks
            tick = round(float(price) * 10)
            lots = round(float(amount) * 1000)
            if lots:
                levels[tick] = lots
            else:
                levels.pop(tick, None)
        self.book.apply(update)
        snapshot = self.book.snapshot()
        assert snapshot["bids"] == sorted(self.bids.items(), reverse=True)
        assert snapshot["asks"] == sorted(self.asks.items())
        assert isinstance(book, L2Book)  # the run's own book (sequencing=None) agrees too
        assert book.snapshot() == snapshot
        self.checked += 1


@pytest.mark.parametrize("block_size", [SMALL, 1 << 20])
def test_l2book_from_messages_equals_naive_reference(tmp_path: Path, block_size: int) -> None:
    rows = random_l2(7, 400)
    tree(tmp_path, "incremental_book_L2", L2, rows)
    reference = naive_messages(rows)
    checker = BookChecker(reference)
    sources = tardis_sources(
        tmp_path, EX, SYM, ["incremental_book_L2"], [DAY], INST, block_size=block_size
    )
    ss.run_backtest(sources, checker, sequencing=None, out_of_order="clamp")
    assert checker.checked == len(reference) == 400
    assert checker.book.stats.snapshots == 2
    assert checker.book.best_bid is not None and checker.book.qty_at(BID, checker.book.best_bid)
    assert checker.book.best_ask is not None and checker.book.qty_at(ASK, checker.book.best_ask)


def test_a_message_larger_than_a_block_stays_whole(tmp_path: Path) -> None:
    big = [(1000, 1010, "true", "bid", f"{90 + i / 10:.1f}", "1.000") for i in range(200)]
    rows = [*big, (1100, 1110, "false", "bid", "90.0", "0")]
    tree(tmp_path, "incremental_book_L2", L2, rows)
    events, _ = run(
        tardis_sources(tmp_path, EX, SYM, "incremental_book_L2", DAY, INST, block_size=SMALL)
    )
    assert [len(e.bid_prices) for e in events] == [200, 1]
    assert events[0].is_snapshot and not events[1].is_snapshot


def test_a_snapshot_stamped_before_the_diffs_ahead_of_it_is_replayed_after_them_and_noted(
    tmp_path: Path,
) -> None:
    rows = [
        (1000, 1010, "true", "bid", "100.0", "1.000"),
        (1000, 1010, "true", "ask", "100.5", "1.000"),
        (1100, 1110, "false", "bid", "100.0", "2.000"),
        (1200, 1210, "false", "ask", "100.5", "3.000"),
        (1050, 1300, "true", "bid", "99.0", "1.000"),  # the REST snapshot's own clock
        (1050, 1300, "true", "ask", "99.5", "1.000"),
        (1400, 1410, "false", "bid", "99.0", "5.000"),
    ]
    tree(tmp_path, "incremental_book_L2", L2, rows)
    sources = tardis_sources(tmp_path, EX, SYM, "incremental_book_L2", DAY, INST)
    events, result = run(sources)  # the default out_of_order="fail" passes
    times = [e.ts_exchange for e in events]
    assert times == [1_000_000, 1_100_000, 1_200_000, 1_200_000, 1_400_000]
    assert events[3].is_snapshot and events[3].ts_recv == 1_300_000  # receive time kept
    assert any(
        "1 snapshot message(s) had a timestamp outside the times of the depth messages "
        "around them; ts_exchange moved to the nearest of those, by 0.15 ms" in note
        for note in result.quality.notes
    )


def test_a_snapshot_stamped_after_the_diffs_behind_it_is_replayed_before_them(
    tmp_path: Path,
) -> None:
    rows = [
        (1000, 1010, "true", "bid", "100.0", "1.000"),
        (1100, 1110, "false", "bid", "100.0", "2.000"),
        (1500, 1300, "true", "bid", "99.0", "1.000"),  # stamped after the next diff
        (1400, 1410, "false", "bid", "99.0", "5.000"),
        (1600, 1610, "false", "bid", "99.0", "6.000"),  # the last message, read ahead
    ]
    tree(tmp_path, "incremental_book_L2", L2, rows)
    sources = tardis_sources(tmp_path, EX, SYM, "incremental_book_L2", DAY, INST)
    events, _ = run(sources)
    times = [e.ts_exchange for e in events]
    assert times == [1_000_000, 1_100_000, 1_400_000, 1_400_000, 1_600_000]


def test_backwards_exchange_time_fails_the_run_unless_clamped(tmp_path: Path) -> None:
    rows = [
        (1000, 1010, "true", "bid", "100.0", "1.000"),
        (1000, 1015, "false", "bid", "100.0", "1.500"),
        (900, 1020, "false", "bid", "100.0", "2.000"),  # venue time steps back
    ]
    tree(tmp_path, "incremental_book_L2", L2, rows)
    sources = tardis_sources(tmp_path, EX, SYM, "incremental_book_L2", DAY, INST)
    with pytest.raises(ss.OutOfOrderError, match=r"BTCUSDT.depth.*900000 ns after 1000000 ns"):
        run(sources)
    events, result = run(sources, out_of_order="clamp")
    assert len(events) == 3
    assert result.quality.streams["BTCUSDT.depth"].exchange_backwards == 1


# -- trades, derivative_ticker, book snapshots, liquidations ---------------------------------


def test_trades(tmp_path: Path) -> None:
    rows = [
        (1000, 1005, 11, "buy", "100.1", "0.002"),
        (1001, 1006, 12, "sell", "100.0", "1.5"),
        (1002, 1006, "abc", "unknown", "100.2", "0.001"),
    ]
    tree(tmp_path, "trades", TRADES, rows)
    events, result = run(tardis_sources(tmp_path, EX, SYM, "trades", DAY, INST))
    assert [(e.ts_exchange, e.ts_recv, e.price, e.qty, e.side, e.trade_id) for e in events] == [
        (1000_000, 1005_000, 1001, 2, ss.BUY, 11),
        (1001_000, 1006_000, 1000, 1500, ss.SELL, 12),
        (1002_000, 1006_000, 1002, 1, 0, -1),
    ]
    assert any("1 trades with side 'unknown' kept with side 0" in n for n in result.quality.notes)
    assert any("1 trade ids empty or not integers" in n for n in result.quality.notes)
    strict = tardis_sources(tmp_path, EX, SYM, "trades", DAY, INST, unknown_side="bad")
    with pytest.raises(ss.DataError, match=r"row 2, column 'side': unknown aggressor side"):
        run(strict)


def test_derivative_ticker_carries_empty_fields_forward(tmp_path: Path) -> None:
    # funding_timestamp, funding_rate, predicted, open_interest, last, index, mark
    rows = [
        (1000, 1010, 28_800_000_000, "0.0001", "", "500.5", "100.0", "100.2", "100.1"),
        (2000, 2010, "", "", "", "", "", "", "100.3"),  # only the mark: the rest carried
        (3000, 3010, "", "", "", "501", "", "", ""),  # open interest only: no mark event
        (4000, 4010, 57_600_000_000, "-0.0002", "", "", "", "100.5", ""),
    ]
    tree(tmp_path, "derivative_ticker", TICKER, rows)
    sources = tardis_sources(tmp_path, EX, SYM, "derivative_ticker", DAY, INST)
    assert [str(s.stream) for s in sources] == ["BTCUSDT.mark_price", "BTCUSDT.open_interest"]
    events, result = run(sources)
    marks = [e for e in events if isinstance(e, ss.MarkPrice)]
    ois = [e for e in events if isinstance(e, ss.OpenInterest)]
    assert [
        (m.ts_exchange, m.mark, m.index, m.funding_rate, m.next_funding_time) for m in marks
    ] == [
        (1000_000, 100.1, 100.2, 0.0001, 28_800_000_000_000),
        (2000_000, 100.3, 100.2, 0.0001, 28_800_000_000_000),
        (4000_000, 100.3, 100.5, -0.0002, 57_600_000_000_000),
    ]
    assert all(np.isnan(m.settle) for m in marks)
    assert [(o.ts_exchange, o.ts_recv, o.value) for o in ois] == [
        (1000_000, 1010_000, 500.5),
        (3000_000, 3010_000, 501.0),
    ]
    notes = " | ".join(result.quality.notes)
    assert (
        "mark_price: empty fields carried forward from earlier rows: mark_price 1, "
        "index_price 1, funding_rate 1, funding_timestamp 1" in notes
    )
    assert "BTCUSDT.mark_price: 1 derivative_ticker rows without mark or funding fields" in notes
    assert "BTCUSDT.open_interest: 2 derivative_ticker rows with empty open_interest" in notes


def test_derivative_ticker_never_invents_a_first_value(tmp_path: Path) -> None:
    rows = [
        (1000, 1010, 28_800_000_000, "0.0001", "", "", "", "", "100.1"),  # no index yet
        (2000, 2010, "", "", "", "", "", "100.2", "100.3"),
    ]
    tree(tmp_path, "derivative_ticker", TICKER, rows)
    sources = tardis_sources(tmp_path, EX, SYM, "derivative_ticker", DAY, INST)
    with pytest.raises(ss.DataError, match=r"row 0, column 'index_price': empty, and no earlier"):
        run(sources[:1])
    q = ss.Quarantine(tmp_path / "q.jsonl")
    sources = tardis_sources(tmp_path, EX, SYM, "derivative_ticker", DAY, INST, "quarantine", q)
    events, result = run(sources[:1])
    q.close()
    assert [(e.mark, e.index, e.funding_rate) for e in events] == [(100.3, 100.2, 0.0001)]
    (record,) = quarantined(tmp_path / "q.jsonl")
    assert (record["row"], record["column"]) == (0, "index_price")
    assert result.quality.quarantined == {
        "BTCUSDT.mark_price": {"empty, and no earlier row has a value to carry forward": 1}
    }


@pytest.mark.parametrize("depth", [5, 25])
def test_book_snapshots(tmp_path: Path, depth: int) -> None:
    header = "exchange,symbol,timestamp,local_timestamp," + ",".join(
        f"{side}[{i}].{f}"
        for i in range(depth)
        for side in ("asks", "bids")
        for f in ("price", "amount")
    )

    def row(ts: int, base: float, n: int) -> tuple[Any, ...]:
        cells: list[Any] = [ts, ts + 5]
        for i in range(depth):
            if i < n:
                cells += [
                    f"{base + 0.1 * (i + 1):.1f}",
                    "1.000",
                    f"{base - 0.1 * i:.1f}",
                    f"{i + 1}.000",
                ]
            else:
                cells += ["", "", "", ""]
        return tuple(cells)

    tree(tmp_path, f"book_snapshot_{depth}", header, [row(1000, 100.0, depth), row(2000, 101.0, 2)])
    events, _ = run(tardis_sources(tmp_path, EX, SYM, f"book_snapshot_{depth}", DAY, INST))
    assert [(e.ts_exchange, e.is_snapshot) for e in events] == [(1000_000, True), (2000_000, True)]
    bids, asks = levels(events[1])
    assert bids == [(1010, 1000), (1009, 2000)]
    assert asks == [(1011, 1000), (1012, 1000)]
    assert len(levels(events[0])[0]) == depth


def test_liquidations(tmp_path: Path) -> None:
    rows = [(1000, 1010, "a1", "sell", "100.5", "0.3"), (2000, 2010, "a2", "buy", "101", "2")]
    tree(tmp_path, "liquidations", LIQ, rows)
    events, _ = run(tardis_sources(tmp_path, EX, SYM, "liquidations", DAY, INST))
    assert [(e.ts_exchange, e.side, e.price, e.qty) for e in events] == [
        (1000_000, ss.SELL, 100.5, 0.3),
        (2000_000, ss.BUY, 101.0, 2.0),
    ]
    assert all(np.isnan(e.avg_price) for e in events)


def test_every_data_type_in_one_run_and_file_names(tmp_path: Path) -> None:
    tree(tmp_path, "incremental_book_L2", L2, l2_rows())
    # the download tool's flat names are found too
    write(
        tmp_path / f"{EX}_trades_{DAY}_{SYM}.csv.gz",
        TRADES,
        [(1000, 1005, 1, "buy", "100.1", "0.002")],
    )
    tree(tmp_path, "liquidations", LIQ, [(1100, 1110, "x", "sell", "100.5", "0.3")])
    types = ["incremental_book_L2", "trades", "liquidations"]
    events, result = run(
        tardis_sources(tmp_path, EX, SYM, types, [DAY], INST), out_of_order="clamp"
    )
    assert sorted(result.events) == ["BTCUSDT.depth", "BTCUSDT.liquidations", "BTCUSDT.trades"]
    assert len(events) == 8
    # a single file, its data type read from its name
    single = tmp_path / f"{EX}_trades_{DAY}_{SYM}.csv.gz"
    assert infer_data_type(single) == "trades"
    assert (
        infer_data_type(tmp_path / EX / "incremental_book_L2" / DAY / "X.csv.gz")
        == "incremental_book_L2"
    )
    (source,) = tardis_sources(single, instrument=INST)
    assert isinstance(source, TardisSource) and str(source.stream) == "BTCUSDT.trades"
    with pytest.raises(
        ss.DataError, match="no Tardis trades file for binance-futures BTCUSDT 2024-01-02"
    ):
        tardis_sources(tmp_path, EX, SYM, "trades", "2024-01-02", INST)
    with pytest.raises(ss.ConfigError, match="choose one"):
        tardis_sources(tmp_path, EX, SYM, ["incremental_book_L2", "book_snapshot_5"], DAY, INST)
    with pytest.raises(ss.ConfigError, match="needs an Instrument"):
        TardisSource(single, "trades", SYM)


def test_plain_csv_file(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", TRADES, [(1000, 1005, 1, "buy", "100.1", "0.002")], gz=False)
    events, _ = run(tardis_sources(path, data_types="trades", instrument=INST))
    assert [e.price for e in events] == [1001]


# -- bad input -----------------------------------------------------------------------------

GOOD = (1000, 1010, 1, "buy", "100.1", "0.002")


def trades_with(bad: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return [
        GOOD,
        (1001, 1011, 2, "sell", "100.0", "0.001"),
        bad,
        (1003, 1013, 4, "buy", "100.2", "0.003"),
    ]


ROW_CASES = [
    ((1002, 1012, 3, "buy", "abc", "0.001"), "price", "not a number"),
    ((1002, 1012, 3, "buy", "100.15", "0.001"), "price", "off the grid of tick 0.1"),
    ((1002, 1012, 3, "buy", "100.1", "0.0015"), "amount", "off the grid of lot 0.001"),
    ((1002, 1012, 3, "buy", "nan", "0.001"), "price", "not a finite number"),
    ((1002, 1012, 3, "buy", "100.1", "-0.001"), "amount", "not positive"),
    ((1002, 1012, 3, "buy", "", "0.001"), "price", "empty field"),
    ((1002, 1009, 3, "buy", "100.1", "0.001"), "local_timestamp", "goes backwards"),
    ((1002, "x", 3, "buy", "100.1", "0.001"), "local_timestamp", "not a number"),
    (("1.5e3", 1012, 3, "buy", "100.1", "0.001"), "timestamp", "not a number"),
    ((1002, 1012, 3, "hold", "100.1", "0.001"), "side", "not 'buy', 'sell' or 'unknown'"),
]


@pytest.mark.parametrize(("bad", "column", "reason"), ROW_CASES)
def test_bad_rows_fail_or_are_quarantined(
    tmp_path: Path, bad: tuple[Any, ...], column: str, reason: str
) -> None:
    path = tree(tmp_path, "trades", TRADES, trades_with(bad))
    sources = tardis_sources(tmp_path, EX, SYM, "trades", DAY, INST)
    with pytest.raises(ss.DataError) as info:
        run(sources)
    message = str(info.value)
    assert message.startswith(f"{path}, row 2, column '{column}': {reason}")
    q = ss.Quarantine(tmp_path / "q.jsonl")
    sources = tardis_sources(tmp_path, EX, SYM, "trades", DAY, INST, "quarantine", q)
    events, result = run(sources)
    q.close()
    assert [e.trade_id for e in events] == [1, 2, 4]
    (record,) = quarantined(tmp_path / "q.jsonl")
    assert record["stream"] == "BTCUSDT.trades"
    assert (record["file"], record["row"], record["column"]) == (str(path), 2, column)
    assert record["reason"].startswith(reason)
    assert record["record"]["id"] == "3"
    assert result.quality.quarantined == {"BTCUSDT.trades": {record["reason"]: 1}}


def test_wrong_symbol_is_a_bad_row(tmp_path: Path) -> None:
    path = tree(tmp_path, "trades", TRADES, [GOOD])
    text = (
        gzip.decompress(path.read_bytes()).decode() + f"{EX},ETHUSDT,1001,1011,2,buy,100.1,0.001\n"
    )
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(ss.DataError, match=r"row 1, column 'symbol': not 'BTCUSDT'"):
        run(tardis_sources(tmp_path, EX, SYM, "trades", DAY, INST))
    # without an expected symbol, the first row's is required of the others
    with pytest.raises(ss.DataError, match=r"row 1, column 'symbol': not 'BTCUSDT'"):
        run(tardis_sources(path, data_types="trades", instrument=INST))


def test_bad_depth_row_skips_its_whole_message(tmp_path: Path) -> None:
    rows = l2_rows()
    rows[4] = (1100, 1120, "false", "bid", "100.03", "0")  # off the grid, in message 2
    path = tree(tmp_path, "incremental_book_L2", L2, rows)
    with pytest.raises(ss.DataError, match=r"row 4, column 'price': off the grid of tick 0.1"):
        run(tardis_sources(tmp_path, EX, SYM, "incremental_book_L2", DAY, INST))
    q = ss.Quarantine(tmp_path / "q.jsonl")
    sources = tardis_sources(tmp_path, EX, SYM, "incremental_book_L2", DAY, INST, "quarantine", q)
    events, result = run(sources)
    q.close()
    assert [e.ts_recv for e in events] == [1010_000, 1300_000, 1300_000, 1400_000, 1500_000]
    records = quarantined(tmp_path / "q.jsonl")
    assert [(r["row"], r["column"]) for r in records] == [(3, None), (4, "price"), (5, None)]
    assert {r["file"] for r in records} == {str(path)}
    assert records[0]["reason"] == "in a depth message with a bad row"
    assert result.quality.quarantined["BTCUSDT.depth"] == {
        "in a depth message with a bad row": 2,
        "off the grid of tick 0.1": 1,
    }


def test_dropped_snapshot_start_moves_the_reset_to_the_next_message(tmp_path: Path) -> None:
    rows = l2_rows()
    rows[7] = (1200, 1300, "true", "bid", "-98.0", "1.000")  # first message of the snapshot run
    tree(tmp_path, "incremental_book_L2", L2, rows)
    q = ss.Quarantine(tmp_path / "q.jsonl")
    sources = tardis_sources(tmp_path, EX, SYM, "incremental_book_L2", DAY, INST, "quarantine", q)
    events, _ = run(sources)
    q.close()
    assert [(e.ts_recv, e.is_snapshot) for e in events] == [
        (1010_000, True),
        (1120_000, False),
        (1300_000, False),  # the diff before the switch
        (1400_000, True),  # the rest of the run now resets the book
        (1500_000, False),
    ]
    assert [(r["row"], r["reason"]) for r in quarantined(tmp_path / "q.jsonl")] == [
        (7, "not positive"),
        (8, "in a depth message with a bad row"),
    ]


def test_days_are_read_in_date_order(tmp_path: Path) -> None:
    day2 = "2024-01-02"
    write(
        tmp_path / EX / "trades" / day2 / f"{SYM}.csv.gz",
        TRADES,
        [(90_000, 90_010, 2, "sell", "100", "1")],
    )
    tree(tmp_path, "trades", TRADES, [GOOD])
    sources = tardis_sources(tmp_path, EX, SYM, "trades", [day2, DAY], INST)
    assert [p.parent.name for p in sources[0].files] == [DAY, day2]
    events, _ = run(sources)
    assert [e.trade_id for e in events] == [1, 2]


def test_malformed_row_keeps_later_row_numbers(tmp_path: Path) -> None:
    rows: list[tuple[Any, ...]] = [
        (1000 + i, 1010 + i, i, "buy", "100.1", "0.001") for i in range(300)
    ]
    path = tree(tmp_path, "trades", TRADES, rows)
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines[1 + 100] = f"{EX},{SYM},1100,1110,100,buy"  # two fields short
    lines[1 + 250] = lines[1 + 250].replace("100.1", "100.15")  # off grid, after it
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(ss.DataError, match=r"row 100: 6 fields, expected 8"):
        run(tardis_sources(tmp_path, EX, SYM, "trades", DAY, INST, block_size=SMALL))
    q = ss.Quarantine(tmp_path / "q.jsonl")
    sources = tardis_sources(
        tmp_path, EX, SYM, "trades", DAY, INST, "quarantine", q, block_size=SMALL
    )
    events, _ = run(sources)
    q.close()
    assert len(events) == 298
    records = quarantined(tmp_path / "q.jsonl")
    assert [(r["row"], r["column"]) for r in records] == [(100, None), (250, "price")]
    assert records[1]["record"]["id"] == "250"


FILE_CASES = ["missing column", "empty file", "header only", "truncated gzip"]


def broken_file(tmp_path: Path, case: str) -> tuple[Path, str]:
    path = tmp_path / EX / "trades" / DAY / f"{SYM}.csv.gz"
    rows = [(1000 + i, 1010 + i, i, "buy", "100.1", "0.001") for i in range(2000)]
    if case == "missing column":
        write(path, TRADES.replace(",amount", ""), [r[:-1] for r in rows[:3]])
        return path, r"missing column\(s\) amount"
    if case == "empty file":
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
        return path, r"empty file \(no header\)"
    if case == "header only":
        write(path, TRADES, [])
        return path, r"empty file \(no data rows\)"
    write(path, TRADES, rows)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, r"truncated or corrupt gzip data"


@pytest.mark.parametrize("case", FILE_CASES)
def test_unreadable_files_fail_or_are_quarantined(tmp_path: Path, case: str) -> None:
    path, pattern = broken_file(tmp_path, case)
    with pytest.raises(ss.DataError, match=pattern) as info:
        run(tardis_sources(tmp_path, EX, SYM, "trades", DAY, INST, block_size=SMALL))
    assert str(info.value).startswith(str(path))
    if case == "missing column":
        assert f"{path}, column 'amount': missing" in str(info.value)
    q = ss.Quarantine(tmp_path / "q.jsonl")
    sources = tardis_sources(
        tmp_path, EX, SYM, "trades", DAY, INST, "quarantine", q, block_size=SMALL
    )
    events, result = run(sources)
    q.close()
    records = quarantined(tmp_path / "q.jsonl")
    assert {(r["file"], r["stream"]) for r in records} == {(str(path), "BTCUSDT.trades")}
    assert re.search(pattern, records[-1]["reason"])
    assert "BTCUSDT.trades" in result.quality.quarantined
    if case == "truncated gzip":
        assert records[-1]["row"] > 0 and events  # rows before the damage were delivered
    else:
        assert len(records) == 1 and records[0]["row"] == -1 and not events


def test_bad_configuration_is_refused(tmp_path: Path) -> None:
    tree(tmp_path, "trades", TRADES, [GOOD])
    with pytest.raises(ss.ConfigError, match="needs a Quarantine"):
        tardis_sources(tmp_path, EX, SYM, "trades", DAY, INST, "quarantine")
    with pytest.raises(ss.ConfigError, match="unknown Tardis data type"):
        tardis_sources(tmp_path, EX, SYM, "quotes", DAY, INST)
    with pytest.raises(ss.ConfigError, match="needs exchange, symbol, data_types and dates"):
        tardis_sources(tmp_path, EX, SYM, "trades", None, INST)
    with pytest.raises(ss.ConfigError, match="not YYYY-MM-DD"):
        tardis_sources(tmp_path, EX, SYM, "trades", "1/1/2024", INST)


@pytest.mark.parametrize(
    ("scale", "unit"),
    [(1 / 1000, "milliseconds"), (1 / 1_000_000, "seconds")],
)
def test_a_funding_timestamp_in_another_unit_is_a_data_error_naming_the_column(
    tmp_path: Path, scale: float, unit: str
) -> None:
    day = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z in microseconds
    funding = day + 8 * 3_600_000_000
    rows = [
        (day + 1000, day + 1010, funding, "0.0001", "", "", "", "100.2", "100.1"),
        (day + 2000, day + 2010, int(funding * scale), "0.0001", "", "", "", "100.2", "100.1"),
    ]
    path = tree(tmp_path, "derivative_ticker", TICKER, rows)
    limits = plausibility.Limits()  # the real time rules (this file switches them off)
    sources = tardis_sources(tmp_path, EX, SYM, "derivative_ticker", DAY, INST, plausibility=limits)
    with pytest.raises(ss.DataError) as caught:
        run(sources)
    text = str(caught.value)
    assert str(path) in text and "row 1" in text and "column 'funding_timestamp'" in text
    assert f"looks like {unit}" in text
