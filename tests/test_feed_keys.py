"""A [feed] key is "*", a kind or SYMBOL.kind, and must match a stream of the run."""

from __future__ import annotations

import pytest
from helpers import trade_source

import streamsim as ss
from streamsim.config import RunConfig

HEAD = '[strategy]\nclass = "m:S"\n'


@pytest.mark.parametrize("key", ["trade", "bogus", '"BTCUSDT.trade"', '"BTCUSDT."', '".trades"'])
def test_a_malformed_feed_key_is_a_config_error_naming_it_and_what_is_allowed(key: str) -> None:
    with pytest.raises(ss.ConfigError) as caught:
        RunConfig.from_toml(f'{HEAD}[feed.{key}]\nmodel = "constant"\n')
    text = str(caught.value)
    assert f"feed.{key.strip(chr(34))}" in text or f"feed.'{key.strip(chr(34))}'" in text
    assert '"*" (every stream), a stream kind (depth, trades' in text
    assert "SYMBOL.kind" in text


@pytest.mark.parametrize("key", ['"*"', "trades", "open_interest", '"BTCUSDT.depth"'])
def test_well_formed_feed_keys_are_accepted(key: str) -> None:
    config = RunConfig.from_toml(f'{HEAD}[feed.{key}]\nmodel = "constant"\n')
    assert list(config.feed) == [key.strip('"')]


@pytest.mark.parametrize("key", ["depth", "ETHUSDT.trades", "X.depth"])
def test_a_feed_key_matching_no_stream_of_the_run_lists_the_runs_streams(key: str) -> None:
    with pytest.raises(
        ss.ConfigError, match=r"matches no stream of this run; its streams are X\.trades"
    ):
        ss.run_backtest([trade_source("X", [0, 1])], ss.Strategy(), feed={key: ss.Constant(0)})


def test_a_malformed_key_given_through_the_python_api_is_refused_too() -> None:
    with pytest.raises(ss.ConfigError, match="unknown feed key 'trade'"):
        ss.run_backtest([trade_source("X", [0, 1])], ss.Strategy(), feed={"trade": ss.Constant(0)})


def test_the_live_runtime_checks_feed_keys_the_same_way() -> None:
    with pytest.raises(ss.ConfigError, match="matches no stream"):
        ss.run_paper_live(
            [trade_source("X", [0, 1])], ss.Strategy(), feed={"depth": ss.Constant(0)}
        )


def test_matching_keys_pick_the_most_specific_model() -> None:
    result = ss.run_backtest(
        [trade_source("X", [0, 1])],
        ss.Strategy(),
        feed={"*": ss.Constant(0), "trades": ss.Constant(5), "X.trades": ss.Constant(7)},
    )
    assert "7" in result.quality.streams["X.trades"].feed_model
