"""Metrics with caveats: a short sample's annualised Sharpe, PSR and DSR stay computed
but are called not meaningful, and a DSR of one trial says so, in every output (the
CLI summary, ``RunResult.summary()``, ``report.html``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import flipper_run

from adapters.cli.progress import ratios_text
from streamsim.results import metrics as m
from streamsim.results.artifacts import write_artifacts
from streamsim.results.caveats import MIN_RETURNS, is_short, sample_caveats, span_text
from streamsim.results.report import render_report

S = 1_000_000_000
HOUR = 3_600 * S
DAY = 24 * HOUR


def curve(n: int, step: int, seed: int = 1) -> dict[str, float | int | None]:
    """The summary of a noisy equity curve of ``n`` samples ``step`` ns apart."""
    rng = np.random.default_rng(seed)
    equity = 10_000 * np.cumprod(1 + rng.normal(0, 1e-3, n))
    times = np.arange(n, dtype=np.int64) * step
    return m.summary(times, equity, step_ns=step)


def test_a_run_of_minutes_is_a_short_sample_yet_keeps_its_numbers() -> None:
    stats = curve(601, S)  # ten minutes of 1 s returns, like the bundled sample
    caveats = sample_caveats(stats)
    assert caveats[0].startswith("short sample: 10.0 min (600 returns on a 1.0 s grid")
    assert "not meaningful" in caveats[0]
    assert stats["sharpe"] is not None and stats["psr"] is not None and stats["dsr"] is not None


def test_few_returns_over_a_long_span_are_a_short_sample() -> None:
    stats = curve(MIN_RETURNS, DAY)  # 29 daily returns: a month, too few to estimate
    assert stats["periods"] == MIN_RETURNS - 1 and is_short(stats)


def test_a_long_run_with_many_returns_has_only_the_one_trial_caveat() -> None:
    stats = curve(24 * 8 + 1, HOUR)  # eight days of hourly returns
    assert not is_short(stats)
    assert sample_caveats(stats) == [
        "DSR with one trial (dsr_trials = 1) is the PSR against zero: it deflates nothing "
        "for the strategies or parameters tried; give them in [metrics] trials and "
        "trial_sharpe_variance (or Trials(...) to the run) to deflate"
    ]


def test_a_dsr_over_several_trials_has_no_trial_caveat() -> None:
    rng = np.random.default_rng(2)
    equity = 10_000 * np.cumprod(1 + rng.normal(0, 1e-3, 24 * 8 + 1))
    times = np.arange(equity.size, dtype=np.int64) * HOUR
    stats = m.summary(times, equity, step_ns=HOUR, trials=20, trial_sr_variance=0.01)
    assert sample_caveats(stats) == []


def test_a_run_without_metrics_has_no_caveats() -> None:
    assert sample_caveats({}) == []


def test_spans_read_in_their_largest_unit() -> None:
    assert [span_text(x) for x in (12.0, 516.0, 7_200.0, 3 * 86_400.0)] == [
        "12.0 s",
        "8.6 min",
        "2.0 h",
        "3.0 d",
    ]


def test_the_cli_marks_a_short_samples_ratios_not_meaningful() -> None:
    short = curve(601, S)
    assert "not meaningful" in ratios_text(short)
    assert "not meaningful" not in ratios_text(curve(24 * 8 + 1, HOUR))


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A short synthetic trading run: its ``RunResult.summary()`` and its report."""
    result, _, _ = flipper_run(7)
    result.quality.notes.append("BTCUSDT.open_interest is synthetic")
    out = tmp_path_factory.mktemp("caveats") / "run"
    write_artifacts(result, out, config={"strategy": "flipper"}, seed=7)
    return result.summary(), render_report(out)


def test_the_run_summary_carries_the_caveats(short_run: tuple[str, str]) -> None:
    text, _ = short_run
    assert "caveat: short sample:" in text and "caveat: DSR with one trial" in text


