"""``streamsim validate`` decodes the data: crossed books, sequence gaps, bad values and
damaged pages are problems (exit 1, named); the bundled sample and converter output are
clean (exit 0)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from test_corruption import flip_in_page

import streamsim as ss
from adapters.binance.capture import read_capture
from adapters.binance.convert import write_cryptohftdata
from adapters.binance.sample import sample_path
from adapters.cli import main
from adapters.cli.stream_checks import implausible_values
from streamsim.parquet_options import write_options

SYNTH = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance-usdm-capture"
DEPTH = "orderbook/binance_futures/BTCUSDT/2025/07/01/orderbook_12.parquet"
START_MS = 1_751_371_200_000  # 2025-07-01T12:00Z
HOUR = ["--symbol", "BTCUSDT", "--start", "2025-07-01T12:00:00Z", "--end", "2025-07-01T12:59:59Z"]


@pytest.fixture(scope="module")
def depth_minutes() -> pa.Table:
    """The synthetic hour's first five minutes of depth rows (whole messages)."""
    table = pq.read_table(SYNTH / DEPTH)
    return table.filter(pc.less(table["event_time"], START_MS + 5 * 60_000))


def write_depth(root: Path, table: pa.Table) -> Path:
    path = root / DEPTH
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=100_000, **write_options(compression_level=1))
    return path


def validate(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["validate", str(root), *HOUR, "--kinds", "depth", *extra])
    return code, capsys.readouterr().out


def message_rows(table: pa.Table, k: int) -> np.ndarray:
    """Row positions of the ``k``-th distinct message (by final_update_id) of ``table``."""
    final = table["final_update_id"].to_numpy()
    ids = np.unique(final)
    return np.flatnonzero(final == ids[k])


