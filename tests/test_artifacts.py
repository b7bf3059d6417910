"""Run artifacts: byte-identical across identical runs, consistent with the exchange."""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from helpers import BTC_TEST as BTC
from helpers import FUNDING_START as START
from helpers import flipper_run

import streamsim as ss
from streamsim.feed import synthetic
from streamsim.results import metrics
from streamsim.results.artifacts import TABLES, write_artifacts
from streamsim.sim.matching import SimExchange

SEED = 7
#: Two runs' output dirs and the second run's result and exchange.
Runs = tuple[Path, Path, tuple[ss.RunResult, SimExchange]]


def run(out: Path, inputs: list[Path]) -> tuple[dict[str, Path], tuple[ss.RunResult, SimExchange]]:
    result, exchange, _ = flipper_run(SEED)
    written = write_artifacts(
        result,
        out,
        config={"strategy": "flipper", "latency_ms": 5, "symbols": ("BTCUSDT",)},
        seed=SEED,
        inputs=inputs,
    )
    return written, (result, exchange)


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Runs:
    base = tmp_path_factory.mktemp("artifacts")
    data = base / "inputs"
    data.mkdir()
    (data / "params.json").write_bytes(b'{"threshold": 3}\n')
    (data / "nested").mkdir()
    (data / "nested" / "notes.txt").write_bytes(b"synthetic\n")
    first, _ = run(base / "a", [data])
    second, ran = run(base / "b", [data])
    assert sorted(first) == sorted(second)
    return base / "a", base / "b", ran


def names() -> list[str]:
    return [f"{t}.{s}" for t in TABLES for s in ("csv", "parquet")] + [
        "metrics.json",
        "report.html",
        "manifest.json",
    ]


def test_same_run_gives_byte_identical_artifacts(runs: Runs) -> None:
    a, b, _ = runs
    assert sorted(p.name for p in a.iterdir()) == sorted(names())
    for name in names():
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_tables_match_the_exchange(runs: Runs) -> None:
    a, _, (result, exchange) = runs
    portfolio = exchange.portfolio
    tables = {t: pq.read_table(a / f"{t}.parquet") for t in TABLES}
    assert len(portfolio.fills) > 10
    assert tables["fills"].num_rows == len(portfolio.fills)
    assert tables["ledger"].num_rows == len(portfolio.ledger)
    assert tables["equity"].num_rows == len(result.record.equity_times)
    assert tables["round_trips"].num_rows == len(metrics.round_trips(portfolio.fills)) > 0
    assert tables["data_quality"].column("stream").to_pylist() == [
        "BTCUSDT.depth",
        "BTCUSDT.mark_price",
        "BTCUSDT.trades",
    ]
    orders = tables["orders"]
    assert orders.num_rows > 10
    statuses = orders.column("status").to_pylist()
    assert set(statuses) <= {"FILLED", "NEW", "EXPIRED", "CANCELED", "REJECTED"}
    # The synthetic diffs carry update ids and no snapshot: until the rebuild window has
    # passed the venue's book is unsynced and the guard rejects (nothing else does).
    rejected = [
        r
        for s, r in zip(statuses, orders.column("reason").to_pylist(), strict=True)
        if s == "REJECTED"
    ]
    assert set(rejected) <= {"Blocked by the book guard: awaiting_snapshot."}
    reasons = set(tables["ledger"].column("reason").to_pylist())
    assert {"deposit", "fee", "fill_pnl", "funding"} <= reasons
    for t in TABLES:  # CSV and Parquet agree on columns and rows
        with open(a / f"{t}.csv", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == tables[t].column_names
        assert len(rows) - 1 == tables[t].num_rows


def test_ledger_reconciles_with_the_wallet(runs: Runs) -> None:
    a, _, (_, exchange) = runs
    amounts = pq.read_table(a / "ledger.parquet").column("amount").to_pylist()
    assert math.fsum(amounts) == pytest.approx(exchange.portfolio.wallet, rel=1e-12, abs=1e-9)
    with open(a / "ledger.csv", newline="") as handle:
        csv_amounts = [float(row["amount"]) for row in csv.DictReader(handle)]
    assert csv_amounts == amounts  # repr floats round-trip exactly


def test_manifest_hashes_inputs_and_outputs(runs: Runs) -> None:
    a, _, _ = runs
    manifest = orjson.loads((a / "manifest.json").read_bytes())
    assert set(manifest["outputs"]) == set(names()) - {"manifest.json"}
    for name, entry in manifest["outputs"].items():
        data = (a / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    inputs = manifest["inputs"]
    assert [Path(i["path"]).name for i in inputs] == ["notes.txt", "params.json"]
    for entry in inputs:
        assert entry["sha256"] == hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
    assert manifest["seed"] == SEED
    assert manifest["config"]["symbols"] == ["BTCUSDT"]
    assert set(manifest["versions"]) >= {"numpy", "pyarrow", "python", "streamsim"}
    text = (a / "manifest.json").read_text()
    assert "wall" not in text
    summary = orjson.loads((a / "metrics.json").read_bytes())
    assert summary["fills"] == len(runs[2][1].portfolio.fills)
    assert list(summary) == sorted(summary)


def test_parquet_types_are_fixed(runs: Runs) -> None:
    a, _, _ = runs
    fills = pq.read_table(a / "fills.parquet")
    assert str(fills.schema.field("price_ticks").type) == "int64"
    assert str(fills.schema.field("side").type) == "int8"
    assert fills.schema.metadata is None or b"pandas" not in fills.schema.metadata
    meta = pq.ParquetFile(a / "fills.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert meta.row_group(0).column(0).statistics is not None


def test_empty_run_writes_header_only_tables(tmp_path: Path) -> None:
    exchange = SimExchange([BTC], mark_fallback="mid")
    result = ss.run_backtest(
        synthetic.market("BTCUSDT", START, n_depth=50, n_trades=10),
        ss.Strategy(),
        exchange=exchange,
    )
    written = write_artifacts(result, tmp_path / "out")
    assert pq.read_table(written["orders.parquet"]).num_rows == 0
    assert written["fills.csv"].read_text().count("\n") == 1
    with pytest.raises(FileNotFoundError):
        write_artifacts(result, tmp_path / "bad", inputs=[tmp_path / "missing"])
