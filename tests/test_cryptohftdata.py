"""CryptoHFTData adapter: the synthetic hour end to end, windows, and every bad-input class."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import streamsim as ss
from adapters.cryptohftdata import (
    CryptoHFTData,
    CryptoHFTSource,
    LocalStore,
    ParquetObject,
    dataset,
    decode_orderbook,
    decode_trades,
    reader,
)
from adapters.cryptohftdata.orderbook import CONFLICTING
from adapters.cryptohftdata.store import Store

SYNTH = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
DAY = "binance_futures/BTCUSDT/2025/07/01"
BOOK_KEY = f"orderbook/{DAY}/orderbook_12.parquet"
TRADES_KEY = f"trades/{DAY}/trades.parquet"
DAY0 = 1_751_328_000 * ss.SECOND  # 2025-07-01 00:00 UTC
START = DAY0 + 12 * ss.HOUR  # the synthetic hour
START_MS = START // ss.MS
BTC = ss.Instrument("BTCUSDT", tick_size=Decimal("0.1"), lot_size=Decimal("0.001"))


class Record(ss.Strategy):
    """Keeps every market event per kind (no books)."""

    uses_books = False

    def __init__(self) -> None:
        self.depth: list[ss.DepthUpdate] = []
        self.trades: list[ss.Trade] = []
        self.marks: list[ss.MarkPrice] = []
        self.oi: list[ss.OpenInterest] = []
        self.tickers: list[ss.Ticker] = []
        self.liquidations: list[ss.Liquidation] = []

    async def on_depth(self, update: ss.DepthUpdate, book: object) -> None:
        self.depth.append(update)

    async def on_trade(self, trade: ss.Trade) -> None:
        self.trades.append(trade)

    async def on_mark_price(self, mark: ss.MarkPrice) -> None:
        self.marks.append(mark)

    async def on_open_interest(self, oi: ss.OpenInterest) -> None:
        self.oi.append(oi)

    async def on_ticker(self, ticker: ss.Ticker) -> None:
        self.tickers.append(ticker)

    async def on_liquidation(self, liquidation: ss.Liquidation) -> None:
        self.liquidations.append(liquidation)


def replay(sources: Sequence[ss.Source]) -> tuple[ss.RunResult, Record]:
    strategy = Record()
    return ss.run_backtest(sources, strategy), strategy


def ticks(text: str, step: str = "0.1") -> int:
    return int(Decimal(text) / Decimal(step))


# --- the synthetic hour -------------------------------------------------------------------


@pytest.fixture(scope="module")
def hour() -> tuple[ss.RunResult, Record]:
    data = CryptoHFTData(LocalStore(SYNTH))
    return replay(data.sources(["BTCUSDT"], start=START, end=START + ss.HOUR - 1))


@pytest.fixture(scope="module")
def book_table() -> pa.Table:
    return pq.read_table(
        SYNTH / BOOK_KEY, columns=["event_time", "final_update_id", "side", "price"]
    )


def test_hour_counts_per_stream(hour: tuple[ss.RunResult, Record]) -> None:
    result, seen = hour
    assert result.events == {
        "BTCUSDT.depth": 36_000,
        "BTCUSDT.trades": 86_713,
        "BTCUSDT.mark_price": 3_600,
        "BTCUSDT.open_interest": 12,
    }
    assert (
        sum(
            len(u.levels.price[u.levels.starts[u.index] : u.levels.ends[u.index]])
            for u in seen.depth
        )
        == 2_520_000
    )
    assert result.quality.quarantined == {} and result.quality.notes == []


def test_hour_depth_messages_match_the_file(
    hour: tuple[ss.RunResult, Record], book_table: pa.Table
) -> None:
    _, seen = hour
    final = book_table.column("final_update_id").to_numpy()
    is_bid = pc.equal(book_table.column("side"), "bid").to_numpy(zero_copy_only=False)
    ids, first, counts = np.unique(final, return_index=True, return_counts=True)
    bids = np.bincount(np.searchsorted(ids, final), weights=is_bid).astype(np.int64)
    assert [u.final for u in seen.depth] == ids.tolist()
    assert [len(u.bid_prices) + len(u.ask_prices) for u in seen.depth] == counts.tolist()
    assert [len(u.bid_prices) for u in seen.depth] == bids.tolist()
    event_ms = book_table.column("event_time").to_numpy()[first]
    assert [u.ts_exchange for u in seen.depth] == (event_ms * ss.MS).tolist()
    # Exact levels (decimal arithmetic, file order within a side) of three messages: the
    # first, the one spanning the first row-group boundary, and the last.
    prices = book_table.column("price").to_pylist()
    for message in (0, int(np.searchsorted(ids, final[1_048_576])), len(ids) - 1):
        rows = np.flatnonzero(final == ids[message]).tolist()
        update = seen.depth[message]
        assert update.bid_prices.tolist() == [ticks(prices[r]) for r in rows if is_bid[r]]
        assert update.ask_prices.tolist() == [ticks(prices[r]) for r in rows if not is_bid[r]]


def test_hour_trades_in_trade_time_order(hour: tuple[ss.RunResult, Record]) -> None:
    _, seen = hour
    table = pq.read_table(SYNTH / TRADES_KEY)
    times = [t.ts_exchange for t in seen.trades]
    assert times == sorted(times)
    order = np.argsort(table.column("trade_time").to_numpy(), kind="stable")
    assert [t.trade_id for t in seen.trades] == table.column("trade_id").to_numpy()[order].tolist()
    first = table.slice(int(order[0]), 1).to_pylist()[0]
    trade = seen.trades[0]
    assert (trade.price, trade.qty) == (ticks(first["price"]), ticks(first["quantity"], "0.001"))
    assert trade.side == (-1 if first["is_buyer_maker"] else 1)
    assert trade.ts_recv == first["received_time"]
    marks = [m.ts_exchange for m in seen.marks]
    assert marks == sorted(marks) and marks[0] == START
    assert [o.bucket_time for o in seen.oi] == [START + i * 5 * ss.MINUTE for i in range(12)]


def test_ten_minute_window_cuts_every_stream(book_table: pa.Table) -> None:
    start, end = START + 20 * ss.MINUTE, START + 30 * ss.MINUTE - 1
    data = CryptoHFTData(LocalStore(SYNTH))
    result, seen = replay(data.sources(["BTCUSDT"], start=start, end=end))
    event_ns = book_table.column("event_time").to_numpy() * ss.MS
    inside = (event_ns >= start) & (event_ns <= end)
    expected = np.unique(book_table.column("final_update_id").to_numpy()[inside])
    assert [u.final for u in seen.depth] == expected.tolist()
    trade_ns = (
        pq.read_table(SYNTH / TRADES_KEY, columns=["trade_time"]).column(0).to_numpy() * ss.MS
    )
    assert len(seen.trades) == int(((trade_ns >= start) & (trade_ns <= end)).sum())
    assert len(seen.marks) == 600
    assert [o.bucket_time for o in seen.oi] == [start, start + 5 * ss.MINUTE]
    for events in (seen.depth, seen.trades, seen.marks, seen.oi):
        assert all(start <= e.ts_exchange <= end for e in events)
    assert result.total_events == len(expected) + len(seen.trades) + 600 + 2


class Counting:
    """A store that records every ranged read (for the only-needed-bytes check)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.coalesce_gap = inner.coalesce_gap
        self.reads: list[tuple[str, int, int]] = []

    def describe(self, key: str) -> str:
        return self.inner.describe(key)

    async def read_tail(self, key: str, length: int) -> tuple[int, bytes] | None:
        got = await self.inner.read_tail(key, length)
        if got is not None:
            self.reads.append((key, got[0] - len(got[1]), got[0]))
        return got

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        self.reads.append((key, start, end))
        return await self.inner.read_range(key, start, end)


