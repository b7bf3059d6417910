"""Shared CLI pieces: exit codes, :class:`CliError`, and ISO-8601 time parsing and
formatting. The run config itself is :class:`streamsim.config.RunConfig`."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from streamsim.config import Adapter, Mode
from streamsim.units import utc_ns

#: Exit codes (130: stopped by Ctrl-C, as a shell reports SIGINT; 70: a bug in streamsim,
#: ``EX_SOFTWARE`` of sysexits.h).
OK, PROBLEMS, USAGE, INTERRUPTED, INTERNAL = 0, 1, 2, 130, 70

ADAPTERS: tuple[str, ...] = typing.get_args(Adapter)
MODES: tuple[str, ...] = typing.get_args(Mode)
DEFAULT_KINDS = ("depth", "trades", "mark_price", "open_interest")


class CliError(Exception):
    """A usage or configuration error: printed, exit code 2."""


class Interrupted(Exception):
    """Ctrl-C arrived while the CLI was doing ``what``: one line, exit code 130."""

    def __init__(self, what: str) -> None:
        super().__init__(f"interrupted (Ctrl-C) while {what}")
        self.what = what


@contextmanager
def stage(what: str) -> Iterator[None]:
    """Name what the CLI is doing, so a Ctrl-C during it says so (:class:`Interrupted`)."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(what) from None


def parse_time(value: str, key: str) -> int:
    """An ISO-8601 time with ``Z`` or an offset as int ns UTC; one without is refused (it
    could be UTC or local time), as in the run config."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise CliError(f"{key}: not an ISO-8601 time: {value!r}") from error
    try:
        return utc_ns(parsed)
    except ValueError as error:
        raise CliError(f"{key}: {error}") from None


def format_time(ns: int) -> str:
    """Int ns UTC as ISO-8601 with milliseconds."""
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000 // 1_000_000:03d}Z"


def _resolve(path: str, base: Path) -> Path:
    """``path`` relative to ``base`` (the config's directory) when it exists there."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute() and (base / candidate).exists():
        return base / candidate
    return candidate
