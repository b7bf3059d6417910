"""``streamsim validate``: checks of a CryptoHFTData tree (local or ``s3://``)."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from anyio.abc import TaskGroup
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


#: Files checked at once by default (their reads overlap; depth continuity stays in order).
DEFAULT_JOBS = 8


def _validate_store(
    root: str, endpoint_url: str | None, timeout: float | None = None, jobs: int = DEFAULT_JOBS
) -> Store:
    """A local tree, or ``s3://bucket/prefix`` (credentials from the standard chain);
    ``timeout`` is each S3 request's deadline in seconds (default: the store's)."""
    if root.startswith("s3://"):
        bucket, _, prefix = root[len("s3://") :].partition("/")
        if not bucket:
            raise CliError(f"no bucket in {root!r}")
        if timeout is None:
            return S3Store(bucket, prefix, endpoint_url=endpoint_url, max_in_flight=jobs)
        return S3Store(
            bucket,
            prefix,
            endpoint_url=endpoint_url,
            max_in_flight=jobs,
            deadline=timeout,
            min_rate=None,
        )
    if not Path(root).is_dir():
        raise CliError(f"not a directory: {root}")
    return LocalStore(root)


async def _load_file(
    store: Store, key: str, fallback: str | None, kind: str
) -> tuple[FileCheck, pa.Table | None]:
    """Existence, rows and time range of one object, and (depth) its update-id columns."""
    check = FileCheck(key, False)
    ids = None
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
            ids = await _id_columns(obj)
    except Exception as error:  # unreadable object: report it, keep going
        check.exists = check.exists or isinstance(error, ss.DataError)  # there, but corrupt
        check.gaps.append(f"unreadable: {error}")
    return check, ids


async def _check_files(
    store: Store, refs: list[tuple[str, str, str | None]], jobs: int
) -> list[tuple[str, FileCheck]]:
    """Check ``refs`` (kind, key, fallback), up to ``jobs`` files at once.

    Files load concurrently, but their results are taken in order (update-id continuity
    runs across consecutive depth files), and a file only starts loading once fewer than
    ``jobs`` loaded files wait to be taken, so memory stays bounded too.
    """
    results: list[tuple[FileCheck, pa.Table | None] | None] = [None] * len(refs)
    loaded = [anyio.Event() for _ in refs]
    window = anyio.Semaphore(jobs)
    checks: list[tuple[str, FileCheck]] = []

    async def load(i: int) -> None:
        kind, key, fallback = refs[i]
        results[i] = await _load_file(store, key, fallback, kind)
        loaded[i].set()

    async def start_all(group: TaskGroup) -> None:
        for i in range(len(refs)):
            await window.acquire()
            group.start_soon(load, i)

    async with anyio.create_task_group() as group:
        group.start_soon(start_all, group)
        last_kind, last_final = None, None
        for i, (kind, _, _) in enumerate(refs):
            await loaded[i].wait()
            result = results[i]
            assert result is not None
            results[i] = None
            window.release()
            check, ids = result
            if kind != last_kind:
                last_kind, last_final = kind, None
            if ids is not None:
                last_final = _update_ids(ids, check, last_final)
            elif kind == "depth":
                last_final = None  # continuity restarts after a missing or unreadable file
            checks.append((kind, check))
    return checks


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    """Check a CryptoHFTData tree (local or ``s3://``) for a symbol and window."""
    timeout = getattr(args, "timeout", None)
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise CliError(f"--timeout: expected seconds > 0, got {timeout}")
    jobs = getattr(args, "jobs", DEFAULT_JOBS)
    if jobs < 1:
        raise CliError(f"--jobs: expected an integer >= 1, got {jobs}")
    store = _validate_store(args.root, args.endpoint_url, timeout, jobs)
    start = parse_time(args.start, "--start")
    end = parse_time(args.end, "--end")
    if start > end:
        raise CliError(f"--start {args.start} is after --end {args.end}")
    kinds = args.kinds.split(",") if args.kinds else list(DEFAULT_KINDS)
    unknown = [k for k in kinds if k not in SPECS]
    if unknown:
        raise CliError(f"unknown kinds {', '.join(unknown)}; allowed: {', '.join(SPECS)}")
    dataset = CryptoHFTData(store, exchange=args.exchange)

    refs = [
        (kind, ref.key, ref.fallback)
        for kind in kinds
        for ref in dataset.files(args.symbol, kind, start, end)
    ]

    async def check_all() -> list[tuple[str, FileCheck]]:
        return await _check_files(store, refs, jobs)

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
