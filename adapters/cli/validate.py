"""``streamsim validate``: checks of a CryptoHFTData tree (local or ``s3://``).

Every planned file is opened and every row group read and decoded by the same reader a
run uses (under the quarantine policy, collected in memory), so validate lists every row
and message a run would refuse, by file; depth is replayed into a book for sequence gaps
and crossed books, and values are checked (:mod:`adapters.cli.stream_checks`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pyarrow.parquet as pq
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import streamsim as ss
from adapters.cli.config import DEFAULT_KINDS, OK, PROBLEMS, CliError, format_time, parse_time
from adapters.cli.stream_checks import DepthCheck, ValueCheck, instrument_for
from adapters.cryptohftdata import CryptoHFTData, LocalStore, ParquetObject, S3Store, Store
from adapters.cryptohftdata.dataset import (
    CryptoHFTSource,
    FileRef,
    StreamState,
    duplicates_note,
)
from adapters.cryptohftdata.decode import SPECS
from streamsim.feed.batches import DepthBatch
from streamsim.feed.quarantine import Quarantine, QuarantineCounts
from streamsim.path_parts import check_path_part


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


@dataclass
class StreamCheck:
    """What ``validate`` found in one stream: its files, stream-wide problems and notes."""

    kind: str
    files: list[FileCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


#: Source bounds that cut no row: validate reads every row group of every planned file.
_EVERYTHING = (-(2**62), 2**62)


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


#: Streams checked at once by default (each stream's files in order: depth continuity).
DEFAULT_JOBS = 8


def _validate_store(
    root: str, endpoint_url: str | None, timeout: float | None = None, jobs: int = DEFAULT_JOBS
) -> Store:
    """A local tree, or ``s3://bucket/prefix`` (credentials from the standard chain);
    ``timeout`` is each S3 request's deadline in seconds (default: the store's), ``jobs``
    the requests in flight at once."""
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


class _Collected(Quarantine):
    """The bad input the readers report, kept in memory per file (no JSONL file)."""

    def __init__(self) -> None:  # no file: validate lists what it found instead
        QuarantineCounts.__init__(self)
        self.by_file: dict[str, dict[tuple[str | None, str], list[int]]] = {}

    def write(
        self,
        stream: str,
        file: str,
        row: int,
        column: str | None,
        reason: str,
        record: Mapping[str, Any],
    ) -> None:
        self.counts[(stream, reason)] += 1
        seen = self.by_file.setdefault(file, {}).setdefault((column, reason), [0, row])
        seen[0] += 1

    def close(self) -> None:
        pass

    def issues(self, file: str) -> list[str]:
        """One line per reason found in ``file``: how many, the column, the first row."""
        out = []
        for (column, reason), (count, row) in self.by_file.get(file, {}).items():
            where = f"column {column!r}, " if column else ""
            first = "the whole file" if row < 0 else f"first at row {row}"
            out.append(f"{count:,} x {reason} ({where}{first})")
        return out


def _open_error(error: Exception) -> str:
    return f"unreadable: {error}"


async def _check_stream(
    dataset: CryptoHFTData,
    symbol: str,
    kind: str,
    refs: list[FileRef],
    instrument: ss.Instrument | None,
    collected: _Collected,
) -> StreamCheck:
    """Read and decode every row group of every file of one stream, in order, through
    the reader (so validate reports exactly what a run would refuse), replaying depth."""
    spec = SPECS[kind]
    source = CryptoHFTSource(
        dataset, symbol, spec, refs, _EVERYTHING[0], _EVERYTHING[1], instrument
    )
    state = StreamState()
    depth = DepthCheck(symbol, instrument) if kind == "depth" else None
    values = ValueCheck(instrument)
    result = StreamCheck(kind)
    carried: list[str] = []  # notes the files carry about their data (the converter's)
    for ref in refs:
        check = FileCheck(ref.key, False)
        result.files.append(check)
        obj: ParquetObject | None = None
        try:
            obj = await ParquetObject.open(dataset.store, ref.key)
            if obj is None and ref.fallback:
                obj = await ParquetObject.open(dataset.store, ref.fallback)
                if obj is not None:
                    check.key, check.note = ref.fallback, "fallback"
            if obj is None:
                check.gaps.append("missing")
                continue
            check.exists = True
            carried.extend(n for n in obj.notes() if n not in carried)
            check.rows = obj.num_rows
            check.first, check.last = _time_range(obj.metadata, spec.time)
            messages = 0
            async for batch in source.file_batches(ref, obj, state):
                values.add(batch)
                if depth is not None and isinstance(batch, DepthBatch):
                    depth.add(batch)
                    messages += len(batch)
            if depth is not None:
                check.messages = messages
        except Exception as error:  # an unreadable object: report it, keep going
            check.exists = check.exists or isinstance(error, ss.DataError)  # there, but corrupt
            check.gaps.append(_open_error(error))
        finally:
            if obj is not None:
                check.gaps.extend(collected.issues(obj.name))
                obj.whole = None
    result.problems = [f.text() for f in values.findings.values()]
    if depth is not None:
        result.problems += [f.text() for f in depth.findings()]
    note = duplicates_note(state)
    result.notes = list(source.notes) + carried + ([f"{symbol}.{kind}: {note}"] if note else [])
    return result


def _instrument(
    dataset: CryptoHFTData, symbol: str, kinds: list[str], given: ss.Instrument | None
) -> ss.Instrument | None:
    if given is not None or not any(SPECS[k].needs_instrument for k in kinds):
        return given
    try:
        return dataset.instrument(symbol)
    except ss.ConfigError as error:
        raise CliError(
            f"no built-in grid for {symbol}: pass --tick-size and --lot-size (PRICE_FILTER."
            "tickSize and LOT_SIZE.stepSize from GET /fapi/v1/exchangeInfo)"
        ) from error


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    """Check a CryptoHFTData tree (local or ``s3://``) for a symbol and window: every file
    is read and decoded, depth is replayed into a book."""
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
    check_path_part(args.symbol, "--symbol")
    check_path_part(args.exchange, "--exchange")
    collected = _Collected()
    dataset = CryptoHFTData(
        store, exchange=args.exchange, policy="quarantine", quarantine=collected, missing="skip"
    )
    given = instrument_for(args.symbol, args.tick_size, args.lot_size)
    instrument = _instrument(dataset, args.symbol, kinds, given)
    plans = [(kind, dataset.files(args.symbol, kind, start, end)) for kind in kinds]

    async def check_all() -> list[StreamCheck]:
        """The streams checked concurrently (up to ``jobs`` at once), each in file order."""
        results: list[StreamCheck | None] = [None] * len(plans)
        limit = anyio.Semaphore(jobs)

        async def one(i: int, kind: str, refs: list[FileRef]) -> None:
            async with limit:
                results[i] = await _check_stream(
                    dataset,
                    args.symbol,
                    kind,
                    refs,
                    instrument if SPECS[kind].needs_instrument else None,
                    collected,
                )

        async with anyio.create_task_group() as group:
            for i, (kind, refs) in enumerate(plans):
                group.start_soon(one, i, kind, refs)
        return [result for result in results if result is not None]

    problems: list[str] = []
    notes: list[str] = []
    table = Table(title=f"{args.root} {args.symbol} {format_time(start)} .. {format_time(end)}")
    for column in ("kind", "file", "rows", "first", "last", "messages", "issues"):
        table.add_column(column)
    streams = anyio.run(check_all)
    found = [any(check.exists for check in stream.files) for stream in streams]
    for stream, exists in zip(streams, found, strict=True):
        kind = stream.kind
        # A default kind the window has no file of is a note, unless no kind has any.
        absent = not args.kinds and not exists and any(found)
        if absent:
            notes.append(
                f"{args.symbol}.{kind}: no {kind} files in the window (not checked; "
                f"--kinds {kind} makes their absence a problem)"
            )
        for check in stream.files:
            issues = [g for g in check.gaps if g]
            if not absent:
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
        problems.extend(f"{args.symbol}.{kind}: {problem}" for problem in stream.problems)
        notes.extend(stream.notes)
    console.print(table)
    for note in notes:
        console.print(f"note: {escape(note)}", soft_wrap=True, highlight=False)
    if problems:
        for problem in problems:
            console.print(f"[red]problem:[/red] {escape(problem)}", soft_wrap=True)
        console.print(f"[red]{len(problems)} problem(s) found")
        return PROBLEMS
    console.print("[green]no problems found")
    return OK
