"""The ``streamsim`` command line, called in-process through ``main``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.cli import main

SYNTH = Path("/work/shared/data/cryptohftdata-synth")
DEPTH = "orderbook/binance_futures/BTCUSDT/2025/07/01/orderbook_12.parquet"
HOUR = ["--symbol", "BTCUSDT", "--start", "2025-07-01T12:00:00Z", "--end", "2025-07-01T12:59:59Z"]
STRATEGY = '[strategy]\nclass = "strategies.market_maker:MarketMaker"\nparams = {qty = 1}\n'


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_writes_artifacts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for label in ("events", "fills", "equity", "total return", "max drawdown", "maker share"):
        assert label in text
    assert "synthetic" in text  # the sample's open-interest note
    assert (out / "manifest.json").is_file() and (out / "orders.csv").is_file()
    assert len((out / "orders.csv").read_text().splitlines()) > 1
    # `report` rebuilds the same HTML from the artifacts alone.
    first = (out / "report.html").read_bytes()
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").read_bytes() == first
    assert main(["report", str(tmp_path / "nothing")]) == 2


def test_run_with_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        tmp_path / "mm.toml",
        '[data]\nadapter = "sample"\nkinds = ["depth", "trades", "mark_price"]\n'
        + STRATEGY
        + "[exchange.fees]\ntaker = 0.0005\n"
        + '[latency]\nmodel = "constant"\nentry = "10ms"\n[run]\nseed = 3\n',
    )
    out = tmp_path / "run"
    code = main(["run", str(config), "--set", "exchange.fees.taker=0.0004", "--out", str(out)])
    assert code == 0, capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["exchange"]["fees"]["taker"] == 0.0004
    assert manifest["config"]["latency"] == {"model": "constant", "entry": 10_000_000}
    assert manifest["seed"] == 3


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        (
            STRATEGY + "[exchange.fees]\ntakers = 0.1\n",
            [],
            "unknown key exchange.fees.takers; allowed keys in [exchange.fees]: maker, taker",
        ),
        (STRATEGY + "[brokers]\n", [], "unknown section [brokers]"),
        (STRATEGY, ["exchange.leverage=2.5"], "exchange.leverage: expected int"),
        (STRATEGY + '[run]\nspeed = "fast"\n', [], "run.speed: expected float, got str"),
        (STRATEGY, ["run.mode=live"], "run.mode: invalid enum value 'live'; allowed: 'backtest'"),
        (
            STRATEGY + '[latency]\nmodel = "gauss"\n',
            [],
            "latency.model: invalid value 'gauss'; allowed models: constant, lognormal",
        ),
        (STRATEGY + '[run]\nlinger = "1 week"\n', [], "run.linger: expected a duration"),
        ('[strategy]\nclass = "no_such_module:X"\n', [], "strategy module not found"),
        ('[strategy]\nclass = "strategies:NoSuch"\n', [], "strategy class not found: NoSuch"),
    ],
)
def test_bad_config_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    overrides: list[str],
    message: str,
) -> None:
    config = write_config(tmp_path / "bad.toml", text)
    args = ["run", str(config), "--out", str(tmp_path / "o")]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 2
    assert message in capsys.readouterr().out
    assert not (tmp_path / "o").exists()


def test_validate_synth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SYNTH), *HOUR]) == 0
    text = capsys.readouterr().out
    assert "36,000" in text and "2,520,000" in text and "no problems" in text


def test_validate_missing_and_gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "tree"
    shutil.copytree(SYNTH / "trades", root / "trades")
    assert main(["validate", str(root), *HOUR, "--kinds", "depth,trades"]) == 1
    assert "missing" in capsys.readouterr().out
    # a depth file whose second message does not follow the first
    final, prev = [10, 10, 20, 30], [5, 5, 10, 25]
    table = pa.table(
        {
            "received_time": pa.array([1751371200000000000] * 4, pa.int64()),
            "event_time": pa.array([1751371200000] * 4, pa.int64()),
            "first_update_id": pa.array([p + 1 for p in prev], pa.int64()),
            "final_update_id": pa.array(final, pa.int64()),
            "prev_final_update_id": pa.array(prev, pa.int64()),
            "side": ["bid", "ask", "bid", "ask"],
            "price": ["100.0", "100.1", "100.0", "100.2"],
            "quantity": ["1.000", "1.000", "2.000", "0.000"],
        }
    )
    (root / DEPTH).parent.mkdir(parents=True)
    pq.write_table(table, root / DEPTH)
    assert main(["validate", str(root), *HOUR, "--kinds", "depth"]) == 1
    text = capsys.readouterr().out
    assert "prev_final_update_id 25 != previous final_update_id 20" in text


def test_compile_then_run_from_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    assert main(["compile", "--data", "sample", "--out", str(store)]) == 0
    assert "BTCUSDT.depth" in capsys.readouterr().out
    config = write_config(
        tmp_path / "store.toml", f'[data]\nadapter = "store"\nroot = "{store}"\n' + STRATEGY
    )
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["fills"] > 0


def test_paper_replay_fast(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "paper.toml",
        '[data]\nadapter = "sample"\nstart = "2023-04-04T23:59:00Z"\nend = "2023-04-05T00:00:00Z"\n'
        + STRATEGY,
    )
    out = tmp_path / "paper"
    args = ["run", str(config), "--mode", "paper-replay", "--speed", "600", "--out", str(out)]
    assert main(args) == 0
    assert json.loads((out / "manifest.json").read_text())["config"]["run"]["speed"] == 600.0


def test_validate_over_s3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from s3_server import create_bucket, moto_server, upload_tree, use_dummy_aws_env

    synth = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
    use_dummy_aws_env(monkeypatch, tmp_path / "aws")
    with moto_server() as endpoint:
        create_bucket(endpoint, "tree")
        upload_tree(endpoint, "tree", synth, prefix="synth")
        window = ["--start", "2025-07-01T12:00:00Z", "--end", "2025-07-01T12:59:59Z"]
        args = ["validate", "s3://tree/synth", "--symbol", "BTCUSDT", "--endpoint-url", endpoint]
        assert main([*args, *window]) == 0
        out = capsys.readouterr().out
        assert "36,000" in out and "2,520,000" in out and "no problems found" in out
        assert (
            main([*args, "--start", "2025-07-02T00:00:00Z", "--end", "2025-07-02T00:30:00Z"]) == 1
        )
        assert "missing" in capsys.readouterr().out
