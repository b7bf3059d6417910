"""Every note of a run reaches ``RunResult.quality.notes``, the CLI summary, the manifest
and ``report.html``, whatever the window: the sample's synthetic open interest was
dropped by ``streamsim run`` once ``data.start`` / ``data.end`` were set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import streamsim as ss
from adapters.binance.sample import SAMPLE_OI_NOTE, SAMPLE_START, sample_sources
from adapters.cli import main
from streamsim.feed.quality import skipped_lines

STRATEGY = '[strategy]\nclass = "strategies.market_maker:MarketMaker"\nparams = {qty = 1}\n'
WINDOW = 'start = "2023-04-04T23:59:00Z"\nend = "2023-04-05T00:00:30Z"\n'


def assert_noted_everywhere(out: Path, printed: str) -> None:
    """The synthetic note in the CLI summary, the manifest and the report."""
    assert "is synthetic" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert SAMPLE_OI_NOTE in manifest["run"]["quality"]["notes"]
    report = (out / "report.html").read_text()
    assert "Data notes" in report and "open_interest of the bundled sample is synthetic" in report


def test_the_sample_notes_its_synthetic_open_interest_in_any_window() -> None:
    sources = sample_sources(["open_interest"], SAMPLE_START + 60 * ss.SECOND)
    result = ss.run_backtest(sources, ss.Strategy())
    assert SAMPLE_OI_NOTE in result.quality.notes


def test_a_windowed_sample_run_keeps_the_synthetic_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "window.toml"
    config.write_text('[data]\nadapter = "sample"\n' + WINDOW + STRATEGY, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out)]) == 0
    assert_noted_everywhere(out, capsys.readouterr().out)


def test_a_store_compiled_from_a_windowed_sample_keeps_the_note_when_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    compile_args = ["--start", "2023-04-04T23:59:00Z", "--end", "2023-04-05T00:01:00Z"]
    assert main(["compile", "--data", "sample", "--out", str(store), *compile_args]) == 0
    config = tmp_path / "store.toml"
    config.write_text(
        f'[data]\nadapter = "store"\nroot = "{store}"\n' + WINDOW + STRATEGY, encoding="utf-8"
    )
    capsys.readouterr()
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out)]) == 0
    assert_noted_everywhere(out, capsys.readouterr().out)


def test_skipped_and_flagged_input_is_one_line_per_stream_and_reason() -> None:
    quality = {
        "quarantined": {"BTCUSDT.trades": {"bad price": 3, "bad qty": 1}},
        "implausible": {"BTCUSDT.mark_price": {"far from the book mid": 2}},
    }
    assert skipped_lines(quality) == [
        "BTCUSDT.trades: 3 rows quarantined (bad price)",
        "BTCUSDT.trades: 1 rows quarantined (bad qty)",
        "BTCUSDT.mark_price: 2 values far from the book mid (used as given)",
    ]
