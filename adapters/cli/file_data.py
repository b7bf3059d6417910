"""The ``[data]`` of the adapters that read recorded files as they are: Tardis CSV
(``adapter = "tardis"``) and raw Binance captures (``adapter = "capture"``)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import streamsim as ss
from adapters.binance import Capture, read_capture, sources_from_capture
from adapters.binance.sources import CAPTURE_KINDS
from adapters.cli.config import CliError, _resolve, format_time
from adapters.cli.data_plan import DataPlan
from adapters.tardis import tardis_sources
from adapters.tardis.sources import stream_kinds
from streamsim.config import DataConfig
from streamsim.feed.sources import Source


def plan_tardis(data: DataConfig, base: Path, options: dict[str, Any]) -> DataPlan:
    """Tardis CSV: under ``data.root`` (the days of ``data.start`` .. ``data.end``) or the
    files of ``data.files``, for each of ``data.symbols`` with its ``data.instruments``."""
    if not data.symbols:
        raise CliError("data.symbols is required for adapter 'tardis'")
    if not data.data_types:
        raise CliError(
            "data.data_types is required for adapter 'tardis' "
            '(e.g. ["incremental_book_L2", "trades", "derivative_ticker"])'
        )
    located = _located(data, base, "tardis")
    if data.files is not None and len(data.symbols) > 1:
        raise CliError("data.files: files given directly hold one symbol; data.symbols has more")
    if data.start is not None and int(data.start) % ss.DAY:
        raise CliError(
            f"data.start: adapter 'tardis' replays whole files (days) and does not cut them "
            f"at {format_time(int(data.start))}: start at 00:00:00Z of a day, "
            "or leave data.start out"
        )
    dates = None if data.files is not None else _days(data, "tardis")
    exchange = data.exchange.replace("_", "-")  # Tardis spells binance_futures binance-futures
    instruments = _instruments(data, "tardis")
    sources: list[Source] = []
    for symbol in data.symbols:
        found = tardis_sources(
            located,
            exchange=exchange,
            symbol=symbol,
            data_types=list(data.data_types),
            dates=dates,
            instrument=instruments[symbol],
            policy=options["policy"],
            quarantine=options["quarantine"],
            plausibility=options["plausibility"],
        )
        sources.extend(found)
    if data.kinds is not None:
        sources = [s for s in sources if s.stream.kind in data.kinds]
        if not sources:
            given = sorted({k for t in data.data_types for k in stream_kinds(t)})
            raise CliError(f"data.kinds: none of {data.kinds} is in the data types ({given})")
    inputs = sorted({f for s in sources for f in getattr(s, "files", [])})
    end = None if data.end is None else int(data.end)
    return DataPlan(
        sources, [instruments[s] for s in data.symbols], inputs, list(data.symbols), end
    )


def plan_capture(data: DataConfig, base: Path, options: dict[str, Any]) -> DataPlan:
    """A raw Binance recording: the files of ``data.files`` in order, chained; every
    symbol in it, or those of ``data.symbols``."""
    if data.root is not None:
        raise CliError("data.root: adapter 'capture' reads data.files (the recording's files)")
    files = _located(data, base, "capture")
    kinds = list(data.kinds) if data.kinds is not None else list(CAPTURE_KINDS)
    unknown = [kind for kind in kinds if kind not in CAPTURE_KINDS]
    if unknown:
        raise CliError(
            f"data.kinds: a capture has no {', '.join(unknown)} (it has {', '.join(CAPTURE_KINDS)})"
        )
    given = {s: i.build(s) for s, i in (data.instruments or {}).items()}
    capture = read_capture(
        files,
        given,
        off_grid=data.off_grid or "auto",
        policy=options["policy"],
        quarantine=options["quarantine"],
        plausibility=options["plausibility"],
    )
    symbols = list(data.symbols or sorted(capture.symbols))
    missing = [s for s in symbols if s not in capture.symbols]
    if missing:
        held = ", ".join(sorted(capture.symbols)) or "none"
        raise CliError(f"data.symbols: {', '.join(missing)} not in the capture (it holds {held})")
    chosen = dataclasses.replace(capture, symbols={s: capture.symbols[s] for s in symbols})
    first = _first_time(chosen)
    if data.start is not None and first is not None and int(data.start) > first:
        raise CliError(
            f"data.start: adapter 'capture' replays the whole recording (from "
            f"{format_time(first)}) and does not cut it at "
            f"{format_time(int(data.start))}: leave data.start out (data.end does end the run)"
        )
    sources = sources_from_capture(chosen, kinds)
    instruments = [capture.symbols[s].instrument for s in symbols]
    end = _last_time(chosen) if data.end is None else int(data.end)
    return DataPlan(sources, instruments, files, symbols, end)


def _batches(capture: Capture) -> list[Any]:
    return [
        batch
        for data in capture.symbols.values()
        for batch in (data.depth, data.trades, data.mark_price)
        if batch is not None and len(batch)
    ]


def _last_time(capture: Capture) -> int | None:
    """The latest venue time of the recording (for the progress line's ETA)."""
    return max((int(batch.ts_exchange.max()) for batch in _batches(capture)), default=None)


def _first_time(capture: Capture) -> int | None:
    """The earliest venue time of the recording."""
    return min((int(batch.ts_exchange.min()) for batch in _batches(capture)), default=None)


def _located(data: DataConfig, base: Path, adapter: str) -> list[Path]:
    """``data.files`` (each must exist), else ``[data.root]``, resolved against ``base``."""
    if data.files is not None and data.root is not None:
        raise CliError(f"adapter {adapter!r} reads data.root or data.files, not both")
    if data.files is not None:
        if not data.files:
            raise CliError("data.files: an empty list")
        paths = [_resolve(f, base) for f in data.files]
        for i, path in enumerate(paths):
            if not path.is_file():
                raise CliError(f"data.files[{i}]: no such file: {path}")
        return paths
    if data.root is None:
        needs = "data.files" if adapter == "capture" else "data.root or data.files"
        raise CliError(f"{needs} is required for adapter {adapter!r}")
    root = _resolve(data.root, base)
    if not root.is_dir():
        raise CliError(f"data.root: not a directory: {root}")
    return [root]


def _days(data: DataConfig, adapter: str) -> list[str]:
    """The UTC days ``data.start`` .. ``data.end`` touch, which pick the dated files."""
    if data.start is None or data.end is None:
        raise CliError(
            f"adapter {adapter!r} with data.root needs data.start and data.end "
            "(their days pick the files)"
        )
    first, last = _day(int(data.start)), _day(int(data.end))
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _day(ns: int) -> date:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).date()


def _instruments(data: DataConfig, adapter: str) -> dict[str, ss.Instrument]:
    """The instrument of each of ``data.symbols`` from ``data.instruments``."""
    tables = data.instruments or {}
    missing = [s for s in data.symbols or () if s not in tables]
    if missing:
        raise CliError(
            f"data.instruments.{missing[0]}: required by adapter {adapter!r} for each symbol "
            f'(e.g. [data.instruments.{missing[0]}] tick_size = "0.1", lot_size = "0.001")'
        )
    return {s: tables[s].build(s) for s in data.symbols or ()}
