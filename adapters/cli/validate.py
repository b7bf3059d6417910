"""``streamsim validate``: checks of a CryptoHFTData tree (local or ``s3://``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import streamsim as ss
from adapters.cli.config import DEFAULT_KINDS, OK, PROBLEMS, CliError, format_time, parse_time
from adapters.cryptohftdata import CryptoHFTData, LocalStore, ParquetObject, S3Store, Store
from adapters.cryptohftdata.decode import SPECS


@dataclass
class FileCheck:
    """What ``validate`` found in one file."""

    key: str
    exists: bool
    rows: int = 0
    first: int | None = None
    last: int | None = None
    messages: int | None = None
    gaps: list[str] = field(default_factory=list)
    note: str = ""


def _time_range(meta: pq.FileMetaData, column: str) -> tuple[int | None, int | None]:
    """Min and max of ``column`` from row-group statistics (ms -> ns), if recorded."""
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if column not in names:
        return None, None
    index = names.index(column)
    lows, highs = [], []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(index).statistics
        if stats is None or not stats.has_min_max:
            return None, None
        lows.append(stats.min)
        highs.append(stats.max)
    if not lows:
        return None, None
    return int(min(lows)) * 1_000_000, int(max(highs)) * 1_000_000


async def _id_columns(obj: ParquetObject) -> pa.Table:
    """The update-id columns (and ``event_type`` when present) of a depth object."""
    columns = ["final_update_id", "prev_final_update_id"]
    if "event_type" in obj.schema.names:
        columns.append("event_type")
    parts = [obj.decode(await obj.fetch(i, columns), columns) for i in range(obj.num_row_groups)]
    return pa.concat_tables(parts) if parts else obj.schema.empty_table().select(columns)


def _update_ids(table: pa.Table, check: FileCheck, last_final: int | None) -> int | None:
    """Count depth messages and gaps between a message's ``prev_final_update_id`` and the
    previous message's ``final_update_id``; returns the last ``final_update_id``."""
    has_type = "event_type" in table.column_names
    final = table.column("final_update_id").to_numpy()
    prev = table.column("prev_final_update_id").to_numpy()
    if not len(final):
        check.messages = 0
        return last_final
    starts = np.flatnonzero(np.concatenate(([True], final[1:] != final[:-1])))
    finals, prevs = final[starts], prev[starts]
    check.messages = len(starts)
    snapshot = np.zeros(len(starts), dtype=bool)
    if has_type:
        kinds = table.column("event_type").to_numpy(zero_copy_only=False)[starts]
        snapshot = kinds == "snapshot"
    before = np.concatenate(([-1 if last_final is None else last_final], finals[:-1]))
    after_snapshot = np.concatenate(([False], snapshot[:-1]))
    bad = (prevs != before) & ~snapshot & ~after_snapshot
    if last_final is None:
        bad[0] = False
    for i in np.flatnonzero(bad)[:5]:
        check.gaps.append(
            f"message {i}: prev_final_update_id {int(prevs[i])} != previous "
            f"final_update_id {int(before[i])}"
        )
    if bad.sum() > 5:
        check.gaps.append(f"... {int(bad.sum()) - 5} more gaps")
    backwards = int((np.diff(finals) < 0).sum())
    if backwards:
        check.gaps.append(f"{backwards} messages with final_update_id going backwards")
    return int(finals[-1])


def _validate_store(root: str, endpoint_url: str | None) -> Store:
    """A local tree, or ``s3://bucket/prefix`` (credentials from the standard chain)."""
    if root.startswith("s3://"):
        bucket, _, prefix = root[len("s3://") :].partition("/")
        if not bucket:
            raise CliError(f"no bucket in {root!r}")
        return S3Store(bucket, prefix, endpoint_url=endpoint_url)
    if not Path(root).is_dir():
        raise CliError(f"not a directory: {root}")
    return LocalStore(root)


async def _check_file(
    store: Store, key: str, fallback: str | None, kind: str, last_final: int | None
) -> tuple[FileCheck, int | None]:
    """Existence, rows, time range and (depth) update-id continuity of one object."""
    check = FileCheck(key, False)
    try:
        obj = await ParquetObject.open(store, key)
        if obj is None and fallback:
            obj = await ParquetObject.open(store, fallback)
            if obj is not None:
                check.key, check.note = fallback, "fallback"
        if obj is None:
            check.gaps.append("missing")
            return check, None
        check.exists = True
        check.rows = obj.num_rows
        check.first, check.last = _time_range(obj.metadata, SPECS[kind].time)
        if kind == "depth":
            last_final = _update_ids(await _id_columns(obj), check, last_final)
    except Exception as error:  # unreadable object: report it, keep going
        check.exists = check.exists or isinstance(error, ss.DataError)  # there, but corrupt
        check.gaps.append(f"unreadable: {error}")
    return check, last_final


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    """Check a CryptoHFTData tree (local or ``s3://``) for a symbol and window."""
    store = _validate_store(args.root, args.endpoint_url)
    start = parse_time(args.start, "--start")
    end = parse_time(args.end, "--end")
    if start > end:
        raise CliError(f"--start {args.start} is after --end {args.end}")
    kinds = args.kinds.split(",") if args.kinds else list(DEFAULT_KINDS)
    unknown = [k for k in kinds if k not in SPECS]
    if unknown:
        raise CliError(f"unknown kinds {', '.join(unknown)}; allowed: {', '.join(SPECS)}")
    dataset = CryptoHFTData(store, exchange=args.exchange)

    async def check_all() -> list[tuple[str, FileCheck]]:
        checks: list[tuple[str, FileCheck]] = []
        for kind in kinds:
            last_final: int | None = None
            for ref in dataset.files(args.symbol, kind, start, end):
                check, last_final = await _check_file(
                    store, ref.key, ref.fallback, kind, last_final
                )
                checks.append((kind, check))
        return checks

    problems: list[str] = []
    table = Table(title=f"{args.root} {args.symbol} {format_time(start)} .. {format_time(end)}")
    for column in ("kind", "file", "rows", "first", "last", "messages", "issues"):
        table.add_column(column)
    for kind, check in anyio.run(check_all):
        issues = [g for g in check.gaps if g]
        problems.extend(f"{kind} {check.key}: {issue}" for issue in issues)
        table.add_row(
            kind,
            escape(check.key + (f" ({check.note})" if check.note else "")),
            f"{check.rows:,}" if check.exists else "-",
            format_time(check.first) if check.first is not None else "-",
            format_time(check.last) if check.last is not None else "-",
            f"{check.messages:,}" if check.messages is not None else "-",
            "[red]" + escape("; ".join(issues)) if issues else "[green]ok",
        )
    console.print(table)
    if problems:
        for problem in problems:
            console.print(f"[red]problem:[/red] {escape(problem)}", soft_wrap=True)
        console.print(f"[red]{len(problems)} problem(s) found")
        return PROBLEMS
    console.print("[green]no problems found")
    return OK
