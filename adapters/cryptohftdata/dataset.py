"""A CryptoHFTData tree (local or S3) as streamsim sources, read strictly.

:class:`CryptoHFTData` plans which files a window needs; each of its sources reads one
stream of one symbol through the :class:`~adapters.cryptohftdata.store.Store` (ranged
reads only), decodes row group by row group, reports bad input through an
:class:`~streamsim.feed.quarantine.Ingest`, and yields batches ordered by ``ts_exchange``,
with depth messages never split across batches. See ``docs/data.md``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from streamsim.errors import ConfigError, DataError
from streamsim.feed.batches import Batch
from streamsim.feed.plausibility import Limits, limits_from
from streamsim.feed.quarantine import Ingest, Policy, Quarantine
from streamsim.feed.sources import Source, Stream
from streamsim.instruments import Instrument
from streamsim.path_parts import check_path_part
from streamsim.units import DAY, HOUR, MS

from .decode import (
    SPECS,
    Frame,
    KindSpec,
    check_schema,
    decode_table,
    duplicates,
    first_issue_rows,
    frame_record,
    report,
    report_rows,
    row_batch,
    schema_problem,
    schema_text,
    text_columns,
)
from .orderbook import (
    EXACT_NOTE,
    KEY,
    DepthState,
    check_messages,
    depth_batch,
    flag_bad_rows,
    key_bounds,
)
from .reader import ParquetObject, Task, gather
from .store import Store

IntArray = npt.NDArray[np.int64]
Missing = Literal["fail", "skip"]

DEFAULT_KINDS = ("depth", "trades", "mark_price", "open_interest")
KINDS = tuple(SPECS)

#: Grids used when no instrument is given (Binance USD-M ``PRICE_FILTER.tickSize`` and
#: ``LOT_SIZE.stepSize``). A dated contract (``BTCUSDT_260626``) uses its perpetual's grid.
KNOWN_GRIDS: dict[str, tuple[str, str]] = {
    "BTCUSDT": ("0.1", "0.001"),
    "ETHUSDT": ("0.01", "0.001"),
}

#: Distinct ids (or times) a row stream remembers to find duplicates (8 MB of int64).
UNIQUE_MEMORY = 1 << 20
#: Concurrent footer reads when a source plans its files.
_LOOKUPS = 16
#: Bytes of small objects (read whole with their footer) a source keeps until it replays
#: them; objects past this budget are read again by row group when their turn comes.
_KEEP_WHOLE = 32 * 1024 * 1024


def known_instrument(symbol: str) -> Instrument | None:
    """The built-in grid of ``symbol`` (see :data:`KNOWN_GRIDS`), or None."""
    grid = KNOWN_GRIDS.get(symbol.split("_", 1)[0])
    if grid is None:
        return None
    return Instrument(symbol, tick_size=Decimal(grid[0]), lot_size=Decimal(grid[1]))


@dataclass(frozen=True)
class FileRef:
    """One file a stream needs: its key, the fallback key, and a day filter for the fallback."""

    key: str
    fallback: str | None = None
    day: tuple[int, int] | None = None  # inclusive ms bounds applied to the fallback file


_DATED = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(?:[a-z_]+?_(\d{2})\.parquet|[a-z_]+\.parquet)$")


def file_day(key: str) -> tuple[int, int] | None:
    """The span (ns, ``[start, end)``) a file is named for: its day, or its hour for hourly
    files; None for other names (a fallback file spanning several days)."""
    match = _DATED.search(key)
    if match is None or "parcial" in key:
        return None
    year, month, day, hour = match.groups()
    try:
        start = datetime(int(year), int(month), int(day), tzinfo=UTC)
    except ValueError:
        return None
    ns = int(start.timestamp()) * 1_000_000_000
    if hour is not None:
        ns += int(hour) * HOUR
        return ns, ns + HOUR
    return ns, ns + DAY


def _day_path(start_of_day_ns: int) -> str:
    day = datetime.fromtimestamp(start_of_day_ns // 1_000_000_000, tz=UTC)
    return f"{day:%Y/%m/%d}"


class CryptoHFTData:
    """A CryptoHFTData tree read through ``store`` (a ``LocalStore`` or an S3 store).

    ``instruments`` give the price and size grids of depth and trades; a symbol without
    one uses :data:`KNOWN_GRIDS`, else :meth:`sources` raises :class:`ConfigError` (a grid
    guessed from the data could be a multiple of the true tick and fail later rows).
    ``policy`` is what bad rows do: ``"fail"`` raises :class:`DataError` naming the file,
    row and column; ``"quarantine"`` skips them and records them in ``quarantine``.
    ``missing`` is what an absent file does: ``"fail"`` raises, ``"skip"`` skips it and
    notes it in the run's report. ``sort_limit`` caps the rows held in memory to sort a
    file that is out of order. ``prefetch`` is the number of row groups a stream holds
    at once: the one being decoded and up to ``prefetch - 1`` fetched meanwhile.
    ``plausibility`` holds the value rules beyond type and sign
    (:class:`~streamsim.feed.plausibility.Limits` or a dict of its fields): times in the
    wrong unit or far from the file's date, receive times far from the venue's, funding
    beyond the cap, fat-finger prices; their rows follow ``policy`` like any bad row.
    """

    def __init__(
        self,
        store: Store,
        exchange: str = "binance_futures",
        instruments: Mapping[str, Instrument] | None = None,
        policy: Policy = "fail",
        quarantine: Quarantine | None = None,
        missing: Missing = "fail",
        sort_limit: int = 5_000_000,
        prefetch: int = 2,
        plausibility: Limits | Mapping[str, Any] | None = None,
    ) -> None:
        Ingest("check", policy, quarantine)  # validates policy and quarantine together
        if missing not in ("fail", "skip"):
            raise ConfigError(f"missing must be 'fail' or 'skip', got {missing!r}")
        if sort_limit < 1:
            raise ConfigError(f"sort_limit must be >= 1, got {sort_limit}")
        if prefetch < 1:
            raise ConfigError(f"prefetch must be >= 1, got {prefetch}")
        self.store = store
        self.exchange = check_path_part(exchange, "exchange")
        self.instruments = dict(instruments or {})
        self.policy: Policy = policy
        self.quarantine = quarantine
        self.missing: Missing = missing
        self.sort_limit = sort_limit
        self.prefetch = prefetch
        self.limits = limits_from(plausibility)

    def instrument(self, symbol: str) -> Instrument:
        """The grid of ``symbol``: given, else built in, else :class:`ConfigError`."""
        found = self.instruments.get(symbol) or known_instrument(symbol)
        if found is None:
            raise ConfigError(
                f"no instrument for {symbol}: pass instruments={{'{symbol}': "
                f"Instrument('{symbol}', tick_size=..., lot_size=...)}} (PRICE_FILTER.tickSize "
                "and LOT_SIZE.stepSize from GET /fapi/v1/exchangeInfo)"
            )
        return found

    def files(self, symbol: str, kind: str, start: int, end: int) -> list[FileRef]:
        """The files of one stream that may hold rows in ``[start, end]`` (ns, UTC).

        Days (and for depth, hours) are those the window touches; rows are then cut by
        their own time, so a row filed under a neighbouring hour or day is not read.
        """
        spec = _spec(kind)
        check_path_part(symbol, "symbols")
        base = f"{spec.folder}/{self.exchange}/{symbol}"
        refs: list[FileRef] = []
        if spec.hourly:
            for hour in range(start // HOUR, end // HOUR + 1):
                day = _day_path(hour * HOUR - (hour * HOUR) % DAY)
                name = spec.filename.format(hour=(hour * HOUR % DAY) // HOUR)
                refs.append(FileRef(f"{base}/{day}/{name}"))
            return refs
        for day_index in range(start // DAY, end // DAY + 1):
            day = _day_path(day_index * DAY)
            fallback = f"{base}/{day}/{spec.fallback}" if spec.fallback else None
            bounds = (day_index * DAY // MS, (day_index + 1) * DAY // MS - 1)
            refs.append(FileRef(f"{base}/{day}/{spec.filename}", fallback, bounds))
        return refs

    def sources(
        self,
        symbols: Sequence[str],
        kinds: Sequence[str] = DEFAULT_KINDS,
        start: int | None = None,
        end: int | None = None,
    ) -> list[Source]:
        """One source per symbol and kind over ``[start, end]`` (int ns UTC, both inclusive).

        Both bounds are required: a store can only be asked about keys, not listed, so the
        window decides which daily and hourly files exist to be read.
        """
        if start is None or end is None:
            raise ConfigError(
                "CryptoHFTData.sources needs start and end (int ns UTC): they decide which "
                "daily and hourly files to read"
            )
        if start > end:
            raise ConfigError(f"start {start} is after end {end}")
        if isinstance(symbols, str):
            raise ConfigError(f"symbols must be a sequence of symbols, got the string {symbols!r}")
        out: list[Source] = []
        for symbol in symbols:
            check_path_part(symbol, "symbols")
            for kind in kinds:
                spec = _spec(kind)
                instrument = self.instrument(symbol) if spec.needs_instrument else None
                out.append(
                    CryptoHFTSource(
                        self,
                        symbol,
                        spec,
                        self.files(symbol, kind, start, end),
                        start,
                        end,
                        instrument,
                    )
                )
        return out


def _spec(kind: str) -> KindSpec:
    if kind not in SPECS:
        raise ConfigError(f"unknown kind {kind!r}; CryptoHFTData has {', '.join(KINDS)}")
    return SPECS[kind]


@dataclass
class StreamState:
    """What one stream remembers across row groups and files (one per iteration)."""

    depth: DepthState = field(default_factory=DepthState)
    last_key: int | None = None
    previous_unique: IntArray | None = None


def duplicates_note(state: StreamState) -> str | None:
    """The note of a stream's exact duplicate depth messages (counted, dropped), if any."""
    count = state.depth.exact_duplicates
    return f"{count:,} {EXACT_NOTE}" if count else None


