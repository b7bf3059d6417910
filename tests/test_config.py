"""The run config: every field round-trips, bad input names its key, a manifest replays."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamsim as ss
from adapters.cli import main
from streamsim.config import RunConfig, load_config

ROOT = Path(__file__).resolve().parent.parent

#: Every field of every section set to something other than its default.
EVERYTHING = """
[strategy]
class = "strategies.market_maker:MarketMaker"
params = { qty = 2, half_spread = 1.5, name = "mm" }

[data]
adapter = "cryptohftdata"
root = "/data/cryptohftdata"
exchange = "binance_spot"
symbols = ["BTCUSDT", "ETHUSDT"]
kinds = ["depth", "trades", "mark_price", "open_interest", "ticker", "liquidations"]
start = 2025-07-01T12:00:00Z
end = "2025-07-01T12:59:59.5Z"
policy = "quarantine"
quarantine = "bad-rows.jsonl"
missing = "skip"
endpoint_url = "http://127.0.0.1:9000"
files = ["capture.gz"]
data_types = ["incremental_book_L2", "trades"]
off_grid = "drop"

[data.instruments.BTCUSDT]
tick_size = "0.1"
lot_size = "0.001"
min_notional = "5"
contract_size = "100"
kind = "inverse"
quote = "USD"
margin_asset = "BTC"

[data.plausibility]
time_range = [2020-01-01T00:00:00Z, 2030-01-01T00:00:00Z]
max_clock_offset = "10m"
max_price_jump = 0.3
max_level_ratio = 50.0
funding_cap = 0.02
date_slack = "2h"
mark_mid_deviation = 0.05

[feed."*"]
model = "recorded"
base_latency = "2ms"
window = 500
correct_offset = false

[feed.trades]
model = "constant"
delay = "3ms"
not_before_recv = true

[feed."BTCUSDT.depth"]
model = "fixed"
delay = 4000000
not_before_recv = true

[feed.mark_price]
model = "causal_quantile"
q = 0.9
window = 50
min_delay = "1ms"
max_delay = "2m"
not_before_recv = true

[feed.open_interest]
model = "open_interest_preset"

[latency]
model = "lognormal"
entry_median = "25ms"
response_median = "30ms"
sigma = 0.7
floor = "5ms"
seed = 11

[exchange]
venue = "simulated"
participation = 0.5
initial_balance = 2500.0
leverage = { BTCUSDT = 10, ETHUSDT = 5 }
liquidation_fee_rate = 0.01
stop_trigger = "mark"
sequencing = "spot"
trade_depletion = false
mark_fallback = "last"

[exchange.fees]
maker = -0.0001
taker = 0.0004

[exchange.fees.symbols.ETHUSDT]
maker = 0.0
taker = 0.0003

[exchange.queue]
model = "power"
n = 3.0

[exchange.guard]
enabled = false
max_spread_ticks = 20
max_spread_bps = 15.0
max_staleness = "2s"
block_crossed = false
block_gap = false
warmup_messages = 10
cooldown = "500ms"

[[exchange.brackets.BTCUSDT]]
notional_cap = 50000.0
max_leverage = 125
maint_margin_rate = 0.004
maint_amount = 1.0

[[exchange.brackets.BTCUSDT]]
notional_cap = 250000.0
max_leverage = 100
maint_margin_rate = 0.005
maint_amount = 50.0

[run]
mode = "paper-replay"
speed = 4.0
seed = 7
end = 1751374799000000000
linger = "10s"
out_of_order = "clamp"
prefetch = 8
sequencing = "none"
resync = "snapshot"
rebuild_window = "2s"
crossed_book = "resync"
callback_timeout = 2.5

[output]
dir = "runs/everything"
report = false

