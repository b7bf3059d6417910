"""Column decoding shared by every CryptoHFTData kind: schemas, conversions and row checks.

A decoded row group becomes a :class:`Frame`: NumPy columns plus each row's number in its
file. Prices and sizes on an instrument's grid become int64 ticks and lots; other numbers
float64. Numeric strings are read dictionary-encoded, so each distinct string is converted
once, not once per row. Bad rows are found with vectorised checks and reported through an
:class:`~streamsim.feed.quarantine.Ingest`, with the file's own values as the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from streamsim.errors import DataError
from streamsim.feed.batches import (
    Batch,
    LiquidationBatch,
    MarkPriceBatch,
    OpenInterestBatch,
    TickerBatch,
    TradeBatch,
)
from streamsim.feed.plausibility import DEFAULT_LIMITS, Flag, Limits, beyond_book
from streamsim.feed.quarantine import Ingest
from streamsim.instruments import GRID_TOLERANCE, Instrument
from streamsim.units import MS

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
AnyArray = npt.NDArray[Any]

ColumnType = Literal["int", "num", "bool", "str", "symbol"]
Rule = Literal["any", "nonneg", "positive"]
Grid = Literal["price", "qty"]


@dataclass(frozen=True)
class Column:
    """One column a kind reads: its type, the sign rule for numbers, and its grid if any.

    ``num`` columns may be numeric strings (as in the vendor's files) or numbers;
    ``str`` columns must hold one of ``values`` (stored as the value's index); a
    ``symbol`` column must hold the symbol the file is read for (checked, not stored). A
    file without an ``optional`` column reads it as its first value (index 0).
    """

    name: str
    type: ColumnType
    rule: Rule = "any"
    grid: Grid | None = None
    values: tuple[str, ...] = ()
    optional: bool = False


@dataclass(frozen=True)
class KindSpec:
    """How one kind is stored and read.

    ``time`` is the millisecond column that becomes ``ts_exchange`` and cuts the window;
    ``key`` is the column the stream is ordered by (the same, except for depth, which is
    grouped and ordered by ``final_update_id``); ``unique`` must not repeat.
    """

    kind: str
    folder: str
    filename: str
    columns: tuple[Column, ...]
    time: str
    key: str
    unique: str | None = None
    hourly: bool = False
    fallback: str | None = None

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def present(self, schema: pa.Schema) -> list[str]:
        """The columns to read from a file with ``schema`` (optional ones only if there)."""
        return [
            column.name
            for column in self.columns
            if not column.optional or schema.get_field_index(column.name) >= 0
        ]

    @property
    def needs_instrument(self) -> bool:
        return any(column.grid for column in self.columns)


_RECV = Column("received_time", "int")
# Every kind's files name their symbol in each row: a row of another symbol (a file copied
# into the wrong folder, a merged export) must not be read as this one's.
_SYMBOL = Column("symbol", "symbol", optional=True)

SPECS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            "depth",
            "orderbook",
            "orderbook_{hour:02d}.parquet",
            (
                _RECV,
                _SYMBOL,
                Column("event_time", "int"),
                Column("first_update_id", "int"),
                Column("final_update_id", "int"),
                Column("prev_final_update_id", "int"),
                Column("side", "str", values=("bid", "ask")),
                Column("price", "num", "positive", "price"),
                Column("quantity", "num", "nonneg", "qty"),
                # "snapshot" rows (a REST snapshot, written by adapters.binance.convert)
                # reset the book; vendor files hold "update" only.
                Column("event_type", "str", values=("update", "snapshot"), optional=True),
            ),
            time="event_time",
            key="final_update_id",
            hourly=True,
        ),
        KindSpec(
            "trades",
            "trades",
            "trades.parquet",
            (
                _RECV,
                _SYMBOL,
                Column("trade_time", "int"),
                Column("trade_id", "int"),
                Column("price", "num", "positive", "price"),
                Column("quantity", "num", "positive", "qty"),
                Column("is_buyer_maker", "bool"),
            ),
            time="trade_time",
            key="trade_time",
            unique="trade_id",
        ),
        KindSpec(
            "mark_price",
            "mark_price",
            "mark_price.parquet",
            (
                _RECV,
                _SYMBOL,
                Column("event_time", "int"),
                Column("mark_price", "num", "positive"),
                Column("index_price", "num", "nonneg"),
                Column("estimated_settle_price", "num", "nonneg"),
                Column("funding_rate", "num"),
                Column("next_funding_time", "int"),
            ),
            time="event_time",
            key="event_time",
            unique="event_time",
        ),
        KindSpec(
            "open_interest",
            "open_interest",
            "open_interest.parquet",
            (
                _RECV,
                _SYMBOL,
                Column("sum_open_interest", "num", "nonneg"),
                Column("sum_open_interest_value", "num", "nonneg"),
                Column("timestamp", "int"),
            ),
            time="timestamp",
            key="timestamp",
            unique="timestamp",
            fallback="open_interest_parcial.parquet",
        ),
        KindSpec(
            "ticker",
            "ticker",
            "ticker.parquet",
            (
                _RECV,
                _SYMBOL,
                Column("event_time", "int"),
                Column("last_price", "num", "nonneg"),
                Column("open_price", "num", "nonneg"),
                Column("high_price", "num", "nonneg"),
                Column("low_price", "num", "nonneg"),
                Column("base_asset_volume", "num", "nonneg"),
                Column("quote_asset_volume", "num", "nonneg"),
            ),
            time="event_time",
            key="event_time",
        ),
        KindSpec(
            "liquidations",
            "liquidations",
            "liquidations.parquet",
            (
                _RECV,
                _SYMBOL,
                Column("event_time", "int"),
                Column("side", "str", values=("BUY", "SELL")),
                Column("price", "num", "nonneg"),
                Column("quantity", "num", "positive"),
                Column("average_price", "num", "nonneg"),
            ),
            time="event_time",
            key="event_time",
        ),
    )
}


class Frame:
    """Rows of one file as NumPy columns, with ``rows`` (each row's 0-based file row)."""

    __slots__ = ("cols", "rows")

    def __init__(self, cols: dict[str, AnyArray], rows: IntArray) -> None:
        self.cols = cols
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> AnyArray:
        return self.cols[name]

    def take(self, index: AnyArray) -> Frame:
        """Rows by position array or boolean mask."""
        return Frame({k: v[index] for k, v in self.cols.items()}, self.rows[index])

    def slice(self, start: int, stop: int) -> Frame:
        return Frame({k: v[start:stop] for k, v in self.cols.items()}, self.rows[start:stop])

    def copy(self) -> Frame:
        """The same rows in fresh arrays (so views of a large row group can be freed)."""
        return Frame({k: v.copy() for k, v in self.cols.items()}, self.rows.copy())

    @staticmethod
    def concat(first: Frame, second: Frame) -> Frame:
        if not len(first):
            return second
        if not len(second):
            return first
        return Frame(
            {k: np.concatenate((v, second.cols[k])) for k, v in first.cols.items()},
            np.concatenate((first.rows, second.rows)),
        )


# --- schema ---------------------------------------------------------------------------


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _accepts(column: Column, kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if column.type == "int":
        return bool(pa.types.is_integer(kind))
    if column.type == "bool":
        return bool(pa.types.is_boolean(kind))
    if column.type in ("str", "symbol"):
        return _is_text(kind)
    return bool(
        _is_text(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_decimal(kind)
    )


_EXPECTED = {
    "int": "an integer type",
    "num": "a numeric string or a number",
    "bool": "bool",
    "str": "a string",
    "symbol": "a string",
}


def schema_problem(schema: pa.Schema, spec: KindSpec) -> tuple[str, str] | None:
    """The first missing or mistyped column of ``spec`` in ``schema``: ``(column, reason)``."""
    missing = [
        column.name
        for column in spec.columns
        if not column.optional and schema.get_field_index(column.name) < 0
    ]
    if missing:
        return missing[0], f"missing column(s) {', '.join(map(repr, missing))} for {spec.kind}"
    for column in spec.columns:
        if schema.get_field_index(column.name) < 0:
            continue
        kind = schema.field(column.name).type
        if not _accepts(column, kind):
            return column.name, f"type {kind}, expected {_EXPECTED[column.type]}"
    return None


def check_schema(schema: pa.Schema, spec: KindSpec, file: str) -> None:
    """Raise :class:`DataError` naming the file and column if a column is missing or mistyped."""
    problem = schema_problem(schema, spec)
    if problem is not None:
        column, reason = problem
        raise DataError(f"{file}, column {column!r}: {reason} (the file has {schema_text(schema)})")


def schema_text(schema: pa.Schema) -> str:
    """``name: type`` of every column, for messages and records."""
    return ", ".join(f"{field.name}: {field.type}" for field in schema)


def text_columns(schema: pa.Schema, spec: KindSpec) -> list[str]:
    """Columns of ``spec`` stored as strings: read dictionary-encoded."""
    return [
        column.name
        for column in spec.columns
        if column.type in ("num", "str", "symbol")
        and schema.get_field_index(column.name) >= 0
        and _is_text(schema.field(column.name).type)
    ]


# --- conversions ------------------------------------------------------------------------

#: Bad-value codes of :func:`_numbers`.
_OK, _UNPARSED, _NONFINITE, _OFF_GRID = 0, 1, 2, 3


def _floats(values: pa.Array) -> tuple[npt.NDArray[np.float64], BoolArray | None]:
    """float64 values of a string or numeric array, and which strings are not numbers."""
    kind = values.type
    if not _is_text(kind):
        return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), None
    try:
        return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = np.full(len(values), np.nan)
    unparsed = np.zeros(len(values), dtype=np.bool_)
    for i, text in enumerate(values.to_pylist()):
        if text is None:
            continue
        try:
            if "_" in text:  # float() accepts "1_000"; a data file should not
                raise ValueError(text)
            out[i] = float(text)
        except ValueError:
            unparsed[i] = True
    return out, unparsed


def _convert(values: pa.Array, step: float | None) -> tuple[AnyArray, npt.NDArray[np.uint8]]:
    """Values as float64 (or int64 grid units when ``step`` is given) and a bad-value code."""
    floats, unparsed = _floats(values)
    code = np.zeros(len(floats), dtype=np.uint8)
    finite = np.isfinite(floats)
    if not finite.all():
        code[~finite] = _NONFINITE
        floats = np.where(finite, floats, 0.0)
    if unparsed is not None:
        code[unparsed] = _UNPARSED
    if step is None:
        return floats, code
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = floats / step
        units = np.rint(scaled)
        off = ~np.isfinite(scaled) | (np.abs(scaled - units) > GRID_TOLERANCE)
    if off.any():
        code[off & (code == _OK)] = _OFF_GRID
        units = np.where(off, 0.0, units)  # huge values: no int64 cast of inf
    return units.astype(np.int64), code


def _numbers(column: pa.ChunkedArray, step: float | None) -> tuple[AnyArray, AnyArray | None]:
    """A ``num`` column converted, and per-row bad codes (None when every row is fine).

    Dictionary chunks are converted on their dictionary, then gathered by index.
    """
    parts: list[AnyArray] = []
    codes: list[AnyArray] = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            values, code = _convert(chunk.dictionary, step)
            index = chunk.indices
            if index.null_count:
                index = index.fill_null(0)
            positions = index.to_numpy(zero_copy_only=False)
            parts.append(values[positions] if len(values) else np.zeros(len(chunk), values.dtype))
            codes.append(code[positions] if code.any() else np.zeros(len(chunk), np.uint8))
        else:
            values, code = _convert(chunk, step)
            parts.append(values)
            codes.append(code)
    if not parts:
        return np.zeros(0, dtype=np.int64 if step else np.float64), None
    values = parts[0] if len(parts) == 1 else np.concatenate(parts)
    code = codes[0] if len(codes) == 1 else np.concatenate(codes)
    return values, code if code.any() else None


def _labels(column: pa.ChunkedArray, values: tuple[str, ...]) -> npt.NDArray[np.int8]:
    """A ``str`` column as the index of each value in ``values`` (-1 for anything else)."""
    allowed = pa.array(values, type=pa.string())
    parts: list[npt.NDArray[np.int8]] = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            found = pc.index_in(chunk.dictionary.cast(pa.string()), value_set=allowed)
            table = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int8)
            index = chunk.indices.fill_null(0) if chunk.null_count else chunk.indices
            positions = index.to_numpy(zero_copy_only=False)
            parts.append(table[positions] if len(table) else np.full(len(chunk), -1, np.int8))
        else:
            found = pc.index_in(chunk.cast(pa.string()), value_set=allowed)
            parts.append(found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int8))
    if not parts:
        return np.zeros(0, dtype=np.int8)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _ints(column: pa.ChunkedArray) -> IntArray:
    if column.null_count:
        column = column.fill_null(0)
    return np.asarray(column.to_numpy(), dtype=np.int64)


def _bools(column: pa.ChunkedArray) -> BoolArray:
    if column.null_count:
        column = column.fill_null(False)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.bool_)


# --- row checks and reports ---------------------------------------------------------------


@dataclass
class Issue:
    """Rows (positions in the decoded table) that broke one rule."""

    mask: BoolArray
    column: str
    reason: str


def _steps(instrument: Instrument | None) -> dict[Grid, float]:
    if instrument is None:
        return {}
    return {"price": float(instrument.tick_size), "qty": float(instrument.lot_size)}


def _grid_text(grid: Grid, instrument: Instrument) -> str:
    if grid == "price":
        return f"off the price grid (tick {instrument.tick_size})"
    return f"off the size grid (lot {instrument.lot_size})"


def window_mask(times: IntArray, window: tuple[int, int] | None) -> BoolArray | None:
    """Rows whose millisecond time is in the inclusive ``window``; None when all are."""
    if window is None or not len(times):
        return None
    low, high = window
    if int(times.min()) >= low and int(times.max()) <= high:
        return None
    return np.asarray((times >= low) & (times <= high), dtype=np.bool_)


def decode_table(
    table: pa.Table,
    spec: KindSpec,
    instrument: Instrument | None,
    first_row: int = 0,
    window: tuple[int, int] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    day: tuple[int, int] | None = None,
    symbol: str | None = None,
) -> tuple[Frame, list[Issue], pa.Table]:
    """Convert the columns of ``spec`` and find the bad rows, vectorised.

    Rows whose ``time`` lies outside ``window`` (inclusive, in ms) are cut first; a row
    with a null time, or a time in the wrong unit or far from the file's ``day`` (ns
    bounds, when the file is named for one), is kept so that it is reported. Returns the
    frame (bad rows still in it), the issues in rule order, and the table cut to the same
    rows (for records). The value rules of ``limits`` follow the type and sign rules.
    """
    time_column = table.column(spec.time)
    times = _ints(time_column)
    time_flags = limits.times(times, spec.time, "ms", day)
    keep = window_mask(times, window)
    if keep is not None and time_column.null_count:
        keep |= time_column.is_null().to_numpy(zero_copy_only=False)
    if keep is not None:
        for flag in time_flags:
            keep |= flag.mask
    rows = np.arange(first_row, first_row + table.num_rows, dtype=np.int64)
    if keep is not None:
        table = table.filter(pa.array(keep))
        rows = rows[keep]
        times = times[keep]
        time_flags = [Flag(f.mask[keep], f.column, f.reason) for f in time_flags]
    steps = _steps(instrument)
    if symbol is None and instrument is not None:
        symbol = instrument.symbol
    cols: dict[str, AnyArray] = {}
    issues: list[Issue] = []
    for column in spec.columns:
        if column.optional and table.schema.get_field_index(column.name) < 0:
            cols[column.name] = np.zeros(
                len(rows), dtype=np.int8 if column.type == "str" else np.int64
            )
            continue
        data = table.column(column.name)
        if data.null_count:
            issues.append(Issue(data.is_null().to_numpy(zero_copy_only=False), column.name, "null"))
        if column.type == "symbol":
            other = _labels(data, (symbol,)) < 0 if symbol is not None else None
            if other is not None and other.any():
                issues.append(Issue(other, column.name, f"not {symbol!r}, the symbol read"))
        elif column.name == spec.time:
            cols[column.name] = times
        elif column.type == "int":
            cols[column.name] = _ints(data)
        elif column.type == "bool":
            cols[column.name] = _bools(data)
        elif column.type == "str":
            labels = _labels(data, column.values)
            cols[column.name] = labels
            unknown = labels < 0
            if unknown.any():
                allowed = " or ".join(map(repr, column.values))
                issues.append(Issue(unknown, column.name, f"not {allowed}"))
        else:
            step = steps.get(column.grid) if column.grid else None
            values, code = _numbers(data, step)
            cols[column.name] = values
            if code is not None:
                issues.append(Issue(code == _UNPARSED, column.name, "not a number"))
                issues.append(Issue(code == _NONFINITE, column.name, "NaN or infinite"))
                if column.grid and instrument is not None:
                    issues.append(
                        Issue(code == _OFF_GRID, column.name, _grid_text(column.grid, instrument))
                    )
            if column.rule == "positive":
                issues.append(Issue(values <= 0, column.name, "not positive"))
            elif column.rule == "nonneg":
                issues.append(Issue(values < 0, column.name, "negative"))
    flags = time_flags + _value_flags(spec, cols, limits, issues, len(rows))
    issues += [Issue(flag.mask, flag.column, flag.reason) for flag in flags]
    return Frame(cols, rows), [issue for issue in issues if issue.mask.any()], table


def _value_flags(
    spec: KindSpec, cols: dict[str, AnyArray], limits: Limits, issues: list[Issue], n: int
) -> list[Flag]:
    """The plausibility rules of one kind (:mod:`streamsim.feed.plausibility`), on rows that
    passed the type and sign rules so far."""
    ok = np.ones(n, dtype=np.bool_)
    for issue in issues:
        ok &= ~issue.mask
    flags = limits.times(cols["received_time"], "received_time", "ns")
    others = (spec.time, "received_time")
    for column in spec.columns:  # the other venue times (next_funding_time), in ms
        if column.type == "int" and column.name.endswith("_time") and column.name not in others:
            flags += [
                Flag(f.mask & ok, f.column, f.reason)
                for f in limits.times(cols[column.name], column.name, "ms")
            ]
    if spec.kind != "open_interest":  # published long after its bucket: no clock rule
        flags += limits.clock(cols[spec.time] * MS, cols["received_time"], "received_time")
    if spec.kind == "mark_price":
        flags += limits.funding(cols["funding_rate"])
        flags += limits.prices(np.where(ok, cols["mark_price"], np.nan), "mark_price")[0]
    elif spec.kind == "trades":
        flags += limits.prices(np.where(ok, cols["price"], np.nan), "price")[0]
    elif spec.kind == "depth":
        price = np.where(ok, cols["price"], -1)
        flags += limits.levels(np.where(ok, price, np.nan), "price")[0]
        far = beyond_book(price, "price")
        flags.append(Flag(far.mask & ok, far.column, far.reason))
    return flags


def first_issue_rows(issues: Sequence[Issue], n: int) -> tuple[BoolArray, npt.NDArray[np.int16]]:
    """Which rows are bad, and for each the index of the first issue it broke (-1 if none)."""
    which = np.full(n, -1, dtype=np.int16)
    for i in range(len(issues) - 1, -1, -1):
        which[issues[i].mask] = i
    return which >= 0, which


def _fail_reason(
    ingest: Ingest, reason: str, records: Sequence[Mapping[str, Any]], column: str
) -> str:
    """Under the fail policy the one error raised also shows the offending value."""
    if ingest.policy == "fail" and records and column in records[0]:
        return f"{reason} ({records[0][column]!r})"
    return reason


def report(
    ingest: Ingest,
    file: str,
    groups: Iterable[tuple[str, str, IntArray, list[dict[str, Any]]]],
) -> None:
    """Report ``(column, reason, file rows, records)`` groups in the order of their first row."""
    for column, reason, rows, records in sorted(groups, key=lambda g: int(g[2][0])):
        ingest.bad(
            file, rows.tolist(), column, _fail_reason(ingest, reason, records, column), records
        )


def report_rows(
    ingest: Ingest,
    file: str,
    issues: Sequence[Issue],
    which: npt.NDArray[np.int16],
    positions: IntArray,
    frame: Frame,
    table: pa.Table,
) -> None:
    """Report the rows at ``positions``, each under the first issue it broke."""
    if not len(positions):
        return
    records = table.take(pa.array(positions)).to_pylist()
    groups: dict[int, tuple[list[int], list[dict[str, Any]]]] = {}
    for position, record in zip(positions.tolist(), records, strict=True):
        rows, recs = groups.setdefault(int(which[position]), ([], []))
        rows.append(int(frame.rows[position]))
        recs.append(record)
    report(
        ingest,
        file,
        (
            (issues[i].column, issues[i].reason, np.asarray(rows, dtype=np.int64), recs)
            for i, (rows, recs) in groups.items()
        ),
    )


def duplicates(values: IntArray, previous: IntArray | None) -> BoolArray | None:
    """Rows whose value appeared earlier in ``values`` or in ``previous`` (sorted); None if none.

    The first occurrence is kept: only later ones are flagged.
    """
    n = len(values)
    if not n:
        return None
    steps = np.diff(values)
    dup = np.zeros(n, dtype=np.bool_)
    if not (steps > 0).all():
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        dup[order[1:][ordered[1:] == ordered[:-1]]] = True
    if previous is not None and len(previous):
        low, high = int(values.min()), int(values.max())
        if low <= int(previous[-1]) and high >= int(previous[0]):
            at = np.searchsorted(previous, values)
            hit = at < len(previous)
            hit[hit] = previous[at[hit]] == values[hit]
            dup |= hit
    return dup if dup.any() else None


# --- batches of the row kinds -------------------------------------------------------------


def _sides(labels: AnyArray) -> npt.NDArray[np.int8]:
    """Label 0 (``BUY``) -> +1, 1 (``SELL``) -> -1."""
    return np.where(labels == 0, 1, -1).astype(np.int8)


def row_batch(spec: KindSpec, symbol: str, frame: Frame) -> Batch:
    """The batch of a row kind (every kind but depth) from a checked, ordered frame."""
    c = frame.cols
    recv = c["received_time"]
    if spec.kind == "trades":
        return TradeBatch(
            symbol,
            c["trade_time"] * MS,
            recv,
            c["price"],
            c["quantity"],
            np.where(c["is_buyer_maker"], -1, 1).astype(np.int8),
            c["trade_id"],
        )
    if spec.kind == "mark_price":
        return MarkPriceBatch(
            symbol,
            c["event_time"] * MS,
            recv,
            c["mark_price"],
            c["index_price"],
            c["estimated_settle_price"],
            c["funding_rate"],
            c["next_funding_time"] * MS,
        )
    if spec.kind == "open_interest":
        return OpenInterestBatch(
            symbol,
            c["timestamp"] * MS,
            recv,
            c["sum_open_interest"],
            c["sum_open_interest_value"],
        )
    if spec.kind == "ticker":
        return TickerBatch(
            symbol,
            c["event_time"] * MS,
            recv,
            c["last_price"],
            c["open_price"],
            c["high_price"],
            c["low_price"],
            c["base_asset_volume"],
            c["quote_asset_volume"],
        )
    if spec.kind == "liquidations":
        return LiquidationBatch(
            symbol,
            c["event_time"] * MS,
            recv,
            _sides(c["side"]),
            c["price"],
            c["quantity"],
            c["average_price"],
        )
    raise ValueError(f"no row batch for kind {spec.kind!r}")


def frame_record(
    frame: Frame, position: int, spec: KindSpec, instrument: Instrument | None
) -> dict[str, Any]:
    """One row of a frame as a record, grid units shown as decimal strings, labels as text.

    The symbol column is left out: a frame holds only rows of the symbol read.
    """
    out: dict[str, Any] = {}
    for column in spec.columns:
        if column.type == "symbol":
            continue
        value = frame.cols[column.name][position].item()
        if column.grid and instrument is not None:
            step = instrument.tick_size if column.grid == "price" else instrument.lot_size
            value = str(value * step)
        elif column.type == "str":
            value = column.values[value] if 0 <= value < len(column.values) else None
        out[column.name] = value
    return out
