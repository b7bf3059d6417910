"""strategy.params holds no None: TOML has no null, so it could not survive the manifest."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamsim as ss
from streamsim.config import RunConfig, StrategyConfig


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"qty": None}, "strategy.params.qty"),
        ({"levels": [1, None]}, r"strategy.params.levels\[1\]"),
        ({"inner": {"deep": None}}, "strategy.params.inner.deep"),
        ({"odd key": None}, 'strategy.params."odd key"'),
    ],
)
def test_none_in_params_is_a_config_error_naming_the_key(params: dict[str, Any], key: str) -> None:
    message = key + ": TOML has no null; omit the key to use the default"
    with pytest.raises(ss.ConfigError, match=message):
        RunConfig(strategy=StrategyConfig(cls="m:S", params=params))
    with pytest.raises(ss.ConfigError, match=message):
        RunConfig.from_dict({"strategy": {"class": "m:S", "params": params}})


LEAVES = st.one_of(st.integers(-1000, 1000), st.text(max_size=5), st.booleans())
TREES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("ab", max_size=3), inner),
    max_leaves=8,
)


@given(st.dictionaries(st.text("xyz", min_size=1, max_size=3), TREES, max_size=4))
def test_params_without_none_round_trip_through_toml(params: dict[str, Any]) -> None:
    config = RunConfig(strategy=StrategyConfig(cls="m:S", params=params))
    assert RunConfig.from_toml(config.to_toml()) == config


def _with_none(tree: Any, path: list[int]) -> Any:
    """``tree`` with one leaf (chosen by ``path``) replaced by None."""
    if isinstance(tree, dict) and tree:
        key = sorted(tree)[path[0] % len(tree)] if path else sorted(tree)[0]
        return {**tree, key: _with_none(tree[key], path[1:])}
    if isinstance(tree, list) and tree:
        index = path[0] % len(tree) if path else 0
        return [*tree[:index], _with_none(tree[index], path[1:]), *tree[index + 1 :]]
    return None


@given(
    st.dictionaries(st.text("xyz", min_size=1, max_size=3), TREES, min_size=1, max_size=4),
    st.lists(st.integers(0, 10), max_size=6),
)
def test_a_none_anywhere_in_params_is_refused(params: dict[str, Any], path: list[int]) -> None:
    with pytest.raises(ss.ConfigError, match="TOML has no null"):
        RunConfig(strategy=StrategyConfig(cls="m:S", params=_with_none(params, path)))
