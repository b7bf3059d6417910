"""Dates and windows as a user writes them: TOML datetimes in ``--set``, a time without a
zone refused, and ``data.end`` ending the run, not only the data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import Recorder, trade_source

import streamsim as ss
from adapters.binance.sample import SAMPLE_START
from adapters.cli import main
from adapters.cli.data import plan_data
from streamsim.config import RunConfig, run_config

SAMPLE = '[data]\nadapter = "sample"\nkinds = ["trades", "mark_price"]\n'
MM = '[strategy]\nclass = "strategies.market_maker:MarketMaker"\n'
#: 2023-04-05T00:00:00Z, 100 s after the sample's first event time.
MIDNIGHT = 1_680_652_800 * ss.SECOND


def _config(tmp_path: Path, text: str = f"{SAMPLE}{MM}") -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _manifest_config(out: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((out / "manifest.json").read_text())["config"]
    return config


def test_an_unquoted_toml_datetime_in_set_is_taken_as_the_time(tmp_path: Path) -> None:
    out = tmp_path / "o"
    code = main(
        ["run", str(_config(tmp_path)), "--out", str(out), "--set", "data.end=2023-04-05T00:00:00Z"]
    )
    assert code == 0
    assert _manifest_config(out)["data"]["end"] == MIDNIGHT


def test_an_offset_is_honoured_and_a_time_without_a_zone_is_refused_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plus_two = RunConfig.from_toml(f"{MM}[run]\nend = 2023-04-05T02:00:00+02:00\n")
    assert plus_two.run.end == MIDNIGHT
    for value in ("2023-04-05T00:00:00", '"2023-04-05T00:00:00"'):
        code = main(["run", str(_config(tmp_path)), "--set", f"data.start={value}"])
        assert code == 2
        output = capsys.readouterr().out
        assert "data.start: a time without a time zone is ambiguous" in output
        assert "2023-04-05T00:00:00Z" in output
    assert not (tmp_path / "runs").exists()


def test_a_date_alone_is_refused_with_the_time_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(_config(tmp_path)), "--set", "run.end=2023-04-05"])
    assert code == 2
    assert "run.end: a date is not a time: write 2023-04-05T00:00:00Z" in capsys.readouterr().out


class _Busy(ss.Strategy):
    """A 1 s clock timer, and a trade handler that keeps the strategy busy (20 s asleep),
    so a run that lingered past the data would keep firing the timer."""

    def __init__(self) -> None:
        self.fired: list[int] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx
        ctx.clock.every(ss.SECOND, self.fired.append)

    async def on_trade(self, trade: object) -> None:
        await self.ctx.sleep(20 * ss.SECOND)


@pytest.mark.parametrize("run_end", [None, MIDNIGHT + 30 * ss.SECOND, MIDNIGHT - 30 * ss.SECOND])
def test_the_run_ends_at_data_end_and_no_timer_fires_after_it(run_end: int | None) -> None:
    data = {"adapter": "sample", "kinds": ["trades", "mark_price"], "end": MIDNIGHT}
    raw: dict[str, Any] = {"data": data, "strategy": {"class": "m:S"}}
    if run_end is not None:
        raw["run"] = {"end": run_end}
    config = RunConfig.from_dict(raw)
    plan = plan_data(config.data)
    strategy = _Busy()
    result = run_config(config, plan.sources, strategy, plan.instruments)
    end = min(MIDNIGHT, run_end or MIDNIGHT)
    assert strategy.fired and max(strategy.fired) <= end
    assert max(strategy.fired) >= end - ss.SECOND
    assert result.end_time == end
    assert result.start_time >= SAMPLE_START


def test_window_sets_data_start_and_end_and_the_run_spans_it(tmp_path: Path) -> None:
    out = tmp_path / "o"
    window = "2023-04-04T23:59:00Z/2023-04-05T00:00:00Z"
    assert main(["run", str(_config(tmp_path)), "--out", str(out), "--window", window]) == 0
    data = _manifest_config(out)["data"]
    assert (data["start"], data["end"]) == (MIDNIGHT - 60 * ss.SECOND, MIDNIGHT)
    run = json.loads((out / "manifest.json").read_text())["run"]
    assert run["end_time"] == MIDNIGHT


def test_days_counts_from_data_start_and_replaces_the_files_end(tmp_path: Path) -> None:
    start = "2023-04-04T23:59:00Z"
    text = f'{SAMPLE}start = {start}\nend = "2023-04-05T00:05:00Z"\n{MM}'
    out = tmp_path / "o"
    assert main(["run", str(_config(tmp_path, text)), "--out", str(out), "--days", "0.0005"]) == 0
    data = _manifest_config(out)["data"]
    assert data["end"] == data["start"] + round(0.0005 * 86_400 * ss.SECOND) - 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--days", "1"], "--days counts from data.start, which the config does not set"),
        (["--days", "0"], "--days: a number of days > 0, got 0"),
        (
            ["--window", "2023-04-05T00:00:00Z/2023-04-05T00:01:00Z", "--days", "1"],
            "--window and --days both set the window",
        ),
        (
            ["--window", "2023-04-05T00:00:00Z/2023-04-05T00:01:00Z", "--set", "data.start=1"],
            "--window and --set data.start=1 both set data.start",
        ),
        (
            ["--set", "data={start=1, end=2}", "--days", "1"],
            "--days and --set data={start=1, end=2} both set data.end",
        ),
        (["--window", "2023-04-05T00:00:00Z"], "--window expects START/END"),
        (
            ["--window", "2023-04-05T00:01:00Z/2023-04-05T00:00:00Z"],
            "--window: END (2023-04-05T00:00:00Z) is not after START",
        ),
        (["--window", "2023-04-05T00:00:00/2023-04-05T00:01:00Z"], "--window START: a time"),
    ],
)
def test_window_and_days_conflicts_are_one_line_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert main(["run", str(_config(tmp_path)), *flags]) == 2
    output = capsys.readouterr().out
    assert message in output
    assert len(output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_data_that_ends_before_the_run_end_ends_the_span_after_the_linger_and_says_so() -> None:
    last = 10 * ss.SECOND
    source = trade_source("BTCUSDT", [ss.SECOND, last])
    result = ss.run_backtest(
        [source], Recorder(), end=3_600 * ss.SECOND, linger=5 * ss.SECOND, feed=ss.Constant(0)
    )
    assert result.end_time == last + 5 * ss.SECOND  # not the hour the window asked for
    assert any("the data ended at" in note for note in result.quality.notes)


def test_a_window_outside_the_sample_names_its_span(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = "2030-01-01T00:00:00Z/2030-01-02T00:00:00Z"
    assert (
        main(["run", str(_config(tmp_path)), "--out", str(tmp_path / "o"), "--window", window]) == 2
    )
    said = " ".join(capsys.readouterr().out.split())
    assert "the sample spans 2023-04-04T23:58:20" in said and "holds none of it" in said
