"""A run's artifacts as one self-contained HTML report.

:func:`write_report` reads an artifacts directory (see :mod:`streamsim.results.artifacts`)
and writes ``report.html``: inline CSS, plots as inline SVG drawn here, no scripts, fonts
or links. The output holds no wall-clock time and no random ids, so the same artifacts
give the same bytes. Long series are downsampled to at most :data:`MAX_POINTS` points per
line, keeping each bucket's minimum and maximum.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..feed.quality import book_health_line, health_lines, skipped_lines
from ..order_checks import BANKRUPT_REJECT
from ..units import utc_text
from .atomic import replace_file
from .caveats import CAVEATED_KEYS, is_short, sample_caveats, span_text
from .metrics import SUMMARY_KEYS

FloatArray = npt.NDArray[np.float64]

#: At most this many points per plotted line (min/max per bucket beyond it).
MAX_POINTS = 2_000
#: At most this many fill markers per side on the position plot.
MAX_MARKERS = 2_000
REPORT_NAME = "report.html"
_DASH = "\u2013"  # shown for a missing value

_WIDTH = 760
_HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 16, 12, 30
_TIME_UNITS: tuple[tuple[str, float], ...] = (
    ("d", 86_400.0),
    ("h", 3_600.0),
    ("min", 60.0),
    ("s", 1.0),
    ("ms", 1e-3),
)
_QUALITY_CORRECTIONS: tuple[tuple[str, str], ...] = (
    ("exchange_backwards", "exchange backwards"),
    ("clamped_to_exchange", "clamped to exchange"),
    ("offset_corrected", "offset corrected"),
    ("raised_to_recv", "raised to recv"),
    ("monotone_clamped", "monotone clamped"),
)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
margin:0 auto;max-width:820px;padding:16px 20px 48px;background:#fff}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 8px;
border-bottom:1px solid #d0d7de;padding-bottom:4px}
.sub{color:#59636e;margin:0 0 8px}
table{border-collapse:collapse;font-size:13px;margin:6px 0;display:block;max-width:100%;
overflow-x:auto}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}
td.t{text-align:left}
svg{display:block;background:#fff;margin:4px 0}
svg text{font:11px system-ui,sans-serif;fill:#59636e}
.grid{fill:none;stroke:#eaeef2;stroke-width:1}.axis{fill:none;stroke:#8c959f;stroke-width:1}
.eq{fill:none;stroke:#0969da;stroke-width:1.5}
.dd{fill:#cf222e;fill-opacity:.25;stroke:#cf222e;stroke-width:1}
.pos{fill:none;stroke:#1f2328;stroke-width:1.2}
.buy{fill:#1a7f37}.sell{fill:#cf222e}
.pb{fill:#1a7f37}.nb{fill:#cf222e}.cb{fill:#0969da}
.legend{color:#59636e;font-size:12px}.sw{display:inline-block;width:10px;height:10px;
margin:0 4px 0 10px;vertical-align:middle}
pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px}
.none{color:#59636e;font-style:italic}
.health{border:1px solid #1a7f37;background:#f0fff4;padding:4px 12px;margin:12px 0}
.health.warn{border:2px solid #cf222e;background:#fff1f0}
.health.warn h2{color:#cf222e}.health h2{margin:8px 0 4px;border:0}
"""


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class Artifacts:
    """What the report reads from an artifacts directory (a missing table is empty)."""

    tables: Mapping[str, list[dict[str, Any]]]
    metrics: Mapping[str, Any]
    manifest: Mapping[str, Any]


def _read_table(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    table: pa.Table = pq.read_table(path)
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = orjson.loads(path.read_bytes())
    return data if isinstance(data, dict) else {}


def load_artifacts(artifacts_dir: Path | str) -> Artifacts:
    """Read the Parquet tables, ``metrics.json`` and ``manifest.json`` of a run directory."""
    root = Path(artifacts_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"artifacts directory {str(root)!r} does not exist")
    names = ("orders", "fills", "ledger", "equity", "data_quality")
    return Artifacts(
        tables={name: _read_table(root / f"{name}.parquet") for name in names},
        metrics=_read_json(root / "metrics.json"),
        manifest=_read_json(root / "manifest.json"),
    )


# --------------------------------------------------------------------------- formatting


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def format_value(value: object) -> str:
    """Display text of a metric or table value: floats to 6 significant digits."""
    if value is None:
        return _DASH
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.6g}"
    return str(value)