def test_reads_only_needed_column_chunks_and_row_groups() -> None:
    store = Counting(LocalStore(SYNTH))
    data = CryptoHFTData(store)
    # A minute at the end of the hour lies in the last row group only.
    replay(data.sources(["BTCUSDT"], ["depth"], START + 59 * ss.MINUTE, START + ss.HOUR - 1))
    meta = pq.ParquetFile(SYNTH / BOOK_KEY).metadata
    skipped = []
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            chunk = meta.row_group(g).column(c)
            if g < 2 or chunk.path_in_schema == "transaction_time":
                start = chunk.dictionary_page_offset or chunk.data_page_offset
                skipped.append((start, start + chunk.total_compressed_size))
    reads = [(a, b) for key, a, b in store.reads if key == BOOK_KEY]
    assert reads and all(b <= lo or a >= hi for a, b in reads for lo, hi in skipped)
    assert sum(b - a for a, b in reads) < (SYNTH / BOOK_KEY).stat().st_size / 2


# --- small files the tests write ----------------------------------------------------------


def trades_table(n: int = 20, start_ms: int = START_MS) -> pa.Table:
    times = [start_ms + 10 * i for i in range(n)]
    return pa.table(
        {
            "received_time": pa.array([t * ss.MS + 3_000_000 for t in times], pa.int64()),
            "event_time": pa.array([t + 1 for t in times], pa.int64()),
            "symbol": ["BTCUSDT"] * n,
            "trade_id": pa.array([1000 + i for i in range(n)], pa.int64()),
            "price": [f"{100 + i / 10:.1f}" for i in range(n)],
            "quantity": [f"{(i % 5 + 1) / 1000:.3f}" for i in range(n)],
            "trade_time": pa.array(times, pa.int64()),
            "is_buyer_maker": [i % 2 == 0 for i in range(n)],
            "order_type": ["MARKET"] * n,
        }
    )


def book_table_of(
    messages: Sequence[Sequence[tuple[str, str, str]]],
    start_ms: int = START_MS,
    first_id: int = 100,
) -> pa.Table:
    """Depth rows: message ``i`` has update id ``first_id + i`` and the given (side, price, qty)."""
    cols: dict[str, list[Any]] = {
        name: []
        for name in (
            "received_time",
            "event_time",
            "transaction_time",
            "symbol",
            "event_type",
            "first_update_id",
            "final_update_id",
            "prev_final_update_id",
            "side",
            "price",
            "quantity",
        )
    }
    for i, levels in enumerate(messages):
        for side, price, qty in levels:
            cols["received_time"].append((start_ms + 100 * i) * ss.MS + 5_000_000)
            cols["event_time"].append(start_ms + 100 * i)
            cols["transaction_time"].append(start_ms + 100 * i - 1)
            cols["symbol"].append("BTCUSDT")
            cols["event_type"].append("update")
            cols["first_update_id"].append(first_id + i)
            cols["final_update_id"].append(first_id + i)
            cols["prev_final_update_id"].append(first_id + i - 1)
            cols["side"].append(side)
            cols["price"].append(price)
            cols["quantity"].append(qty)
    types = {name: pa.int64() for name in cols if name.endswith(("time", "id"))}
    return pa.table(
        {name: pa.array(values, types.get(name, pa.string())) for name, values in cols.items()}
    )


def three_level_messages(n: int) -> list[list[tuple[str, str, str]]]:
    return [
        [
            ("ask", f"{101 + i / 10:.1f}", "1.000"),
            ("bid", f"{100 + i / 10:.1f}", "2.000"),
            ("bid", f"{99 + i / 10:.1f}", "0.000"),
        ]
        for i in range(n)
    ]


