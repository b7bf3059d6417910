"""The compiled store's on-disk layout: file names, Parquet schemas and the manifest.

A store is a directory with ``manifest.json`` and, per stream, ``{symbol}/{kind}.parquet``
(one row per event: ``ts_exchange``, nullable ``ts_recv``, then the batch's field columns
in integer ticks/lots or floats exactly as the source yielded them). Depth keeps one row
per message there (update ids, snapshot flag, ``bid_count``, ``level_count``) and its
levels, bids first then asks per message, in ``{symbol}/depth.levels.parquet``; row group
``k`` of the levels file holds exactly the levels of row group ``k`` of the message file,
so replay reads both and builds a :class:`~streamsim.feed.batches.DepthBatch` with one
``cumsum``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from streamsim.errors import DataError
from streamsim.feed.batches import (
    BarBatch,
    Batch,
    DepthBatch,
    LiquidationBatch,
    MarkPriceBatch,
    OpenInterestBatch,
    TickerBatch,
    TradeBatch,
)
from streamsim.instruments import ContractKind, Instrument
from streamsim.path_parts import path_part_problem

#: Identifies a manifest as a streamsim store.
FORMAT = "streamsim-store"
#: Bumped whenever the layout changes; a store of another version must be recompiled.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

#: Batch class of every kind a store holds.
BATCH_CLASSES: dict[str, type[Batch]] = {
    cls.kind: cls
    for cls in (
        DepthBatch,
        TradeBatch,
        MarkPriceBatch,
        OpenInterestBatch,
        TickerBatch,
        LiquidationBatch,
        BarBatch,
    )
}

_I64 = pa.int64()
_F64 = pa.float64()
_I8 = pa.int8()

#: Field columns per kind after ``ts_exchange`` and ``ts_recv``, in batch field order
#: (depth: per-message columns; its level arrays live in the levels file).
FIELDS: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "depth": (
        ("first", _I64),
        ("final", _I64),
        ("prev_final", _I64),
        ("is_snapshot", pa.bool_()),
        ("bid_count", _I64),
        ("level_count", _I64),
    ),
    "trades": (("price", _I64), ("qty", _I64), ("side", _I8), ("trade_id", _I64)),
    "mark_price": (
        ("mark", _F64),
        ("index", _F64),
        ("settle", _F64),
        ("funding_rate", _F64),
        ("next_funding_time", _I64),
    ),
    "open_interest": (("value", _F64), ("notional", _F64)),
    "ticker": (
        ("last_price", _F64),
        ("open", _F64),
        ("high", _F64),
        ("low", _F64),
        ("base_volume", _F64),
        ("quote_volume", _F64),
    ),
    "liquidations": (("side", _I8), ("price", _F64), ("qty", _F64), ("avg_price", _F64)),
    "bars": (
        ("open", _F64),
        ("high", _F64),
        ("low", _F64),
        ("close", _F64),
        ("volume", _F64),
        ("interval", _I64),
    ),
}

LEVEL_SCHEMA = pa.schema(
    [pa.field("price", _I64, nullable=False), pa.field("qty", _I64, nullable=False)]
)


def event_schema(kind: str) -> pa.Schema:
    """The Parquet schema of one stream's event file."""
    return pa.schema(
        [
            pa.field("ts_exchange", _I64, nullable=False),
            pa.field("ts_recv", _I64, nullable=True),
            *(pa.field(name, dtype, nullable=False) for name, dtype in FIELDS[kind]),
        ]
    )


def event_path(symbol: str, kind: str) -> str:
    """Path of a stream's event file, relative to the store."""
    return f"{symbol}/{kind}.parquet"


def levels_path(symbol: str, kind: str) -> str:
    """Path of a depth stream's level file, relative to the store."""
    return f"{symbol}/{kind}.levels.parquet"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def instrument_grid(instrument: Instrument) -> dict[str, str]:
    """An instrument as JSON strings (decimals exact)."""
    return {
        "tick_size": str(instrument.tick_size),
        "lot_size": str(instrument.lot_size),
        "min_notional": str(instrument.min_notional),
        "contract_size": str(instrument.contract_size),
        "kind": instrument.kind.value,
        "quote": instrument.quote,
    }


@dataclass(frozen=True)
class InputFile:
    """An input the store was compiled from, as it was before and after compiling."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class OutputFile:
    """A file of the store: its hash, rows, row groups and data time range."""

    path: str
    stream: str
    sha256: str
    size: int
    rows: int
    row_groups: int
    first_ts_exchange: int | None
    last_ts_exchange: int | None


@dataclass(frozen=True)
class StreamEntry:
    """One compiled stream.

    ``rows`` counts events (depth: messages); ``level_rows`` counts depth levels (None
    for other kinds). ``ordered`` says ``ts_exchange`` never goes backwards, which lets
    replay cut windows by binary search. ``quarantined`` and ``notes`` are what the
    source reported while it was compiled.
    """

    symbol: str
    kind: str
    rows: int
    level_rows: int | None
    has_ts_recv: bool
    ordered: bool
    first_ts_exchange: int | None
    last_ts_exchange: int | None
    files: tuple[str, ...]
    quarantined: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The stream's name (``"BTCUSDT.depth"``)."""
        return f"{self.symbol}.{self.kind}"