def _utc(ns: int | None) -> str:
    return _DASH if ns is None else utc_text(ns)


def _num(x: float) -> str:
    """An SVG coordinate: two decimals, no negative zero."""
    text = f"{x:.2f}"
    return "0.00" if text == "-0.00" else text


# --------------------------------------------------------------------------- downsampling


def downsample(
    x: npt.ArrayLike, y: npt.ArrayLike, max_points: int = MAX_POINTS
) -> tuple[FloatArray, FloatArray]:
    """At most ``max_points`` points of a line: per bucket, its min and max in index order.

    The first and last points are kept; short lines are returned unchanged.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    n = xs.size
    if n <= max_points:
        return xs, ys
    buckets = max(1, (max_points - 2) // 2)
    edges = np.linspace(1, n - 1, buckets + 1).astype(np.int64)
    keep = [0]
    for lo, hi in itertools.pairwise(edges.tolist()):
        if hi <= lo:
            continue
        part = ys[lo:hi]
        a = int(lo) + int(np.argmin(part))
        b = int(lo) + int(np.argmax(part))
        keep.extend(sorted({a, b}))
    keep.append(n - 1)
    index = np.unique(np.asarray(keep, dtype=np.int64))
    return xs[index], ys[index]


# --------------------------------------------------------------------------- SVG


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [lo, hi]."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps data coordinates to the plot area of one SVG."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int = _WIDTH
    height: int = _HEIGHT

    def px(self, x: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return _LEFT + (x - self.x0) / span * (self.width - _LEFT - _RIGHT)

    def py(self, y: float) -> float:
        span = self.y1 - self.y0 or 1.0
        return self.height - _BOTTOM - (y - self.y0) / span * (self.height - _TOP - _BOTTOM)


def _y_range(values: Iterable[float], include_zero: bool = False) -> tuple[float, float]:
    data = [v for v in values if math.isfinite(v)]
    if include_zero:
        data.append(0.0)
    if not data:
        return 0.0, 1.0
    lo, hi = min(data), max(data)
    if hi == lo:
        pad = abs(hi) * 0.01 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad if not (include_zero and lo == 0.0) else lo, hi + pad


def _time_unit(span_s: float) -> tuple[str, float]:
    for name, size in _TIME_UNITS:
        if span_s >= 2 * size:
            return name, size
    return _TIME_UNITS[-1]


def _svg_open(label: str, height: int = _HEIGHT) -> str:
    return (
        f'<svg width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" '
        f'role="img" aria-label="{_e(label)}">'
    )


def _axes(frame: _Frame, t0_ns: int, y_format: str = "{:.6g}") -> list[str]:
    """Grid, y labels, and x labels as time since ``t0_ns``."""
    parts: list[str] = []
    bottom = frame.height - _BOTTOM
    for tick in _nice_ticks(frame.y0, frame.y1):
        y = frame.py(tick)
        parts.append(
            f'<path class="grid" d="M{_LEFT} {_num(y)}H{_WIDTH - _RIGHT}"/>'
            f'<text x="{_LEFT - 6}" y="{_num(y + 4)}" text-anchor="end">'
            f"{_e(y_format.format(tick))}</text>"
        )
    span_s = (frame.x1 - frame.x0) / 1e9
    unit, size = _time_unit(span_s)
    lo_s = (frame.x0 - t0_ns) / 1e9 / size
    hi_s = (frame.x1 - t0_ns) / 1e9 / size
    for tick in _nice_ticks(lo_s, hi_s, 8):
        x = frame.px(t0_ns + tick * size * 1e9)
        parts.append(
            f'<path class="axis" d="M{_num(x)} {bottom}v4"/>'
            f'<text x="{_num(x)}" y="{bottom + 16}" text-anchor="middle">'
            f"{_e(format_value(float(tick)))} {unit}</text>"
        )
    parts.append(f'<path class="axis" d="M{_LEFT} {_TOP}V{bottom}H{_WIDTH - _RIGHT}"/>')
    return parts


def _line(frame: _Frame, xs: FloatArray, ys: FloatArray) -> str:
    return " ".join(f"{_num(frame.px(x))},{_num(frame.py(y))}" for x, y in zip(xs, ys, strict=True))


def _no_data(label: str) -> str:
    return f'<p class="none">{_e(label)}: no data.</p>'


def _equity_svgs(equity: Sequence[Mapping[str, Any]]) -> str:
    """Equity line and drawdown area over time."""
    if not equity:
        return _no_data("Equity")
    times = np.asarray([r["ts"] for r in equity], dtype=np.float64)
    values = np.asarray([r["equity"] for r in equity], dtype=np.float64)
    t0 = int(equity[0]["ts"])
    x0, x1 = float(times[0]), float(times[-1])
    if x1 <= x0:
        x1 = x0 + 1e9
    xs, ys = downsample(times, values)
    frame = _Frame(x0, x1, *_y_range(ys.tolist()))
    eq = [_svg_open("Equity over time"), *_axes(frame, t0)]
    eq.append(f'<polyline class="eq" points="{_line(frame, xs, ys)}"/>')
    eq.append("</svg>")

    peak = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, values / peak - 1.0, 0.0) * 100.0
    dxs, dys = downsample(times, dd)
    dframe = _Frame(x0, x1, *_y_range(dys.tolist(), include_zero=True), height=160)
    zero = _num(dframe.py(0.0))
    area = (
        f"M{_num(dframe.px(float(dxs[0])))} {zero}L"
        + " ".join(
            f"{_num(dframe.px(x))} {_num(dframe.py(y))}" for x, y in zip(dxs, dys, strict=True)
        )
        + f"L{_num(dframe.px(float(dxs[-1])))} {zero}Z"
    )
    ddsvg = [
        _svg_open("Drawdown over time", 160),
        *_axes(dframe, t0, "{:.4g}%"),
        f'<path class="dd" d="{area}"/>',
        "</svg>",
    ]
    return "<h3>Equity</h3>" + "".join(eq) + "<h3>Drawdown (% below peak)</h3>" + "".join(ddsvg)


def _marker(x: float, y: float, up: bool) -> str:
    if up:
        return f"M{_num(x)} {_num(y - 5)}l4.5 8h-9Z"
    return f"M{_num(x)} {_num(y + 5)}l4.5 -8h-9Z"


def _position_svgs(fills: Sequence[Mapping[str, Any]], equity: Sequence[Mapping[str, Any]]) -> str:
    """Per symbol: the signed position after each fill as a step line, fills as markers."""
    if not fills:
        return _no_data("Position")
    symbols = sorted({str(f["symbol"]) for f in fills})
    start = min(int(f["ts"]) for f in fills)
    end = max(int(f["ts"]) for f in fills)
    if equity:
        start = min(start, int(equity[0]["ts"]))
        end = max(end, int(equity[-1]["ts"]))
    if end <= start:
        end = start + 1_000_000_000
    out: list[str] = []
    for symbol in symbols:
        rows = [f for f in fills if f["symbol"] == symbol]
        ts = np.asarray([r["ts"] for r in rows], dtype=np.float64)
        signed = np.asarray([r["side"] * r["qty"] for r in rows], dtype=np.float64)
        pos = np.round(np.cumsum(signed), 12)
        before = np.concatenate(([0.0], pos[:-1]))
        step_x = np.concatenate(([float(start)], np.repeat(ts, 2), [float(end)]))
        step_y = np.concatenate(([0.0], np.column_stack((before, pos)).ravel(), [pos[-1]]))
        xs, ys = downsample(step_x, step_y)
        frame = _Frame(float(start), float(end), *_y_range(ys.tolist(), include_zero=True))
        parts = [_svg_open(f"Position of {symbol} over time"), *_axes(frame, start)]
        parts.append(f'<polyline class="pos" points="{_line(frame, xs, ys)}"/>')
        for side, cls in ((1, "buy"), (-1, "sell")):
            idx = [i for i, r in enumerate(rows) if r["side"] == side]
            stride = max(1, math.ceil(len(idx) / MAX_MARKERS))
            marks = "".join(
                _marker(frame.px(float(ts[i])), frame.py(float(pos[i])), side == 1)
                for i in idx[::stride]
            )
            if marks:
                parts.append(f'<path class="{cls}" d="{marks}"/>')
        parts.append("</svg>")
        buys = sum(1 for r in rows if r["side"] == 1)
        out.append(
            f"<h3>{_e(symbol)}</h3>"
            f'<div class="legend"><span class="sw" style="background:#1a7f37"></span>buy '
            f"({buys})"
            f'<span class="sw" style="background:#cf222e"></span>sell ({len(rows) - buys})'
            f"</div>" + "".join(parts)
        )
    return "".join(out)


def _bar_svg(label: str, bars: Sequence[tuple[str, float, str]], y_format: str = "{:.6g}") -> str:
    """Vertical bars (name, value, css class) around a zero line, values written on them."""
    if not bars:
        return _no_data(label)
    lo, hi = _y_range([v for _, v, _ in bars], include_zero=True)
    frame = _Frame(0.0, float(len(bars)), lo, hi)
    bottom = _HEIGHT - _BOTTOM
    parts = [_svg_open(label)]
    for tick in _nice_ticks(lo, hi):
        y = frame.py(tick)
        parts.append(
            f'<path class="grid" d="M{_LEFT} {_num(y)}H{_WIDTH - _RIGHT}"/>'
            f'<text x="{_LEFT - 6}" y="{_num(y + 4)}" text-anchor="end">'
            f"{_e(y_format.format(tick))}</text>"
        )
    zero = frame.py(0.0)
    slot = frame.px(1.0) - frame.px(0.0)
    for i, (name, value, cls) in enumerate(bars):
        x = frame.px(float(i)) + slot * 0.2
        top = min(zero, frame.py(value))
        height = abs(frame.py(value) - zero)
        parts.append(
            f'<path class="{cls}" d="M{_num(x)} {_num(top)}h{_num(slot * 0.6)}'
            f'v{_num(height)}h{_num(-slot * 0.6)}Z"><title>{_e(name)}: '
            f"{_e(format_value(value))}</title></path>"
        )
        label_y = top - 4 if value >= 0 else top + height + 12
        center = _num(x + slot * 0.3)
        parts.append(
            f'<text x="{center}" y="{_num(label_y)}" text-anchor="middle">'
            f"{_e(format_value(value))}</text>"
            f'<text x="{center}" y="{bottom + 16}" text-anchor="middle">{_e(name)}</text>'
        )
    parts.append(f'<path class="axis" d="M{_LEFT} {_num(zero)}H{_WIDTH - _RIGHT}"/>')
    parts.append(f'<path class="axis" d="M{_LEFT} {_TOP}V{bottom}"/>')
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- sections


def _pnl_parts(ledger: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, str]]:
    """Realized PnL, fees, liquidation fees, funding (as wallet changes) and their net."""
    sums: dict[str, list[float]] = {}
    for row in ledger:
        sums.setdefault(str(row["reason"]), []).append(float(row["amount"]))
    total = {k: math.fsum(v) for k, v in sums.items()}
    parts = [
        ("realized", total.get("fill_pnl", 0.0)),
        ("fees", total.get("fee", 0.0)),
        ("funding", total.get("funding", 0.0)),
    ]
    if "liquidation_fee" in total:
        parts.append(("liquidation fees", total["liquidation_fee"]))
    parts.append(("net", math.fsum(v for _, v in parts)))
    return [
        (name, value, "cb" if name == "net" else ("pb" if value >= 0 else "nb"))
        for name, value in parts
    ]


def _table(header: Sequence[str], rows: Iterable[Sequence[object]], text_cols: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="t">{_e(v)}</td>' if i < text_cols else f"<td>{_e(format_value(v))}</td>"
            for i, v in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fill_section(metrics: Mapping[str, Any], orders: Sequence[Mapping[str, Any]]) -> str:
    """Maker/taker fills, limit orders filled, order statuses and queue wait."""
    fills = _number(metrics.get("fills")) or 0.0
    share = _number(metrics.get("maker_share"))
    maker = round(fills * share) if share is not None else 0
    limit_orders = _number(metrics.get("limit_orders")) or 0.0
    rate = _number(metrics.get("limit_fill_rate"))
    filled = round(limit_orders * rate) if rate is not None else 0
    bars = [
        ("maker fills", float(maker), "pb"),
        ("taker fills", fills - maker, "cb"),
        ("limit orders", limit_orders, "cb"),
        ("limit filled", float(filled), "pb"),
    ]
    statuses: dict[str, int] = {}
    for order in orders:
        key = str(order.get("status"))
        statuses[key] = statuses.get(key, 0) + 1
    status_bars = [(k, float(v), "cb") for k, v in sorted(statuses.items())]
    stats = _table(
        ("statistic", "value"),
        [
            ("fills", metrics.get("fills")),
            ("maker share (fills)", metrics.get("maker_share")),
            ("maker share (notional)", metrics.get("maker_notional_share")),
            ("limit orders", metrics.get("limit_orders")),
            ("limit fill rate", metrics.get("limit_fill_rate")),
            ("mean queue wait (s)", metrics.get("mean_queue_wait_s")),
        ],
    )
    out = _bar_svg("Fills and limit orders", bars, "{:.6g}") + stats
    if status_bars:
        out += "<h3>Orders by final status</h3>" + _bar_svg("Orders by status", status_bars)
    return out


def _quality_section(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return _no_data("Data quality")
    header = (
        "stream",
        "feed model",
        "rows",
        "delivered",
        *(label for _, label in _QUALITY_CORRECTIONS),
        "corrections",
        "shown before recv",
    )
    body = [
        (
            row.get("stream"),
            row.get("feed_model"),
            row.get("rows"),
            row.get("delivered"),
            *(row.get(key) for key, _ in _QUALITY_CORRECTIONS),
            sum(int(row.get(key) or 0) for key, _ in _QUALITY_CORRECTIONS),
            row.get("shown_before_recv"),
        )
        for row in rows
    ]
    return _table(header, body, text_cols=2)


def _metric_text(key: str, value: object) -> str:
    if key.endswith("_ns") and isinstance(value, int) and not isinstance(value, bool):
        return f"{value} ({_utc(value)})"
    return format_value(value)


def _metrics_section(metrics: Mapping[str, Any]) -> str:
    if not metrics:
        return _no_data("Metrics")
    keys = [k for k in SUMMARY_KEYS if k in metrics]
    keys += sorted(k for k in metrics if k not in SUMMARY_KEYS)
    marked = set(CAVEATED_KEYS) if is_short(metrics) else set()
    body = "".join(
        f'<tr><td class="t">{_e(k)}</td><td title="{_e(repr(metrics[k]))}">'
        f"{_e(_metric_text(k, metrics[k]))}{' †' if k in marked else ''}</td></tr>"
        for k in keys
    )
    return (
        f"<table><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _title(manifest: Mapping[str, Any], title: str) -> str:
    """The first line a reader sees: strategies, the simulated span and its length, seed."""
    run = manifest.get("run") or {}
    strategies = ", ".join(str(s) for s in run.get("strategies") or []) or _DASH
    start, end = run.get("start_time"), run.get("end_time")
    span = ""
    if isinstance(start, int) and isinstance(end, int):
        span = f" ({span_text(max(end - start, 0) / 1e9)} simulated)"
    events = sum(int(n) for n in (run.get("events") or {}).values())
    seeds = f"seed {format_value(manifest.get('seed'))}"
    latency = ((manifest.get("config") or {}).get("latency") or {}).get("seed")
    if latency is not None:
        seeds += f", latency seed {format_value(latency)}"
    return (
        f"<h1>{_e(title)}</h1>"
        f'<p class="sub" id="span">strategies: {_e(strategies)} · '
        f"{_e(_utc(start))} → {_e(_utc(end))}{_e(span)} · {events:,} events · "
        f"{_e(seeds)}</p>"
    )


def _run_facts(manifest: Mapping[str, Any]) -> str:
    """The run's counts, its config and the versions (below what to trust)."""
    run = manifest.get("run") or {}
    facts: list[tuple[str, object]] = [
        ("money (PnL, fees, equity) in", run.get("margin_asset") or _DASH),
        ("orders submitted", run.get("orders_submitted")),
        ("responses", run.get("responses")),
    ]
    events = run.get("events") or {}
    facts += [(f"events: {k}", events[k]) for k in sorted(events)]
    lines = [_table(("run", "value"), facts)]
    config = manifest.get("config")
    if config is not None:
        text = orjson.dumps(config, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode()
        lines.append(f"<details><summary>config</summary><pre>{_e(text)}</pre></details>")
    versions = manifest.get("versions") or {}
    if versions:
        joined = ", ".join(f"{k} {versions[k]}" for k in sorted(versions))
        lines.append(f'<p class="sub">versions: {_e(joined)}</p>')
    return "".join(lines) + "\n"


def _caveats_section(metrics: Mapping[str, Any]) -> str:
    """The metrics' caveats (a short sample, a DSR of one trial), warning-styled; absent
    when there are none."""
    lines = sample_caveats(metrics)
    if not lines:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return (
        '<section id="caveats" class="health warn"><h2>Metric caveats</h2>'
        "<p>The figures below are computed as defined in the docs; read them with these "
        f"caveats (the marked ones † in the key metrics).</p><ul>{items}</ul></section>\n"
    )


_HEALTH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("gaps", "sequence gaps"),
    ("crossed", "crossed"),
    ("resyncs", "snapshot resyncs"),
    ("rebuilds", "rebuilds"),
    ("guard_rejected", "guard rejected"),
    ("guard_warmup_rejected", "rejected while starting"),
    ("guard_cancelled", "guard cancelled"),
    ("guard_stops_expired", "stops expired"),
)


