"""``data.policy`` from the run config: a bad row stops the run naming file, row and
column, or is quarantined to a JSONL file, counted and said where the user looks."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.binance.sample import SAMPLE_END, SAMPLE_START, sample_path
from tests.test_cli_mistakes import one_line_error, streamsim, write

TRADES = "trades/binance_futures/BTCUSDT/2023/04/05/trades.parquet"


def damaged_tree(tmp_path: Path) -> Path:
    """The bundled sample with one trade price of the second file made negative."""
    root = tmp_path / "data"
    shutil.copytree(sample_path(), root)
    table = pq.read_table(root / TRADES)
    prices = table.column("price").to_pylist()
    prices[7] = "-" + prices[7]
    table = table.set_column(table.schema.get_field_index("price"), "price", pa.array(prices))
    pq.write_table(table, root / TRADES)
    return root


def config(tmp_path: Path, root: Path, policy: str) -> Path:
    return write(
        tmp_path / f"{policy}.toml",
        '[strategy]\nclass = "strategies.market_maker:MarketMaker"\n'
        f'[data]\nadapter = "cryptohftdata"\nroot = "{root}"\nsymbols = ["BTCUSDT"]\n'
        'kinds = ["depth", "trades", "mark_price"]\n'
        f"start = {SAMPLE_START}\nend = {SAMPLE_END - 1}\n"
        f'policy = "{policy}"\n',
    )


def test_a_bad_row_under_the_fail_policy_stops_the_run_naming_file_row_and_column(
    tmp_path: Path,
) -> None:
    root = damaged_tree(tmp_path)
    done = streamsim("run", str(config(tmp_path, root, "fail")), cwd=tmp_path)
    line = one_line_error(done, code=1)
    assert "trades.parquet" in line and "row 7" in line and "'price'" in line
    assert "policy='quarantine'" in line or "quarantine" in line


def test_a_bad_row_under_the_quarantine_policy_is_written_counted_and_shown(
    tmp_path: Path,
) -> None:
    root = damaged_tree(tmp_path)
    out = tmp_path / "runs" / "q"
    done = streamsim(
        "run", str(config(tmp_path, root, "quarantine")), "--out", str(out), cwd=tmp_path
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    jsonl = out.with_name("q.quarantine.jsonl")
    rows = [orjson.loads(line) for line in jsonl.read_bytes().splitlines()]
    assert [(r["row"], r["column"]) for r in rows] == [(7, "price")]
    assert rows[0]["file"].endswith("trades.parquet")
    assert "1 bad rows quarantined" in output and "1 rows quarantined (" in output
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["config"]["data"]["policy"] == "quarantine"
