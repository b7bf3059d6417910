"""Shared CLI pieces: exit codes, :class:`CliError`, the config schema and its loading,
overriding and validation, and ISO-8601 time parsing and formatting."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Exit codes.
OK, PROBLEMS, USAGE = 0, 1, 2

ADAPTERS = ("cryptohftdata", "sample", "store")
MODES = ("backtest", "paper-replay")
DEFAULT_KINDS = ("depth", "trades", "mark_price", "open_interest")

#: Allowed config sections and keys, with the Python types each accepts.
SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "data": {
        "adapter": (str,),
        "root": (str,),
        "exchange": (str,),
        "symbols": (list,),
        "kinds": (list,),
        "start": (str,),
        "end": (str,),
    },
    "strategy": {"class": (str,), "params": (dict,)},
    "broker": {
        "maker_fee": (float, int),
        "taker_fee": (float, int),
        "initial_balance": (float, int),
        "leverage": (int,),
        "latency_ms": (float, int),
    },
    "run": {"mode": (str,), "speed": (float, int), "seed": (int,)},
}
_TYPE_NAMES = {str: "string", list: "array", dict: "table", float: "float", int: "integer"}


class CliError(Exception):
    """A usage or configuration error: printed, exit code 2."""


def parse_time(value: str, key: str) -> int:
    """An ISO-8601 time (``Z`` or an offset; naive means UTC) as int ns UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise CliError(f"{key}: not an ISO-8601 time: {value!r}") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * 1_000_000_000 + parsed.microsecond * 1_000


def format_time(ns: int) -> str:
    """Int ns UTC as ISO-8601 with milliseconds."""
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000 // 1_000_000:03d}Z"


def _type_name(value: Any) -> str:
    return (
        "boolean" if isinstance(value, bool) else _TYPE_NAMES.get(type(value), type(value).__name__)
    )


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` -> (path, value); the value is a TOML scalar, else a string."""
    key, sep, raw = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise CliError(f"--set expects section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as paper-replay
    return path, value


def apply_overrides(config: dict[str, Any], overrides: Sequence[str]) -> None:
    """Apply ``--set`` overrides in place (nested tables are created as needed)."""
    for text in overrides:
        path, value = parse_override(text)
        node = config
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise CliError(f"--set {text}: {part} is not a table")
            node = child
        node[path[-1]] = value


def validate_config(config: Mapping[str, Any]) -> None:
    """Strict check of sections, keys and types; raises :class:`CliError`."""
    for section, body in config.items():
        if section not in SCHEMA:
            raise CliError(f"unknown section [{section}]; allowed sections: {', '.join(SCHEMA)}")
        if not isinstance(body, dict):
            raise CliError(f"[{section}] must be a table, got {_type_name(body)}")
        allowed = SCHEMA[section]
        for key, value in body.items():
            if key not in allowed:
                raise CliError(
                    f"unknown key {section}.{key}; allowed keys in [{section}]: "
                    f"{', '.join(allowed)}"
                )
            kinds = allowed[key]
            if isinstance(value, bool) or not isinstance(value, kinds):
                expected = " or ".join(_TYPE_NAMES[k] for k in kinds)
                raise CliError(
                    f"{section}.{key}: expected {expected}, got {_type_name(value)} ({value!r})"
                )
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                raise CliError(f"{section}.{key}: expected an array of strings, got {value!r}")
    data = config.get("data", {})
    if data.get("adapter", "sample") not in ADAPTERS:
        raise CliError(
            f"data.adapter: expected one of {', '.join(ADAPTERS)}, got {data['adapter']!r}"
        )
    mode = config.get("run", {}).get("mode", "backtest")
    if mode not in MODES:
        raise CliError(f"run.mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if config.get("run", {}).get("speed", 1.0) <= 0:
        raise CliError("run.speed: expected a number > 0")
    if "class" not in config.get("strategy", {}):
        raise CliError('[strategy] needs class = "module:Class" or "path/to/file.py:Class"')


def load_config(path: Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read, override and validate a run config."""
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CliError(f"config file not found: {path}") from error
    except tomllib.TOMLDecodeError as error:
        raise CliError(f"{path}: invalid TOML: {error}") from error
    apply_overrides(config, overrides)
    validate_config(config)
    return config


def _resolve(path: str, base: Path) -> Path:
    """``path`` relative to ``base`` (the config's directory) when it exists there."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute() and (base / candidate).exists():
        return base / candidate
    return candidate
