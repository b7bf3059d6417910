"""The ingestion policies: fail names file, row and column; quarantine writes and counts."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from helpers import Recorder, trade_source

import streamsim as ss


def test_fail_policy_names_file_row_and_column() -> None:
    ingest = ss.Ingest("BTCUSDT.trades")
    with pytest.raises(ss.DataError, match=r"trades.parquet, row 7, column 'price': off grid"):
        ingest.bad("trades.parquet", [7, 9], "price", "off grid", [{}, {}])


def test_quarantine_policy_writes_jsonl_and_reaches_the_report(tmp_path: Path) -> None:
    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    ingest = ss.Ingest("X.trades", "quarantine", quarantine)
    ingest.bad("f.csv", [3], "amount", "negative size", [{"amount": "-1"}])
    quarantine.close()
    (line,) = (tmp_path / "q.jsonl").read_bytes().splitlines()
    assert orjson.loads(line) == {
        "stream": "X.trades",
        "file": "f.csv",
        "row": 3,
        "column": "amount",
        "reason": "negative size",
        "record": {"amount": "-1"},
    }
    source = trade_source("X", [1, 2])
    source.quarantine = quarantine  # type: ignore[attr-defined]
    source.notes = ["X.trades: test note"]  # type: ignore[attr-defined]
    result = ss.run_backtest([source], Recorder())
    assert result.quality.quarantined == {"X.trades": {"negative size": 1}}
    assert "X.trades: test note" in result.quality.notes
    with pytest.raises(ss.ConfigError):
        ss.Ingest("X.trades", "quarantine")