def _health_section(manifest: Mapping[str, Any]) -> str:
    """The book-health block: one row per book; warning-styled if any book broke."""
    quality = (manifest.get("run") or {}).get("quality") or {}
    sides = (
        ("exchange", quality.get("exchange_books") or {}),
        ("strategy", quality.get("books") or {}),
    )
    rows = []
    damaged = []
    for side, books in sides:
        for symbol in sorted(books):
            counts = books[symbol]
            line = book_health_line(symbol, counts, f"{side} side")
            if line is not None:
                damaged.append(line)
            rows.append(
                (
                    symbol,
                    side,
                    "DAMAGED" if line is not None else "whole",
                    *(counts.get(key, 0) for key, _ in _HEALTH_COLUMNS),
                    f"{int(counts.get('invalid_ns', 0)) / 1e9:,.3f} s",
                    "off" if counts.get("guard") == 0 else "on" if "guard" in counts else _DASH,
                )
            )
    if not rows:
        return (
            '<section id="book-health" class="health"><h2>Book health</h2>'
            '<p class="none">no order book in this run</p></section>\n'
        )
    header = (
        "symbol",
        "side",
        "book",
        *(label for _, label in _HEALTH_COLUMNS),
        "time invalid",
        "guard",
    )
    if damaged:
        lead = (
            "<p><strong>Warning: a book broke during this run.</strong> While a book is "
            "invalid the guard blocks matching on its symbol; the results near these times "
            "rest on resynced (possibly partial) books.</p><ul>"
            + "".join(f"<li>{_e(line)}</li>" for line in damaged)
            + "</ul>"
        )
    else:
        lead = "<p>Every book stayed whole: no sequence gap, no crossed book.</p>"
    warn = " warn" if damaged else ""
    return (
        f'<section id="book-health" class="health{warn}"><h2>Book health</h2>{lead}'
        f"{_table(header, rows, text_cols=3)}</section>\n"
    )


