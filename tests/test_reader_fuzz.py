"""Every reader against damaged files and hostile field values: only streamsim's named
errors come out, they name the file, and quarantine counts the bad rows.

Seeded loops flip, cut and insert bytes of small files written here (Binance capture,
Tardis CSV, CryptoHFTData Parquet); hypothesis picks hostile values (NaN, inf, negative,
0, huge, wrong type, the string "false", float ids, times in the wrong unit) for each
field, which must fail naming file, line or row, and column, or be quarantined and
counted, never read as something else.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import Recorder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamsim as ss
from adapters.binance import capture_sources, read_capture
from adapters.binance.capture import CHAIN_REASONS
from adapters.cryptohftdata import CryptoHFTData, LocalStore
from adapters.tardis import TardisSource
from streamsim.errors import StreamsimError

SYMBOL = "BTCUSDT"
INSTRUMENT = ss.Instrument(SYMBOL, "0.1", "0.001")
T0_MS = 1_680_652_700_000  # 2023-04-04T23:58:20Z
T0_US = T0_MS * 1000
FUZZ_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random flip, cut or insertion (of 1-8 random bytes)."""
    choice = rng.randrange(3)
    at = rng.randrange(max(len(data), 1))
    if choice == 0:
        out = bytearray(data)
        out[at] ^= 1 << rng.randrange(8)
        return bytes(out)
    if choice == 1:
        return data[:at]
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return data[:at] + junk + data[at:]


def assert_named(exc: BaseException, path: Path) -> None:
    assert isinstance(exc, StreamsimError), repr(exc)
    assert path.name in str(exc), str(exc)


# -- Binance capture -------------------------------------------------------------------------


def _trade(i: int, **override: Any) -> dict[str, Any]:
    data = {
        "e": "trade",
        "E": T0_MS + i,
        "T": T0_MS + i,
        "s": SYMBOL,
        "t": 1000 + i,
        "p": f"{28000 + i % 5}.1",
        "q": "0.010",
        "m": i % 2 == 0,
    }
    data.update(override)
    return {"stream": "btcusdt@trade", "data": data}


def _capture_lines(trade_override: dict[str, Any] | None = None) -> list[str]:
    snapshot = {
        "lastUpdateId": 100,
        "E": T0_MS,
        "T": T0_MS,
        "bids": [["28000.0", "1.000"], ["27999.9", "2.000"]],
        "asks": [["28000.1", "1.500"], ["28000.2", "0.500"]],
    }
    lines = [f"{T0_US} {json.dumps(snapshot)}"]
    for i in range(1, 6):
        diff = {
            "e": "depthUpdate",
            "E": T0_MS + 10 * i,
            "T": T0_MS + 10 * i,
            "s": SYMBOL,
            "U": 100 + i,
            "u": 100 + i,
            "pu": 99 + i,
            "b": [["28000.0", f"{i}.000"]],
            "a": [["28000.1", "0"]] if i == 3 else [],
        }
        lines.append(
            f"{T0_US + 10_000 * i} {json.dumps({'stream': 'btcusdt@depth', 'data': diff})}"
        )
    for i in range(8):
        override = trade_override if i == 4 and trade_override else {}
        lines.append(f"{T0_US + 5000 * i + 1} {json.dumps(_trade(i, **override))}")
    mark = {
        "e": "markPriceUpdate",
        "E": T0_MS + 50,
        "s": SYMBOL,
        "p": "28000.05",
        "i": "28001.00",
        "P": "28002.00",
        "r": "0.00010000",
        "T": T0_MS + 8 * 3_600_000,
    }
    lines.append(f"{T0_US + 60_000} {json.dumps({'stream': 'btcusdt@markPrice', 'data': mark})}")
    return lines


def _write_capture(path: Path, lines: list[str]) -> Path:
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_a_clean_capture_reads_every_message(tmp_path: Path) -> None:
    capture = read_capture(
        _write_capture(tmp_path / "c.gz", _capture_lines()), {SYMBOL: INSTRUMENT}
    )
    data = capture[SYMBOL]
    assert len(data.depth) == 6 and len(data.trades) == 8 and data.mark_price is not None
    assert data.trades.side.tolist() == [-1, 1] * 4  # m true: the buyer made, a sell


