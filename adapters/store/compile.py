"""Compile any streamsim sources into a store: sorted integer events in Parquet, plus a manifest.

Each source is drained once and written row group by row group as it yields (memory stays
near one row group per stream plus the source's own batch), into a temporary directory
beside ``out_dir`` that is renamed into place only when every file is written and the
inputs are unchanged. See ``docs/store.md``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

import streamsim
from adapters.cryptohftdata import CryptoHFTData, CryptoHFTSource, LocalStore
from streamsim.errors import ConfigError, DataError
from streamsim.feed.batches import Batch, DepthBatch
from streamsim.feed.quarantine import QuarantineCounts
from streamsim.feed.sources import Source, Stream
from streamsim.instruments import Instrument
from streamsim.parquet_options import write_options
from streamsim.path_parts import check_path_part

from .layout import (
    FIELDS,
    FORMAT_VERSION,
    LEVEL_SCHEMA,
    MANIFEST,
    InputFile,
    Manifest,
    OutputFile,
    StreamEntry,
    event_path,
    event_schema,
    instrument_grid,
    levels_path,
    sha256_file,
)

AnyArray = npt.NDArray[Any]
IntArray = npt.NDArray[np.int64]
Columns = dict[str, AnyArray]

#: Default rows per row group (depth: level rows; a message is never split).
ROWS_PER_GROUP = 262_144


@dataclass
class _Group:
    """One row group of a stream, ready to write (depth: with its levels)."""

    events: pa.Table
    levels: pa.Table | None


def _exact(values: Any, dtype: np.dtype[Any], what: str) -> AnyArray:
    """``values`` as ``dtype``; an integer or bool cast that changes a value raises."""
    array = np.asarray(values)
    if array.dtype == dtype:
        return array
    cast = array.astype(dtype)
    if dtype.kind in "iub" and not np.array_equal(cast, array):
        raise DataError(f"{what}: values do not fit {dtype} exactly")
    return cast


class _StreamWriter:
    """Buffers one stream's rows and writes them as row groups of ``rows_per_group`` rows.

    Group boundaries depend only on the row sequence, never on how the source batched it,
    so the files are byte-identical for the same data. Depth groups hold whole messages:
    as many as fit in ``rows_per_group`` level rows (at least one).
    """

    def __init__(self, root: Path, stream: Stream, rows_per_group: int) -> None:
        self.stream = stream
        self.kind = stream.kind
        self.depth = stream.kind == "depth"
        self.rows_per_group = rows_per_group
        self.schema = event_schema(stream.kind)
        self.dtypes = {
            name: np.dtype(dtype.to_pandas_dtype()) for name, dtype in FIELDS[stream.kind]
        }
        self.path = event_path(stream.symbol, stream.kind)
        self.levels_path = levels_path(stream.symbol, stream.kind) if self.depth else None
        (root / stream.symbol).mkdir(exist_ok=True)
        self._writer = pq.ParquetWriter(
            root / self.path, self.schema, **write_options(write_statistics=["ts_exchange"])
        )
        self._levels_writer = (
            pq.ParquetWriter(
                root / self.levels_path, LEVEL_SCHEMA, **write_options(write_statistics=False)
            )
            if self.levels_path is not None
            else None
        )
        self._pending: list[Columns] = []
        self._pending_levels: list[Columns] = []
        self._pending_rows = 0
        self._pending_level_rows = 0
        self.rows = 0
        self.level_rows = 0
        self.row_groups = 0
        self.has_ts_recv: bool | None = None
        self.ordered = True
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def add(self, batch: Batch) -> list[_Group]:
        """Take one batch; return the row groups it completed."""
        stream = self.stream
        if batch.symbol != stream.symbol or batch.kind != stream.kind:
            raise DataError(f"source of {stream} yielded a {batch.kind} batch of {batch.symbol}")
        batch.validate()
        n = len(batch)
        if n == 0:
            return []
        has_recv = batch.ts_recv is not None
        if self.has_ts_recv is None:
            self.has_ts_recv = has_recv
        elif self.has_ts_recv != has_recv:
            raise DataError(
                f"{stream}: some batches have ts_recv and some do not; a store keeps one "
                "layout per stream"
            )
        ex = _exact(batch.ts_exchange, np.dtype(np.int64), f"{stream} ts_exchange")
        if self.ordered and (
            (self.last_ts is not None and int(ex[0]) < self.last_ts)
            or bool((ex[1:] < ex[:-1]).any())
        ):
            self.ordered = False
        if self.first_ts is None:
            self.first_ts = int(ex[0])
        self.last_ts = int(ex[-1])
        cols: Columns = {"ts_exchange": ex}
        if batch.ts_recv is not None:
            cols["ts_recv"] = _exact(batch.ts_recv, np.dtype(np.int64), f"{stream} ts_recv")
        if isinstance(batch, DepthBatch):
            offsets = _exact(batch.level_offsets, np.dtype(np.int64), f"{stream} level_offsets")
            lo, hi = int(offsets[0]), int(offsets[-1])
            for name in ("first", "final", "prev_final", "is_snapshot"):
                cols[name] = _exact(getattr(batch, name), self.dtypes[name], f"{stream} {name}")
            cols["bid_count"] = _exact(batch.bid_counts, self.dtypes["bid_count"], str(stream))
            cols["level_count"] = np.diff(offsets)
            self._pending_levels.append(
                {
                    "price": _exact(batch.level_price[lo:hi], np.dtype(np.int64), str(stream)),
                    "qty": _exact(batch.level_qty[lo:hi], np.dtype(np.int64), str(stream)),
                }
            )
            self._pending_level_rows += hi - lo
        else:
            for name, dtype in self.dtypes.items():
                cols[name] = _exact(getattr(batch, name), dtype, f"{stream} {name}")
        self._pending.append(cols)
        self._pending_rows += n
        return self._groups(final=False)

    def finish(self) -> list[_Group]:
        """The last, partial row group (if any)."""
        return self._groups(final=True)

    def _ready(self, final: bool) -> bool:
        if final:
            return self._pending_rows > 0
        if self.depth:  # only then is the group's last message known
            return self._pending_level_rows > self.rows_per_group
        return self._pending_rows >= self.rows_per_group

    def _groups(self, final: bool) -> list[_Group]:
        if not self._ready(final):
            return []
        cols = _join(self._pending)
        levels = _join(self._pending_levels) if self.depth else {}
        n = self._pending_rows
        limit = self.rows_per_group
        ends = np.cumsum(cols["level_count"]) if self.depth else None
        groups: list[_Group] = []
        lo = level_lo = 0
        while lo < n:
            if ends is not None:
                left = int(ends[-1]) - level_lo
                if left > limit:
                    fit = int(np.searchsorted(ends[lo:], level_lo + limit, "right"))
                    hi = lo + max(fit, 1)
                elif final:
                    hi = n
                else:
                    break
            elif n - lo >= limit:
                hi = lo + limit
            elif final:
                hi = n
            else:
                break
            level_hi = int(ends[hi - 1]) if ends is not None else 0
            groups.append(self._group(cols, lo, hi, levels, level_lo, level_hi))
            lo, level_lo = hi, level_hi
        # Keep only the remainder, copied, so a large source batch is not held alive.
        self._pending = [{k: v[lo:].copy() for k, v in cols.items()}] if lo < n else []
        self._pending_rows = n - lo
        if self.depth:
            self._pending_levels = (
                [{k: v[level_lo:].copy() for k, v in levels.items()}] if lo < n else []
            )
            self._pending_level_rows = self._pending_level_rows - level_lo
        return groups

    def _group(
        self, cols: Columns, lo: int, hi: int, levels: Columns, level_lo: int, level_hi: int
    ) -> _Group:
        rows = hi - lo
        arrays = [pa.array(cols["ts_exchange"][lo:hi])]
        arrays.append(
            pa.array(cols["ts_recv"][lo:hi]) if self.has_ts_recv else pa.nulls(rows, pa.int64())
        )
        arrays.extend(pa.array(cols[name][lo:hi]) for name, _ in FIELDS[self.kind])
        events = pa.Table.from_arrays(arrays, schema=self.schema)
        level_table = None
        if self.depth:
            level_table = pa.Table.from_arrays(
                [
                    pa.array(levels["price"][level_lo:level_hi]),
                    pa.array(levels["qty"][level_lo:level_hi]),
                ],
                schema=LEVEL_SCHEMA,
            )
        return _Group(events, level_table)

    def write(self, group: _Group) -> None:
        """Write one row group (run in a worker thread: compression releases the GIL)."""
        self._writer.write_table(group.events, row_group_size=max(group.events.num_rows, 1))
        self.rows += group.events.num_rows
        self.row_groups += 1
        if group.levels is not None and self._levels_writer is not None:
            self._levels_writer.write_table(
                group.levels, row_group_size=max(group.levels.num_rows, 1)
            )
            self.level_rows += group.levels.num_rows

    def close(self) -> None:
        self._writer.close()
        if self._levels_writer is not None:
            self._levels_writer.close()


def _join(parts: list[Columns]) -> Columns:
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


async def _drain(source: Source, writer: _StreamWriter) -> None:
    """Write every batch of ``source``; writes run in a worker thread while it reads ahead."""
    try:
        async for batch in source:
            for group in writer.add(batch):
                await anyio.to_thread.run_sync(writer.write, group)
        for group in writer.finish():
            await anyio.to_thread.run_sync(writer.write, group)
    finally:
        writer.close()


def _hash_inputs(paths: Sequence[str]) -> dict[str, InputFile | None]:
    """Size and SHA-256 of every input (None: missing)."""
    out: dict[str, InputFile | None] = {}
    for name in paths:
        path = Path(name)
        if not path.is_file():
            out[name] = None
            continue
        out[name] = InputFile(name, path.stat().st_size, sha256_file(path))
    return out


def _check_unchanged(
    before: Mapping[str, InputFile | None], after: Mapping[str, InputFile | None]
) -> None:
    for name, was in before.items():
        now = after[name]
        if was == now:
            continue
        if was is not None and now is None:
            change = "disappeared"
        else:
            assert was is not None and now is not None
            change = (
                f"changed (size {was.size:,} -> {now.size:,} bytes, sha256 "
                f"{was.sha256[:16]}... -> {now.sha256[:16]}...)"
            )
        raise DataError(
            f"input file {name} {change} while the store was being compiled; no store "
            "was written: compile again once the inputs are stable"
        )


def _instruments(
    sources: Sequence[Source], given: Mapping[str, Instrument] | None
) -> dict[str, dict[str, str]]:
    """Grids per symbol: those given, else each source's ``instrument`` attribute."""
    if given is not None:
        return {symbol: instrument_grid(given[symbol]) for symbol in sorted(given)}
    found: dict[str, Instrument] = {}
    for source in sources:
        instrument = getattr(source, "instrument", None)
        if not isinstance(instrument, Instrument):
            continue
        symbol = source.stream.symbol
        known = found.setdefault(symbol, instrument)
        if instrument_grid(known) != instrument_grid(instrument):
            raise ConfigError(
                f"sources of {symbol} use different instruments ({known} and {instrument}); "
                "pass instruments= to say which grid the store records"
            )
    return {symbol: instrument_grid(found[symbol]) for symbol in sorted(found)}