def _account_section(manifest: Mapping[str, Any], fills: Sequence[Mapping[str, Any]]) -> str:
    """The account's fate: bankrupt (when, at what wallet, orders rejected) and every
    liquidation (time, symbol, side, price, qty); warning-styled if either happened,
    absent for a run without an account."""
    run = manifest.get("run") or {}
    account = run.get("account") or {}
    liquidations = [f for f in fills if f.get("liquidity") == "liquidation"]
    if not account and not liquidations:
        return ""
    asset = run.get("margin_asset") or ""
    lead = []
    if account.get("bankrupt"):
        wallet = _number(account.get("bankrupt_balance"))
        lead.append(
            f"<p><strong>Warning: the account went bankrupt</strong> at "
            f"{_e(_utc(account.get('bankrupt_at_ns')))}: its wallet fell to "
            f"{_e(format_value(wallet))} {_e(asset)}. Every later new order was rejected "
            f"(code {BANKRUPT_REJECT}): "
            f"{_e(format_value(account.get('bankrupt_rejected', 0)))} orders. "
            "Results after that time are those of an account that could not trade.</p>"
        )
    count = len(liquidations)
    if liquidations:
        lead.append(
            f"<p><strong>{count} liquidation fill{'s' if count != 1 else ''}</strong>: "
            "positions closed by the venue at the mark price.</p>"
        )
        rows = [
            (
                _utc(f.get("ts")),
                f.get("symbol"),
                "buy" if f.get("side") == 1 else "sell",
                f.get("price"),
                f.get("qty"),
                f.get("notional"),
                f.get("realized_pnl"),
            )
            for f in liquidations
        ]
        header = ("time", "symbol", "side", "price", "qty", f"notional {asset}".strip(), "PnL")
        lead.append(_table(header, rows, text_cols=3))
    if not lead:
        lead.append("<p>No liquidation; the wallet never went below zero.</p>")
    warn = " warn" if account.get("bankrupt") or liquidations else ""
    return f'<section id="account" class="health{warn}"><h2>Account</h2>{"".join(lead)}</section>\n'


