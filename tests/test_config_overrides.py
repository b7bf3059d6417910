"""--set reaches every key: a model switch resets its table; whole sections as inline tables."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson
import pytest

import streamsim as ss
from adapters.cli import main
from streamsim.config import RunConfig

BASE = """
[strategy]
class = "strategies.market_maker:MarketMaker"

[latency]
model = "constant"
entry = "5ms"

[exchange.queue]
model = "power"
n = 3.0

[feed.trades]
model = "causal_quantile"
q = 0.9
"""


def _base() -> RunConfig:
    return RunConfig.from_toml(BASE)


def test_switching_the_latency_model_by_override_resets_it_to_the_new_models_defaults() -> None:
    config = _base().with_overrides(["latency.model=lognormal"])
    assert config.latency == ss.config.LognormalLatencyModel()


@pytest.mark.parametrize(
    "overrides",
    list(
        itertools.permutations(["latency.model=lognormal", "latency.sigma=0.1", "latency.seed=4"])
    ),
)
def test_other_overrides_of_a_switched_table_apply_in_any_order(overrides: tuple[str, ...]) -> None:
    config = _base().with_overrides(list(overrides))
    assert config.latency == ss.config.LognormalLatencyModel(sigma=0.1, seed=4)


def test_every_model_table_can_be_switched_by_override() -> None:
    config = _base().with_overrides(
        ["exchange.queue.model=log", "feed.trades.model=fixed", "feed.trades.delay=2ms"]
    )
    assert config.exchange.queue == ss.config.LogQueueModel()
    assert config.feed["trades"] == ss.config.FixedModel(delay=2 * ss.MS)


def test_naming_the_same_model_keeps_the_tables_other_keys() -> None:
    config = _base().with_overrides(["latency.model=constant", "exchange.queue.model=power"])
    assert config.latency == ss.config.ConstantLatencyModel(entry=5 * ss.MS)
    assert config.exchange.queue == ss.config.PowerQueueModel(n=3.0)


def test_a_whole_section_may_be_given_as_an_inline_table() -> None:
    config = _base().with_overrides(['latency={model="lognormal", sigma=0.2}'])
    assert config.latency == ss.config.LognormalLatencyModel(sigma=0.2)
    # A table without a model change merges key by key: the fees stay.
    merged = _base().with_overrides(["exchange={participation=0.5}", "exchange.fees.taker=0.001"])
    assert merged.exchange.participation == 0.5
    assert merged.exchange.queue == ss.config.PowerQueueModel(n=3.0)
    assert merged.exchange.fees.taker == 0.001


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("latency=3", "a whole section takes an inline table"),
        ('latency={model="lognormal", entry=1}', "unknown key latency.entry"),
        ("latency.model=gauss", "allowed models: constant, lognormal, recorded"),
        ("latency.sigma=0.1", "unknown key latency.sigma"),
    ],
)
def test_bad_overrides_still_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ss.ConfigError, match=message):
        _base().with_overrides([override])


def test_the_cli_switches_the_latency_model_with_set(tmp_path: Path) -> None:
    config = tmp_path / "min.toml"
    config.write_text(
        '[data]\nkinds = ["depth", "trades", "mark_price"]\nend = "2023-04-04T23:59:30Z"\n'
        '[strategy]\nclass = "strategies.market_maker:MarketMaker"\n'
        '[latency]\nmodel = "constant"\nentry = "5ms"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    sets = ["--set", "latency.model=lognormal", "--set", "latency.seed=9"]
    code = main(["run", str(config), *sets, "--out", str(out)])
    assert code == 0
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["config"]["latency"]["model"] == "lognormal"
    assert manifest["config"]["latency"]["seed"] == 9
    assert "entry" not in manifest["config"]["latency"]
