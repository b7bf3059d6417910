"""Run artifacts: a run's tables as CSV and Parquet, its metrics, report and a manifest.

:func:`write_artifacts` writes ``orders``, ``fills``, ``round_trips``, ``ledger``, ``equity``
and ``data_quality`` as ``<name>.csv`` and ``<name>.parquet``, then ``metrics.json``,
``report.html`` and ``manifest.json`` (which hashes every other file), all into a staging
directory that is renamed into place at the end (:mod:`streamsim.results.atomic`). Nothing
written depends on the wall clock (``wall_seconds`` is left out), so the same inputs,
config and seed give byte-identical files with one installation. Check a directory with
:func:`streamsim.results.verify.verify_artifacts`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import logging
import math
import platform
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

import streamsim

from ..feed.quality import StreamQuality
from ..run.engine import RunResult
from .atomic import check_target, staged_directory
from .metrics import RoundTrip, round_trips
from .record import FillRecord, OrderRecord, RunRecord
from .report import REPORT_NAME, render_report
from .spreadsheet import neutralise

_log = logging.getLogger(__name__)

#: Table names, in the order they are written.
TABLES: tuple[str, ...] = ("orders", "fills", "round_trips", "ledger", "equity", "data_quality")

#: Version of the artifact layout, stored in the manifest.
ARTIFACTS_FORMAT = 4
#: The manifest's file name: it hashes every other file and is written last.
MANIFEST_NAME = "manifest.json"

_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "write_statistics": True,
    "use_dictionary": False,
    "version": "2.6",
    "data_page_version": "1.0",
}
_JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
_CHUNK = 1 << 20
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


@dataclass(frozen=True, slots=True)
class _Table:
    """Rows (tuples in schema column order) with their Arrow schema."""

    schema: pa.Schema
    rows: list[tuple[Any, ...]]

    def to_arrow(self) -> pa.Table:
        columns = list(zip(*self.rows, strict=True)) if self.rows else []
        arrays = [
            pa.array(list(columns[i]) if columns else [], type=field.type)
            for i, field in enumerate(self.schema)
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in fields])


_ORDERS = _schema(
    ("serial", pa.int64()),
    ("client_id", pa.string()),
    ("symbol", pa.string()),
    ("side", pa.int8()),
    ("type", pa.string()),
    ("tif", pa.string()),
    ("qty", pa.int64()),
    ("price", pa.int64()),
    ("stop_price", pa.int64()),
    ("reduce_only", pa.bool_()),
    ("trigger", pa.string()),
    ("status", pa.string()),
    ("filled_qty", pa.int64()),
    ("updates", pa.int64()),
    ("first_update_ts", pa.int64()),
    ("last_update_ts", pa.int64()),
    ("code", pa.int64()),
    ("reason", pa.string()),
    ("strategy", pa.string()),
)
_FILLS = _schema(
    ("ts", pa.int64()),
    ("symbol", pa.string()),
    ("side", pa.int8()),
    ("lots", pa.int64()),
    ("price_ticks", pa.int64()),
    ("price", pa.float64()),
    ("qty", pa.float64()),
    ("notional", pa.float64()),
    ("fee", pa.float64()),
    ("realized_pnl", pa.float64()),
    ("ref", pa.string()),
    ("liquidity", pa.string()),
    ("mid_price", pa.float64()),
    ("queue_wait_ns", pa.int64()),
    ("order_serial", pa.int64()),
)
_ROUND_TRIPS = _schema(
    ("symbol", pa.string()),
    ("side", pa.int8()),
    ("lots", pa.int64()),
    ("qty", pa.float64()),
    ("entry_ts", pa.int64()),
    ("exit_ts", pa.int64()),
    ("entry_price", pa.float64()),
    ("exit_price", pa.float64()),
    ("pnl", pa.float64()),
    ("fees", pa.float64()),
    ("net_pnl", pa.float64()),
    ("holding_ns", pa.int64()),
)
_LEDGER = _schema(
    ("ts", pa.int64()),
    ("symbol", pa.string()),
    ("reason", pa.string()),
    ("amount", pa.float64()),
    ("ref", pa.string()),
)
_EQUITY = _schema(("ts", pa.int64()), ("equity", pa.float64()))


def _quality_schema() -> pa.Schema:
    """One column per :class:`StreamQuality` field: ``stream``/``feed_model`` text, the
    rest int64 (nullable where the field is optional)."""
    return _schema(
        *(
            (f.name, pa.string() if f.name in ("stream", "feed_model") else pa.int64())
            for f in dataclasses.fields(StreamQuality)
        )
    )


_DATA_QUALITY = _quality_schema()


# --------------------------------------------------------------------------- tables


def _orders_table(orders: Iterable[OrderRecord]) -> _Table:
    rows = []
    for record in orders:
        handle = record.handle
        order = handle.order
        updates = handle.updates
        last = updates[-1] if updates else None
        rows.append(
            (
                handle.serial,
                handle.client_id,
                order.symbol,
                order.side,
                order.type.value,
                order.tif.value,
                order.qty,
                order.price,
                order.stop_price,
                order.reduce_only,
                order.trigger,
                handle.status.value,
                handle.filled_qty,
                len(updates),
                updates[0].ts_local if updates else None,
                None if last is None else last.ts_local,
                0 if last is None else last.code,
                "" if last is None else last.reason,
                record.strategy,
            )
        )
    return _Table(_ORDERS, rows)


def _fill_row(r: FillRecord) -> tuple[Any, ...]:
    f = r.fill
    return (
        f.ts,
        f.symbol,
        f.side,
        f.lots,
        f.price_ticks,
        f.price,
        f.qty,
        f.notional,
        f.fee,
        f.realized_pnl,
        f.ref,
        r.liquidity,
        None if math.isnan(r.mid_price) else r.mid_price,
        r.queue_wait_ns,
        r.serial,
    )


def _trip_row(t: RoundTrip) -> tuple[Any, ...]:
    return (
        t.symbol,
        t.side,
        t.lots,
        t.qty,
        t.entry_ts,
        t.exit_ts,
        t.entry_price,
        t.exit_price,
        t.pnl,
        t.fees,
        t.net_pnl,
        t.holding_ns,
    )


def _tables(record: RunRecord) -> dict[str, _Table]:
    trips = round_trips([r.fill for r in record.fills])
    streams = record.quality.streams
    return {
        "orders": _orders_table(record.orders),
        "fills": _Table(_FILLS, [_fill_row(r) for r in record.fills]),
        "round_trips": _Table(_ROUND_TRIPS, [_trip_row(t) for t in trips]),
        "ledger": _Table(
            _LEDGER, [(e.ts, e.symbol, e.reason, e.amount, e.ref) for e in record.ledger]
        ),
        "equity": _Table(
            _EQUITY,
            [
                (int(t), float(v))
                for t, v in zip(record.equity_times, record.equity_values, strict=True)
            ],
        ),
        "data_quality": _Table(
            _DATA_QUALITY, [dataclasses.astuple(streams[name]) for name in sorted(streams)]
        ),
    }


# --------------------------------------------------------------------------- writers


def _csv_cell(value: Any) -> str:
    """Text of one CSV cell: ``repr`` for floats, ``true``/``false``, empty for null, and
    text a spreadsheet cannot run as a formula (:func:`~.spreadsheet.neutralise`)."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return neutralise(str(value))