def write(root: Path, folder: str, table: pa.Table, name: str, **options: Any) -> Path:
    path = root / folder / DAY / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **options)
    return path


def one_stream(
    root: Path, kind: str, *, window: tuple[int, int] | None = None, **options: Any
) -> ss.Source:
    start, end = window or (START, START + ss.HOUR - 1)
    return CryptoHFTData(LocalStore(root), **options).sources(["BTCUSDT"], [kind], start, end)[0]


def quarantined(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# --- broken objects ------------------------------------------------------------------------


def test_corrupt_truncated_and_empty_objects_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "trades", trades_table(200), "trades.parquet")
    good = path.read_bytes()
    cases = {
        "truncated": (good[: len(good) // 2], "no Parquet magic bytes at the end"),
        "empty": (b"", "empty object"),
        "garbage footer": (
            good[:-8] + (2**31 - 1).to_bytes(4, "little") + b"PAR1",
            "footer length",
        ),
        "corrupt footer": (good[:-200] + bytes(192) + good[-8:], "corrupt Parquet footer"),
        "not parquet": (b"x" * 100, "no Parquet magic bytes"),
    }
    for label, (content, message) in cases.items():
        path.write_bytes(content)
        with pytest.raises(ss.DataError, match=message) as info:
            replay([one_stream(tmp_path, "trades")])
        assert str(path) in str(info.value), label


def test_corrupt_column_bytes_fail_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "trades", trades_table(500), "trades.parquet", write_page_checksum=True)
    data = bytearray(path.read_bytes())
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(4)  # price
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    for i in range(start + 20, start + chunk.total_compressed_size - 4):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(ss.DataError, match="cannot decode row group 0") as info:
        replay([one_stream(tmp_path, "trades")])
    assert str(path) in str(info.value)


def test_missing_and_mistyped_columns(tmp_path: Path) -> None:
    table = trades_table()
    path = write(tmp_path, "trades", table.drop_columns(["price"]), "trades.parquet")
    day2 = tmp_path / "trades" / "binance_futures/BTCUSDT/2025/07/02/trades.parquet"
    day2.parent.mkdir(parents=True)
    pq.write_table(trades_table(start_ms=START_MS + 86_400_000), day2)
    window = (START, START + 35 * ss.HOUR)
    with pytest.raises(ss.DataError) as info:
        replay([one_stream(tmp_path, "trades", window=window)])
    assert f"{path}, column 'price': missing column(s) 'price' for trades" in str(info.value)
    # Under quarantine the file is skipped with one record (row -1) and the run goes on.
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    result, seen = replay(
        [one_stream(tmp_path, "trades", window=window, policy="quarantine", quarantine=quarantine)]
    )
    quarantine.close()
    assert [t.trade_id for t in seen.trades] == list(range(1000, 1020))  # from the second day
    [line] = quarantined(tmp_path / "q.jsonl")
    assert (line["file"], line["row"], line["column"]) == (str(path), -1, "price")
    assert line["reason"] == "missing column(s) 'price' for trades"
    assert line["record"]["rows"] == 20 and "trade_time: int64" in line["record"]["columns"]
    assert result.quality.quarantined == {"BTCUSDT.trades": {line["reason"]: 1}}
    as_text = table.set_column(6, "trade_time", pc.cast(table.column("trade_time"), pa.string()))
    write(tmp_path, "trades", as_text, "trades.parquet")
    with pytest.raises(ss.DataError) as info:
        replay([one_stream(tmp_path, "trades")])
    assert f"{path}, column 'trade_time': type string, expected an integer type" in str(info.value)


# --- bad rows: fail names file, row, column; quarantine records the rows -----------------


def replace(table: pa.Table, name: str, row: int, value: Any) -> pa.Table:
    values = table.column(name).to_pylist()
    values[row] = value
    index = table.column_names.index(name)
    return table.set_column(index, name, pa.array(values, table.schema.field(name).type))


@pytest.mark.parametrize(
    ("column", "row", "value", "reason"),
    [
        ("price", 3, "100.35", "off the price grid (tick 0.1)"),
        ("quantity", 5, "0.0015", "off the size grid (lot 0.001)"),
        ("quantity", 7, "-0.002", "not positive"),
        ("price", 9, "NaN", "NaN or infinite"),
        ("price", 11, "abc", "not a number"),
        ("price", 12, None, "null"),
        ("trade_id", 14, 1002, "duplicate trade_id"),
    ],
)
def test_bad_trade_rows(tmp_path: Path, column: str, row: int, value: Any, reason: str) -> None:
    path = write(tmp_path, "trades", replace(trades_table(), column, row, value), "trades.parquet")
    with pytest.raises(ss.DataError) as info:
        replay([one_stream(tmp_path, "trades")])
    text = str(info.value)
    assert f"{path}, row {row}, column '{column}': {reason}" in text
    assert "policy='quarantine'" in text
    jsonl = tmp_path / "q.jsonl"
    quarantine = ss.Quarantine(jsonl)
    result, seen = replay(
        [one_stream(tmp_path, "trades", policy="quarantine", quarantine=quarantine)]
    )
    quarantine.close()
    lines = quarantined(jsonl)
    assert [(q["row"], q["column"], q["reason"], q["file"]) for q in lines] == [
        (row, column, reason, str(path))
    ]
    assert lines[0]["record"][column] == value and lines[0]["record"]["trade_id"] is not None
    assert lines[0]["stream"] == "BTCUSDT.trades"
    assert result.quality.quarantined == {"BTCUSDT.trades": {reason: 1}}
    assert [t.trade_id for t in seen.trades] == [1000 + i for i in range(20) if i != row]


def test_bad_depth_row_drops_its_whole_message(tmp_path: Path) -> None:
    messages = three_level_messages(6)
    messages[2][1] = ("bid", "100.25", "2.000")  # off grid
    messages[4][2] = ("bid", "99.4", "-1.000")  # negative size
    messages[5][0] = ("mid", "101.5", "1.000")  # unknown side
    path = write(tmp_path, "orderbook", book_table_of(messages), "orderbook_12.parquet")
    with pytest.raises(ss.DataError, match=rf"{path}, row 7, column 'price': off the price grid"):
        replay([one_stream(tmp_path, "depth")])
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    _, seen = replay([one_stream(tmp_path, "depth", policy="quarantine", quarantine=quarantine)])
    quarantine.close()
    lines = quarantined(tmp_path / "q.jsonl")
    # Dropping message 102 breaks the update-id chain: message 103 is kept, and the gap
    # before it is recorded too (the run's book resyncs there).
    gap = [q for q in lines if q["column"] == "prev_final_update_id"]
    assert [(q["row"], q["record"]["final_update_id"]) for q in gap] == [(9, 103)]
    assert gap[0]["reason"].startswith("sequence gap")
    lines = [q for q in lines if q not in gap]
    assert [(q["row"], q["column"], q["reason"]) for q in lines] == [
        (7, "price", "off the price grid (tick 0.1)"),
        (14, "quantity", "negative"),
        (15, "side", "not 'bid' or 'ask'"),
    ]
    assert [q["record"]["final_update_id"] for q in lines] == [102, 104, 105]
    assert [u.final for u in seen.depth] == [100, 101, 103]
    assert all(len(u.bid_prices) == 2 and len(u.ask_prices) == 1 for u in seen.depth)


def test_depth_time_going_backwards_and_inconsistent_messages(tmp_path: Path) -> None:
    table = book_table_of(three_level_messages(5))
    times = table.column("event_time").to_pylist()
    times[6:9] = [times[0] + 5] * 3  # message 102 goes back in time
    times[13] += 1  # one row of message 104 disagrees
    table = table.set_column(1, "event_time", pa.array(times, pa.int64()))
    write(tmp_path, "orderbook", table, "orderbook_12.parquet")
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    _, seen = replay([one_stream(tmp_path, "depth", policy="quarantine", quarantine=quarantine)])
    quarantine.close()
    lines = quarantined(tmp_path / "q.jsonl")
    # Dropping message 102 leaves a gap before 103, recorded (103 is kept).
    assert [(q["row"], q["column"]) for q in lines if q["reason"].startswith("sequence gap")] == [
        (9, "prev_final_update_id")
    ]
    lines = [q for q in lines if not q["reason"].startswith("sequence gap")]
    assert [(q["row"], q["column"], q["reason"]) for q in lines] == [
        (6, "event_time", "event_time goes backwards as update ids rise"),
        (12, "event_time", "rows of one message disagree"),
    ]
    assert lines[0]["record"] == {
        "final_update_id": 102,
        "event_time": times[6],
        "received_time": START + 205 * ss.MS,
        "first_update_id": 102,
        "prev_final_update_id": 101,
        "event_type": "update",
        "levels": 3,
    }
    assert [u.final for u in seen.depth] == [100, 101, 103]


def test_depth_messages_interleaved_and_spanning_row_groups(tmp_path: Path) -> None:
    messages = [
        [("ask" if j % 2 else "bid", f"{100 + j}.0", f"{i + 1}.000") for j in range(i % 4 + 2)]
        for i in range(40)
    ]
    table = book_table_of(messages)
    rng = np.random.default_rng(3)
    # Interleave rows of neighbouring messages inside each block of 7 rows.
    order = np.concatenate(
        [
            rng.permutation(np.arange(a, min(a + 7, table.num_rows)))
            for a in range(0, table.num_rows, 7)
        ]
    )
    shuffled = table.take(order)
    write(tmp_path, "orderbook", shuffled, "orderbook_12.parquet", row_group_size=7)
    assert pq.ParquetFile(tmp_path / "orderbook" / DAY / "orderbook_12.parquet").num_row_groups > 10
    _, seen = replay([one_stream(tmp_path, "depth")])
    assert [u.final for u in seen.depth] == list(range(100, 140))
    rows = shuffled.to_pylist()
    for update in seen.depth:
        mine = [r for r in rows if r["final_update_id"] == update.final]  # file order
        for side, prices, qtys in (
            ("bid", update.bid_prices, update.bid_qtys),
            ("ask", update.ask_prices, update.ask_qtys),
        ):
            assert prices.tolist() == [ticks(r["price"]) for r in mine if r["side"] == side]
            assert qtys.tolist() == [
                ticks(r["quantity"], "0.001") for r in mine if r["side"] == side
            ]


def test_unsorted_files_are_sorted_within_sort_limit_and_fail_beyond(tmp_path: Path) -> None:
    table = trades_table(1000)
    shuffled = table.take(np.random.default_rng(5).permutation(1000))
    path = write(tmp_path, "trades", shuffled, "trades.parquet", row_group_size=128)
    _, seen = replay([one_stream(tmp_path, "trades")])
    assert [t.trade_id for t in seen.trades] == list(range(1000, 2000))
    with pytest.raises(ss.DataError) as info:
        replay([one_stream(tmp_path, "trades", sort_limit=500)])
    text = str(info.value)
    assert str(path) in text and "1,000 rows are not in trade_time order" in text
    assert "sort_limit=500" in text and "smaller window" in text and "sorted by trade_time" in text
    # Row groups each sorted but overlapping a little: only the overlap is held back.
    jitter = table.take(
        np.argsort(np.arange(1000) + np.random.default_rng(6).integers(0, 20, 1000), kind="stable")
    )
    write(tmp_path, "trades", jitter, "trades.parquet", row_group_size=100)
    _, seen = replay([one_stream(tmp_path, "trades", sort_limit=150)])
    assert [t.trade_id for t in seen.trades] == list(range(1000, 2000))


def test_unsorted_file_without_statistics(tmp_path: Path) -> None:
    shuffled = trades_table(300).take(np.random.default_rng(8).permutation(300))
    write(tmp_path, "trades", shuffled, "trades.parquet", row_group_size=50, write_statistics=False)
    _, seen = replay([one_stream(tmp_path, "trades")])
    assert [t.trade_id for t in seen.trades] == list(range(1000, 1300))
    with pytest.raises(ss.DataError, match=r"not in trade_time order|has no row-group statistics"):
        replay([one_stream(tmp_path, "trades", sort_limit=100)])


def test_missing_hours_skip_or_fail(tmp_path: Path) -> None:
    for hour, first in ((12, 100), (14, 200)):
        write(
            tmp_path,
            "orderbook",
            book_table_of(three_level_messages(3), START_MS + (hour - 12) * 3_600_000, first),
            f"orderbook_{hour}.parquet",
        )
    window = (START, START + 4 * ss.HOUR - 1)
    with pytest.raises(ss.DataError) as info:
        replay([one_stream(tmp_path, "depth", window=window)])
    missing = tmp_path / "orderbook" / DAY / "orderbook_13.parquet"
    assert f"missing file {missing}" in str(info.value) and "missing='skip'" in str(info.value)
    result, seen = replay([one_stream(tmp_path, "depth", window=window, missing="skip")])
    assert [u.final for u in seen.depth] == [100, 101, 102, 200, 201, 202]
    assert result.quality.notes == [
        "BTCUSDT.depth: 2 missing hourly file(s) skipped: "
        f"orderbook/{DAY}/orderbook_13.parquet, orderbook/{DAY}/orderbook_15.parquet"
    ]


def test_stale_depth_message_in_the_next_file(tmp_path: Path) -> None:
    write(tmp_path, "orderbook", book_table_of(three_level_messages(3)), "orderbook_12.parquet")
    write(
        tmp_path,
        "orderbook",
        book_table_of(three_level_messages(3), START_MS + 3_600_000, 102),
        "orderbook_13.parquet",
    )
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    _, seen = replay(
        [
            one_stream(
                tmp_path,
                "depth",
                window=(START, START + 2 * ss.HOUR - 1),
                policy="quarantine",
                quarantine=quarantine,
            )
        ]
    )
    quarantine.close()
    assert [u.final for u in seen.depth] == [100, 101, 102, 103, 104]
    [line] = quarantined(tmp_path / "q.jsonl")
    # Message 102 of the next file has the id of one replayed, other levels and times.
    assert (line["row"], line["reason"]) == (0, CONFLICTING)
    assert line["file"].endswith("orderbook_13.parquet")


# --- the other kinds ----------------------------------------------------------------------


def test_mark_price_open_interest_fallback_ticker_liquidations(tmp_path: Path) -> None:
    n = 5
    times = [START_MS + 1000 * i for i in range(n)]
    recv = pa.array([t * ss.MS + 7 for t in times], pa.int64())
    marks = pa.table(
        {
            "received_time": recv,
            "event_time": pa.array(times[::-1], pa.int64()),
            "symbol": ["BTCUSDT"] * n,
            "mark_price": ["100.5"] * n,
            "index_price": ["100.4"] * n,
            "estimated_settle_price": ["100.45"] * n,
            "funding_rate": ["-0.0001"] * n,
            "next_funding_time": pa.array([START_MS + 4 * 3_600_000] * n, pa.int64()),
        }
    )
    write(tmp_path, "mark_price", marks, "mark_price.parquet")
    # open_interest_parcial spans three days; only 2025-07-01 rows are kept.
    buckets = [DAY0 // ss.MS - 300_000, START_MS, START_MS + 300_000, DAY0 // ss.MS + 86_400_000]
    oi = pa.table(
        {
            "received_time": pa.array([b * ss.MS + 30 * ss.SECOND for b in buckets], pa.int64()),
            "symbol": ["BTCUSDT"] * 4,
            "sum_open_interest": ["1.5", "2.5", "3.5", "4.5"],
            "sum_open_interest_value": ["10", "20", "30", "40"],
            "timestamp": pa.array(buckets, pa.int64()),
        }
    )
    write(tmp_path, "open_interest", oi, "open_interest_parcial.parquet")
    ticker = pa.table(
        {
            "received_time": recv,
            "event_time": pa.array(times, pa.int64()),
            "symbol": ["BTCUSDT"] * n,
            "last_price": ["101"] * n,
            "open_price": ["99"] * n,
            "high_price": ["102"] * n,
            "low_price": ["98"] * n,
            "base_asset_volume": ["1000"] * n,
            "quote_asset_volume": ["100000"] * n,
        }
    )
    write(tmp_path, "ticker", ticker, "ticker.parquet")
    liquidations = pa.table(
        {
            "received_time": recv,
            "event_time": pa.array(times, pa.int64()),
            "symbol": ["BTCUSDT"] * n,
            "side": ["SELL", "BUY", "SELL", "BUY", "SELL"],
            "order_type": ["LIMIT"] * n,
            "time_in_force": ["IOC"] * n,
            "quantity": ["0.5"] * n,
            "price": ["99.5"] * n,
            "average_price": ["99.7"] * n,
            "order_status": ["FILLED"] * n,
            "last_filled_quantity": ["0.5"] * n,
            "filled_quantity": ["0.5"] * n,
            "trade_time": pa.array(times, pa.int64()),
        }
    )
    write(tmp_path, "liquidations", liquidations, "liquidations.parquet")
    data = CryptoHFTData(LocalStore(tmp_path))
    kinds = ["mark_price", "open_interest", "ticker", "liquidations"]
    result, seen = replay(data.sources(["BTCUSDT"], kinds, START, START + ss.HOUR - 1))
    assert [m.ts_exchange for m in seen.marks] == [t * ss.MS for t in times]
    assert (seen.marks[0].mark, seen.marks[0].funding_rate) == (100.5, -0.0001)
    assert seen.marks[0].next_funding_time == START + 4 * ss.HOUR
    assert [(o.bucket_time, o.value, o.ts_recv) for o in seen.oi] == [
        (START, 2.5, START + 30 * ss.SECOND),
        (START + 5 * ss.MINUTE, 3.5, START + 5 * ss.MINUTE + 30 * ss.SECOND),
    ]
    assert [(t.last_price, t.quote_volume) for t in seen.tickers] == [(101.0, 100000.0)] * n
    assert [liq.side for liq in seen.liquidations] == [-1, 1, -1, 1, -1]
    assert seen.liquidations[0].avg_price == 99.7
    assert result.total_events == 5 + 2 + 5 + 5


def test_trades_before_the_previous_file_end_are_bad(tmp_path: Path) -> None:
    day1 = DAY0 // ss.MS + 86_400_000
    first = trades_table(5, start_ms=day1 - 30)  # ends at day1 + 10 ms
    second = trades_table(5, start_ms=day1 - 5)  # two rows before that
    second = second.set_column(3, "trade_id", pa.array(range(2000, 2005), pa.int64()))
    write(tmp_path, "trades", first, "trades.parquet")
    path = tmp_path / "trades" / "binance_futures/BTCUSDT/2025/07/02/trades.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(second, path)
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    source = one_stream(
        tmp_path,
        "trades",
        window=(DAY0, DAY0 + 2 * ss.DAY - 1),
        policy="quarantine",
        quarantine=quarantine,
    )
    _, seen = replay([source])
    quarantine.close()
    assert [t.trade_id for t in seen.trades] == [1000, 1001, 1002, 1003, 1004, 2002, 2003, 2004]
    lines = quarantined(tmp_path / "q.jsonl")
    assert [(q["row"], q["reason"]) for q in lines] == [
        (0, "earlier than the previous file's last row"),
        (1, "earlier than the previous file's last row"),
    ]
    assert lines[0]["record"]["price"] == "100.0" and lines[0]["file"] == str(path)


def test_duplicate_open_interest_bucket(tmp_path: Path) -> None:
    buckets = [START_MS, START_MS + 300_000, START_MS + 300_000, START_MS + 600_000]
    oi = pa.table(
        {
            "received_time": pa.array([b * ss.MS + ss.SECOND for b in buckets], pa.int64()),
            "symbol": ["BTCUSDT"] * 4,
            "sum_open_interest": ["1", "2", "2.5", "3"],
            "sum_open_interest_value": ["10", "20", "25", "30"],
            "timestamp": pa.array(buckets, pa.int64()),
        }
    )
    path = write(tmp_path, "open_interest", oi, "open_interest.parquet")
    with pytest.raises(
        ss.DataError, match=rf"{path}, row 2, column 'timestamp': duplicate timestamp"
    ):
        replay([one_stream(tmp_path, "open_interest")])
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    _, seen = replay(
        [one_stream(tmp_path, "open_interest", policy="quarantine", quarantine=quarantine)]
    )
    quarantine.close()
    assert [o.value for o in seen.oi] == [1.0, 2.0, 3.0]
    [line] = quarantined(tmp_path / "q.jsonl")
    assert (line["row"], line["record"]["sum_open_interest"]) == (2, "2.5")


# --- configuration and the whole-table decoders ------------------------------------------


def test_configuration_errors(tmp_path: Path) -> None:
    data = CryptoHFTData(LocalStore(tmp_path))
    with pytest.raises(ss.ConfigError, match="needs start and end"):
        data.sources(["BTCUSDT"])
    with pytest.raises(ss.ConfigError, match="no instrument for XRPUSDT"):
        data.sources(["XRPUSDT"], ["trades"], START, START)
    assert data.sources(["XRPUSDT"], ["mark_price"], START, START)  # no grid needed
    with pytest.raises(ss.ConfigError, match="unknown kind 'book'"):
        data.sources(["BTCUSDT"], ["book"], START, START)
    with pytest.raises(ss.ConfigError, match="needs a Quarantine"):
        CryptoHFTData(LocalStore(tmp_path), policy="quarantine")
    with pytest.raises(ss.ConfigError, match="missing must be"):
        CryptoHFTData(LocalStore(tmp_path), missing="ignore")  # type: ignore[arg-type]
    dated = data.sources(["BTCUSDT_260626"], ["depth"], START, START)[0]
    assert dated.stream == ss.Stream("BTCUSDT_260626", "depth")
    eth = ss.Instrument("ETHUSDT", tick_size=Decimal("0.05"), lot_size=Decimal("0.01"))
    given = CryptoHFTData(LocalStore(tmp_path), instruments={"ETHUSDT": eth})
    assert given.instrument("ETHUSDT") is eth
    hours = data.files("BTCUSDT", "depth", DAY0 + 23 * ss.HOUR, DAY0 + 24 * ss.HOUR)
    assert [f.key for f in hours] == [
        "orderbook/binance_futures/BTCUSDT/2025/07/01/orderbook_23.parquet",
        "orderbook/binance_futures/BTCUSDT/2025/07/02/orderbook_00.parquet",
    ]


def test_whole_table_decoders(tmp_path: Path) -> None:
    table = book_table_of(three_level_messages(4))
    batch = decode_orderbook(table, BTC, where="book.parquet, ")
    assert batch.final.tolist() == [100, 101, 102, 103]
    assert batch.bid_counts.tolist() == [2, 2, 2, 2]
    assert batch.level_offsets.tolist() == [0, 3, 6, 9, 12]
    assert batch.level_price[:3].tolist() == [1000, 990, 1010]
    with pytest.raises(ss.DataError, match=r"book.parquet, row 4, column 'price': off the price"):
        decode_orderbook(replace(table, "price", 4, "100.01"), BTC, where="book.parquet, ")
    trades = trades_table(10).take([3, 1, 2, 0, 4, 5, 6, 7, 8, 9])
    tb = decode_trades(trades, BTC, where="t.parquet, ")
    assert tb.trade_id.tolist() == list(range(1000, 1010))
    assert tb.ts_exchange.tolist() == [(START_MS + 10 * i) * ss.MS for i in range(10)]
    with pytest.raises(ss.DataError, match="missing column"):
        decode_trades(trades.drop_columns(["trade_id"]), BTC)


@pytest.mark.asyncio
async def test_parquet_object_reads_a_footer_larger_than_the_first_read(tmp_path: Path) -> None:
    table = trades_table(50)
    wide = table.append_column("note", pa.array(["x" * 10] * 50))
    metadata = {f"k{i}".encode(): b"v" * 1000 for i in range(100)}  # a ~100 KB footer
    path = tmp_path / "wide.parquet"
    pq.write_table(wide.replace_schema_metadata(metadata), path)
    obj = await ParquetObject.open(LocalStore(tmp_path), "wide.parquet")
    assert obj is not None and obj.num_rows == 50
    got = [t async for _, t in obj.row_groups(["trade_id"], decode_in_thread=False)]
    assert got[0].column("trade_id").to_pylist() == list(range(1000, 1050))
    assert await ParquetObject.open(LocalStore(tmp_path), "absent.parquet") is None


# --- real data, snapshots, I/O behaviour ----------------------------------------------------


def test_bundled_real_sample_replays_with_a_gapless_book() -> None:
    from adapters.binance import SAMPLE_END, SAMPLE_START, sample_path

    class Books(Record):
        uses_books = True

    data = CryptoHFTData(LocalStore(sample_path()))
    strategy = Books()
    result = ss.run_backtest(
        data.sources(["BTCUSDT"], start=SAMPLE_START, end=SAMPLE_END - 1), strategy
    )
    assert result.events == {
        "BTCUSDT.depth": 16_111,
        "BTCUSDT.trades": 12_935,
        "BTCUSDT.mark_price": 514,
        "BTCUSDT.open_interest": 2,
    }
    assert [u.is_snapshot for u in strategy.depth].count(True) == 1
    book = result.quality.books["BTCUSDT"]
    assert (book["messages"], book["snapshots"], book["gaps"], book["crossed"]) == (
        16_111,
        1,
        0,
        0,
    )


def test_snapshot_sharing_an_update_id_comes_first(tmp_path: Path) -> None:
    table = book_table_of(three_level_messages(3))  # ids 100, 101, 102
    snapshot = book_table_of([[("bid", "99.0", "1.000"), ("ask", "99.5", "1.000")]], START_MS + 150)
    snapshot = snapshot.set_column(5, "first_update_id", pa.array([101, 101], pa.int64()))
    snapshot = snapshot.set_column(6, "final_update_id", pa.array([101, 101], pa.int64()))
    snapshot = snapshot.set_column(7, "prev_final_update_id", pa.array([-1, -1], pa.int64()))
    types = ["update"] * 9 + ["snapshot"] * 2
    both = pa.concat_tables([table, snapshot]).append_column("event_type_", pa.array(types))
    both = both.drop_columns(["event_type"]).rename_columns(
        [*both.column_names[:4], *both.column_names[5:-1], "event_type"]
    )
    write(tmp_path, "orderbook", both, "orderbook_12.parquet")
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    result, seen = replay(
        [one_stream(tmp_path, "depth", policy="quarantine", quarantine=quarantine)]
    )
    quarantine.close()
    assert [(u.final, u.is_snapshot) for u in seen.depth] == [
        (100, False),
        (101, True),
        (101, False),
        (102, False),
    ]
    # The snapshot's E (150 ms) is after the next diff's (100 ms): it is replayed at 100 ms
    # and noted; no diff is altered or dropped.
    assert [u.ts_exchange - START for u in seen.depth] == [0, 100 * ss.MS, 100 * ss.MS, 200 * ss.MS]
    assert seen.depth[1].prev_final == -1 and seen.depth[1].bid_prices.tolist() == [990]
    assert quarantined(tmp_path / "q.jsonl") == []
    assert result.quality.notes == [
        "BTCUSDT.depth: depth snapshot final_update_id 101: event_time 1751371200150 ms is "
        "outside its neighbours' in update-id order; replayed at 1751371200100 ms (-50 ms)"
    ]


class Slow:
    """A store that sleeps before each read and records the most reads in flight."""

    def __init__(self, inner: Store, delay: float = 0.01) -> None:
        self.inner = inner
        self.coalesce_gap = inner.coalesce_gap
        self.delay = delay
        self.in_flight = 0
        self.most = 0

    def describe(self, key: str) -> str:
        return self.inner.describe(key)

    async def read_tail(self, key: str, length: int) -> tuple[int, bytes] | None:
        return await self.inner.read_tail(key, length)

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        import anyio

        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await anyio.sleep(self.delay)
            return await self.inner.read_range(key, start, end)
        finally:
            self.in_flight -= 1


class Short(Slow):
    """Returns one byte less than asked for reads past the footer."""

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        data = await self.inner.read_range(key, start, end)
        return data[:-1] if start < 1000 else data


def test_row_groups_are_prefetched_and_short_reads_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "TAIL_READ", 1024)  # the file must not come whole with its footer
    path = write(tmp_path, "trades", trades_table(400), "trades.parquet", row_group_size=50)
    assert path.stat().st_size > 1024
    counts = {}
    for prefetch in (1, 3):
        store = Slow(LocalStore(tmp_path))
        data = CryptoHFTData(store, prefetch=prefetch)
        _, seen = replay(data.sources(["BTCUSDT"], ["trades"], START, START + ss.HOUR - 1))
        assert len(seen.trades) == 400
        counts[prefetch] = store.most
    assert counts == {1: 1, 3: 2}  # the one decoded is fetched before the ones after it
    data = CryptoHFTData(Short(LocalStore(tmp_path)))
    with pytest.raises(ss.DataError, match=rf"{path}: read of bytes \[\d+, \d+\) returned"):
        replay(data.sources(["BTCUSDT"], ["trades"], START, START + ss.HOUR - 1))


def test_a_small_object_is_read_whole_in_one_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "trades", trades_table(400), "trades.parquet", row_group_size=50)
    assert path.stat().st_size <= reader.TAIL_READ
    store = Counting(LocalStore(tmp_path))
    sources = CryptoHFTData(store).sources(["BTCUSDT"], ["trades"], START, START + ss.HOUR - 1)
    assert len(replay(sources)[1].trades) == 400
    assert store.reads == [(str(path.relative_to(tmp_path)), 0, path.stat().st_size)]
    # Past the budget for objects kept whole, row groups are read again by range.
    monkeypatch.setattr(dataset, "_KEEP_WHOLE", 0)
    store.reads.clear()
    sources = CryptoHFTData(store).sources(["BTCUSDT"], ["trades"], START, START + ss.HOUR - 1)
    assert len(replay(sources)[1].trades) == 400
    assert len(store.reads) == 1 + 8  # the footer, then one read per row group


