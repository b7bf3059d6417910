"""Tardis CSV files as streamsim sources: one source per stream, reading file by file.

A source reads its files (one per day) in order, a block at a time, in a worker thread;
each block gives at most one batch. Rows keep the files' order, which is
``local_timestamp`` order: ``ts_exchange`` (the venue's ``timestamp``) may step back, and
the run's ``out_of_order`` policy decides what happens then (``"fail"`` by default, with
an error naming the stream and both times; ``"clamp"`` clamps and counts). The adapter
never reorders: for depth, file order is the order the messages must be applied in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamsim.errors import ConfigError, DataError
from streamsim.feed.batches import Batch
from streamsim.feed.plausibility import Limits, limits_from
from streamsim.feed.quarantine import Ingest, Policy, Quarantine
from streamsim.feed.sources import Stream
from streamsim.instruments import Instrument
from streamsim.units import DAY

from .decoders import (
    BookSnapshotDecoder,
    Chunk,
    Decoder,
    IncrementalBookDecoder,
    LiquidationsDecoder,
    MarkPriceDecoder,
    OpenInterestDecoder,
    TradesDecoder,
    UnknownSide,
)
from .files import (
    DateLike,
    PathLike,
    as_paths,
    check_data_type,
    find_files,
    infer_data_type,
    snapshot_levels,
)
from .parse import MAX_US, Checks, IntArray, Parsed, parse_int
from .reader import CsvFile, FileProblem

#: Bytes of CSV text per block (and so, roughly, per batch).
DEFAULT_BLOCK_SIZE = 1 << 21
#: Columns every Tardis data type has.
COMMON_COLUMNS = ("exchange", "symbol", "timestamp", "local_timestamp")
_LOWEST = np.iinfo(np.int64).min
_US = 1000  # ns per microsecond


def stream_kinds(data_type: str) -> tuple[str, ...]:
    """The stream kinds a data type gives (``derivative_ticker`` gives two)."""
    check_data_type(data_type)
    if data_type == "derivative_ticker":
        return ("mark_price", "open_interest")
    if data_type in ("incremental_book_L2",) or snapshot_levels(data_type):
        return ("depth",)
    return ({"trades": "trades", "liquidations": "liquidations"}[data_type],)


@dataclass(frozen=True)
class BadRow:
    """A row (or, with ``whole_file``, the rest of a file) to fail on or to quarantine."""

    file: str
    row: int
    column: str | None
    reason: str
    record: dict[str, Any] = field(default_factory=dict)
    primary: bool = True
    whole_file: bool = False


@dataclass(frozen=True, eq=False)
class _Step:
    batch: Batch | None
    bad: list[BadRow]


def _advance(steps: Iterator[_Step]) -> _Step | None:
    return next(steps, None)


class TardisSource:
    """One stream (``depth``, ``trades``, ``mark_price``, ``open_interest`` or
    ``liquidations``) of one symbol, read from Tardis CSV files of one data type.

    ``files`` are read in the order given, each checked on its own (``local_timestamp``
    must not decrease within a file; at a file boundary the feed's monotone clamp covers
    any overlap). ``instrument`` gives the grid (needed for depth and trades) and the
    stream's symbol; a plain symbol string does for the other streams. ``exchange`` and
    ``symbol`` are the values every row must carry (symbol compared case-insensitively);
    when not given, the first row's values are required of all others.

    Bad input follows ``policy``: ``"fail"`` raises :class:`DataError` naming the file,
    the data row (0-based, header excluded) and the column; ``"quarantine"`` skips the row
    (for ``incremental_book_L2``, the whole message it belongs to), writes it with its
    reason to ``quarantine`` and counts it in the run's data-quality report.
    """

    def __init__(
        self,
        files: PathLike | Sequence[PathLike],
        data_type: str,
        instrument: Instrument | str,
        *,
        kind: str | None = None,
        exchange: str | None = None,
        symbol: str | None = None,
        policy: Policy = "fail",
        quarantine: Quarantine | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        unknown_side: UnknownSide = "keep",
        plausibility: Limits | Mapping[str, Any] | None = None,
    ) -> None:
        kinds = stream_kinds(data_type)
        if kind is None:
            if len(kinds) != 1:
                raise ConfigError(f"{data_type} gives {' and '.join(kinds)}: pass kind=")
            kind = kinds[0]
        elif kind not in kinds:
            raise ConfigError(f"{data_type} gives {', '.join(kinds)}, not {kind!r}")
        if kind in ("depth", "trades") and not isinstance(instrument, Instrument):
            raise ConfigError(f"{data_type} needs an Instrument (its tick and lot sizes)")
        if unknown_side not in ("keep", "bad"):
            raise ConfigError(f"unknown_side must be 'keep' or 'bad', got {unknown_side!r}")
        if block_size < 1024:
            raise ConfigError(f"block_size must be at least 1024 bytes, got {block_size}")
        self.files = as_paths(files)
        if not self.files:
            raise ConfigError("TardisSource needs at least one file")
        self.data_type = data_type
        self.instrument = instrument
        name = instrument.symbol if isinstance(instrument, Instrument) else instrument
        self._stream = Stream(name, kind)
        self.exchange = exchange
        self.symbol = symbol
        self.policy: Policy = policy
        self._ingest = Ingest(str(self._stream), policy, quarantine)
        self.quarantine = quarantine
        self.block_size = block_size
        self.unknown_side: UnknownSide = unknown_side
        self.limits = limits_from(plausibility)
        #: Remarks for the run's data-quality report, filled in as the files are read.
        self.notes: list[str] = []

    @property
    def stream(self) -> Stream:
        return self._stream

    def __repr__(self) -> str:
        return f"TardisSource({self._stream}, {self.data_type}, {len(self.files)} file(s))"

    def _decoder(self) -> Decoder:
        kind, inst = self._stream.kind, self.instrument
        symbol = self._stream.symbol
        limits = self.limits
        if kind == "depth":
            assert isinstance(inst, Instrument)
            levels = snapshot_levels(self.data_type)
            return (
                IncrementalBookDecoder(inst, limits)
                if levels is None
                else BookSnapshotDecoder(inst, levels, limits)
            )
        if kind == "trades":
            assert isinstance(inst, Instrument)
            return TradesDecoder(inst, self.unknown_side, limits)
        if kind == "liquidations":
            return LiquidationsDecoder(symbol, self.unknown_side, limits)
        if kind == "mark_price":
            return MarkPriceDecoder(symbol, limits)
        return OpenInterestDecoder(symbol, limits)

    # -- async side: report, then hand the batch over ----------------------------------------

    async def __aiter__(self) -> AsyncIterator[Batch]:
        steps = self._steps()
        try:
            while True:
                step = await anyio.to_thread.run_sync(_advance, steps)
                if step is None:
                    return
                self._report(step.bad)
                if step.batch is not None:
                    yield step.batch
        finally:
            steps.close()

    def _report(self, bad: list[BadRow]) -> None:
        """Raise for the first bad row (``fail``) or quarantine them all."""
        for item in sorted(bad, key=lambda b: b.row):
            if item.whole_file:
                if self.policy == "fail" or self.quarantine is None:
                    where = item.file + (f", row {item.row}" if item.row >= 0 else "")
                    where += f", column {item.column!r}" if item.column else ""
                    raise DataError(
                        f"{where}: {item.reason}; pass policy='quarantine' (data.policy in a "
                        "run config) to skip and record it"
                    )
                self.quarantine.write(
                    str(self._stream), item.file, item.row, item.column, item.reason, item.record
                )
            elif item.primary or self.policy == "quarantine":
                self._ingest.bad(item.file, [item.row], item.column, item.reason, [item.record])

    # -- worker-thread side: read, check, decode ----------------------------------------------

    def _steps(self) -> Generator[_Step, None, None]:
        decoder = self._decoder()
        expected: dict[str, str | None] = {"exchange": self.exchange, "symbol": self.symbol}
        self.notes = []
        for path in self.files:
            yield from self._file_steps(path, decoder, expected)
        self.notes.extend(decoder.notes(str(self._stream)))

    def _file_steps(
        self, path: Path, decoder: Decoder, expected: dict[str, str | None]
    ) -> Iterator[_Step]:
        csv = CsvFile(path, COMMON_COLUMNS + decoder.columns, self.block_size)
        name = csv.name
        day = file_day(path)
        decoder.start_file()
        blocks = csv.blocks()
        carry: pa.Table | None = None
        carry_rows = np.empty(0, dtype=np.int64)
        last_local = int(_LOWEST)
        while True:
            try:
                block = next(blocks, None)
            except FileProblem as problem:
                bad = [
                    BadRow(
                        name,
                        problem.row,
                        problem.column,
                        problem.reason,
                        problem.record,
                        whole_file=True,
                    )
                ]
                if carry is not None and carry.num_rows:
                    records = carry.to_pylist()
                    bad += [
                        BadRow(
                            name, int(r), None, "message cut off by the unreadable rest", rec, False
                        )
                        for r, rec in zip(carry_rows.tolist(), records, strict=True)
                    ]
                yield _Step(None, bad)
                return
            bad = []
            if block is not None:
                bad = [
                    BadRow(
                        name,
                        m.row,
                        None,
                        f"{m.fields} fields, expected {m.expected}",
                        {"line": m.text},
                    )
                    for m in block.malformed
                ]
                if carry is not None and carry.num_rows:
                    table = pa.concat_tables([carry, block.table])
                    rows = np.concatenate((carry_rows, block.rows))
                else:
                    table, rows = block.table, block.rows
            elif carry is not None:
                table, rows = carry, carry_rows
            else:
                return
            carry = None
            batch = None
            if table.num_rows:
                batch, more, cut, last_local = self._chunk(
                    name, table, rows, decoder, expected, last_local, block is None, day
                )
                bad += more
                if cut < table.num_rows:
                    carry, carry_rows = table.slice(cut), rows[cut:]
            if bad or batch is not None:
                yield _Step(batch, bad)
            if block is None:
                return

    def _chunk(
        self,
        name: str,
        table: pa.Table,
        rows: IntArray,
        decoder: Decoder,
        expected: dict[str, str | None],
        last_local: int,
        final: bool,
        day: tuple[int, int] | None = None,
    ) -> tuple[Batch | None, list[BadRow], int, int]:
        """Decode the rows of ``table`` up to the last message that may continue in the
        next block (returned as the cut); also the new running local_timestamp maximum."""
        local = parse_int(table.column("local_timestamp"))
        valid = local.present & (local.values >= 0) & (local.values <= MAX_US)
        running = np.maximum.accumulate(
            np.concatenate(([last_local], np.where(valid, local.values, _LOWEST)))
        )
        backwards = valid & (local.values < running[:-1])
        ok = valid & ~backwards
        cut = len(rows)
        if decoder.grouped and not final and ok.any():
            top = running[-1]
            cut = int(np.flatnonzero(ok & (local.values == top))[0])
        if cut == 0:
            return None, [], 0, last_local
        head = table.slice(0, cut)
        checks = Checks(cut)
        for column in ("exchange", "symbol"):
            self._expect(head, column, expected, checks)
        stamp = parse_int(head.column("timestamp"))
        checks.number(stamp, "timestamp", minimum=0)
        checks.add(stamp.present & (stamp.values > MAX_US), "timestamp", "too large")
        lt = local.values[:cut]
        head_local = Parsed(lt, local.empty[:cut], local.invalid[:cut])
        checks.number(head_local, "local_timestamp", minimum=0)
        checks.add(valid[:cut] & (lt > MAX_US), "local_timestamp", "too large")
        checks.add(
            backwards[:cut],
            "local_timestamp",
            "goes backwards (a file must be in non-decreasing local_timestamp order)",
        )
        limits = self.limits
        for parsed, column in ((stamp, "timestamp"), (head_local, "local_timestamp")):
            for flag in limits.times(parsed.values, column, "us", day):
                checks.add(flag.mask & parsed.present, flag.column, flag.reason)
        if self._stream.kind != "open_interest":
            both = stamp.present & head_local.present
            for flag in limits.clock(stamp.values * _US, lt * _US, "local_timestamp"):
                checks.add(flag.mask & both, flag.column, flag.reason)
        chunk = Chunk(name, head, rows[:cut], stamp.values, lt, ok[:cut], checks)
        batch = decoder.decode(chunk)
        if batch is not None and not len(batch):
            batch = None
        return batch, self._collect(chunk), cut, int(running[cut])

    @staticmethod
    def _expect(
        table: pa.Table, column: str, expected: dict[str, str | None], checks: Checks
    ) -> None:
        """Every row's ``column`` must equal the expected value (case-insensitively)."""
        values = table.column(column)
        want = expected[column]
        if want is None:
            present = values.filter(pc.not_equal(values, ""))
            if not len(present):
                checks.add(np.ones(len(values), dtype=np.bool_), column, "empty field")
                return
            want = expected[column] = str(present[0].as_py())
        if pc.all(pc.equal(values, want)).as_py() is not False:
            return  # the common case: every row carries exactly the expected value
        same = pc.equal(pc.utf8_upper(values), want.upper())
        mask = np.asarray(pc.fill_null(same, False).to_numpy(zero_copy_only=False), dtype=np.bool_)
        checks.add(~mask, column, f"not {want!r}")

    def _collect(self, chunk: Chunk) -> list[BadRow]:
        """The chunk's bad rows with their reasons (under ``fail``, only the first)."""
        checks = chunk.checks
        if not checks.bad.any():
            return []
        reason_of = np.full(len(chunk), -1, dtype=np.int64)
        for k, item in enumerate(checks.items):
            reason_of[item.mask] = k
        index = np.flatnonzero(checks.bad)
        if self.policy == "fail":
            primary = np.array([checks.items[k].primary for k in reason_of[index].tolist()])
            index = index[primary][:1]
        records = chunk.table.take(pa.array(index, pa.int64())).to_pylist()
        out = []
        for i, record in zip(index.tolist(), records, strict=True):
            item = checks.items[int(reason_of[i])]
            reason = item.reason
            if self.policy == "fail" and item.column is not None:
                reason = f"{reason} (value {record.get(item.column)!r})"
            out.append(
                BadRow(chunk.file, int(chunk.rows[i]), item.column, reason, record, item.primary)
            )
        return out


