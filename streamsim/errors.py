"""Exceptions raised by streamsim, each carrying the context a user needs to act on it."""

from __future__ import annotations


class StreamsimError(Exception):
    """Base class of every error streamsim raises on purpose."""


class DataError(StreamsimError):
    """Input data breaks a rule the simulation depends on (order, grid, schema)."""


class OutOfOrderError(DataError):
    """A stream's ``ts_exchange`` went backwards."""

    def __init__(self, stream: str, row: int, previous: int, current: int) -> None:
        super().__init__(
            f"stream {stream!r}: ts_exchange goes backwards at row {row}: "
            f"{current} ns after {previous} ns (by {previous - current} ns); "
            "sort the source, or pass out_of_order='clamp' (run.out_of_order in a run "
            "config) to clamp and count such rows"
        )
        self.stream = stream
        self.row = row
        self.previous = previous
        self.current = current


class SourceError(StreamsimError):
    """A source raised while the run was reading it."""

    def __init__(self, stream: str, last_ts: int | None, cause: BaseException) -> None:
        where = "before its first batch" if last_ts is None else f"after ts_exchange {last_ts} ns"
        super().__init__(f"source of stream {stream!r} failed {where}: {cause!r}")
        self.stream = stream
        self.last_ts = last_ts


class StrategyError(StreamsimError):
    """A strategy callback or a task it spawned raised."""

    def __init__(self, strategy: str, during: str, now: int, cause: BaseException) -> None:
        super().__init__(
            f"strategy {strategy!r} raised in {during} at clock time {now} ns: {cause!r}"
        )
        self.strategy = strategy
        self.during = during
        self.now = now


class ConfigError(StreamsimError):
    """A run was configured in a way that cannot work."""


class ArtifactError(StreamsimError):
    """An artifacts directory cannot be written where asked, or does not match its manifest.

    ``path`` is the directory (or file) concerned, ``message`` what is wrong with it, and
    ``problems``, for a directory that does not verify, one line per file that differs, is
    missing or is not in the manifest (each starting with the file's name).
    """

    def __init__(self, path: str, message: str, problems: tuple[str, ...] = ()) -> None:
        listed = ": " + "; ".join(problems) if problems else ""
        super().__init__(f"{path}: {message}{listed}")
        self.path = path
        self.message = message
        self.problems = problems