def test_a_source_can_be_iterated_again(tmp_path: Path) -> None:
    write(tmp_path, "trades", trades_table(30), "trades.parquet")
    source = one_stream(tmp_path, "trades", window=(START, START + ss.DAY), missing="skip")
    first = replay([source])[1]
    second = replay([source])[1]
    assert [t.trade_id for t in first.trades] == [t.trade_id for t in second.trades]
    assert len(first.trades) == 30
    assert isinstance(source, CryptoHFTSource)
    assert len(source.notes) == 1 and "1 missing daily file(s) skipped" in source.notes[0]


def marks_table(n: int = 5) -> pa.Table:
    times = [START_MS + 1000 * i for i in range(n)]
    return pa.table(
        {
            "received_time": pa.array([t * ss.MS + 7 for t in times], pa.int64()),
            "event_time": pa.array(times, pa.int64()),
            "symbol": ["BTCUSDT"] * n,
            "mark_price": ["100.5"] * n,
            "index_price": ["100.4"] * n,
            "estimated_settle_price": ["100.45"] * n,
            "funding_rate": ["-0.0001"] * n,
            "next_funding_time": pa.array([START_MS + 4 * 3_600_000] * n, pa.int64()),
        }
    )


@pytest.mark.parametrize(
    ("scale", "unit"), [(1 / 1000, "seconds"), (1000, "microseconds"), (1_000_000, "nanoseconds")]
)
def test_a_next_funding_time_in_another_unit_is_a_data_error_naming_the_column(
    tmp_path: Path, scale: float, unit: str
) -> None:
    marks = replace(marks_table(3), "next_funding_time", 1, int((START_MS + 4 * 3_600_000) * scale))
    path = write(tmp_path, "mark_price", marks, "mark_price.parquet")
    with pytest.raises(ss.DataError) as caught:
        replay([one_stream(tmp_path, "mark_price")])
    text = str(caught.value)
    assert str(path) in text and "row 1" in text and "column 'next_funding_time'" in text
    assert f"looks like {unit}" in text