#: Per trade field, values that must never be read as a trade.
HOSTILE_TRADE = {
    "p": [
        *("NaN", "inf", "-28000.1", "0", "1e308", "abc", True, None, [], "280000000.0"),
        *("28_004.1", "+28004.1", " 28004.1", "28004.1 ", "2.80041e4", "\uff12\uff18004.1"),
    ],
    "q": ["NaN", "-inf", "-0.010", "0", "0.0105", "false", False, None, {}, "0_010", "+0.010"],
    "m": ["false", "true", 0, 1, None, "no"],
    "t": [1000.0, 1e3, "1004", True, None, 2**63, 1.5],
    "T": [T0_MS // 1000, T0_MS * 1000, T0_MS * 1_000_000, -1, 0, "1680652700004", 1.5, True],
}


@FUZZ_SETTINGS
@given(data=st.data())
def test_hostile_trade_fields_fail_naming_file_line_and_field_or_are_quarantined(
    tmp_path: Path, data: st.DataObject
) -> None:
    field = data.draw(st.sampled_from(sorted(HOSTILE_TRADE)))
    value = data.draw(st.sampled_from(HOSTILE_TRADE[field]))
    path = _write_capture(tmp_path / "hostile.gz", _capture_lines({field: value}))
    with pytest.raises(ss.DataError) as info:
        read_capture(path, {SYMBOL: INSTRUMENT})
    assert_named(info.value, path)
    assert "line 11" in str(info.value) and f"'{field}'" in str(info.value), str(info.value)
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    capture = read_capture(path, {SYMBOL: INSTRUMENT}, policy="quarantine", quarantine=quarantine)
    quarantine.close()
    assert quarantine.summary() and sum(quarantine.summary()["BTCUSDT.trades"].values()) == 1
    assert len(capture[SYMBOL].trades) == 7 and 1004 not in capture[SYMBOL].trades.trade_id


@pytest.mark.parametrize(
    ("envelope", "reason"),
    [
        ({"stream": "btcusdt@trade", "data": [1, 2]}, "'data' is list"),
        ({"stream": "btcusdt@trade", "data": "x"}, "'data' is str"),
        ({"stream": "ethusdt@trade", "data": _trade(4)["data"]}, "carries an event of 'BTCUSDT'"),
    ],
)
def test_an_envelope_that_is_not_its_streams_event_is_bad_input(
    tmp_path: Path, envelope: dict[str, Any], reason: str
) -> None:
    lines = _capture_lines()
    lines[10] = f"{T0_US + 20001} {json.dumps(envelope)}"  # line 11: the fifth trade
    path = _write_capture(tmp_path / "envelope.gz", lines)
    with pytest.raises(ss.DataError, match=reason) as info:
        read_capture(path, {SYMBOL: INSTRUMENT})
    assert_named(info.value, path)
    assert "line 11" in str(info.value)
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    capture = read_capture(path, {SYMBOL: INSTRUMENT}, policy="quarantine", quarantine=quarantine)
    quarantine.close()
    assert sum(sum(counts.values()) for counts in quarantine.summary().values()) == 1
    assert len(capture[SYMBOL].trades) == 7 and not capture.ignored


def test_a_crossed_book_ticker_is_bad_input_naming_its_line_and_field(tmp_path: Path) -> None:
    quote = {"e": "bookTicker", "u": 105, "E": T0_MS + 51, "T": T0_MS + 51, "s": SYMBOL}
    lines = _capture_lines()
    for bid in ("28000.0", "28000.2"):  # a sound quote, then a bid above the ask
        data = quote | {"b": bid, "B": "1.000", "a": "28000.1", "A": "1.000"}
        lines.append(
            f"{T0_US + 70_000} {json.dumps({'stream': 'btcusdt@bookTicker', 'data': data})}"
        )
    path = _write_capture(tmp_path / "ticker.gz", lines)
    with pytest.raises(ss.DataError, match=r"line 17, column 'b': at or above the ask") as info:
        read_capture(path, {SYMBOL: INSTRUMENT})
    assert_named(info.value, path)
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    capture = read_capture(path, {SYMBOL: INSTRUMENT}, policy="quarantine", quarantine=quarantine)
    quarantine.close()
    assert len(capture[SYMBOL].book_tickers) == 1


def test_a_fat_finger_depth_level_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    lines = _capture_lines()
    lines[3] = lines[3].replace(
        '"b": [["28000.0", "3.000"]]', '"b": [["2800000000000.0", "3.000"]]'
    )
    path = _write_capture(tmp_path / "fat.gz", lines)
    with pytest.raises(ss.DataError, match=r"fat.gz, line 4, column 'price'"):
        read_capture(path, {SYMBOL: INSTRUMENT})
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    sources = capture_sources(
        path, {SYMBOL: INSTRUMENT}, policy="quarantine", quarantine=quarantine
    )
    result = ss.run_backtest(sources, Recorder())
    quarantine.close()
    counts = result.quality.quarantined["BTCUSDT.depth"]
    # The fat-finger message, and the diff after it (kept), whose pu no longer chains.
    assert counts[CHAIN_REASONS["pu"]] == 1 and sum(counts.values()) == 2
    assert result.events["BTCUSDT.depth"] == 5


def test_nan_price_is_a_non_finite_error_not_a_grid_error(tmp_path: Path) -> None:
    path = _write_capture(tmp_path / "nan.gz", _capture_lines({"p": "NaN"}))
    with pytest.raises(ss.DataError, match=r"column 'p': not a number \(value 'NaN'\)"):
        read_capture(path)  # no instrument: the grid is inferred, NaN must not reach it


def test_damaged_capture_files_give_only_named_errors(tmp_path: Path) -> None:
    clean = gzip.compress(("\n".join(_capture_lines()) + "\n").encode())
    plain = ("\n".join(_capture_lines()) + "\n").encode()
    rng = random.Random(20240101)
    for k in range(150):
        path = tmp_path / f"damaged{k}.gz"
        path.write_bytes(mutate(clean if k % 2 else plain, rng))
        try:
            read_capture(path, {SYMBOL: INSTRUMENT})
            failed = False
        except Exception as exc:
            assert_named(exc, path)
            failed = True
        quarantine = ss.Quarantine(tmp_path / f"q{k}.jsonl")
        try:
            read_capture(path, {SYMBOL: INSTRUMENT}, policy="quarantine", quarantine=quarantine)
        except Exception as exc:
            assert_named(exc, path)  # e.g. a symbol renamed: no bad row, a wrong capture
        else:
            if failed:  # what failed the strict read is counted, not dropped silently
                assert quarantine.summary(), path
        finally:
            quarantine.close()


# -- Tardis CSV ------------------------------------------------------------------------------

TRADES_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"


def _tardis_trades(path: Path, override: dict[str, Any] | None = None) -> Path:
    rows = []
    for i in range(8):
        row = {
            "timestamp": T0_US + 1000 * i,
            "local_timestamp": T0_US + 1000 * i + 300,
            "id": 1000 + i,
            "side": "buy" if i % 2 else "sell",
            "price": f"{28000 + i % 3}.1",
            "amount": "0.010",
        }
        if i == 4 and override:
            row.update(override)
        rows.append(",".join(["binance-futures", SYMBOL, *map(str, row.values())]))
    path.write_bytes(gzip.compress(("\n".join([TRADES_HEADER, *rows]) + "\n").encode()))
    return path


def _tardis_run(path: Path, policy: str = "fail", quarantine: ss.Quarantine | None = None) -> Any:
    source = TardisSource(path, "trades", INSTRUMENT, policy=policy, quarantine=quarantine)  # type: ignore[arg-type]
    return ss.run_backtest([source], Recorder(), sequencing=None)


HOSTILE_TARDIS = {
    "price": ["NaN", "inf", "-1", "0", "1e308", "abc", "280000.1", "false"],
    "amount": ["NaN", "-0.010", "0", "0.0105", "false"],
    "timestamp": [T0_US // 1000, T0_US * 1000, T0_US // 1_000_000, -5, 1.5, "x"],
    # (a later local_timestamp would make the rows after it go backwards: several bad rows)
    "local_timestamp": [T0_US - 10**10, T0_US // 1000],
    "side": ["BUY", "false", "0", ""],
}


@FUZZ_SETTINGS
@given(data=st.data())
def test_hostile_tardis_fields_fail_naming_file_row_and_column_or_are_quarantined(
    tmp_path: Path, data: st.DataObject
) -> None:
    column = data.draw(st.sampled_from(sorted(HOSTILE_TARDIS)))
    value = data.draw(st.sampled_from(HOSTILE_TARDIS[column]))
    path = _tardis_trades(
        tmp_path / "binance-futures_trades_2023-04-04_BTCUSDT.csv.gz", {column: value}
    )
    with pytest.raises(StreamsimError) as info:
        _tardis_run(path)
    assert_named(info.value, path)
    assert "row 4" in str(info.value) and f"'{column}'" in str(info.value), str(info.value)
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    result = _tardis_run(path, "quarantine", quarantine)
    quarantine.close()
    assert sum(result.quality.quarantined["BTCUSDT.trades"].values()) == 1
    assert result.events["BTCUSDT.trades"] == 7


# pyarrow's CSV reader decodes a malformed row's text before calling the invalid-row
# handler; a row that is not UTF-8 fails there (an "unraisable" warning) and the reader
# then stops with ArrowInvalid, which the adapter reports as the file's problem.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_damaged_tardis_files_give_only_named_errors(tmp_path: Path) -> None:
    clean = _tardis_trades(tmp_path / "clean_2023-04-04.csv.gz").read_bytes()
    plain = gzip.decompress(clean)
    rng = random.Random(7)
    for k in range(60):
        path = tmp_path / f"damaged{k}_2023-04-04.csv"
        path.write_bytes(mutate(clean if k % 2 else plain, rng))
        try:
            _tardis_run(path)
            failed = False
        except Exception as exc:
            assert_named(exc, path)
            failed = True
        quarantine = ss.Quarantine(tmp_path / f"q{k}.jsonl")
        try:
            result = _tardis_run(path, "quarantine", quarantine)
        except Exception as exc:
            assert_named(exc, path)
        else:
            if failed:
                assert result.quality.quarantined, path
        finally:
            quarantine.close()


# -- CryptoHFTData Parquet -----------------------------------------------------------------

TRADES_KEY = "trades/binance_futures/BTCUSDT/2023/04/04/trades.parquet"
T_START = (T0_MS - 1000) * 1_000_000
T_END = (T0_MS + 60_000) * 1_000_000


def _parquet_trades(root: Path, override: dict[str, Any] | None = None) -> Path:
    columns: dict[str, list[Any]] = {
        "received_time": [(T0_MS + i) * 1_000_000 + 300_000 for i in range(8)],
        "trade_time": [T0_MS + i for i in range(8)],
        "trade_id": [1000 + i for i in range(8)],
        "price": [f"{28000 + i % 3}.1" for i in range(8)],
        "quantity": ["0.010"] * 8,
        "is_buyer_maker": [i % 2 == 0 for i in range(8)],
    }
    for name, value in (override or {}).items():
        columns[name][4] = value
    path = root / TRADES_KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def _parquet_run(root: Path, policy: str = "fail", quarantine: ss.Quarantine | None = None) -> Any:
    data = CryptoHFTData(
        LocalStore(root),
        instruments={SYMBOL: INSTRUMENT},
        policy=policy,  # type: ignore[arg-type]
        quarantine=quarantine,
    )
    sources = data.sources([SYMBOL], ["trades"], start=T_START, end=T_END)
    return ss.run_backtest(sources, Recorder(), sequencing=None)


HOSTILE_PARQUET = {
    "price": ["NaN", "inf", "-28000.1", "0", "1e308", "280000.1"],
    "quantity": ["NaN", "-0.010", "0", "0.0105"],
    "trade_time": [T0_MS // 1000, T0_MS * 1000, T0_MS * 1_000_000],
    "received_time": [(T0_MS + 4) * 1000, (T0_MS + 4) * 1_000_000 + 10 * 3_600 * 10**9],
}


@FUZZ_SETTINGS
@given(data=st.data())
def test_hostile_parquet_values_fail_naming_file_row_and_column_or_are_quarantined(
    tmp_path: Path, data: st.DataObject
) -> None:
    column = data.draw(st.sampled_from(sorted(HOSTILE_PARQUET)))
    value = data.draw(st.sampled_from(HOSTILE_PARQUET[column]))
    root = tmp_path / f"tree-{column}-{abs(hash(str(value)))}"
    path = _parquet_trades(root, {column: value})
    with pytest.raises(StreamsimError) as info:
        _parquet_run(root)
    assert_named(info.value, path)
    assert "row 4" in str(info.value) and f"'{column}'" in str(info.value), str(info.value)
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    result = _parquet_run(root, "quarantine", quarantine)
    quarantine.close()
    assert sum(result.quality.quarantined["BTCUSDT.trades"].values()) == 1
    assert result.events["BTCUSDT.trades"] == 7


def test_damaged_parquet_files_give_only_named_errors(tmp_path: Path) -> None:
    clean = _parquet_trades(tmp_path / "clean").read_bytes()
    rng = np.random.default_rng(11)
    for k in range(60):
        root = tmp_path / f"tree{k}"
        path = root / TRADES_KEY
        path.parent.mkdir(parents=True)
        path.write_bytes(mutate(clean, random.Random(int(rng.integers(1 << 30)))))
        try:
            _parquet_run(root)
        except Exception as exc:
            assert_named(exc, path)


@pytest.mark.parametrize(
    ("override", "field", "reason"),
    [({"U": 200}, "U", "after the final update id"), ({"pu": "102"}, "pu", "not an integer")],
)
def test_impossible_diff_ids_fail_naming_line_and_field(
    tmp_path: Path, override: dict[str, Any], field: str, reason: str
) -> None:
    lines = _capture_lines()
    recv, raw = lines[3].split(" ", 1)  # line 4: the third diff
    envelope = json.loads(raw)
    envelope["data"].update(override)
    lines[3] = f"{recv} {json.dumps(envelope)}"
    path = _write_capture(tmp_path / "ids.gz", lines)
    with pytest.raises(ss.DataError, match=rf"line 4, column '{field}': {reason}") as info:
        read_capture(path, {SYMBOL: INSTRUMENT})
    assert_named(info.value, path)


def test_a_few_off_grid_depth_levels_are_dropped_and_counted_but_a_wrong_grid_fails(
    tmp_path: Path,
) -> None:
    lines = _capture_lines()[:6]  # the snapshot and five diffs: 10 levels
    snapshot = json.loads(lines[0].split(" ", 1)[1])
    snapshot["bids"].append(["27999.85", "1.000"])  # resting since a tick size change
    lines[0] = f"{T0_US} {json.dumps(snapshot)}"
    path = _write_capture(tmp_path / "grid.gz", lines)
    assert read_capture(path, {SYMBOL: INSTRUMENT})[SYMBOL].dropped_levels == 1
    with pytest.raises(ss.DataError, match="off the grid"):
        read_capture(path, {SYMBOL: INSTRUMENT}, off_grid="raise")
    wrong = ss.Instrument(SYMBOL, "0.2", "0.001")  # puts 4 of 11 levels off its grid
    with pytest.raises(ss.DataError, match="off the grid") as info:
        read_capture(path, {SYMBOL: wrong})
    assert_named(info.value, path)


def test_the_cryptofeed_recording_runs_with_the_defaults_and_says_what_was_assumed() -> None:
    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance-futures-ws"
    names = ("BINANCE_FUTURES.0", "BINANCE_FUTURES.http.0.0", "BINANCE_FUTURES.ws.1.0")
    result = ss.run_backtest(capture_sources([root / n for n in names]), Recorder())
    assert len(result.events) == 8 and sum(result.events.values()) == 859
    notes = " ".join(result.quality.notes)
    assert "131 levels off the" in notes and "ts_exchange moved to the nearest" in notes
    assert all(book["gaps"] == 0 for book in result.quality.books.values())