def _check_streams(sources: Sequence[Source]) -> list[Stream]:
    streams: list[Stream] = []
    for source in sources:
        stream = source.stream
        if stream.kind not in FIELDS:
            raise ConfigError(f"{stream}: unknown kind {stream.kind!r}")
        check_path_part(stream.symbol, f"{stream} symbol (a store directory)")
        if stream.symbol.startswith("."):  # the store's own temporary and old directories
            raise ConfigError(f"symbol {stream.symbol!r} cannot name a store directory")
        if stream in streams:
            raise ConfigError(f"stream {stream} is given by two sources")
        streams.append(stream)
    return streams


def _prepare_target(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise ConfigError(f"{out} is not empty; pass overwrite=True to replace a store there")
    if not (out / MANIFEST).is_file():
        raise ConfigError(f"{out} is not empty and holds no store; refusing to replace it")


def _install(tmp: Path, out: Path) -> None:
    """Move the finished store into place (replacing an old store or an empty directory)."""
    if not out.exists():
        tmp.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
    out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _quarantine_counts(
    sources: Sequence[Source],
) -> list[tuple[QuarantineCounts, Counter[tuple[str, str]]]]:
    seen: dict[int, tuple[QuarantineCounts, Counter[tuple[str, str]]]] = {}
    for source in sources:
        quarantine = getattr(source, "quarantine", None)
        if isinstance(quarantine, QuarantineCounts) and id(quarantine) not in seen:
            seen[id(quarantine)] = (quarantine, Counter(quarantine.counts))
    return list(seen.values())


async def compile_sources(
    sources: Sequence[Source],
    out_dir: str | Path,
    *,
    inputs: Sequence[Path | str] = (),
    instruments: Mapping[str, Instrument] | None = None,
    rows_per_group: int = ROWS_PER_GROUP,
    overwrite: bool = False,
    end: int | None = None,
) -> Manifest:
    """Drain ``sources`` into a store at ``out_dir`` and return its manifest.

    ``end`` is the end of the window the sources were cut to (``data.end``): the manifest
    records it, and a run over the store ends there as it would at ``data.end``.

    Each source becomes ``{symbol}/{kind}.parquet`` (depth also ``.levels.parquet``),
    zstd, events in the order the source yields them, ``rows_per_group`` rows per row
    group (depth: level rows, whole messages). ``inputs`` are the files the sources read:
    they are hashed before and after, and one that changed fails with
    :class:`DataError` and leaves no store. ``instruments`` are the grids recorded per
    symbol (default: each source's ``instrument`` attribute, as CryptoHFTData sources
    have). The sources' ``quarantine`` counts and ``notes`` of this compile are recorded
    per stream. ``overwrite`` allows replacing an existing store at ``out_dir``. The same
    inputs give byte-identical files and manifest.
    """
    if rows_per_group < 1:
        raise ConfigError(f"rows_per_group must be >= 1, got {rows_per_group}")
    if not sources:
        raise ConfigError("compile_sources needs at least one source")
    streams = _check_streams(sources)
    out = Path(out_dir)
    _prepare_target(out, overwrite)
    names = sorted({str(Path(p)) for p in inputs})
    before = await anyio.to_thread.run_sync(_hash_inputs, names)
    missing = [name for name, info in before.items() if info is None]
    if missing:
        raise ConfigError(f"input files not found: {', '.join(missing)}")
    grids = _instruments(sources, instruments)
    counted = _quarantine_counts(sources)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        writers: list[_StreamWriter] = []
        notes: list[tuple[str, ...]] = []
        for source, stream in zip(sources, streams, strict=True):
            writer = _StreamWriter(tmp, stream, rows_per_group)
            writers.append(writer)
            await _drain(source, writer)
            notes.append(tuple(n for n in getattr(source, "notes", ()) if isinstance(n, str)))
        after = await anyio.to_thread.run_sync(_hash_inputs, names)
        _check_unchanged(before, after)
        quarantined: Counter[tuple[str, str]] = Counter()
        for quarantine, start_counts in counted:
            quarantined.update(quarantine.counts - start_counts)
        entries: list[StreamEntry] = []
        outputs: list[OutputFile] = []
        for writer, stream_notes in zip(writers, notes, strict=True):
            name = str(writer.stream)
            files = (
                (writer.path,)
                if writer.levels_path is None
                else (
                    writer.path,
                    writer.levels_path,
                )
            )
            entries.append(
                StreamEntry(
                    symbol=writer.stream.symbol,
                    kind=writer.kind,
                    rows=writer.rows,
                    level_rows=writer.level_rows if writer.depth else None,
                    has_ts_recv=bool(writer.has_ts_recv),
                    ordered=writer.ordered,
                    first_ts_exchange=writer.first_ts,
                    last_ts_exchange=writer.last_ts,
                    files=files,
                    quarantined={
                        reason: count
                        for (where, reason), count in sorted(quarantined.items())
                        if where == name
                    },
                    notes=stream_notes,
                )
            )
            for path in files:
                rows = writer.level_rows if path == writer.levels_path else writer.rows
                full = tmp / path
                digest = await anyio.to_thread.run_sync(sha256_file, full)
                outputs.append(
                    OutputFile(
                        path=path,
                        stream=name,
                        sha256=digest,
                        size=full.stat().st_size,
                        rows=rows,
                        row_groups=writer.row_groups,
                        first_ts_exchange=writer.first_ts,
                        last_ts_exchange=writer.last_ts,
                    )
                )
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            streamsim_version=streamsim.__version__,
            rows_per_group=rows_per_group,
            instruments=grids,
            inputs=tuple(info for info in after.values() if info is not None),
            outputs=tuple(outputs),
            streams=tuple(entries),
            end_ns=end,
        )
        (tmp / MANIFEST).write_bytes(manifest.to_json())
        _install(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def compile_store(
    sources: Sequence[Source],
    out_dir: str | Path,
    *,
    inputs: Sequence[Path | str] = (),
    instruments: Mapping[str, Instrument] | None = None,
    rows_per_group: int = ROWS_PER_GROUP,
    overwrite: bool = False,
    end: int | None = None,
) -> Manifest:
    """Synchronous :func:`compile_sources` for scripts (starts its own event loop)."""
    return anyio.run(
        partial(
            compile_sources,
            sources,
            out_dir,
            inputs=inputs,
            instruments=instruments,
            rows_per_group=rows_per_group,
            overwrite=overwrite,
            end=end,
        )
    )


def cryptohftdata_inputs(data: CryptoHFTData, sources: Iterable[Source]) -> list[Path]:
    """The local files ``sources`` of ``data`` (a ``LocalStore`` tree) will read.

    For each planned file the primary key if it exists, else its fallback; files that
    exist under neither are left to the source (it fails or skips them itself).
    """
    store = data.store
    if not isinstance(store, LocalStore):
        raise ConfigError("cryptohftdata_inputs needs a CryptoHFTData over a LocalStore")
    paths: list[Path] = []
    for source in sources:
        if not isinstance(source, CryptoHFTSource):
            continue
        for ref in source.files:
            for key in (ref.key, ref.fallback):
                if key is not None and (store.root / key).is_file():
                    paths.append(store.root / key)
                    break
    return sorted(set(paths))