def _csv_field(text: str) -> str:
    """RFC 4180 quoting: a field holding a comma, a quote, CR or LF is quoted. (The csv
    module leaves a bare CR unquoted when lines end in LF, and readers split the row there:
    a strategy's client id could then start a row of its own.)"""
    return '"' + text.replace('"', '""') + '"' if _NEEDS_QUOTES.search(text) else text


def _write_csv(table: _Table, path: Path) -> None:
    lines = [",".join(_csv_field(name) for name in table.schema.names)]
    lines += [",".join(_csv_field(_csv_cell(v)) for v in row) for row in table.rows]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def _write_parquet(table: _Table, path: Path) -> None:
    pq.write_table(table.to_arrow(), path, **_PARQUET_OPTIONS)


def _json_default(value: Any) -> Any:
    """JSON form of config values orjson does not know: paths, enums, sets, tuples."""
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"cannot write {type(value).__name__} to JSON: {value!r}")


def _write_json(data: Any, path: Path) -> None:
    path.write_bytes(orjson.dumps(data, default=_json_default, option=_JSON_OPTIONS))


def sha256_file(path: Path | str) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _input_entries(inputs: Sequence[Path | str]) -> list[dict[str, Any]]:
    """One entry per input file; a directory gives one per file under it, in path order."""
    entries: list[dict[str, Any]] = []
    for given in inputs:
        root = Path(given)
        if root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file())
            for file in files:
                entries.append(
                    {
                        "path": file.as_posix(),
                        "bytes": file.stat().st_size,
                        "sha256": sha256_file(file),
                    }
                )
        elif root.is_file():
            entries.append(
                {"path": root.as_posix(), "bytes": root.stat().st_size, "sha256": sha256_file(root)}
            )
        else:
            raise FileNotFoundError(f"artifact input {str(given)!r} does not exist")
    return entries


def _versions() -> dict[str, str]:
    return {
        "numpy": np.__version__,
        "orjson": orjson.__version__,
        "pyarrow": pa.__version__,
        "python": platform.python_version(),
        "streamsim": streamsim.__version__,
    }