def test_clean_depth_validates(
    depth_minutes: pa.Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_depth(tmp_path, depth_minutes)
    code, out = validate(tmp_path, capsys)
    assert code == 0, out
    assert "no problems found" in out


def test_a_fake_bid_above_the_market_is_a_crossed_book(
    depth_minutes: pa.Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = message_rows(depth_minutes, 1000)
    sides = depth_minutes["side"].to_pylist()
    bid = int(next(r for r in rows if sides[r] == "bid"))
    prices = depth_minutes["price"].to_pylist()
    prices[bid] = "200000.0"
    table = depth_minutes.set_column(
        depth_minutes.schema.get_field_index("price"), "price", pa.array(prices)
    )
    write_depth(tmp_path, table)
    code, out = validate(tmp_path, capsys)
    assert code == 1
    assert "leave the book crossed" in out
    assert "bid 200000.0 >= ask" in out
    assert "problem(s) found" in out


def test_a_removed_message_is_a_sequence_gap(
    depth_minutes: pa.Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = np.ones(depth_minutes.num_rows, dtype=bool)
    keep[message_rows(depth_minutes, 500)] = False
    write_depth(tmp_path, depth_minutes.filter(pa.array(keep)))
    code, out = validate(tmp_path, capsys)
    assert code == 1
    assert "1 sequence gaps" in out and "prev_final_update_id" in out


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("quantity", "-1.000", "negative"),
        ("price", "NaN", "NaN or infinite"),
        ("price", "0.0", "not positive"),
    ],
)
def test_bad_values_are_listed_with_their_file_row_and_column(
    depth_minutes: pa.Table,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    column: str,
    value: str,
    reason: str,
) -> None:
    row = int(message_rows(depth_minutes, 700)[0])
    values = depth_minutes[column].to_pylist()
    values[row] = value
    table = depth_minutes.set_column(
        depth_minutes.schema.get_field_index(column), column, pa.array(values)
    )
    write_depth(tmp_path, table)
    code, out = validate(tmp_path, capsys)
    assert code == 1
    assert f"1 x {reason} (column '{column}', first at row {row})" in out


def test_a_damaged_page_is_unreadable_and_the_next_file_is_still_checked(
    depth_minutes: pa.Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_depth(tmp_path, depth_minutes)
    flip_in_page(path, "price", row_group=1)  # a column the old validate never read
    nxt = tmp_path / DEPTH.replace("orderbook_12", "orderbook_13")
    pq.write_table(depth_minutes.slice(0, 0), nxt)
    args = ["--symbol", "BTCUSDT", "--start", "2025-07-01T12:00:00Z"]
    code = main(
        ["validate", str(tmp_path), *args, "--end", "2025-07-01T13:59:59Z", "--kinds", "depth"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "unreadable" in out and "row group 1" in out and "column 'price'" in out
    assert "checksum" in out.lower()
    # The next file (empty: a row group of no rows) is still checked, and is fine.
    assert "1 problem(s) found" in out and "ok" in out


def test_the_bundled_sample_validates_clean(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--symbol", "BTCUSDT", "--start", "2023-04-04T23:58:00Z"]
    code = main(["validate", str(sample_path()), *args, "--end", "2023-04-05T00:06:59Z"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no problems found" in out and "11,788" in out


def test_converter_output_validates_clean(tmp_path: Path) -> None:
    """The 2024 capture's REST snapshot arrives after diffs newer than it: in file
    (receive) order its update id goes backwards, which the old validate flagged. The
    reader orders depth by update id, and so does validate now."""
    capture = read_capture([CAPTURES / "btcusdt_20240808.gz"])
    written = write_cryptohftdata(capture, tmp_path, compression_level=1)
    depth = pq.read_table(
        next(p for p in written if p.name == "orderbook_23.parquet"),
        columns=["final_update_id", "event_type"],
    )
    final = depth["final_update_id"].to_numpy()
    snapshot = np.flatnonzero(pc.equal(depth["event_type"], "snapshot").to_numpy(False))
    assert len(snapshot) and final[snapshot[0]] < final[: snapshot[0]].max()  # the case
    result = subprocess.run(
        [
            shutil.which("streamsim") or "streamsim",
            "validate",
            str(tmp_path),
            *("--symbol", "BTCUSDT", "--start", "2024-08-08T23:54:00Z"),
            *("--end", "2024-08-09T00:00:59Z"),  # the whole recording, every kind
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems found" in result.stdout
    assert "going backwards" not in result.stdout
    # The recording's last second has no trade: its day still has a (empty) trades file.
    empty = tmp_path / "trades/binance_futures/BTCUSDT/2024/08/09/trades.parquet"
    assert empty in written and pq.read_metadata(empty).num_rows == 0


def test_unknown_symbols_need_a_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["validate", str(tmp_path), "--symbol", "FOOUSDT", "--start", "2025-07-01T12:00:00Z"]
    args += ["--end", "2025-07-01T12:10:00Z", "--kinds", "trades"]
    assert main(args) == 2
    assert "--tick-size and --lot-size" in capsys.readouterr().out
    assert main([*args, "--tick-size", "0.1", "--lot-size", "x"]) == 2
    assert main([*args, "--tick-size", "0.1", "--lot-size", "0.001"]) == 1  # the file is missing


def test_implausible_values_flags_each_rule() -> None:
    ints = np.array([1, 2, 3], dtype=np.int64)
    trades = ss.TradeBatch(
        "X", ints, None, np.array([5, 0, -1]), np.array([1, -2, 1]), np.ones(3, np.int8), ints
    )
    found = {(what, column): mask.tolist() for what, mask, column in implausible_values(trades)}
    assert found == {
        ("non-positive prices", "price"): [False, True, True],
        ("negative sizes", "quantity"): [False, True, False],
    }
    nan = np.array([1.0, np.nan, np.inf])
    mark = ss.MarkPriceBatch("X", ints, None, nan, nan, nan, nan, ints)
    found = {(what, column) for what, _, column in implausible_values(mark)}
    assert found == {
        ("non-finite prices", "mark_price"),
        ("non-finite funding rates", "funding_rate"),
    }
