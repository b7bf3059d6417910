"""Where Tardis CSV files live: the canonical tree, the download tool's names, or a path.

* canonical: ``{root}/{exchange}/{data_type}/{YYYY-MM-DD}/{symbol}.csv.gz``
* the ``tardis-dev`` download tool: ``{root}/{exchange}_{data_type}_{YYYY-MM-DD}_{symbol}.csv.gz``
  (symbols with ``/`` or ``:`` have them replaced by ``-``)

Uncompressed ``.csv`` files are accepted under the same names.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from streamsim.errors import ConfigError, DataError
from streamsim.path_parts import check_path_part, path_part_problem

PathLike = str | os.PathLike[str]
DateLike = str | dt.date

#: The data types this adapter reads (``book_snapshot_N`` for any N; 25 and 5 are Tardis').
DATA_TYPES = (
    "incremental_book_L2",
    "trades",
    "derivative_ticker",
    "book_snapshot_25",
    "book_snapshot_5",
    "liquidations",
)
_SNAPSHOT = re.compile(r"^book_snapshot_([1-9][0-9]*)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_data_type(data_type: str) -> str:
    """``data_type`` if this adapter reads it, else :class:`ConfigError`."""
    if data_type in DATA_TYPES or _SNAPSHOT.match(data_type):
        return data_type
    raise ConfigError(f"unknown Tardis data type {data_type!r}; known: {', '.join(DATA_TYPES)}")


def snapshot_levels(data_type: str) -> int | None:
    """N of ``book_snapshot_N``, None for other data types."""
    match = _SNAPSHOT.match(data_type)
    return int(match.group(1)) if match else None


def format_date(date: DateLike) -> str:
    """``YYYY-MM-DD`` of a date or a date string (checked)."""
    if isinstance(date, dt.datetime):
        date = date.date()
    if isinstance(date, dt.date):
        return date.isoformat()
    if not _DATE.match(date):
        raise ConfigError(f"date {date!r} is not YYYY-MM-DD")
    try:
        dt.date.fromisoformat(date)
    except ValueError as exc:
        raise ConfigError(f"date {date!r} is not a valid date") from exc
    return date


def _nested_ok(symbol: str) -> bool:
    return all(path_part_problem(part) is None for part in symbol.split("/"))


def candidates(
    root: PathLike, exchange: str, data_type: str, date: DateLike, symbol: str
) -> list[Path]:
    """The paths a file may have, in the order they are tried."""
    base = Path(root)
    day = format_date(date)
    check_path_part(exchange, "exchange")
    check_path_part(data_type, "data_type")
    safe = check_path_part(symbol.replace("/", "-").replace(":", "-"), "symbol")
    # A symbol with '/' (BTC/USDT) is tried as written only as a subdirectory of the day,
    # never with a part that leaves the root.
    names = [symbol] if symbol == safe or _nested_ok(symbol) else []
    if safe != symbol:
        names.append(safe)
    out: list[Path] = []
    for suffix in (".csv.gz", ".csv"):
        for name in names:
            out.append(base / exchange / data_type / day / f"{name}{suffix}")
            out.append(base / f"{exchange}_{data_type}_{day}_{name}{suffix}")
    return out


def find_file(root: PathLike, exchange: str, data_type: str, date: DateLike, symbol: str) -> Path:
    """The file of one day of one data type, or :class:`DataError` naming the paths tried."""
    tried = candidates(root, exchange, data_type, date, symbol)
    for path in tried:
        if path.is_file():
            return path
    listed = ", ".join(str(p) for p in tried[:2])
    raise DataError(
        f"no Tardis {data_type} file for {exchange} {symbol} {format_date(date)}: "
        f"looked for {listed} (and .csv)"
    )


def find_files(
    root: PathLike, exchange: str, data_type: str, dates: Iterable[DateLike], symbol: str
) -> list[Path]:
    """The files of ``dates`` (sorted, duplicates dropped), one per day."""
    days = sorted({format_date(d) for d in dates})
    if not days:
        raise ConfigError("no dates given")
    return [find_file(root, exchange, data_type, day, symbol) for day in days]


def infer_data_type(path: PathLike) -> str | None:
    """The data type a file's path names (canonical tree or download-tool name), if any."""
    p = Path(path)
    parts = p.parts
    if len(parts) >= 3 and _known(parts[-3]):
        return parts[-3]
    pieces = p.name.split("_")
    # {exchange}_{data_type}_{date}_{symbol}: the data type itself may contain "_".
    for i, piece in enumerate(pieces):
        if _DATE.match(piece):
            guess = "_".join(pieces[1:i])
            return guess if _known(guess) else None
    return None


def _known(data_type: str) -> bool:
    return data_type in DATA_TYPES or bool(_SNAPSHOT.match(data_type))


def as_paths(value: PathLike | Sequence[PathLike]) -> list[Path]:
    """One path or a sequence of paths, as a list."""
    if isinstance(value, str | os.PathLike):
        return [Path(value)]
    return [Path(v) for v in value]
