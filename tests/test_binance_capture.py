"""Binance captures as sources, the CryptoHFTData converter, and the bundled sample.

The 2023 BTCUSDT recording (two files chaining across a UTC day) replays through the run
with a valid book to the end; written in the CryptoHFTData layout, every price, size,
mark price and funding string reads back exactly as the venue sent it; the sample bundled
in ``streamsim/sample`` is exactly what the converter writes, plus synthetic open
interest, and stays under 5 MB.
"""

from __future__ import annotations

import gzip
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import Recorder

import streamsim as ss
from adapters.binance import (
    SAMPLE_END,
    SAMPLE_OI_NOTE,
    SAMPLE_START,
    SAMPLE_SYMBOL,
    Capture,
    CaptureSource,
    capture_sources,
    read_capture,
    sample_path,
    sources_from_capture,
    write_cryptohftdata,
)
from adapters.binance.convert import (
    DEPTH_SCHEMA,
    MARK_PRICE_SCHEMA,
    OPEN_INTEREST_SCHEMA,
    TRADES_SCHEMA,
    float_strings,
    format_fixed,
    grid_strings,
    write_partitioned,
)
from adapters.binance.sample import SAMPLE_INSTRUMENT, synthetic_open_interest
from adapters.binance.sources import split_depth
from streamsim.errors import ConfigError, DataError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance-usdm-capture"
PATHS = [DATA / "btcusdt_20230404.dat.gz", DATA / "btcusdt_20230405.dat.gz"]
SYMBOL = "BTCUSDT"
DIFFS, SNAPSHOT_LEVELS, TRADES, MARKS, TICKERS = 16_110, 2_000, 12_935, 514, 44_205
LEVEL_ROWS = 324_682
LAYOUT = {
    "orderbook/binance_futures/BTCUSDT/2023/04/04/orderbook_23.parquet": 68_278,
    "orderbook/binance_futures/BTCUSDT/2023/04/05/orderbook_00.parquet": 256_404,
    "trades/binance_futures/BTCUSDT/2023/04/04/trades.parquet": 2_197,
    "trades/binance_futures/BTCUSDT/2023/04/05/trades.parquet": 10_738,
    "mark_price/binance_futures/BTCUSDT/2023/04/04/mark_price.parquet": 99,
    "mark_price/binance_futures/BTCUSDT/2023/04/05/mark_price.parquet": 415,
}
OI_FILES = [
    "open_interest/binance_futures/BTCUSDT/2023/04/04/open_interest.parquet",
    "open_interest/binance_futures/BTCUSDT/2023/04/05/open_interest.parquet",
]


@pytest.fixture(scope="module")
def capture() -> Capture:
    return read_capture(PATHS, {SYMBOL: SAMPLE_INSTRUMENT})