[metrics]
trials = 12
trial_sharpe_variance = 0.75
"""


def _unset(value: Any, where: str = "") -> list[str]:
    """The fields below ``value`` still at their defaults."""
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in _unset(item, f"{where}{key}.")]
    if isinstance(value, list):
        return [k for item in value for k in _unset(item, where)]
    if not isinstance(value, msgspec.Struct):
        return []
    found = []
    for field in msgspec.structs.fields(value):
        item = getattr(value, field.name)
        if field.default is not msgspec.NODEFAULT:
            default = field.default
        elif field.default_factory is not msgspec.NODEFAULT:
            default = field.default_factory()
        else:
            default = msgspec.NODEFAULT
        if item == default:
            found.append(f"{where}{field.encode_name}")
        found += _unset(item, f"{where}{field.encode_name}.")
    return found


def test_every_field_round_trips_through_toml_and_dicts() -> None:
    config = RunConfig.from_toml(EVERYTHING)
    assert RunConfig.from_toml(config.to_toml()) == config
    assert RunConfig.from_dict(config.to_dict()) == config
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    # Every field is set to something else than its default, so every one round-tripped.
    assert _unset(config) == ["exchange.venue"]  # "null" would drop the rest of [exchange]
    assert config.latency.entry_median == 25 * ss.MS  # type: ignore[union-attr]
    assert config.data.start == 1_751_371_200 * ss.SECOND
    assert config.data.end == 1_751_374_799 * ss.SECOND + 500 * ss.MS
    assert config.exchange.guard is not None and config.exchange.guard.cooldown == 500 * ss.MS


def test_the_other_models_round_trip_and_build() -> None:
    for latency in (
        {"model": "constant", "entry": "2ms", "response": "1ms"},
        {"model": "recorded", "times": [0, 10], "entry": ["1ms", "3ms"], "response": [1, 2]},
    ):
        config = RunConfig.from_dict({"strategy": {"class": "m:S"}, "latency": latency})
        assert RunConfig.from_toml(config.to_toml()) == config
        assert config.latency_model().entry(5) == 2 * ss.MS
    for queue in ("conservative", "log"):
        config = RunConfig.from_dict(
            {"strategy": {"class": "m:S"}, "exchange": {"queue": {"model": queue}}}
        )
        assert RunConfig.from_toml(config.to_toml()) == config
    null = RunConfig.from_dict({"strategy": {"class": "m:S"}, "exchange": {"venue": "null"}})
    assert isinstance(null.make_exchange([]), ss.NullExchange)


def test_the_builders_make_what_the_config_says() -> None:
    config = RunConfig.from_toml(EVERYTHING)
    btc = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001")
    eth = ss.Instrument("ETHUSDT", tick_size="0.01", lot_size="0.001")
    options = config.run_options([btc, eth])
    exchange = options["exchange"]
    assert isinstance(exchange, ss.SimExchange)
    assert exchange.fees == ss.FeeTable(ss.Fees(-0.0001, 0.0004), {"ETHUSDT": ss.Fees(0.0, 0.0003)})
    assert exchange.participation == 0.5
    assert isinstance(exchange.queue, ss.PowerQueue) and exchange.queue.n == 3.0
    assert exchange.stop_trigger == "mark" and exchange.trade_depletion is False
    assert exchange.stop_trigger == "mark"
    assert exchange.mark_fallback == "last"
    assert isinstance(options["clock"], ss.PacedClock) and options["clock"].speed == 4.0
    assert options["sequencing"] is None and options["out_of_order"] == "clamp"
    assert options["linger"] == 10 * ss.SECOND and options["prefetch"] == 8
    feed = options["feed"]
    assert set(feed) == {"*", "trades", "BTCUSDT.depth", "mark_price", "open_interest"}
    assert feed["trades"].describe() == "constant(3000000)"
    assert isinstance(options["latency"], ss.LognormalLatency)
    live = config.with_overrides(["run.mode=paper-live"]).run_options([btc, eth])
    assert live["speed"] == 4.0 and "clock" not in live


durations = st.integers(min_value=0, max_value=10**12)


@given(
    speed=st.floats(min_value=0.01, max_value=1e3, allow_nan=False),
    linger=durations,
    entry=durations,
    maker=st.floats(min_value=-0.001, max_value=0.01, allow_nan=False),
    seed=st.none() | st.integers(min_value=0, max_value=2**31),
    mode=st.sampled_from(["backtest", "paper-replay", "paper-live"]),
)
def test_any_valid_config_round_trips(
    speed: float, linger: int, entry: int, maker: float, seed: int | None, mode: str
) -> None:
    data: dict[str, Any] = {
        "strategy": {"class": "m:S"},
        "latency": {"model": "constant", "entry": entry},
        "exchange": {"fees": {"maker": maker}},
        "run": {"mode": mode, "speed": speed, "linger": linger, "seed": seed},
    }
    config = RunConfig.from_dict(data)
    assert RunConfig.from_toml(config.to_toml()) == config
    assert config.run.speed == speed and config.run.linger == linger


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[data]\nadapter = "sample"\n', "strategy: required key missing"),
        ("[exchange.guard]\nmax_spread = 3\n", "unknown key exchange.guard.max_spread;"),
        ('[exchange.queue]\nmodel = "fifo"\n', "exchange.queue.model: invalid value 'fifo'"),
        ('[feed.trades]\nmodel = "constant"\ndelay = "soon"\n', "expected a duration"),
        ('[data]\nstart = "yesterday"\n', "data.start: expected a time"),
        ('[data]\nkinds = ["depth", "bars"]\n', "data.kinds[1]: invalid enum value 'bars'"),
        ("[run]\nspeed = 0\n", "run.speed: expected a number > 0"),
        ("[exchange]\nparticipation = 1.5\n", "exchange.participation: expected in (0, 1]"),
        ("[exchange]\nleverage = 0\n", "exchange.leverage: expected an integer >= 1"),
        ('[data]\nstart = 2025-01-02T00:00:00Z\nend = "2025-01-01"\n', "data.end"),
        (
            "[data]\nstart = 2025-01-02T00:00:00Z\nend = 2025-01-02T00:00:00Z\n",
            "data.end: expected a time after data.start",
        ),
        ("[[exchange.brackets.BTCUSDT]]\nnotional_cap = 1.0\n", "max_leverage: required"),
    ],
)
def test_bad_configs_name_the_key_and_what_is_allowed(text: str, message: str) -> None:
    body = text if text.startswith("[data]\nadapter") else '[strategy]\nclass = "m:S"\n' + text
    with pytest.raises(ss.ConfigError) as caught:
        RunConfig.from_toml(body)
    assert message in str(caught.value)


def test_overrides_take_toml_values_including_unquoted_datetimes() -> None:
    config = RunConfig.from_toml('[strategy]\nclass = "m:S"\n').with_overrides(
        ["data.end=2023-04-05T00:00:00Z", "exchange.fees.taker=0.0004", "run.mode=paper-live"]
    )
    assert config.data.end == 1_680_652_800 * ss.SECOND
    assert config.exchange.fees.taker == 0.0004 and config.run.mode == "paper-live"
    with pytest.raises(ss.ConfigError, match=r"--set expects section\.key=value"):
        config.with_overrides(["speed"])


SHORT = """
[data]
adapter = "sample"
kinds = ["depth", "trades", "mark_price"]
end = "2023-04-04T23:59:30Z"

