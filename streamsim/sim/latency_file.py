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
    times = _times(table.column("time"), where)
    entry = _durations(table.column("entry"), f"{where}: column 'entry'")
    response = None
    if "response" in table.column_names:
        response = _durations(table.column("response"), f"{where}: column 'response'")
    try:
        return RecordedLatency(times, entry, response)
    except ConfigError as error:
        raise DataError(f"{where}: {error}") from error


def _no_nulls(column: pa.ChunkedArray, where: str) -> None:
    if column.null_count:
        raise DataError(f"{where}: {column.null_count} empty value(s)")


def _times(column: pa.ChunkedArray, where: str) -> list[int]:
    where = f"{where}: column 'time'"
    _no_nulls(column, where)
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
        return [_iso(text, where) for text in column.to_pylist()]
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


def _durations(column: pa.ChunkedArray, where: str) -> list[int]:
    _no_nulls(column, where)
    kind = column.type
    if pa.types.is_duration(kind):
        column = pc.cast(column, pa.duration("ns")).cast(pa.int64())
    elif not pa.types.is_integer(kind):
        raise DataError(f"{where}: expected int ns or durations, got {kind}")
    return [int(v) for v in column.to_pylist()]
