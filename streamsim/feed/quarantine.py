"""Strict ingestion: bad input either fails with its file, row and column, or is quarantined.

Adapters report every bad row or message through an :class:`Ingest`. With the ``fail``
policy (the default) the first one raises :class:`~streamsim.errors.DataError`; with
``quarantine`` it is skipped, written to a JSONL file with its reason, and counted.
Nothing is skipped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson

from ..errors import ConfigError, DataError

Policy = Literal["fail", "quarantine"]


class QuarantineCounts:
    """Counts of skipped input per ``(stream, reason)``: what a run's report needs.

    :class:`Quarantine` adds the JSONL file; a replayed compiled store carries only the
    counts recorded when it was compiled.
    """

    def __init__(self, counts: Counter[tuple[str, str]] | None = None) -> None:
        self.counts: Counter[tuple[str, str]] = Counter() if counts is None else counts

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts per stream and reason (JSON-ready)."""
        out: dict[str, dict[str, int]] = {}
        for (stream, reason), count in sorted(self.counts.items()):
            out.setdefault(stream, {})[reason] = count
        return out


class Quarantine(QuarantineCounts):
    """A JSONL file of skipped input, one object per row or message, with counts."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")

    def write(
        self,
        stream: str,
        file: str,
        row: int,
        column: str | None,
        reason: str,
        record: Mapping[str, Any],
    ) -> None:
        """Append one skipped item and count it under ``(stream, reason)``."""
        line = {
            "stream": stream,
            "file": file,
            "row": row,
            "column": column,
            "reason": reason,
            "record": dict(record),
        }
        self._file.write(orjson.dumps(line, default=str, option=orjson.OPT_SORT_KEYS) + b"\n")
        self.counts[(stream, reason)] += 1

    def close(self) -> None:
        self._file.close()


class Ingest:
    """The policy an adapter applies to bad input of one stream."""

    def __init__(self, stream: str, policy: Policy = "fail", quarantine: Quarantine | None = None):
        if policy not in ("fail", "quarantine"):
            raise ConfigError(f"policy must be 'fail' or 'quarantine', got {policy!r}")
        if policy == "quarantine" and quarantine is None:
            raise ConfigError("the quarantine policy needs a Quarantine (a JSONL path)")
        self.stream = stream
        self.policy = policy
        self.quarantine = quarantine

    def bad(
        self,
        file: str,
        rows: Sequence[int],
        column: str | None,
        reason: str,
        records: Sequence[Mapping[str, Any]],
        unit: str = "row",
    ) -> None:
        """Report bad ``rows`` of ``file`` (0-based data rows): raise, or quarantine them all.

        ``unit`` names what ``rows`` count in the error (``"line"`` for text formats whose
        lines are numbered from 1).
        """
        if not rows:
            return
        if self.policy == "fail" or self.quarantine is None:
            where = f"{file}, {unit} {rows[0]}" + (f", column {column!r}" if column else "")
            more = f" (and {len(rows) - 1} more {unit}s)" if len(rows) > 1 else ""
            raise DataError(
                f"{where}: {reason}{more}; pass policy='quarantine' (data.policy in a run "
                "config) to skip and record such rows"
            )
        for row, record in zip(rows, records, strict=True):
            self.quarantine.write(self.stream, file, row, column, reason, record)
