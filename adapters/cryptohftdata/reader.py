"""Parquet objects read through a :class:`~adapters.cryptohftdata.store.Store`, by byte range.

The footer comes first, with the object's size, in one read of its tail (the last 8 bytes
give the footer's length; a small object comes whole), then, row group by row group, only
the byte ranges of the column chunks a caller asks for. pyarrow decodes from those ranges
through a small read-only file object, so one code path serves a local tree and S3, and a
remote read downloads a column it does not use only to save a request. A corrupt,
truncated or empty object raises :class:`~streamsim.errors.DataError` naming the object.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from streamsim.errors import DataError
from streamsim.parquet_options import READ_OPTIONS, footer_problem

from .store import Store

MAGIC = b"PAR1"
#: Bytes read from the end of an object in the first request (or the store's
#: ``coalesce_gap``, if larger): most footers fit in it, and a smaller object comes whole.
TAIL_READ = 64 * 1024
#: Key-value metadata key of notes a file carries about its own data (a JSON list of
#: strings), such as levels the converter's reader dropped; runs and validate show them.
NOTES_KEY = b"streamsim.notes"
#: Concurrent range requests per object.
MAX_REQUESTS = 8

_ARROW_ERRORS = (pa.ArrowException, OSError, ValueError, EOFError)

#: A call that :func:`gather` runs concurrently with others.
Task = Callable[[], Coroutine[Any, Any, None]]


async def gather(calls: Sequence[Task]) -> None:
    """Run ``calls`` concurrently; re-raise the first failure itself, not an exception group.

    Callers (the merge, users) catch :class:`DataError` by type, which a group would hide.
    """
    if len(calls) == 1:
        await calls[0]()
        return
    try:
        async with anyio.create_task_group() as group:
            for call in calls:
                group.start_soon(call)
    except BaseExceptionGroup as errors:
        leaf: BaseException = errors
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        raise leaf from leaf.__cause__


class _FetchedFile(io.RawIOBase):
    """A read-only file of ``size`` bytes that serves reads from fetched ranges only.

    pyarrow seeks and reads column chunks through it (``read_buffer`` is zero-copy). A read
    outside the fetched ranges means the metadata points elsewhere: it raises ``OSError``.
    """

    def __init__(self, size: int, ranges: Sequence[tuple[int, pa.Buffer]]) -> None:
        super().__init__()
        self._size = size
        self._ranges = sorted(ranges, key=lambda item: item[0])
        self._starts = [start for start, _ in self._ranges]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        else:
            self._pos = self._size + offset
        return self._pos

    def size(self) -> int:
        return self._size

    def read_buffer(self, n: int = -1) -> pa.Buffer:
        """The next ``n`` bytes as a zero-copy slice of a fetched range."""
        pos = self._pos
        n = self._size - pos if n is None or n < 0 else min(n, self._size - pos)
        i = bisect.bisect_right(self._starts, pos) - 1
        if i >= 0:
            start, buffer = self._ranges[i]
            if pos + n <= start + buffer.size:
                self._pos = pos + n
                return buffer.slice(pos - start, n)
        raise OSError(f"bytes [{pos}, {pos + n}) are outside the ranges fetched for this read")

    def read(self, n: int = -1, /) -> bytes:
        data: bytes = self.read_buffer(n).to_pybytes()
        return data

    def readinto(self, target: Any, /) -> int:
        data = self.read_buffer(len(memoryview(target)))
        memoryview(target)[: data.size] = memoryview(data)
        return int(data.size)


@dataclass(frozen=True)
class RowGroupBytes:
    """The fetched column-chunk bytes of one row group: ``(offset, buffer)`` ranges."""

    index: int
    ranges: list[tuple[int, pa.Buffer]]


class ParquetObject:
    """One Parquet object of a store: its metadata, and ranged reads of its row groups.

    Open with :meth:`open`; ``name`` is the store's description of the key (a path or
    an ``s3://`` URL) and appears in every error.
    """

    def __init__(
        self, store: Store, key: str, size: int, data_end: int, metadata: pq.FileMetaData
    ) -> None:
        self.store = store
        self.key = key
        self.name = store.describe(key)
        self.size = size
        self.metadata = metadata
        self._data_end = data_end
        #: All the object's bytes when its first read covered it: row groups are then
        #: served from memory. Set it to None to release them (later reads go to the store).
        self.whole: pa.Buffer | None = None
        try:
            self.schema: pa.Schema = metadata.schema.to_arrow_schema()
        except _ARROW_ERRORS as exc:
            raise DataError(f"{self.name}: unreadable Parquet schema ({exc})") from exc
        problem = footer_problem(metadata)
        if problem is not None:
            raise DataError(f"{self.name}: {problem}")
        parquet_schema = metadata.schema
        self._leaf = {parquet_schema.column(i).path: i for i in range(len(parquet_schema))}
        offsets = [0]
        for i in range(metadata.num_row_groups):
            offsets.append(offsets[-1] + metadata.row_group(i).num_rows)
        #: The file row number of each row group's first row, then the total.
        self.row_offsets = offsets

    @classmethod
    async def open(cls, store: Store, key: str) -> ParquetObject | None:
        """Read the footer of ``key`` (and its size, in the same request); None if missing.

        An object no larger than that first read is kept whole in :attr:`whole`.
        """
        tail = await store.read_tail(key, max(TAIL_READ, store.coalesce_gap))
        if tail is None:
            return None
        size, data = tail
        name = store.describe(key)
        if size == 0:
            raise DataError(f"{name}: empty object (0 bytes), not a Parquet file")
        if size < 12:
            raise DataError(f"{name}: {size} bytes is too short for a Parquet file (truncated?)")
        if not 8 <= len(data) <= size:
            raise DataError(
                f"{name}: reading its last bytes returned {len(data)} bytes of a {size:,}-byte "
                "object (truncated or changed while reading)"
            )
        tail_start = size - len(data)
        if data[-4:] != MAGIC:
            raise DataError(
                f"{name}: no Parquet magic bytes at the end (truncated, or not a Parquet file)"
            )
        if tail_start == 0 and data[:4] != MAGIC:
            raise DataError(f"{name}: no Parquet magic bytes at the start (not a Parquet file)")
        footer_len = int.from_bytes(data[-8:-4], "little")
        data_end = size - 8 - footer_len
        if data_end < 4:
            raise DataError(
                f"{name}: footer length {footer_len:,} does not fit in {size:,} bytes "
                "(truncated or corrupt Parquet file)"
            )
        if data_end < tail_start:
            data = await _read(store, key, data_end, tail_start, name) + data
            tail_start = data_end
        footer = data[data_end - tail_start :]
        try:
            metadata = pq.read_metadata(pa.BufferReader(MAGIC + footer))
        except _ARROW_ERRORS as exc:
            raise DataError(f"{name}: corrupt Parquet footer ({exc})") from exc
        obj = cls(store, key, size, data_end, metadata)
        if tail_start == 0:
            obj.whole = pa.py_buffer(data)
        return obj

    @property
    def num_rows(self) -> int:
        return int(self.metadata.num_rows)

    def notes(self) -> list[str]:
        """The notes the file carries about its data (:data:`NOTES_KEY`), [] for none."""
        raw = (self.metadata.metadata or {}).get(NOTES_KEY)
        if raw is None:
            return []
        try:
            notes = orjson.loads(raw)
        except orjson.JSONDecodeError:
            notes = None
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise DataError(f"{self.name}: metadata {NOTES_KEY.decode()} is not a list of strings")
        return notes

    @property
    def num_row_groups(self) -> int:
        return int(self.metadata.num_row_groups)

    def int_statistics(self, column: str) -> list[tuple[int, int]] | None:
        """Per row group ``(min, max)`` of an integer column; None unless every group has them."""
        leaf = self._leaf.get(column)
        if leaf is None:
            return None
        out: list[tuple[int, int]] = []
        for i in range(self.num_row_groups):
            chunk = self.metadata.row_group(i).column(leaf)
            stats = chunk.statistics
            if (
                stats is None
                or not stats.has_min_max
                or chunk.physical_type not in ("INT32", "INT64")
                or not isinstance(stats.min, int)
                or not isinstance(stats.max, int)
            ):
                return None
            out.append((stats.min, stats.max))
        return out

    def chunk_ranges(self, index: int, columns: Sequence[str]) -> list[tuple[int, int]]:
        """Byte ranges ``[start, end)`` holding ``columns`` of row group ``index``.

        Ranges at most the store's ``coalesce_gap`` apart are merged: one request reads
        through the gap instead of paying another round trip.
        """
        group = self.metadata.row_group(index)
        spans: list[tuple[int, int]] = []
        for name in columns:
            chunk = group.column(self._leaf[name])
            start = int(chunk.data_page_offset)
            dictionary = chunk.dictionary_page_offset
            if chunk.has_dictionary_page and dictionary is not None and 0 < dictionary < start:
                start = int(dictionary)
            end = start + int(chunk.total_compressed_size)
            if start < 4 or end > self._data_end or end <= start:
                raise DataError(
                    f"{self.name}: row group {index}, column {name!r}: chunk [{start}, {end}) "
                    f"lies outside the data of a {self.size:,}-byte object (corrupt metadata)"
                )
            spans.append((start, end))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start - merged[-1][1] <= self.store.coalesce_gap:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    async def fetch(self, index: int, columns: Sequence[str]) -> RowGroupBytes:
        """Fetch the column chunks of one row group (concurrent ranged reads, or from
        :attr:`whole`)."""
        spans = self.chunk_ranges(index, columns)
        if self.whole is not None:
            return RowGroupBytes(index, [(a, self.whole.slice(a, b - a)) for a, b in spans])
        got: list[tuple[int, pa.Buffer]] = []
        limiter = anyio.CapacityLimiter(MAX_REQUESTS)

        def call(start: int, end: int) -> Task:
            async def run() -> None:
                async with limiter:
                    data = await _read(self.store, self.key, start, end, self.name)
                got.append((start, pa.py_buffer(data)))

            return run

        await gather([call(start, end) for start, end in spans])
        return RowGroupBytes(index, got)

    def decode(
        self, data: RowGroupBytes, columns: Sequence[str], dictionary: Sequence[str] = ()
    ) -> pa.Table:
        """Decode one fetched row group (thread-safe: a new reader per call).

        ``dictionary`` names string columns to read dictionary-encoded: their few distinct
        values are converted once instead of once per row.
        """
        try:
            table = self._read_group(data, columns, dictionary)
        except _ARROW_ERRORS as exc:
            where = self._failing_column(data, columns, dictionary)
            raise DataError(
                f"{self.name}: cannot decode row group {data.index}{where} ({exc})"
            ) from exc
        if table.num_rows != self.metadata.row_group(data.index).num_rows:
            raise DataError(
                f"{self.name}: row group {data.index} decoded to {table.num_rows} rows, "
                f"its metadata says {self.metadata.row_group(data.index).num_rows} (corrupt)"
            )
        return table

    def _read_group(
        self, data: RowGroupBytes, columns: Sequence[str], dictionary: Sequence[str]
    ) -> pa.Table:
        handle = pa.PythonFile(_FetchedFile(self.size, data.ranges), mode="r")
        reader = pq.ParquetFile(
            handle,
            metadata=self.metadata,
            read_dictionary=[c for c in dictionary if c in columns] or None,
            pre_buffer=False,
            **READ_OPTIONS,
        )
        table: pa.Table = reader.read_row_group(data.index, columns=list(columns))
        return table

    def _failing_column(
        self, data: RowGroupBytes, columns: Sequence[str], dictionary: Sequence[str]
    ) -> str:
        """``", column 'x'"`` for the first column that fails alone (error path only)."""
        if len(columns) < 2:
            return f", column {columns[0]!r}" if columns else ""
        for column in columns:
            try:
                self._read_group(data, [column], dictionary)
            except _ARROW_ERRORS:
                return f", column {column!r}"
        return ""

    async def row_groups(
        self,
        columns: Sequence[str],
        indices: Sequence[int] | None = None,
        dictionary: Sequence[str] = (),
        prefetch: int = 2,
        decode_in_thread: bool = True,
    ) -> AsyncIterator[tuple[int, pa.Table]]:
        """Yield ``(index, table)`` for each row group in ``indices`` (default: all) that
        holds rows, in order.

        While a row group is decoded (in a worker thread), up to ``prefetch - 1`` following
        row groups are fetched concurrently; nothing is in flight across a ``yield``, so an
        abandoned iteration leaves no task behind.
        """
        order = list(range(self.num_row_groups)) if indices is None else list(indices)
        # A row group of no rows has no pages to read (its offsets may be 0): skip it.
        order = [i for i in order if self.metadata.row_group(i).num_rows > 0]
        fetched: dict[int, RowGroupBytes] = {}
        for pos, index in enumerate(order):
            # The row group wanted now is fetched alone (unless prefetched): the ones after
            # it would only share the bandwidth it is waiting for.
            data = fetched.pop(index, None) or await self.fetch(index, columns)
            result: list[pa.Table] = []

            async def current(data: RowGroupBytes = data, result: list[pa.Table] = result) -> None:
                if decode_in_thread:
                    table = await anyio.to_thread.run_sync(self.decode, data, columns, dictionary)
                else:
                    table = self.decode(data, columns, dictionary)
                result.append(table)

            def ahead(index: int) -> Task:
                async def run() -> None:
                    fetched[index] = await self.fetch(index, columns)

                return run

            calls: list[Task] = [current]
            calls.extend(
                ahead(j) for j in order[pos + 1 : pos + max(prefetch, 1)] if j not in fetched
            )
            await gather(calls)
            yield index, result[0]


async def _read(store: Store, key: str, start: int, end: int, name: str) -> bytes:
    """Bytes ``[start, end)`` of ``key``; a short read means the object is truncated."""
    data = await store.read_range(key, start, end)
    if len(data) != end - start:
        raise DataError(
            f"{name}: read of bytes [{start}, {end}) returned {len(data)} bytes "
            "(object truncated or changed while reading)"
        )
    return data