[strategy]
class = "strategies.market_maker:MarketMaker"

[latency]
model = "lognormal"
entry_median = "15ms"
seed = 3

[exchange.queue]
model = "log"

[run]
seed = 5
"""


def test_a_manifest_replays_to_byte_identical_artifacts(tmp_path: Path) -> None:
    config = tmp_path / "short.toml"
    config.write_text(SHORT, encoding="utf-8")
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["run", str(config), "--out", str(first)]) == 0
    manifest = first / "manifest.json"
    assert load_config(manifest) == load_config(config)
    assert main(["run", str(manifest), "--out", str(second)]) == 0
    names = sorted(p.name for p in first.iterdir())
    assert "fills.parquet" in names and "report.html" in names
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert json.loads(manifest.read_text())["run"]["orders_submitted"] > 0


def test_a_bad_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(SHORT + 'stop_trigger = "bid"\n', encoding="utf-8")
    assert main(["run", str(config), "--out", str(tmp_path / "o")]) == 2
    assert "unknown key run.stop_trigger" in capsys.readouterr().out


def test_ctrl_c_in_a_paper_live_cli_run_writes_what_it_has_and_exits_130(
    tmp_path: Path,
) -> None:
    config = tmp_path / "live.toml"
    config.write_text(SHORT.replace("[run]\n", '[run]\nmode = "paper-live"\nspeed = 2.0\n'))
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "run", str(config), "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert "paper live at 2x" in process.stdout.readline()
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stdout + stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["run"]["mode"] == "paper-live"
    assert 0 < manifest["run"]["end_time"] - manifest["run"]["start_time"] < 20 * ss.SECOND
    assert "interrupted" in stdout


def test_the_cli_docs_example_is_a_valid_run_config() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    config = RunConfig.from_toml(block)
    assert config.to_dict()["latency"]["model"] == "lognormal"
    assert config.to_dict()["exchange"]["queue"] == {"model": "power", "n": 2.0}
