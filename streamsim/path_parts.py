"""Names that become one part of a data path or object key (exchange, symbol, store names).

A part taken from a config, the command line or a data file is joined under a data root
(``{root}/orderbook/{exchange}/{symbol}/...``) or an S3 prefix. One that is ``..``, holds
a separator or a NUL, or is absolute would read or write outside that root, so it is
refused with a :class:`~streamsim.errors.ConfigError` naming the key; relative keys built
from checked parts are checked again by the stores (:func:`check_relative_key`).
"""

from __future__ import annotations

from .errors import ConfigError, StreamsimError

#: Characters no path part may hold: separators (POSIX, Windows) and NUL.
FORBIDDEN = ("/", "\\", "\0")
ALLOWED = "a non-empty name without '/', '\\', NUL or control characters, not '.' or '..'"


def path_part_problem(value: object) -> str | None:
    """Why ``value`` cannot be one path part, or None if it can."""
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if not value:
        return "empty"
    if value in (".", ".."):
        return f"{value!r} names a directory, not a name under the data root"
    if any(c in value for c in FORBIDDEN):
        return "holds a path separator or NUL"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "holds a control character"
    if value != value.strip():
        return "has leading or trailing whitespace"
    return None


def check_path_part(value: object, key: str, error: type[StreamsimError] = ConfigError) -> str:
    """``value`` if it is safe as one path part, else ``error`` (default ConfigError)
    naming ``key`` and what is allowed."""
    problem = path_part_problem(value)
    if problem is not None:
        raise error(
            f"{key}: {value!r} cannot be part of a data path ({problem}); allowed: {ALLOWED}"
        )
    assert isinstance(value, str)
    return value


def check_relative_key(key: str, what: str = "key") -> str:
    """``key`` if it is a relative ``/``-separated key whose every part is safe."""
    if not isinstance(key, str) or not key or key.startswith("/"):
        raise ConfigError(f"{what}: {key!r} is not a relative key under the data root")
    for part in key.split("/"):
        problem = path_part_problem(part)
        if problem is not None:
            raise ConfigError(
                f"{what}: {key!r} would leave the data root (part {part!r}: {problem})"
            )
    return key
