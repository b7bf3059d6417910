"""Bad values anywhere in a run config: a ConfigError naming the key, never another error."""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_config import EVERYTHING

import streamsim as ss
from streamsim.config import RunConfig, check_values

#: Every leaf of a config with every field set: (path, value).
Leaf = tuple[tuple[str | int, ...], Any]


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> list[Leaf]:
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list) and value:
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))]
    return [(path, value)]


FULL = RunConfig.from_toml(EVERYTHING).to_dict()
LEAVES = [leaf for leaf in _leaves(FULL) if leaf[0][-1] != "model"]

BAD = st.sampled_from(
    [
        math.nan,
        math.inf,
        -math.inf,
        -1,
        -1.0,
        0,
        0.0,
        -(10**30),
        10**30,
        2**63,
        2**64,
        1e300,
        "x",
        "-5ms",
        True,
        [1, 2],
        {"a": 1},
        [math.nan],
    ]
)


def _named(path: tuple[str | int, ...]) -> str:
    """The innermost named key of ``path`` (list indices skipped)."""
    return next(str(part) for part in reversed(path) if isinstance(part, str))


@given(leaf=st.sampled_from(LEAVES), value=BAD)
def test_a_bad_value_anywhere_is_a_config_error_naming_its_key(leaf: Leaf, value: Any) -> None:
    path, _ = leaf
    data = copy.deepcopy(FULL)
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        config = RunConfig.from_dict(data)
    except ss.ConfigError as error:
        assert _named(path) in str(error)
        return
    # Accepted: then it holds as a config, so no NaN, infinity or int past 64 bits got in.
    check_values(config)
    assert not (isinstance(value, float) and not math.isfinite(value))
    if isinstance(value, int) and not isinstance(value, bool) and value > 2**64:
        stored: Any = config.to_dict()
        for part in path:
            stored = stored[part]
        assert isinstance(stored, float)  # read as a float key's (finite) value
    assert RunConfig.from_toml(config.to_toml()) == config


@given(
    speed=st.floats(allow_nan=True, allow_infinity=True),
    fee=st.floats(allow_nan=True, allow_infinity=True),
    seed=st.integers(min_value=-(2**70), max_value=2**70),
    entry=st.integers(min_value=-(2**70), max_value=2**70),
)
def test_numbers_out_of_range_are_named_never_used(
    speed: float, fee: float, seed: int, entry: int
) -> None:
    data = {
        "strategy": {"class": "m:S"},
        "run": {"speed": speed, "seed": seed},
        "exchange": {"fees": {"taker": fee}},
        "latency": {"model": "lognormal", "entry_median": entry},
    }
    try:
        config = RunConfig.from_dict(data)
    except ss.ConfigError as error:
        text = str(error)
        assert text.split(":", 1)[0] in {
            "run.speed",
            "run.seed",
            "exchange.fees.taker",
            "latency.entry_median",
        }, text
        return
    assert math.isfinite(speed) and speed > 0 and 0 <= seed < 2**64
    assert math.isfinite(fee) and 0 <= fee < 1 and 0 < entry < 2**63
    assert config.run.seed == seed
