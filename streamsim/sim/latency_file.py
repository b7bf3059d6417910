"""A recorded order latency series read from a file: :func:`read_latency_file`.

The file is Parquet (``.parquet``, ``.pq``) or CSV (any other name, gzip allowed), with
one row per measurement and the columns ``time`` (when it was measured: int ns since the
epoch UTC, or a timestamp or ISO-8601 string with a time zone), ``entry`` (the order's
delay to the venue) and optionally ``response`` (the venue's answer back; ``entry`` when
absent), each in int ns or as a duration. Rows are sorted by time as given: times going
backwards are refused.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..errors import ConfigError, DataError
from ..units import utc_ns
from .latency import RecordedLatency

#: The columns a latency file holds (``response`` may be left out).
COLUMNS = ("time", "entry", "response")


def read_latency_file(path: str | Path, key: str = "latency.file") -> RecordedLatency:
    """The :class:`RecordedLatency` of the file at ``path`` (``key`` names it in errors)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{key}: no such file: {file}")
    where = f"{key} {file}"
    try:
        if file.suffix.lower() in (".parquet", ".pq"):
            table = pq.read_table(file)
        else:
            table = pa_csv.read_csv(file)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{where}: not a readable CSV or Parquet file: {error}") from error
    missing = [name for name in COLUMNS[:2] if name not in table.column_names]
    if missing:
        raise DataError(
            f"{where}: no column {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(table.column_names)}; expected time, entry[, response])"
        )
    if table.num_rows == 0:
        raise DataError(f"{where}: no rows")
    csv = file.suffix.lower() not in (".parquet", ".pq")
    times = _times(table.column("time"), where, csv)
    back = next((i for i in range(1, len(times)) if times[i] < times[i - 1]), None)
    if back is not None:
        raise DataError(
            f"{where}: column 'time', {_row(back, csv)}: the time goes back "
            f"({times[back]} after {times[back - 1]}); times must be non-decreasing"
        )
    entry = _durations(table.column("entry"), where, "entry", csv)
    response = None
    if "response" in table.column_names:
        response = _durations(table.column("response"), where, "response", csv)
    try:
        return RecordedLatency(times, entry, response)
    except ConfigError as error:
        raise DataError(f"{where}: {error}") from error


def _row(index: int, csv: bool) -> str:
    """Row ``index`` (0-based) as a reader finds it: its row number, and in a CSV its line."""
    return f"row {index + 1} (line {index + 2})" if csv else f"row {index + 1}"


def _no_nulls(column: pa.ChunkedArray, where: str, csv: bool) -> None:
    if column.null_count:
        first = int(pc.index(pc.is_null(column), True).as_py())
        raise DataError(
            f"{where}, {_row(first, csv)}: empty value ({column.null_count} in the column)"
        )


def _times(column: pa.ChunkedArray, where: str, csv: bool) -> list[int]:
    where = f"{where}: column 'time'"
    _no_nulls(column, where, csv)
    kind = column.type
    if pa.types.is_integer(kind):
        return [int(v) for v in column.to_pylist()]
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            raise DataError(
                f"{where}: a time without a time zone is ambiguous: give times with Z (UTC) "
                "or an offset such as +02:00"
            )
        as_ns = pc.cast(column, pa.timestamp("ns", kind.tz)).cast(pa.int64())
        return [int(v) for v in as_ns.to_pylist()]
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return [_iso(text, f"{where}, {_row(i, csv)}") for i, text in enumerate(column.to_pylist())]
    raise DataError(f"{where}: expected int ns, timestamps or ISO-8601 strings, got {kind}")


def _iso(text: str, where: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise DataError(f"{where}: not an ISO-8601 time: {text!r}") from error
    try:
        return utc_ns(moment)
    except ValueError as error:
        raise DataError(f"{where}: {text!r}: {error}") from None


def _durations(column: pa.ChunkedArray, where: str, name: str, csv: bool) -> list[int]:
    where = f"{where}: column {name!r}"
    _no_nulls(column, where, csv)
    kind = column.type
    if pa.types.is_duration(kind):
        column = pc.cast(column, pa.duration("ns")).cast(pa.int64())
    elif pa.types.is_floating(kind):
        values = column.to_pylist()
        first = next((i for i, v in enumerate(values) if v % 1), 0)
        raise DataError(
            f"{where}, {_row(first, csv)}: {values[first]!r} is not a whole number of ns"
        )
    elif not pa.types.is_integer(kind):
        raise DataError(f"{where}: expected int ns or durations, got {kind}")
    values = [int(v) for v in column.to_pylist()]
    negative = next((i for i, v in enumerate(values) if v < 0), None)
    if negative is not None:
        raise DataError(
            f"{where}, {_row(negative, csv)}: {values[negative]} ns; latencies must be >= 0"
        )
    return values