@dataclass(frozen=True)
class Manifest:
    """What a store holds and what it was compiled from (``manifest.json``).

    ``streams`` keep the order the sources were given in: replay returns its sources in
    that order, which is the merge's tie-break rank. No wall-clock time is recorded, so
    the same inputs give a byte-identical manifest.
    """

    format_version: int
    streamsim_version: str
    rows_per_group: int
    instruments: dict[str, dict[str, str]]
    inputs: tuple[InputFile, ...]
    outputs: tuple[OutputFile, ...]
    streams: tuple[StreamEntry, ...]
    #: The end of the window the store was compiled for (its config's ``data.end``), ns;
    #: a run over the store ends there, as it would at ``data.end``. None: no window.
    end_ns: int | None = None

    @property
    def rows(self) -> int:
        """Rows of the store: depth level rows plus the events of every other stream."""
        return sum(s.level_rows if s.level_rows is not None else s.rows for s in self.streams)

    def instrument(self, symbol: str) -> Instrument:
        """The recorded grid of ``symbol`` as an :class:`Instrument`."""
        grid = self.instruments.get(symbol)
        if grid is None:
            raise DataError(
                f"the store has no instrument for {symbol} (its manifest.json lists none); "
                "compile it again with this version of streamsim, which records the grid of "
                "every symbol it compiles"
            )
        return Instrument(
            symbol,
            tick_size=Decimal(grid["tick_size"]),
            lot_size=Decimal(grid["lot_size"]),
            min_notional=Decimal(grid["min_notional"]),
            contract_size=Decimal(grid["contract_size"]),
            kind=ContractKind(grid["kind"]),
            quote=grid["quote"],
        )

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, two-space indent, trailing newline."""
        data = {
            "format": FORMAT,
            "format_version": self.format_version,
            "streamsim_version": self.streamsim_version,
            "rows_per_group": self.rows_per_group,
            "instruments": self.instruments,
            "inputs": [vars(i) for i in self.inputs],
            "outputs": [vars(o) for o in self.outputs],
            "streams": [
                {**vars(s), "files": list(s.files), "notes": list(s.notes)} for s in self.streams
            ],
            "end_ns": self.end_ns,
        }
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, raw: bytes, where: str = "manifest") -> Manifest:
        """Parse a manifest; a foreign file or another format version raises DataError."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise DataError(f"{where}: not JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(f"{where}: not a streamsim store manifest")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise DataError(
                f"{where}: store format version {version!r}, this streamsim reads version "
                f"{FORMAT_VERSION}; recompile the store"
            )
        try:
            manifest = cls(
                format_version=int(version),
                streamsim_version=str(data["streamsim_version"]),
                rows_per_group=int(data["rows_per_group"]),
                instruments={
                    str(k): {str(a): str(b) for a, b in v.items()}
                    for k, v in data["instruments"].items()
                },
                inputs=tuple(InputFile(**item) for item in data["inputs"]),
                outputs=tuple(OutputFile(**item) for item in data["outputs"]),
                streams=tuple(_stream_entry(item) for item in data["streams"]),
                end_ns=None if data.get("end_ns") is None else int(data["end_ns"]),
            )
            _check_outputs(manifest.outputs, manifest.streams)
            return manifest
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{where}: malformed manifest ({exc!r})") from exc


def _stream_entry(item: Mapping[str, Any]) -> StreamEntry:
    entry = StreamEntry(**{**item, "files": tuple(item["files"]), "notes": tuple(item["notes"])})
    if entry.kind not in FIELDS:
        raise ValueError(f"unknown kind {entry.kind!r}")
    problem = path_part_problem(entry.symbol)
    if problem is not None:
        raise ValueError(f"symbol {entry.symbol!r} cannot name a store directory ({problem})")
    expected: tuple[str, ...] = (event_path(entry.symbol, entry.kind),)
    if entry.kind == "depth":
        expected += (levels_path(entry.symbol, entry.kind),)
    if entry.files != expected:  # a store only reads its own files, inside its directory
        raise ValueError(f"{entry.name} lists files {list(entry.files)}, expected {list(expected)}")
    return entry


def _check_outputs(outputs: tuple[OutputFile, ...], streams: tuple[StreamEntry, ...]) -> None:
    files = {path for stream in streams for path in stream.files}
    for output in outputs:
        if output.path not in files:
            raise ValueError(f"output {output.path!r} is not a file of the store's streams")