@pytest.fixture(scope="module")
def converted(capture: Capture, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cryptohftdata")
    write_cryptohftdata(capture, root, compression_level=1)
    return root


@pytest.fixture(scope="module")
def raw() -> dict[str, list[Any]]:
    """The recording's messages by stream kind, straight from the files (file order)."""
    out: dict[str, list[Any]] = {"depth": [], "trade": [], "markPriceUpdate": []}
    for path in PATHS:
        with gzip.open(path, "rb") as f:
            for line in f:
                message = orjson.loads(line.split(b" ", 1)[1])
                data = message.get("data", message)
                kind = "depth" if "lastUpdateId" in data else data.get("e")
                if kind == "depthUpdate":
                    kind = "depth"
                if kind in out:
                    out[kind].append(data)
    return out


def _read(root: Path, relative: str) -> pa.Table:
    return pq.read_table(root / relative)


def _concat(root: Path, kind: str) -> pa.Table:
    return pa.concat_tables(
        [_read(root, name) for name in sorted(LAYOUT, key=_day_hour) if name.startswith(kind)]
    )


def _day_hour(name: str) -> str:
    return name.split("/", 3)[3]


# -- sources ---------------------------------------------------------------------------------


class TopRecorder(Recorder):
    """Records every event and, after each depth message, the book's update id and top."""

    def __init__(self) -> None:
        super().__init__()
        self.tops: list[tuple[int, int | None, int | None]] = []

    async def on_depth(self, update: ss.DepthUpdate, book: Any) -> None:
        await super().on_depth(update, book)
        if book.valid and book.last_update_id is not None:
            self.tops.append((book.last_update_id, book.best_bid, book.best_ask))


def test_replay_gives_every_event_and_a_valid_book(capture: Capture) -> None:
    sources = sources_from_capture(capture, batch_size=4096)
    assert [str(s.stream) for s in sources] == [
        "BTCUSDT.depth",
        "BTCUSDT.trades",
        "BTCUSDT.mark_price",
    ]
    recorder = TopRecorder()
    result = ss.run_backtest(sources, recorder)

    assert result.events == {
        "BTCUSDT.depth": DIFFS + 1,
        "BTCUSDT.trades": TRADES,
        "BTCUSDT.mark_price": MARKS,
    }
    seen = Counter(
        ("snapshot" if event.is_snapshot else "diff")
        if isinstance(event, ss.DepthUpdate)
        else type(event).__name__
        for event, _ in recorder.seen
    )
    assert seen == {"diff": DIFFS, "snapshot": 1, "Trade": TRADES, "MarkPrice": MARKS}
    assert recorder.ctx is not None
    book = recorder.ctx.books[SYMBOL]
    assert book.valid and not book.crossed
    stats = result.quality.books[SYMBOL]
    assert stats["snapshots"] == 1 and stats["gaps"] == 0 and stats["crossed"] == 0, stats
    assert stats["skipped_while_invalid"] == 0
    # The strategy-side book agrees with the venue's bookTicker wherever they share an
    # update id (the last state per id: the first diff may end at the snapshot's id).
    tickers = capture[SYMBOL].book_tickers
    tops = {final: (bid, ask) for final, bid, ask in recorder.tops}
    shared = [i for i, u in enumerate(tickers.update_id.tolist()) if u in tops]
    assert len(shared) > 1000
    assert all(
        tops[int(tickers.update_id[i])] == (tickers.bid_price[i], tickers.ask_price[i])
        for i in shared
    )
    assert any(f"{TICKERS:,} bookTicker" in note for note in result.quality.notes)


def test_batches_are_bounded_and_never_split_a_message(capture: Capture) -> None:
    size = 1000
    depth = capture[SYMBOL].depth
    batches = split_depth(depth, size)
    for batch in batches:
        batch.validate()
        levels = int(batch.level_offsets[-1])
        assert len(batch) <= size
        assert levels <= size or len(batch) == 1
    assert sum(len(b) for b in batches) == len(depth)
    assert any(int(b.level_offsets[-1]) == SNAPSHOT_LEVELS and len(b) == 1 for b in batches)
    assert np.array_equal(np.concatenate([b.level_price for b in batches]), depth.level_price)
    assert np.array_equal(np.concatenate([b.final for b in batches]), depth.final)

    sources = sources_from_capture(capture, ("trades", "mark_price"), batch_size=size)
    assert all(isinstance(s, CaptureSource) for s in sources)
    trades = [b for s in sources for b in s.batches if b.kind == "trades"]  # type: ignore[attr-defined]
    assert max(len(b) for b in trades) == size
    assert np.array_equal(
        np.concatenate([b.trade_id for b in trades]), capture[SYMBOL].trades.trade_id
    )


def _line(recv_us: int, payload: dict[str, Any]) -> bytes:
    return str(recv_us).encode() + b" " + orjson.dumps(payload) + b"\n"


def _diff(e_ms: int, first: int, final: int, prev: int, bid: str) -> dict[str, Any]:
    data = {
        "e": "depthUpdate",
        "E": e_ms,
        "T": e_ms - 1,
        "s": SYMBOL,
        "U": first,
        "u": final,
        "pu": prev,
        "b": [[bid, "1.000"]],
        "a": [["101.0", "2.000"]],
    }
    return {"stream": "btcusdt@depth@0ms", "data": data}


def test_late_snapshot_time_is_raised_and_noted(tmp_path: Path) -> None:
    """Two files chaining into one source; the snapshot's E is 50 ms before the diff
    received ahead of it, so its ts_exchange is raised to that diff's, and said so."""
    base = 1_700_000_000_000
    first, second = tmp_path / "a.dat.gz", tmp_path / "b.dat.gz"
    with gzip.open(first, "wb") as f:
        f.write(_line(base * 1000 + 5000, _diff(base, 90, 100, 89, "99.0")))
        trade = {"e": "trade", "E": base, "T": base, "s": SYMBOL, "t": 7, "p": "100.0"}
        trade |= {"q": "0.500", "X": "MARKET", "m": True}
        f.write(_line(base * 1000 + 6000, {"stream": "btcusdt@trade", "data": trade}))
        kline = {"e": "kline", "E": base, "s": SYMBOL, "k": {}}
        f.write(_line(base * 1000 + 7000, {"stream": "btcusdt@kline_1m", "data": kline}))
    with gzip.open(second, "wb") as f:
        snapshot = {
            "lastUpdateId": 105,
            "E": base - 50,
            "T": base - 60,
            "bids": [["99.5", "3.000"], ["99.0", "1.000"]],
            "asks": [["100.5", "4.000"]],
        }
        f.write(_line(base * 1000 + 20_000, snapshot))
        f.write(_line(base * 1000 + 120_000, _diff(base + 100, 101, 110, 100, "99.5")))

    raw_depth = read_capture([first, second])[SYMBOL].depth
    assert (raw_depth.ts_exchange // 1_000_000).tolist() == [base, base - 50, base + 100]
    with pytest.raises(ss.OutOfOrderError):  # the raw order breaks the Source contract
        ss.run_backtest([ss.MemorySource([raw_depth])], Recorder())

    sources = capture_sources([first, second])
    assert [str(s.stream) for s in sources] == ["BTCUSDT.depth", "BTCUSDT.trades"]
    depth = sources[0].batches[0]  # type: ignore[attr-defined]
    assert (depth.ts_exchange // 1_000_000).tolist() == [base, base, base + 100]
    assert depth.is_snapshot.tolist() == [False, True, False]
    notes = sources[0].notes  # type: ignore[attr-defined]
    assert any("1 kline" in note for note in notes)
    assert any("no mark price" in note for note in notes)
    assert any("1 REST snapshot(s) (lastUpdateId 105)" in n and "by 50 ms" in n for n in notes)

    recorder = Recorder()
    result = ss.run_backtest(sources, recorder)
    assert result.events == {"BTCUSDT.depth": 3, "BTCUSDT.trades": 1}
    book = result.quality.books[SYMBOL]
    assert book["gaps"] == 0 and book["stale_skipped"] == 1, book
    assert recorder.ctx is not None and recorder.ctx.books[SYMBOL].valid
    assert any("REST snapshot" in note for note in result.quality.notes)


def test_unknown_kinds_are_rejected(capture: Capture) -> None:
    with pytest.raises(ConfigError, match="bookTicker has no event type"):
        sources_from_capture(capture, ("depth", "book_ticker"))
    with pytest.raises(ConfigError, match="batch_size"):
        sources_from_capture(capture, batch_size=0)


# -- converter --------------------------------------------------------------------------------


def test_decimal_formatting_is_exact() -> None:
    counts = np.array([281451, -3, 0, 7], dtype=np.int64)
    assert grid_strings(counts, Decimal("0.10")).to_pylist() == [
        "28145.10",
        "-0.30",
        "0.00",
        "0.70",
    ]
    assert grid_strings(counts, Decimal("0.1")).to_pylist() == ["28145.1", "-0.3", "0.0", "0.7"]
    assert grid_strings(counts, Decimal("5")).to_pylist() == ["1407255", "-15", "0", "35"]
    assert grid_strings(counts, Decimal("1E+1")).to_pylist() == ["2814510", "-30", "0", "70"]
    assert format_fixed(np.array([5, 123456789], dtype=np.int64), 8).to_pylist() == [
        "0.00000005",
        "1.23456789",
    ]
    assert float_strings(np.array([0.00002754, -0.0001]), 8, "r").to_pylist() == [
        "0.00002754",
        "-0.00010000",
    ]
    with pytest.raises(DataError, match="more than 8 decimals"):
        float_strings(np.array([0.123456789]), 8, "r")


def test_converter_round_trip_is_exact(
    capture: Capture, converted: Path, raw: dict[str, list[Any]]
) -> None:
    files = sorted(str(p.relative_to(converted)) for p in converted.rglob("*.parquet"))
    assert files == sorted(LAYOUT)
    for name, rows in LAYOUT.items():
        assert pq.ParquetFile(converted / name).metadata.num_rows == rows, name
        assert pq.ParquetFile(converted / name).metadata.row_group(0).column(0).compression == (
            "ZSTD"
        )

    depth = _concat(converted, "orderbook")
    assert depth.schema == DEPTH_SCHEMA and depth.num_rows == LEVEL_ROWS
    messages = raw["depth"]
    prices = [level[0] for m in messages for side in _sides(m) for level in side]
    sizes = [level[1] for m in messages for side in _sides(m) for level in side]
    assert depth.column("price").to_pylist() == prices
    assert depth.column("quantity").to_pylist() == sizes
    finals = [m.get("u", m.get("lastUpdateId")) for m in messages]
    per_message = [sum(len(s) for s in _sides(m)) for m in messages]
    assert (
        depth.column("final_update_id").to_numpy().tolist()
        == np.repeat(finals, per_message).tolist()
    )
    snapshot = np.asarray(depth.column("event_type").to_pylist()) == "snapshot"
    assert int(snapshot.sum()) == SNAPSHOT_LEVELS
    assert set(depth.column("event_type").to_pylist()) == {"snapshot", "update"}
    assert depth.column("last_update_id").null_count == LEVEL_ROWS - SNAPSHOT_LEVELS
    assert set(depth.filter(pa.array(snapshot)).column("prev_final_update_id").to_pylist()) == {-1}
    assert depth.column("transaction_time").null_count == LEVEL_ROWS
    source = capture[SYMBOL].depth
    assert source.ts_recv is not None
    message = np.repeat(np.arange(len(source)), np.diff(source.level_offsets))
    assert np.array_equal(depth.column("received_time").to_numpy(), source.ts_recv[message])
    assert np.array_equal(
        depth.column("event_time").to_numpy() * 1_000_000, source.ts_exchange[message]
    )

    trades = _concat(converted, "trades")
    assert trades.schema == TRADES_SCHEMA and trades.num_rows == TRADES
    assert trades.column("price").to_pylist() == [t["p"] for t in raw["trade"]]
    assert trades.column("quantity").to_pylist() == [t["q"] for t in raw["trade"]]
    assert trades.column("trade_id").to_pylist() == [t["t"] for t in raw["trade"]]
    assert trades.column("trade_time").to_pylist() == [t["T"] for t in raw["trade"]]
    assert trades.column("is_buyer_maker").to_pylist() == [t["m"] for t in raw["trade"]]

    marks = _concat(converted, "mark_price")
    assert marks.schema == MARK_PRICE_SCHEMA and marks.num_rows == MARKS
    for column, key in (
        ("mark_price", "p"),
        ("index_price", "i"),
        ("estimated_settle_price", "P"),
        ("funding_rate", "r"),
        ("event_time", "E"),
        ("next_funding_time", "T"),
    ):
        assert marks.column(column).to_pylist() == [m[key] for m in raw["markPriceUpdate"]]

    # Each file holds exactly its UTC day (and hour) of venue time.
    for name in LAYOUT:
        table = _read(converted, name)
        column = "trade_time" if name.startswith("trades") else "event_time"
        stamp = np.asarray(table.column(column).to_numpy(), dtype="datetime64[ms]")
        days = {str(d) for d in stamp.astype("datetime64[D]")}
        assert days == {"-".join(name.split("/")[3:6])}, name
        if name.startswith("orderbook"):
            hours = set((stamp.astype("datetime64[h]").astype(np.int64) % 24).tolist())
            assert hours == {int(name[-10:-8])}, name


def _sides(message: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    if "lastUpdateId" in message:
        return message["bids"], message["asks"]
    return message["b"], message["a"]


def test_existing_files_are_not_overwritten(capture: Capture, converted: Path) -> None:
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_cryptohftdata(capture, converted)
    table = pa.table({"x": [1, 2]})
    day = 86_400_000
    written = write_partitioned(
        table, np.array([0, day]), converted, "other", "ex", "SYM", compression_level=1
    )
    assert [p.relative_to(converted).as_posix() for p in written] == [
        "other/ex/SYM/1970/01/01/other.parquet",
        "other/ex/SYM/1970/01/02/other.parquet",
    ]


# -- the bundled sample -------------------------------------------------------------------------


def test_bundled_sample_is_the_converted_recording(capture: Capture, converted: Path) -> None:
    root = sample_path()
    assert root.is_dir() and root.parts[-2:] == ("sample", "cryptohftdata")
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == sorted([*LAYOUT, *OI_FILES])
    bundle = root.parent
    assert (bundle / "LICENSE").read_text() == (DATA / "LICENSE").read_text()
    readme = (bundle / "README.md").read_text()
    assert "synthetic" in readme and "MIT" in readme
    total = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    assert total < 5_000_000, total

    for name in LAYOUT:
        assert _read(root, name).equals(_read(converted, name)), name

    oi = pa.concat_tables([_read(root, name) for name in OI_FILES])
    assert oi.schema == OPEN_INTEREST_SCHEMA
    mark = capture[SYMBOL].mark_price
    assert mark is not None
    assert oi.equals(synthetic_open_interest(SYMBOL, SAMPLE_START, SAMPLE_END, mark))
    bucket = oi.column("timestamp").to_numpy() * 1_000_000
    delay = oi.column("received_time").to_numpy() - bucket
    # The bucket current at the start (23:55, filed under 04-04), then 00:00 and 00:05.
    assert (bucket - SAMPLE_START).tolist() == [-200 * ss.SECOND, 100 * ss.SECOND, 400 * ss.SECOND]
    assert ((delay >= 20 * ss.SECOND) & (delay <= 120 * ss.SECOND)).all()
    assert "synthetic" in SAMPLE_OI_NOTE and SAMPLE_SYMBOL == SYMBOL


def test_sample_span_covers_every_row(capture: Capture) -> None:
    data = capture[SYMBOL]
    assert data.mark_price is not None
    for batch in (data.depth, data.trades, data.mark_price):
        assert int(batch.ts_exchange.min()) >= SAMPLE_START
        assert int(batch.ts_exchange.max()) < SAMPLE_END
    assert SAMPLE_END - SAMPLE_START == 515 * ss.SECOND
