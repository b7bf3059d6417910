"""Reading one Tardis CSV file (gzip or plain) in blocks of string columns, rows numbered.

``pyarrow.csv.open_csv`` streams the file a block at a time. Every column is read as a
string (see :mod:`.parse`), so a bad value is one bad row, not a failed block. Rows with
the wrong number of fields are taken out by the CSV reader itself; they are located in
the file (a line scan, only when there are any) so that every row keeps its true data-row
number. Data rows are numbered from 0, the header excluded: row ``n`` is line ``n + 2``.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .parse import IntArray

_GZIP_MAGIC = b"\x1f\x8b"
#: Errors of a damaged or cut compressed stream, from Python's gzip or Arrow's reader.
_STREAM_ERRORS = (OSError, EOFError, zlib.error)


class FileProblem(Exception):
    """The file cannot be read (at all, or past ``row``): one report, never one per row."""

    def __init__(
        self,
        reason: str,
        row: int = -1,
        column: str | None = None,
        record: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row
        self.column = column
        self.record = record or {}


@dataclass(frozen=True)
class MalformedRow:
    """A line with the wrong number of fields (the CSV reader skipped it)."""

    row: int
    text: str
    fields: int
    expected: int


@dataclass(frozen=True, eq=False)
class Block:
    """Consecutive data rows: string columns, their data-row numbers, and the malformed
    rows located since the previous block."""

    table: pa.Table
    rows: IntArray
    malformed: list[MalformedRow] = field(default_factory=list)


def is_gzip(path: Path) -> bool:
    """True if the file starts with the gzip magic number (whatever its name)."""
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


class _Locator:
    """Finds malformed lines' data-row numbers by scanning the file once, front to back."""

    def __init__(self, path: Path, gz: bool) -> None:
        self._path = path
        self._gz = gz
        self._handle: io.BufferedIOBase | None = None
        self._row = -1

    def find(self, text: str) -> int:
        """Row number of the next line equal to ``text`` (or the row reached at the end)."""
        handle = self._handle
        if handle is None:
            # Kept open across calls (closed by close()): the scan resumes where it stopped.
            opened: io.BufferedIOBase = (
                gzip.GzipFile(self._path, "rb") if self._gz else self._path.open("rb")
            )
            opened.readline()  # the header
            self._handle = handle = opened
        wanted = text.encode()
        try:
            for line in handle:
                self._row += 1
                if line.rstrip(b"\r\n") == wanted:
                    return self._row
        except _STREAM_ERRORS:
            pass  # the main reader reports the damage
        return self._row

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class CsvFile:
    """One Tardis CSV file read in blocks of ``block_size`` bytes, keeping ``columns``."""

    def __init__(self, path: Path, columns: Sequence[str], block_size: int) -> None:
        self.path = path
        self.name = str(path)
        self.columns = tuple(columns)
        self.block_size = block_size
        self.header: list[str] = []
        self._gz = False
        self._pending: list[tuple[str, int, int]] = []
        self._held: list[MalformedRow] = []

    def _read_header(self) -> list[str]:
        try:
            self._gz = is_gzip(self.path)
            opener = gzip.open if self._gz else open
            with opener(self.path, "rb") as handle:
                line = handle.readline()
        except _STREAM_ERRORS as exc:
            raise FileProblem(f"cannot read the header: truncated or corrupt gzip ({exc})") from exc
        text = line.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
        if not text.strip():
            raise FileProblem("empty file (no header)")
        names = text.split(",")
        missing = [name for name in self.columns if name not in names]
        if missing:
            raise FileProblem(
                f"missing column(s) {', '.join(missing)}",
                column=missing[0],
                record={"header": names},
            )
        return names

    def _on_invalid(self, row: Any) -> str:
        self._pending.append((str(row.text), int(row.actual_columns), int(row.expected_columns)))
        return "skip"

    def blocks(self) -> Iterator[Block]:
        """The file's data rows in blocks; raises :class:`FileProblem` when it cannot go on."""
        self.header = self._read_header()
        locator = _Locator(self.path, self._gz)
        try:
            yield from self._blocks(locator)
        finally:
            locator.close()

    def _blocks(self, locator: _Locator) -> Iterator[Block]:
        skipped: list[int] = []  # data rows of malformed lines, ascending
        kept = 0  # well-formed rows delivered so far
        try:
            reader = pacsv.open_csv(
                pa.input_stream(self.name, compression="gzip" if self._gz else None),
                read_options=pacsv.ReadOptions(
                    column_names=self.header, skip_rows=1, block_size=self.block_size
                ),
                parse_options=pacsv.ParseOptions(
                    invalid_row_handler=self._on_invalid, ignore_empty_lines=False
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in self.header},
                    include_columns=list(self.columns),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                malformed = self._locate(locator, skipped)
                n = batch.num_rows
                index = np.arange(kept, kept + n, dtype=np.int64)
                shift = np.asarray(skipped, dtype=np.int64) - np.arange(len(skipped))
                rows = index + np.searchsorted(shift, index, side="right")
                kept += n
                last = int(rows[-1]) if n else -1
                self._held = [m for m in malformed if m.row > last]
                ready = [m for m in malformed if m.row <= last]
                yield Block(pa.Table.from_batches([batch]), rows, ready)
        except _STREAM_ERRORS as exc:
            row = kept + len(skipped)
            raise FileProblem(
                f"truncated or corrupt gzip data: rows from {row} on cannot be read ({exc})", row
            ) from exc
        except pa.ArrowInvalid as exc:
            row = kept + len(skipped)
            raise FileProblem(f"CSV parse error after row {row - 1} ({exc})", row) from exc
        rest = self._locate(locator, skipped)
        if rest:
            yield Block(self._empty(), np.empty(0, dtype=np.int64), rest)
        if not kept and not skipped:
            raise FileProblem("empty file (no data rows)")

    def _locate(self, locator: _Locator, skipped: list[int]) -> list[MalformedRow]:
        """Malformed rows seen by the reader but not yet given out, with their row numbers."""
        found = self._held
        self._held = []
        pending, self._pending = self._pending, []
        for text, fields, expected in pending:
            row = locator.find(text)
            skipped.append(row)
            found.append(MalformedRow(row, text, fields, expected))
        return found

    def _empty(self) -> pa.Table:
        return pa.table({name: pa.array([], pa.string()) for name in self.columns})
