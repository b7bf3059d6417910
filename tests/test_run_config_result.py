"""A Python-API run made from a RunConfig carries it, so its manifest replays by itself."""

from __future__ import annotations

from pathlib import Path

import orjson

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, SAMPLE_SYMBOL, sample_sources
from adapters.cli import main
from strategies.market_maker import MarketMaker
from streamsim.results.artifacts import write_artifacts

CONFIG = """
[data]
adapter = "sample"
kinds = ["depth", "trades", "mark_price"]

[strategy]
class = "strategies.market_maker:MarketMaker"

[latency]
model = "constant"
entry = "5ms"

[run]
seed = 11
end = "2023-04-04T23:59:20Z"
"""


def test_a_run_config_result_carries_its_config_and_its_manifest_replays(tmp_path: Path) -> None:
    config = ss.RunConfig.from_toml(CONFIG)
    result = ss.run_config(
        config,
        sample_sources(["depth", "trades", "mark_price"]),
        MarketMaker(SAMPLE_SYMBOL),
        [SAMPLE_INSTRUMENT],
    )
    assert result.config is config
    first, second = tmp_path / "first", tmp_path / "second"
    write_artifacts(result, first)  # no config= given
    manifest = orjson.loads((first / "manifest.json").read_bytes())
    assert manifest["config"] == config.to_dict()
    assert manifest["seed"] == 11
    assert ss.load_config(first / "manifest.json") == config
    assert main(["run", str(first / "manifest.json"), "--out", str(second)]) == 0
    assert len(result.record.orders) > 0
    for name in ("orders.csv", "fills.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_an_explicit_config_still_wins(tmp_path: Path) -> None:
    config = ss.RunConfig.from_toml(CONFIG)
    result = ss.run_config(
        config,
        sample_sources(["depth", "trades", "mark_price"]),
        MarketMaker(SAMPLE_SYMBOL),
        [SAMPLE_INSTRUMENT],
    )
    write_artifacts(result, tmp_path / "out", config={"mine": 1}, seed=3)
    manifest = orjson.loads((tmp_path / "out" / "manifest.json").read_bytes())
    assert manifest["config"] == {"mine": 1} and manifest["seed"] == 3


def test_a_run_not_made_from_a_config_has_none() -> None:
    result = ss.run_backtest(sample_sources(["trades"]), ss.Strategy(), end=None)
    assert result.config is None
