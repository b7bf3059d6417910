"""HTML report: self-contained, deterministic, with every plot and table."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import BTC_TEST as BTC
from helpers import FUNDING_START as START
from helpers import flipper_run

import streamsim as ss
from streamsim.feed import synthetic
from streamsim.results.artifacts import write_artifacts
from streamsim.results.report import downsample, format_value, render_report, write_report
from streamsim.sim.matching import SimExchange

SEED = 7
NASTY = "flip<&>per"
SECTIONS = ("equity", "position", "pnl", "fills")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    result, _, _ = flipper_run(SEED, name=NASTY)
    write_artifacts(
        result,
        out,
        config={"strategy": NASTY, "latency_ms": 5},
        seed=SEED,
    )
    return out


def section(text: str, sid: str) -> str:
    match = re.search(rf'<section id="{sid}">(.*?)</section>', text, re.S)
    assert match is not None, sid
    return match.group(1)


def test_report_is_byte_identical(artifacts: Path, tmp_path: Path) -> None:
    first = write_report(artifacts)
    assert first == artifacts / "report.html"
    second = write_report(artifacts, tmp_path / "nested" / "again.html")
    assert first.read_bytes() == second.read_bytes()
    assert render_report(artifacts).encode("utf-8") == first.read_bytes()


def test_report_is_self_contained(artifacts: Path) -> None:
    text = render_report(artifacts)
    for banned in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert banned not in text.lower(), banned
    assert text.startswith("<!DOCTYPE html>")


def test_every_plot_section_has_a_drawn_svg(artifacts: Path) -> None:
    text = render_report(artifacts)
    drawn = re.compile(r'<(?:polyline points|path [^>]*d)="[^"]*\d[^"]*\d[^"]*"')
    for sid in SECTIONS:
        body = section(text, sid)
        svgs = re.findall(r"<svg.*?</svg>", body, re.S)
        assert svgs, sid
        assert all(drawn.search(svg) for svg in svgs), sid
    equity = section(text, "equity")
    assert equity.count("<svg") == 2  # equity and drawdown
    assert '<polyline class="eq" points="' in equity
    assert '<path class="dd" d="M' in equity
    position = section(text, "position")
    assert '<path class="buy" d="M' in position
    assert '<path class="sell" d="M' in position
    pnl = section(text, "pnl")
    for name in ("realized", "fees", "funding", "net"):
        assert f">{name}</text>" in pnl


def test_tables_hold_metrics_and_quality_rows(artifacts: Path) -> None:
    text = render_report(artifacts)
    metrics = orjson.loads((artifacts / "metrics.json").read_bytes())
    table = section(text, "metrics")
    for key, value in metrics.items():
        assert f'<td class="t">{key}</td>' in table
        assert format_value(value) in table, key
    assert format_value(metrics["sharpe"]) == f"{metrics['sharpe']:.6g}"
    quality = pq.read_table(artifacts / "data_quality.parquet").to_pylist()
    rows = section(text, "quality")
    assert rows.count("<tr>") == len(quality) + 1
    for row in quality:
        assert f'<td class="t">{row["stream"]}</td>' in rows
        assert f"<td>{row['rows']}</td><td>{row['delivered']}</td>" in rows
    fills = section(text, "fills")
    assert "limit fill rate" in fills
    assert "mean queue wait (s)" in fills


def test_names_are_escaped(artifacts: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(artifacts, copy)
    quality = pq.read_table(copy / "data_quality.parquet")
    streams = quality.column("stream").to_pylist()
    renamed = quality.set_column(
        0, "stream", pa.array(["<&>" + s for s in streams], type=pa.string())
    )
    pq.write_table(renamed, copy / "data_quality.parquet")
    text = render_report(copy, title="a <b> & c")
    assert NASTY not in text
    assert "flip&lt;&amp;&gt;per" in text  # strategy name and config
    assert "<&>" not in text
    assert f"&lt;&amp;&gt;{streams[0]}" in text
    assert "<title>a &lt;b&gt; &amp; c</title>" in text


def test_long_series_are_downsampled(tmp_path: Path) -> None:
    n = 200_000
    times = np.arange(n, dtype=np.int64) * 1_000_000 + START
    values = 10_000 + np.cumsum(np.sin(np.arange(n) / 50.0))
    values[123_457] = 20_000.0  # a spike must survive
    xs, ys = downsample(times, values)
    assert xs.size <= 2_000
    assert ys.max() == 20_000.0 and ys.min() == values.min()
    assert xs[0] == times[0] and xs[-1] == times[-1]
    assert np.all(np.diff(xs) > 0)
    out = tmp_path / "long"
    out.mkdir()
    table = pa.table({"ts": pa.array(times), "equity": pa.array(values)})
    pq.write_table(table, out / "equity.parquet")
    text = render_report(out)  # other files missing: sections say so
    polyline = re.search(r'<polyline class="eq" points="([^"]*)"', text)
    assert polyline is not None
    assert len(polyline.group(1).split()) <= 2_000
    assert len(text) < 200_000
    assert "no data" in section(text, "position")


def test_empty_run_renders(tmp_path: Path) -> None:
    exchange = SimExchange([BTC], mark_fallback="mid")
    result = ss.run_backtest(
        synthetic.market("BTCUSDT", START, n_depth=50, n_trades=10),
        ss.Strategy(),
        exchange=exchange,
    )
    write_artifacts(result, tmp_path / "out")
    text = render_report(tmp_path / "out")
    assert "no data" in section(text, "position")
    assert "<svg" in section(text, "equity")
    with pytest.raises(FileNotFoundError):
        render_report(tmp_path / "missing")


def test_stroke_only_shapes_are_not_filled(tmp_path: Path) -> None:
    # An unfilled L-shaped axis path renders as a black triangle in a browser.
    from streamsim.results.report import _CSS

    for selector in (".grid{", ".axis{", ".eq{", ".pos{"):
        rule = _CSS.split(selector, 1)[1].split("}", 1)[0]
        assert "fill:none" in rule, selector


def test_the_report_says_what_input_was_quarantined_or_flagged_and_every_note() -> None:
    from streamsim.results.report import _notes_section

    quality = {
        "quarantined": {"BTCUSDT.trades": {"price: not positive": 2}},
        "implausible": {"BTCUSDT.mark_price": {"more than 10% from the book mid": 3}},
        "notes": ["BTCUSDT.open_interest is synthetic"],
    }
    html = _notes_section({"run": {"quality": quality}})
    assert 'class="health warn"' in html
    assert "BTCUSDT.trades: 2 rows quarantined (price: not positive)" in html
    assert "BTCUSDT.mark_price: 3 values more than 10% from the book mid" in html
    assert "BTCUSDT.open_interest is synthetic" in html
    calm = _notes_section({"run": {"quality": {"notes": ["a note"]}}})
    assert "warn" not in calm and "a note" in calm
    assert "no notes" in _notes_section({"run": {"quality": {}}})


def test_the_title_names_the_latency_seed_when_the_run_seed_is_unset(tmp_path: Path) -> None:
    result, _, _ = flipper_run(SEED)
    config = {"latency": {"model": "lognormal", "seed": 7}}
    write_artifacts(result, tmp_path / "out", config=config)
    text = render_report(tmp_path / "out")
    assert re.search(r'id="span">[^<]*seed \u2013, latency seed 7</p>', text)