def test_the_reports_first_screen_says_what_to_know_before_the_plots(
    short_run: tuple[str, str],
) -> None:
    _, html = short_run
    plots = html.index('id="equity"')
    span = re.search(r'<p class="sub" id="span">(.*?)</p>', html)
    assert span is not None and " → " in span.group(1) and "simulated)" in span.group(1)
    assert "events" in span.group(1)
    for first in ('id="span"', 'id="book-health"', 'id="data-notes"', 'id="caveats"'):
        assert html.index(first) < plots, first
    assert html.index('id="caveats"') < html.index("<summary>config</summary>")
    assert "BTCUSDT.open_interest is synthetic" in html[:plots]
    assert "short sample:" in html[:plots] and "DSR with one trial" in html[:plots]


def test_the_reports_key_metrics_mark_the_caveated_figures(short_run: tuple[str, str]) -> None:
    _, html = short_run
    table = html[html.index('<section id="metrics">') :]
    sharpe = re.search(r'<td class="t">sharpe</td><td[^>]*>([^<]*)</td>', table)
    fills = re.search(r'<td class="t">fills</td><td[^>]*>([^<]*)</td>', table)
    assert sharpe is not None and sharpe.group(1).endswith(" †")
    assert fills is not None and "†" not in fills.group(1)


def test_a_report_without_notes_says_there_are_none(tmp_path: Path) -> None:
    result, _, _ = flipper_run(8)
    result.quality.notes.clear()
    write_artifacts(result, tmp_path / "run", config={}, seed=8)
    html = render_report(tmp_path / "run")
    assert "no notes: no input skipped or flagged" in html


def test_the_short_sample_caveat_names_the_threshold_the_run_missed() -> None:
    long_but_few = {"periods": 12, "duration_s": 30 * 86_400.0, "step_s": 86_400.0 * 2.5}
    short_but_many = {"periods": 1_216, "duration_s": 1_216.0, "step_s": 1.0}
    (few,) = sample_caveats(long_but_few)
    (brief,) = sample_caveats(short_but_many)
    assert "fewer than 30 returns" in few and "days" not in few.split(";")[1].split(")")[0]
    assert "shorter than 7 days" in brief and "fewer than" not in brief


def test_trials_from_the_run_config_deflate_the_dsr_of_a_cli_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from adapters.cli import main

    config = tmp_path / "mm.toml"
    config.write_text(
        '[data]\nadapter = "sample"\nkinds = ["depth", "trades", "mark_price"]\n'
        '[strategy]\nclass = "strategies.market_maker:MarketMaker"\nparams = {qty = 1}\n',
        encoding="utf-8",
    )
    runs = {}
    for name, sets in (
        ("one", []),
        ("many", ["metrics.trials=40", "metrics.trial_sharpe_variance=4"]),
    ):
        out = tmp_path / name
        args = ["run", str(config), "--out", str(out)]
        for item in sets:
            args += ["--set", item]
        assert main(args) == 0, capsys.readouterr().out
        runs[name] = json.loads((out / "metrics.json").read_text())
    one, many = runs["one"], runs["many"]
    assert (one["dsr_trials"], many["dsr_trials"]) == (1, 40)
    assert one["dsr"] == one["psr"] == many["psr"]
    assert many["dsr_expected_max_sharpe"] > 0 and many["dsr"] < many["psr"]
    # The variance is of annualised Sharpes: per period it is divided by the periods a year.
    assert many["dsr_trial_sr_variance"] == pytest.approx(4 / many["periods_per_year"])


def test_several_trials_without_their_variance_are_refused() -> None:
    from streamsim.config import RunConfig
    from streamsim.errors import ConfigError

    with pytest.raises(ConfigError, match=r"metrics.trial_sharpe_variance: expected the variance"):
        RunConfig.from_dict({"strategy": {"class": "a:B"}, "metrics": {"trials": 5}})
    with pytest.raises(ValueError, match="need their Sharpe ratios' variance"):
        m.Trials(5)
    with pytest.raises(ValueError, match="count must be >= 1"):
        m.Trials(0)