_FILE_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def file_day(path: Path) -> tuple[int, int] | None:
    """The day (ns, ``[start, end)``) a Tardis file is named for (in its name, else its
    folder's), or None when neither holds a date."""
    for text in (path.name, path.parent.name):
        match = _FILE_DATE.search(text)
        if match is None:
            continue
        try:
            year, month, date = map(int, match.groups())
            day = dt.datetime(year, month, date, tzinfo=dt.UTC)
        except ValueError:
            return None
        start = int(day.timestamp()) * 1_000_000_000
        return start, start + DAY
    return None


def tardis_sources(
    root_or_file: PathLike | Sequence[PathLike],
    exchange: str | None = None,
    symbol: str | None = None,
    data_types: str | Sequence[str] | None = None,
    dates: DateLike | Sequence[DateLike] | None = None,
    instrument: Instrument | None = None,
    policy: Policy = "fail",
    quarantine: Quarantine | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    unknown_side: UnknownSide = "keep",
    plausibility: Limits | Mapping[str, Any] | None = None,
) -> list[TardisSource]:
    """Sources for Tardis CSV data: one per stream, ready for ``run_backtest``.

    ``root_or_file`` is either the root of a Tardis tree (then ``exchange``, ``symbol``,
    ``data_types`` and ``dates`` pick the files, see :mod:`.files`), or one file or a list
    of files of one data type (``data_types`` may then be omitted if the paths name it).
    Each data type gives its streams (``derivative_ticker`` gives ``mark_price`` and
    ``open_interest``); all streams take their symbol from ``instrument`` (or ``symbol``
    when no instrument is given, which only non-price-grid streams allow). ``policy`` and
    ``quarantine`` are those of :class:`~streamsim.feed.quarantine.Ingest`, shared by all
    sources; the caller closes the quarantine after the run. ``plausibility``: see
    :class:`TardisSource`.
    """
    paths = as_paths(root_or_file)
    if not paths:
        raise ConfigError("no Tardis root or files given")
    types = [data_types] if isinstance(data_types, str) else list(data_types or [])
    name = instrument.symbol if instrument is not None else symbol
    if name is None:
        raise ConfigError("pass an instrument (or, for streams without a grid, a symbol)")
    depth_types = [t for t in types if stream_kinds(t) == ("depth",)]
    if len(depth_types) > 1:
        raise ConfigError(
            f"{' and '.join(depth_types)} both give the depth stream of {name}: choose one"
        )
    if len(paths) > 1 or paths[0].is_file():
        if dates is not None:
            raise ConfigError("dates select files under a root directory; files were given")
        if not types:
            inferred = {infer_data_type(p) for p in paths}
            if len(inferred) != 1 or None in inferred:
                raise ConfigError("cannot tell the data type from the file names: pass data_types")
            types = [str(inferred.pop())]
        if len(types) != 1:
            raise ConfigError("files given directly must all be of one data type")
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise DataError(f"no such file: {', '.join(missing)}")
        files = {types[0]: paths}
    else:
        root = paths[0]
        if not root.is_dir():
            raise DataError(f"no such file or directory: {root}")
        if exchange is None or symbol is None or not types or dates is None:
            raise ConfigError("a Tardis root needs exchange, symbol, data_types and dates")
        days = [dates] if isinstance(dates, str) or not isinstance(dates, Sequence) else dates
        files = {t: find_files(root, exchange, check_data_type(t), days, symbol) for t in types}
    sources: list[TardisSource] = []
    for data_type in types:
        for kind in stream_kinds(data_type):
            sources.append(
                TardisSource(
                    files[data_type],
                    data_type,
                    instrument if instrument is not None else name,
                    kind=kind,
                    exchange=exchange,
                    symbol=symbol,
                    policy=policy,
                    quarantine=quarantine,
                    block_size=block_size,
                    unknown_side=unknown_side,
                    plausibility=plausibility,
                )
            )
    return sources