def _notes_section(manifest: Mapping[str, Any]) -> str:
    """The data's own caveats: rows quarantined, values flagged as implausible, and every
    note of the run (synthetic streams, skipped files, duplicates); warning-styled when
    input was skipped or flagged, "no notes" when there is nothing to say."""
    quality = (manifest.get("run") or {}).get("quality") or {}
    skipped = skipped_lines(quality)
    # A broken book's health line is in the "Book health" block above: not twice.
    shown = set(health_lines(quality.get("exchange_books") or {}, quality.get("books") or {}))
    notes = [str(note) for note in quality.get("notes") or () if note not in shown]
    if not skipped and not notes:
        return (
            '<section id="data-notes" class="health"><h2>Data notes</h2>'
            '<p class="none">no notes: no input skipped or flagged</p></section>\n'
        )
    warn = " warn" if skipped else ""
    lead = (
        "<p><strong>Warning: some input was skipped or flagged.</strong> The results rest "
        "on the data that was left.</p>"
        if warn
        else ""
    )
    items = "".join(f"<li>{_e(line)}</li>" for line in skipped + notes)
    return (
        f'<section id="data-notes" class="health{warn}"><h2>Data notes</h2>{lead}'
        f"<ul>{items}</ul></section>\n"
    )


# --------------------------------------------------------------------------- API