def _run_summary(result: RunResult) -> dict[str, Any]:
    """The run's simulated facts (no wall-clock time), the account's fate (bankrupt state,
    liquidations, mark fallback) and its run-level quality counts."""
    quality = result.quality.to_dict()
    quality.pop("streams")
    venue = result.exchange or {}
    account_keys = (
        *("bankrupt", "bankrupt_at_ns", "bankrupt_balance", "bankrupt_rejected"),
        *("liquidation_fills", "mark_fallback"),
    )
    return {
        "margin_asset": venue.get("margin_asset"),
        "account": {key: venue[key] for key in account_keys if key in venue} or None,
        "start_time": result.start_time,
        "end_time": result.end_time,
        "events": dict(sorted(result.events.items())),
        "orders_submitted": result.orders_submitted,
        "responses": result.responses,
        "strategies": list(result.strategies),
        "quality": quality,
    }


def check_out_dir(
    out_dir: Path | str, *, force: bool = False, inputs: Sequence[Path | str] = ()
) -> None:
    """Raise :class:`~streamsim.errors.ArtifactError` (naming the path) unless
    :func:`write_artifacts` could write ``out_dir``: call it before a long run to fail
    early. Refused: a file, a non-empty directory without ``force``, a non-empty directory
    that holds no ``manifest.json`` (even with ``force``), the current directory or one
    holding an input, a parent that cannot be written."""
    check_target(out_dir, force=force, marker=MANIFEST_NAME, protect=inputs)


def _file_entry(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _write_report(stage: Path) -> bool:
    """``report.html`` from the staged files; a rendering bug skips it (logged), a disk
    error (OSError) fails the write."""
    try:
        text = render_report(stage)
    except OSError:
        raise
    except Exception:  # a report bug must not lose the run's artifacts
        _log.exception("%s not written: rendering failed", REPORT_NAME)
        return False
    (stage / REPORT_NAME).write_bytes(text.encode("utf-8"))
    return True


def write_artifacts(
    result: RunResult,
    out_dir: Path | str,
    *,
    config: Mapping[str, Any] | None = None,
    seed: int | None = None,
    inputs: Sequence[Path | str] = (),
    force: bool = False,
    report: bool = True,
) -> dict[str, Path]:
    """Write a run's artifacts to ``out_dir`` all at once; returns file name -> path.

    Everything comes from the run's record (``result.record``): every order any strategy
    sent, in the order sent, its fills, ledger and equity samples. ``config`` (default: the
    run's own ``result.config`` as plain data, and ``seed`` its ``run.seed``, for a run made
    by ``streamsim.run_config``) must be JSON-serialisable (paths, enums and sets are
    converted); ``inputs`` are files or directories hashed into the manifest, recorded by
    the path given. ``report`` adds ``report.html``. The files are written into a staging
    directory beside ``out_dir`` and renamed into place at the end, so ``out_dir`` holds the
    previous complete output or this one, never a mix. An existing non-empty ``out_dir`` is
    refused unless ``force``, which replaces it wholly (only a previous output, one holding
    ``manifest.json``).
    Raises :class:`~streamsim.errors.ArtifactError` naming ``out_dir`` when it cannot be
    written (a file, read-only, disk full); nothing is left half-written.
    """
    out = Path(out_dir)
    carried = getattr(result, "config", None)  # a RunConfig (streamsim.run_config), or None
    if config is None and carried is not None:
        config = carried.to_dict()
        if seed is None and carried.run.seed is not None:
            seed = int(carried.run.seed)
    input_entries = _input_entries(inputs)
    with staged_directory(out, force=force, marker=MANIFEST_NAME, protect=inputs) as stage:
        written: dict[str, dict[str, Any]] = {}
        writers: tuple[tuple[str, Callable[[_Table, Path], None]], ...] = (
            ("csv", _write_csv),
            ("parquet", _write_parquet),
        )
        for name, table in _tables(result.record).items():
            for suffix, write in writers:
                path = stage / f"{name}.{suffix}"
                write(table, path)
                written[path.name] = _file_entry(path)
        _write_json(result.metrics, stage / "metrics.json")
        written["metrics.json"] = _file_entry(stage / "metrics.json")
        manifest = {
            "format": ARTIFACTS_FORMAT,
            "config": dict(config) if config is not None else None,
            "seed": seed,
            "inputs": input_entries,
            "versions": _versions(),
            "run": _run_summary(result),
            "outputs": dict(sorted(written.items())),
        }
        if report:
            # The report shows the manifest's run facts, so it is rendered from a first
            # manifest, and the final one then lists it too (the report never reads
            # ``outputs``, so it is the same report either way).
            _write_json(manifest, stage / MANIFEST_NAME)
            if _write_report(stage):
                written[REPORT_NAME] = _file_entry(stage / REPORT_NAME)
                manifest["outputs"] = dict(sorted(written.items()))
        _write_json(manifest, stage / MANIFEST_NAME)
    return {name: out / name for name in [*written, MANIFEST_NAME]}