def _remember_unique(previous: IntArray | None, values: IntArray) -> IntArray:
    """The largest :data:`UNIQUE_MEMORY` distinct values seen so far, sorted: duplicates
    are found across row groups and files, not only against the previous row group."""
    increasing = len(values) < 2 or bool((values[1:] > values[:-1]).all())
    fresh = values if increasing else np.unique(values)
    if previous is None or not len(previous):
        merged = fresh
    elif not len(fresh) or fresh[0] > previous[-1]:  # the usual case: ids keep rising
        merged = np.concatenate((previous, fresh))
    else:
        merged = np.union1d(previous, fresh)
    return merged[-UNIQUE_MEMORY:]


def _is_sorted(values: IntArray) -> bool:
    return len(values) < 2 or bool((values[1:] >= values[:-1]).all())


class CryptoHFTSource:
    """One stream (symbol and kind) of a CryptoHFTData tree over a window.

    ``quarantine`` and ``notes`` feed the run's data-quality report; ``missing_files``
    lists the keys skipped under ``missing="skip"``.
    """

    def __init__(
        self,
        data: CryptoHFTData,
        symbol: str,
        spec: KindSpec,
        files: list[FileRef],
        start: int,
        end: int,
        instrument: Instrument | None,
    ) -> None:
        self._data = data
        self._stream = Stream(symbol, spec.kind)
        self.spec = spec
        self.files = files
        self.instrument = instrument
        self.window = (-(-start // MS), end // MS)  # whole milliseconds inside [start, end]
        self.quarantine = data.quarantine
        self.notes: list[str] = []
        #: Notes that hold for every iteration (e.g. that the data is synthetic).
        self.labels: list[str] = []
        self.missing_files: list[str] = []
        self._after_missing: set[str] = set()
        self._ingest = Ingest(str(self._stream), data.policy, data.quarantine)

    @property
    def stream(self) -> Stream:
        return self._stream

    async def __aiter__(self) -> AsyncIterator[Batch]:
        state = StreamState()
        for ref, obj in await self._locate():
            if ref.key in self._after_missing:
                # A skipped file's messages are missing: the gap is in the notes already,
                # and the run's book resyncs over it.
                state.depth.last_final = None
            async for batch in self.file_batches(ref, obj, state):
                yield batch
            obj.whole = None  # replayed: a small object read whole is not needed again
        note = duplicates_note(state)
        if note:
            self.notes.append(f"{self._stream}: {note}")

    def file_batches(
        self, ref: FileRef, obj: ParquetObject, state: StreamState
    ) -> AsyncIterator[Batch]:
        """The batches of one opened file of this stream, continuing ``state`` (what the
        stream saw in the files before it); ``validate`` walks files one by one with it."""
        window = self.window
        if obj.key != ref.key and ref.day is not None:
            window = (max(window[0], ref.day[0]), min(window[1], ref.day[1]))
        return self._file(obj, window, state)

    async def _locate(self) -> list[tuple[FileRef, ParquetObject]]:
        """Open every planned file (footers read concurrently); missing ones fail or are skipped.

        Reading each footer here, one request per file, finds missing files before the run
        starts and leaves nothing to fetch but row groups once it has.
        """
        self.missing_files.clear()  # a source may be iterated again: report each time afresh
        self._after_missing.clear()
        self.notes[:] = self.labels
        store = self._data.store
        found: list[ParquetObject | None] = [None] * len(self.files)

        def lookup(i: int, ref: FileRef) -> Task:
            async def run() -> None:
                found[i] = await ParquetObject.open(store, ref.key)
                if found[i] is None and ref.fallback is not None:
                    found[i] = await ParquetObject.open(store, ref.fallback)

            return run

        calls = [lookup(i, ref) for i, ref in enumerate(self.files)]
        for lo in range(0, len(calls), _LOOKUPS):
            await gather(calls[lo : lo + _LOOKUPS])
        plan: list[tuple[FileRef, ParquetObject]] = []
        kept = 0
        skipped = False
        for ref, hit in zip(self.files, found, strict=True):
            if hit is not None:
                self.notes.extend(n for n in hit.notes() if n not in self.notes)
                if hit.whole is not None:  # small objects wait whole in memory, within a budget
                    kept += hit.size
                    if kept > _KEEP_WHOLE:
                        hit.whole = None
                if skipped:
                    self._after_missing.add(ref.key)
                    skipped = False
                plan.append((ref, hit))
                continue
            alternative = f" (nor {store.describe(ref.fallback)})" if ref.fallback else ""
            if self._data.missing == "fail":
                raise DataError(
                    f"{self._stream}: missing file {store.describe(ref.key)}{alternative}; "
                    "pass missing='skip' (data.missing in a run config) to skip missing "
                    "files (they are listed in the run's notes)"
                )
            self.missing_files.append(ref.key)
            skipped = True
        if self.missing_files:
            unit = "hourly" if self.spec.hourly else "daily"
            self.notes.append(
                f"{self._stream}: {len(self.missing_files)} missing {unit} file(s) skipped: "
                + ", ".join(self.missing_files)
            )
        return plan

    async def _file(
        self, obj: ParquetObject, window: tuple[int, int], state: StreamState
    ) -> AsyncIterator[Batch]:
        """One file's batches in key order, holding back only rows a later row group may precede.

        Row-group statistics of the key column bound what later row groups hold: rows
        below the smallest later minimum are final and leave now; the rest (a message that
        continues, rows of an unsorted stretch) wait and are sorted with the next group.
        Without statistics a file within ``sort_limit`` rows is read whole and sorted; a
        larger one must be sorted across row groups, or fails.
        """
        spec = self.spec
        problem = schema_problem(obj.schema, spec)
        if problem is not None:
            if self._ingest.policy == "fail":
                check_schema(obj.schema, spec, obj.name)
            column, reason = problem  # quarantine: one record for the file, which is skipped
            record = {"columns": schema_text(obj.schema), "rows": obj.num_rows}
            self._ingest.bad(obj.name, [-1], column, reason, [record])
            return
        indices = self._groups_in_window(obj, window)
        if not indices:
            return
        depth = spec.kind == "depth"
        name = KEY if depth else spec.key  # the frame column that orders the stream
        stats_all = obj.int_statistics(spec.key)
        stats = [stats_all[i] for i in indices] if stats_all is not None else None
        if stats is not None and depth:
            stats = [key_bounds(low, high) for low, high in stats]
        rows_in = sum(obj.row_offsets[i + 1] - obj.row_offsets[i] for i in indices)
        hold_all = stats is None and rows_in <= self._data.sort_limit
        later_min: list[int | None] = [None] * len(indices)
        if stats is not None:
            running: int | None = None
            for k in range(len(indices) - 1, -1, -1):
                later_min[k] = running
                running = stats[k][0] if running is None else min(running, stats[k][0])
        # Pending rows, as pieces: each sorted, each piece's keys above the previous one's
        # (while ``ordered``), so a piece boundary never splits equal keys (one message).
        # Pieces leave as separate batches: a whole row group is never copied to join the
        # few rows held back from the previous one.
        pending: list[Frame] = []
        ordered = True
        last_emitted: int | None = None
        groups = obj.row_groups(
            spec.present(obj.schema), indices, text_columns(obj.schema, spec), self._data.prefetch
        )
        k = -1
        async for index, table in groups:
            k += 1
            frame = self._decode(obj, index, table, window, state)
            key = frame[name]
            if stats is not None and len(key):
                low, high = stats[k]
                if int(key.min()) < low or int(key.max()) > high:
                    bounds = list(stats_all[index]) if stats_all else []
                    raise DataError(
                        f"{obj.name}: row group {index} holds {spec.key} values outside its "
                        f"statistics {bounds} (corrupt metadata)"
                    )
            if len(key):
                if not _is_sorted(key):
                    ordered = False
                elif ordered and pending:
                    tail = int(pending[-1][name][-1])
                    if tail > key[0]:
                        ordered = False
                    elif tail == key[0]:  # the previous piece's last key continues here
                        j = int(np.searchsorted(key, tail, "right"))
                        pending[-1] = Frame.concat(pending[-1], frame.slice(0, j))
                        frame = frame.slice(j, len(frame))
                if len(frame):
                    pending.append(frame)
            last = k == len(indices) - 1
            if not pending or (hold_all and not last):
                continue
            if not ordered:
                combined = _concat(pending)
                if len(combined) > self._data.sort_limit:
                    raise DataError(
                        f"{obj.name}: its {obj.num_rows:,} rows are not in {spec.key} order, and "
                        f"sorting them needs {len(combined):,} rows in memory at once, over "
                        f"sort_limit={self._data.sort_limit:,}; read a smaller window, raise "
                        f"sort_limit, or use a copy of the file sorted by {spec.key}"
                    )
                pending = [combined.take(np.argsort(combined[name], kind="stable"))]
                ordered = True
            first = int(pending[0][name][0])
            if last_emitted is not None and (
                first <= last_emitted if depth else first < last_emitted
            ):
                raise DataError(
                    f"{obj.name}: row group {index} goes back in {spec.key} order after "
                    "later rows were replayed; the file is not sorted and has no row-group "
                    f"statistics, and its {rows_in:,} rows exceed sort_limit="
                    f"{self._data.sort_limit:,}: use a copy sorted by {spec.key}"
                )
            if last:
                floor = None
            elif stats is not None:
                floor = later_min[k]
            else:  # no statistics: the largest key may continue in the next row group
                floor = int(pending[-1][name][-1])
            held: list[Frame] = []
            for piece in pending:
                if held:
                    held.append(piece)
                    continue
                cut = len(piece) if floor is None else int(np.searchsorted(piece[name], floor))
                if cut < len(piece):  # a copy: a view would keep the whole row group alive
                    held.append(piece.slice(cut, len(piece)).copy())
                if cut:
                    emit = piece.slice(0, cut)
                    last_emitted = int(emit[name][-1])
                    batch = self._emit(emit, obj.name, state)
                    if batch is not None:
                        yield batch
            pending = held

    def _groups_in_window(self, obj: ParquetObject, window: tuple[int, int]) -> list[int]:
        """Row groups whose time statistics may overlap the window (all, without statistics)."""
        stats = obj.int_statistics(self.spec.time)
        if stats is None:
            return list(range(obj.num_row_groups))
        low, high = window
        return [i for i, (lo, hi) in enumerate(stats) if hi >= low and lo <= high]

    def _decode(
        self,
        obj: ParquetObject,
        index: int,
        table: pa.Table,
        window: tuple[int, int],
        state: StreamState,
    ) -> Frame:
        """Decode a row group, report its bad rows, and drop them (depth: flag their messages)."""
        spec = self.spec
        frame, issues, cut = decode_table(
            table,
            spec,
            self.instrument,
            obj.row_offsets[index],
            window,
            self._data.limits,
            file_day(obj.key),
            self._stream.symbol,
        )
        if spec.kind == "depth":
            return flag_bad_rows(frame, issues, cut, state.depth, self._ingest, obj.name)
        bad, which = first_issue_rows(issues, len(frame))
        report_rows(self._ingest, obj.name, issues, which, np.flatnonzero(bad), frame, cut)
        if spec.unique is not None:
            alive = np.flatnonzero(~bad)
            values = frame[spec.unique][alive]
            dup = duplicates(values, state.previous_unique)
            if dup is not None:
                positions = alive[dup]
                records = cut.take(positions).to_pylist()
                report(
                    self._ingest,
                    obj.name,
                    [(spec.unique, f"duplicate {spec.unique}", frame.rows[positions], records)],
                )
                bad[positions] = True
                values = values[~dup]
            state.previous_unique = _remember_unique(state.previous_unique, values)
        return frame.take(~bad) if bad.any() else frame

    def _emit(self, frame: Frame, file: str, state: StreamState) -> Batch | None:
        """The batch of rows that are final: whole messages or rows in stream order."""
        spec = self.spec
        if spec.kind == "depth":
            frame = check_messages(frame, state.depth, self._ingest, file)
            if state.depth.notes:
                self.notes.extend(f"{self._stream}: {note}" for note in state.depth.notes)
                state.depth.notes.clear()
            return depth_batch(self._stream.symbol, frame) if len(frame) else None
        key = frame[spec.key]
        if state.last_key is not None and key[0] < state.last_key:
            early = int(np.searchsorted(key, state.last_key, "left"))
            records = [frame_record(frame, i, spec, self.instrument) for i in range(early)]
            report(
                self._ingest,
                file,
                [
                    (
                        spec.key,
                        "earlier than the previous file's last row",
                        frame.rows[:early],
                        records,
                    )
                ],
            )
            frame = frame.slice(early, len(frame))
            if not len(frame):
                return None
        state.last_key = int(frame[spec.key][-1])
        return row_batch(spec, self._stream.symbol, frame)


def _concat(parts: list[Frame]) -> Frame:
    if len(parts) == 1:
        return parts[0]
    return Frame(
        {name: np.concatenate([p.cols[name] for p in parts]) for name in parts[0].cols},
        np.concatenate([p.rows for p in parts]),
    )