def render_report(artifacts_dir: Path | str, *, title: str = "streamsim run report") -> str:
    """The report of an artifacts directory as HTML text (deterministic). Its first screen
    is what to know before trusting the numbers: the span, the account, book health, the
    data notes and the metrics' caveats; then the run's facts and config, then the plots."""
    data = load_artifacts(artifacts_dir)
    tables = data.tables
    asset = (data.manifest.get("run") or {}).get("margin_asset")
    unit = f" ({asset})" if asset else ""
    sections = [
        ("equity", f"Equity and drawdown{unit}", _equity_svgs(tables["equity"])),
        (
            "position",
            "Position and fills",
            _position_svgs(tables["fills"], tables["equity"]),
        ),
        (
            "pnl",
            f"PnL decomposition{unit}",
            _bar_svg("PnL decomposition", _pnl_parts(tables["ledger"])),
        ),
        ("fills", "Fills and queue", _fill_section(data.metrics, tables["orders"])),
        ("quality", "Data quality", _quality_section(tables["data_quality"])),
        ("metrics", "Key metrics", _metrics_section(data.metrics)),
    ]
    body = "".join(
        f'<section id="{sid}"><h2>{_e(heading)}</h2>{content}</section>\n'
        for sid, heading, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>{_title(data.manifest, title)}\n"
        f"{_account_section(data.manifest, tables['fills'])}{_health_section(data.manifest)}"
        f"{_notes_section(data.manifest)}{_caveats_section(data.metrics)}"
        f"{_run_facts(data.manifest)}{body}</body></html>\n"
    )


def write_report(
    artifacts_dir: Path | str,
    out_path: Path | str | None = None,
    *,
    title: str = "streamsim run report",
) -> Path:
    """Write the report of ``artifacts_dir`` (default: ``<artifacts_dir>/report.html``)
    through a staging file and one rename, so the path never holds half a report; an
    unwritable path raises :class:`~streamsim.errors.ArtifactError` naming it."""
    out = Path(out_path) if out_path is not None else Path(artifacts_dir) / REPORT_NAME
    return replace_file(out, render_report(artifacts_dir, title=title).encode("utf-8"))
