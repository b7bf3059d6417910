"""Loading the configured strategy class and building the strategy from its params."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamsim as ss
from adapters.cli.config import CliError, _resolve


def load_strategy_class(spec: str, base: Path = Path()) -> type[ss.Strategy]:
    """``module:Class`` or ``path/to/file.py:Class`` -> the strategy class."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise CliError(
            f'strategy.class: expected "module:Class" or "path/to/file.py:Class", got {spec!r}'
        )
    if target.endswith(".py") or "/" in target:
        file = _resolve(target, base)
        if not file.is_file():
            raise CliError(f"strategy file not found: {file}")
        module_spec = importlib.util.spec_from_file_location(f"_streamsim_user_{file.stem}", file)
        if module_spec is None or module_spec.loader is None:
            raise CliError(f"cannot import strategy file {file}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as error:
            raise CliError(f"strategy module not found: {target} ({error})") from error
    cls = getattr(module, name, None)
    if cls is None:
        raise CliError(f"strategy class not found: {name} in {target}")
    if not (isinstance(cls, type) and issubclass(cls, ss.Strategy)):
        raise CliError(f"{spec} is not a streamsim.Strategy subclass")
    return cls


def build_strategy(
    cls: type[ss.Strategy], params: Mapping[str, Any], symbol: str | None, seed: int | None
) -> ss.Strategy:
    """``cls(**params)``; ``symbol`` and ``seed`` are filled in when the constructor takes
    them and ``params`` does not set them."""
    kwargs = dict(params)
    try:
        accepted = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        accepted = {}  # type: ignore[assignment]
    if symbol is not None and "symbol" in accepted and "symbol" not in kwargs:
        kwargs["symbol"] = symbol
    if seed is not None and "seed" in accepted and "seed" not in kwargs:
        kwargs["seed"] = seed
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise CliError(f"strategy.params do not fit {cls.__name__}: {error}") from error