@pytest.mark.parametrize(
    ("folder", "name", "kind", "table", "row"),
    [
        ("trades", "trades.parquet", "trades", trades_table(), 4),
        ("orderbook", "orderbook_12.parquet", "depth", book_table_of(three_level_messages(4)), 3),
        ("mark_price", "mark_price.parquet", "mark_price", marks_table(), 2),
    ],
)
def test_a_row_of_another_symbol_is_a_data_error_naming_the_column(
    tmp_path: Path, folder: str, name: str, kind: str, table: pa.Table, row: int
) -> None:
    path = write(tmp_path, folder, replace(table, "symbol", row, "ETHUSDT"), name)
    with pytest.raises(ss.DataError) as caught:
        replay([one_stream(tmp_path, kind)])
    assert f"{path}, row {row}, column 'symbol': not 'BTCUSDT', the symbol read" in str(
        caught.value
    )
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    result, _ = replay([one_stream(tmp_path, kind, policy="quarantine", quarantine=quarantine)])
    quarantine.close()
    lines = quarantined(tmp_path / "q.jsonl")
    assert [(q["row"], q["record"]["symbol"]) for q in lines if q["column"] == "symbol"] == [
        (row, "ETHUSDT")
    ]
    assert result.quality.quarantined[f"BTCUSDT.{kind}"]["not 'BTCUSDT', the symbol read"] == 1


def test_whole_table_decoders_refuse_rows_of_another_symbol() -> None:
    with pytest.raises(ss.DataError, match="row 1, column 'symbol': not 'BTCUSDT'"):
        decode_trades(replace(trades_table(), "symbol", 1, "ETHUSDT"), BTC)
    book = replace(book_table_of(three_level_messages(2)), "symbol", 0, "BTCUSDC")
    with pytest.raises(ss.DataError, match="row 0, column 'symbol': not 'BTCUSDT'"):
        decode_orderbook(book, BTC)
    assert len(decode_trades(trades_table().drop_columns(["symbol"]), BTC).price) == 20
