"""Replay a compiled store: Parquet row groups straight into batches, no parsing, no per-row Python.

Each row group becomes one batch: its int64/float64 columns are memory-mapped and
decompressed by Arrow and handed to the batch as NumPy arrays without a copy; depth
needs one ``cumsum`` of the per-message level counts for its offsets. Row groups outside
``[start, end]`` are skipped by their ``ts_exchange`` statistics, and the groups at the
edges are cut by binary search. See ``docs/store.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from streamsim.errors import ConfigError, DataError
from streamsim.feed.batches import Batch, DepthBatch
from streamsim.feed.quarantine import QuarantineCounts
from streamsim.feed.sources import Source, Stream
from streamsim.parquet_options import READ_OPTIONS, footer_problem

from .layout import (
    BATCH_CLASSES,
    FIELDS,
    LEVEL_SCHEMA,
    MANIFEST,
    Manifest,
    OutputFile,
    StreamEntry,
    event_schema,
    sha256_file,
)

AnyArray = npt.NDArray[Any]
IntArray = npt.NDArray[np.int64]


def read_manifest(store_dir: str | Path) -> Manifest:
    """The manifest of the store at ``store_dir``; a missing or foreign one raises DataError."""
    path = Path(store_dir) / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path} not found: {store_dir} is not a compiled store") from exc
    return Manifest.from_json(raw, str(path))


class RecordedQuarantine(QuarantineCounts):
    """Quarantine counts recorded when the store was compiled (no file of its own).

    The skipped records themselves are in the quarantine file of that compile; this only
    carries their counts into the data-quality report of a replay.
    """

    def __init__(self, manifest_path: Path, counts: Counter[tuple[str, str]]) -> None:
        super().__init__(counts)
        self.path = manifest_path


def _column(table: pa.Table, name: str) -> AnyArray:
    """A column as NumPy, zero-copy for numeric columns of one chunk (read-only then)."""
    chunked = table.column(name)
    if chunked.num_chunks == 1:
        array: AnyArray = chunked.chunk(0).to_numpy(zero_copy_only=False)
        return array
    joined: AnyArray = chunked.to_numpy()
    return joined


class StoreSource:
    """One stream of a compiled store over ``[start, end]`` (int ns, both inclusive).

    ``quarantine`` (counts recorded at compile time) and ``notes`` (the compiled source's
    notes) feed the run's data-quality report, as the original source's would.
    """

    def __init__(
        self,
        root: Path,
        entry: StreamEntry,
        start: int | None,
        end: int | None,
        quarantine: QuarantineCounts | None,
    ) -> None:
        self._stream = Stream(entry.symbol, entry.kind)
        self.entry = entry
        self.root = root
        self.start = start
        self.end = end
        self.quarantine = quarantine
        self.notes: list[str] = list(entry.notes)
        self._depth = entry.kind == "depth"
        self._names = [name for name, _ in FIELDS[entry.kind]]
        self._columns = ["ts_exchange", *(["ts_recv"] if entry.has_ts_recv else []), *self._names]
        self._cls = BATCH_CLASSES[entry.kind]

    @property
    def stream(self) -> Stream:
        return self._stream

    def _open(self, relative: str, schema: pa.Schema) -> pq.ParquetFile:
        path = self.root / relative
        try:
            handle = pq.ParquetFile(path, memory_map=True, **READ_OPTIONS)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{path}: cannot open the store file ({exc})") from exc
        problem = footer_problem(handle.metadata)
        if problem is not None:
            raise DataError(f"{path}: {problem}")
        if not handle.schema_arrow.equals(schema):
            raise DataError(f"{path}: schema {handle.schema_arrow} is not the store's {schema}")
        return handle

    def _groups(self, handle: pq.ParquetFile) -> list[int]:
        """Row groups whose ``ts_exchange`` statistics may overlap ``[start, end]``."""
        meta = handle.metadata
        if self.start is None and self.end is None:
            return list(range(meta.num_row_groups))
        keep: list[int] = []
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(0).statistics
            if stats is not None and stats.has_min_max:
                if self.start is not None and stats.max < self.start:
                    continue
                if self.end is not None and stats.min > self.end:
                    continue
            keep.append(i)
        return keep

    async def __aiter__(self) -> AsyncIterator[Batch]:
        entry = self.entry
        events = self._open(entry.files[0], event_schema(entry.kind))
        levels = self._open(entry.files[1], LEVEL_SCHEMA) if self._depth else None
        groups = events.metadata.num_row_groups
        if events.metadata.num_rows != entry.rows or (
            levels is not None and levels.metadata.num_row_groups != groups
        ):
            raise DataError(f"{self.root / entry.files[0]}: row counts differ from the manifest")
        indices = self._groups(events)
        if not indices:
            return
        # Row group k + 1 is decoded in a worker thread while batch k is consumed.
        with ThreadPoolExecutor(1, thread_name_prefix=f"store {self._stream}") as pool:
            ahead = pool.submit(self._read, events, levels, indices[0])
            try:
                for k in range(len(indices)):
                    batch = await anyio.to_thread.run_sync(ahead.result)
                    if k + 1 < len(indices):
                        ahead = pool.submit(self._read, events, levels, indices[k + 1])
                    if batch is not None:
                        yield batch
            finally:
                ahead.cancel()

    def _read(
        self, events: pq.ParquetFile, levels: pq.ParquetFile | None, index: int
    ) -> Batch | None:
        """Row group ``index`` as one batch, cut to the window (None if nothing is left)."""
        table = self._row_group(events, self.entry.files[0], index, self._columns)
        ex: IntArray = _column(table, "ts_exchange")
        recv: IntArray | None = _column(table, "ts_recv") if self.entry.has_ts_recv else None
        fields = [_column(table, name) for name in self._names]
        keep = self._cut(ex)
        if levels is None:
            if keep is not None:
                ex = ex[keep]
                recv = None if recv is None else recv[keep]
                fields = [f[keep] for f in fields]
            if not len(ex):
                return None
            batch: Batch = self._cls(self._stream.symbol, ex, recv, *fields)
            return batch
        level_table = self._row_group(levels, self.entry.files[1], index, ["price", "qty"])
        price: IntArray = _column(level_table, "price")
        qty: IntArray = _column(level_table, "qty")
        first, final, prev_final, is_snapshot, bid_counts, counts = fields
        if keep is not None:
            if isinstance(keep, slice):
                ends = np.cumsum(counts)
                lo = int(ends[keep.start - 1]) if keep.start else 0
                hi = int(ends[keep.stop - 1]) if keep.stop else 0
                price, qty = price[lo:hi], qty[lo:hi]
            else:
                level_keep = np.repeat(keep, counts)
                price, qty = price[level_keep], qty[level_keep]
            ex = ex[keep]
            recv = None if recv is None else recv[keep]
            first, final, prev_final = first[keep], final[keep], prev_final[keep]
            is_snapshot, bid_counts, counts = is_snapshot[keep], bid_counts[keep], counts[keep]
            if not len(ex):
                return None
        if len(price) != int(counts.sum()):
            raise DataError(
                f"{self.root / self.entry.files[1]}: row group {index} has {len(price)} levels, "
                f"its messages own {int(counts.sum())}"
            )
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return DepthBatch(
            self._stream.symbol,
            ex,
            recv,
            first,
            final,
            prev_final,
            is_snapshot,
            offsets,
            bid_counts,
            price,
            qty,
        )

    def _row_group(
        self, handle: pq.ParquetFile, relative: str, index: int, columns: list[str]
    ) -> pa.Table:
        """Read one row group; a damaged page (checksum, decompression) raises DataError
        naming the file, row group and (when it fails alone) the column."""
        try:
            table: pa.Table = handle.read_row_group(index, columns=columns, use_threads=False)
            return table
        except (OSError, pa.ArrowException) as exc:
            where = ""
            for column in columns:
                try:
                    handle.read_row_group(index, columns=[column], use_threads=False)
                except (OSError, pa.ArrowException):
                    where = f", column {column!r}"
                    break
            raise DataError(
                f"{self.root / relative}: cannot decode row group {index}{where} ({exc}); "
                "the store file is damaged: recompile the store"
            ) from exc

    def _cut(self, ex: IntArray) -> slice | npt.NDArray[np.bool_] | None:
        """Rows of a row group inside ``[start, end]``: None (all), a slice or a mask."""
        start, end = self.start, self.end
        if not len(ex):
            return None
        low_ok = start is None or int(ex.min() if not self.entry.ordered else ex[0]) >= start
        high_ok = end is None or int(ex.max() if not self.entry.ordered else ex[-1]) <= end
        if low_ok and high_ok:
            return None
        if self.entry.ordered:
            lo = 0 if start is None else int(np.searchsorted(ex, start, "left"))
            hi = len(ex) if end is None else int(np.searchsorted(ex, end, "right"))
            return slice(lo, max(lo, hi))
        mask = np.ones(len(ex), dtype=np.bool_)
        if start is not None:
            mask &= ex >= start
        if end is not None:
            mask &= ex <= end
        return mask


def verify_store(
    store_dir: str | Path, manifest: Manifest | None = None, streams: Sequence[str] | None = None
) -> None:
    """Check the files of ``streams`` (default: all) against the manifest's SHA-256.

    A missing or modified file raises :class:`DataError` naming it.
    """
    root = Path(store_dir)
    manifest = manifest or read_manifest(root)
    wanted = None if streams is None else set(streams)
    for output in manifest.outputs:
        if wanted is None or output.stream in wanted:
            _verify(root, output)


def _verify(root: Path, output: OutputFile) -> None:
    path = root / output.path
    if not path.is_file():
        raise DataError(f"{path}: store file listed in the manifest is missing")
    digest = sha256_file(path)
    if digest != output.sha256:
        raise DataError(
            f"{path}: SHA-256 {digest[:16]}... does not match the manifest's "
            f"{output.sha256[:16]}...; the file changed after the store was compiled: "
            "recompile the store"
        )


def store_sources(
    store_dir: str | Path,
    symbols: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    start: int | None = None,
    end: int | None = None,
    *,
    verify: bool = True,
) -> list[Source]:
    """Sources over a compiled store: the streams of ``symbols`` and ``kinds`` (default all).

    ``start`` and ``end`` (int ns UTC, both inclusive, optional) cut every stream to that
    window. Sources come in the order the store was compiled (the merge's tie-break
    rank). The manifest's format version is checked; with ``verify`` (default) every
    selected file is hashed **upfront**, here, and one that differs from the manifest
    raises :class:`DataError` before any event is replayed (about 10 ms for the
    synthetic hour).
    """
    root = Path(store_dir)
    manifest = read_manifest(root)
    if isinstance(symbols, str) or isinstance(kinds, str):
        raise ConfigError("symbols and kinds must be sequences of names, not a string")
    if start is not None and end is not None and start > end:
        raise ConfigError(f"start {start} is after end {end}")
    entries = [
        s
        for s in manifest.streams
        if (symbols is None or s.symbol in symbols) and (kinds is None or s.kind in kinds)
    ]
    for wanted, have, what in (
        (symbols, {s.symbol for s in entries}, "symbol"),
        (kinds, {s.kind for s in entries}, "kind"),
    ):
        absent = [name for name in wanted or () if name not in have]
        if absent:
            held = sorted({getattr(s, what) for s in manifest.streams})
            raise ConfigError(
                f"the store at {root} has no {what} {', '.join(absent)} among the streams "
                f"asked for (it holds {', '.join(held)})"
            )
    if verify:
        verify_store(root, manifest, [s.name for s in entries])
    counts: Counter[tuple[str, str]] = Counter()
    for entry in entries:
        for reason, count in entry.quarantined.items():
            counts[(entry.name, reason)] += count
    quarantine = RecordedQuarantine(root / MANIFEST, counts) if counts else None
    return [StoreSource(root, entry, start, end, quarantine) for entry in entries]
