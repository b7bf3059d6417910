"""``streamsim run --window START/END`` and ``--days N``: the data window in one flag."""

from __future__ import annotations

import math
from collections.abc import Sequence

from adapters.cli.config import CliError, parse_time
from streamsim.config import RunConfig, parse_override
from streamsim.units import DAY


def window_overrides(window: str | None, days: float | None, overrides: Sequence[str]) -> list[str]:
    """The ``--set`` overrides ``--window START/END`` stands for (``data.start``,
    ``data.end``, both inclusive); a window that also comes from ``--set`` or ``--days``
    is refused, so no flag silently wins over another."""
    if window is None:
        if days is not None:
            _refuse_set("--days", overrides, ("end",))
        return []
    if days is not None:
        raise CliError("--window and --days both set the window; give one of them")
    _refuse_set("--window", overrides, ("start", "end"))
    first, sep, last = window.partition("/")
    if not sep or not first.strip() or not last.strip():
        raise CliError(f"--window expects START/END (ISO-8601 times), got {window!r}")
    start = parse_time(first.strip(), "--window START")
    end = parse_time(last.strip(), "--window END")
    if end <= start:
        raise CliError(f"--window: END ({last.strip()}) is not after START ({first.strip()})")
    return [f"data.start={start}", f"data.end={end}"]


def with_days(config: RunConfig, days: float | None) -> RunConfig:
    """``config`` with ``data.end`` set ``days`` days after its ``data.start`` (the end
    inclusive: the last ns before the next day)."""
    if days is None:
        return config
    if not math.isfinite(days) or days <= 0:
        raise CliError(f"--days: a number of days > 0, got {days:g}")
    start = config.data.start
    if start is None:
        raise CliError(
            "--days counts from data.start, which the config does not set: add it (or "
            "--set data.start=2025-07-01T00:00:00Z), or give --window START/END"
        )
    return config.with_overrides([f"data.end={start + round(days * DAY) - 1}"])


def _refuse_set(flag: str, overrides: Sequence[str], keys: Sequence[str]) -> None:
    for text in overrides:
        path, value = parse_override(text)
        table = value if path == ["data"] and isinstance(value, dict) else {}
        for key in keys:
            if path == ["data", key] or key in table:
                raise CliError(f"{flag} and --set {text} both set data.{key}; give one of them")
