"""Loading the configured strategy class and building the strategy from its params.

Every user mistake here is a :class:`CliError` naming the culprit: the strategy file and
line of a syntax error or of an import that fails, the class that is missing or not a
:class:`streamsim.Strategy`, a param the constructor does not take or of the wrong type
(checked against its signature and type hints before it is called), and a constructor
that raises (the class, its params and where it raised).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

import msgspec

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
        module = _import_file(_resolve(target, base))
    else:
        module = _import_module(target)
    cls = getattr(module, name, None)
    if cls is None:
        found = sorted(
            key
            for key, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, ss.Strategy)
            and value is not ss.Strategy
        )
        defined = f"; it has {', '.join(found)}" if found else "; it defines no Strategy subclass"
        raise CliError(f"strategy class not found: {name} in {target}{defined}")
    if not (isinstance(cls, type) and issubclass(cls, ss.Strategy)):
        raise CliError(
            f"strategy.class: {spec} is not a streamsim.Strategy subclass "
            f"(it is {type(cls).__name__} {_short(cls)})"
        )
    return cls


def _import_file(file: Path) -> types.ModuleType:
    """Import a strategy ``.py`` file, its failures as :class:`CliError` with file and line."""
    if not file.is_file():
        what = "is a directory" if file.is_dir() else "not found"
        raise CliError(f"strategy file {what}: {file}")
    name = f"_streamsim_user_{file.stem}"
    module_spec = importlib.util.spec_from_file_location(name, file)
    if module_spec is None or module_spec.loader is None:
        raise CliError(f"cannot import strategy file {file} (is it a .py file?)")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise CliError(f"strategy file {_import_failure(error)}") from error
    return module


def _import_module(target: str) -> types.ModuleType:
    """Import a strategy module by name; a module that is not there is told apart from one
    whose own import fails."""
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (target == missing or target.startswith(missing + ".")):
            raise CliError(f"strategy module not found: {target} ({error})") from error
        raise CliError(f"strategy module {target}: {_import_failure(error)}") from error
    except Exception as error:
        raise CliError(f"strategy module {target}: {_import_failure(error)}") from error


def _import_failure(error: Exception) -> str:
    """Where and why importing user code failed: ``FILE, line N: ...``."""
    if isinstance(error, SyntaxError):
        where = f"{error.filename}, line {error.lineno}"
        return f"{where}: syntax error: {error.msg}"
    why = "import failed" if isinstance(error, ImportError) else "raised while importing"
    return f"{_where(error)}: {why}: {type(error).__name__}: {error}"


def _where(error: BaseException) -> str:
    """``FILE, line N`` of the innermost frame of ``error`` outside Python's import
    machinery (the user's line that raised)."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith("<frozen") and "importlib" not in frame.filename
    ]
    if not frames:
        return "<unknown>"
    return f"{frames[-1].filename}, line {frames[-1].lineno}"


def build_strategy(
    cls: type[ss.Strategy], params: Mapping[str, Any], symbol: str | None, seed: int | None
) -> ss.Strategy:
    """``cls(**params)``; ``symbol`` and ``seed`` are filled in when the constructor takes
    them and ``params`` does not set them. ``params`` are checked against the
    constructor's signature and type hints first (:func:`check_params`)."""
    kwargs = dict(params)
    try:
        signature: inspect.Signature | None = inspect.signature(cls)
    except (TypeError, ValueError):
        signature = None
    accepted = signature.parameters if signature is not None else {}
    if symbol is not None and "symbol" in accepted and "symbol" not in kwargs:
        kwargs["symbol"] = symbol
    if seed is not None and "seed" in accepted and "seed" not in kwargs:
        kwargs["seed"] = int(seed)
    if signature is not None:
        check_params(cls, signature, kwargs, given=set(params))
    try:
        return cls(**kwargs)
    except Exception as error:
        raise CliError(
            f"strategy {cls.__name__}({_show(params)}) raised {type(error).__name__}: {error} "
            f"(at {_where(error)})"
        ) from error


def check_params(
    cls: type, signature: inspect.Signature, kwargs: Mapping[str, Any], given: set[str]
) -> None:
    """Each of ``kwargs`` is a parameter of ``cls`` of the type its hint says, and every
    required parameter is there; else a :class:`CliError` naming the param."""
    name = cls.__name__
    parameters = signature.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    by_keyword = [
        key for key, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    for key in kwargs:
        if key not in by_keyword and not takes_any:
            raise CliError(
                f"strategy.params.{key}: {name} has no such parameter; "
                f"it takes: {', '.join(by_keyword) or 'none'}"
            )
    try:
        bound = signature.bind(**kwargs)
    except TypeError as error:
        raise CliError(f"strategy.params: {name}: {error}") from None
    hints = _hints(cls)
    for key, value in bound.arguments.items():
        hint = hints.get(key)
        if hint is None or key not in kwargs or not _checkable(hint):
            continue
        try:
            msgspec.convert(value, hint, strict=True)
        except msgspec.ValidationError:
            pass
        except TypeError:  # a hint msgspec cannot check: leave it to the constructor
            continue
        else:
            continue
        where = f"strategy.params.{key}" if key in given else f"{key} (filled in by streamsim)"
        expected = _type_name(hint)
        note = ""
        if isinstance(value, float) and _accepts_int_only(hint):
            note = " (a fraction where a whole number, such as lots, is needed)"
        raise CliError(
            f"{where}: {name} takes {expected}, got {type(value).__name__} {value!r}{note}"
        )


def _hints(cls: type) -> dict[str, Any]:
    """The constructor's resolved type hints (none when they cannot be resolved)."""
    try:
        return typing.get_type_hints(cls.__init__)  # type: ignore[misc]
    except Exception:
        return {}


#: Types a TOML value can be, so a hint made only of these is checked before the call.
_PLAIN: tuple[Any, ...] = (int, float, str, bool, type(None), datetime, date, time, Any)


def _checkable(hint: Any) -> bool:
    if hint in _PLAIN:
        return True
    origin = typing.get_origin(hint)
    if origin is Literal:
        return True
    if origin in (typing.Union, types.UnionType, list, tuple, dict, set, frozenset):
        return all(_checkable(arg) for arg in typing.get_args(hint) if arg is not Ellipsis)
    return False


def _accepts_int_only(hint: Any) -> bool:
    members = (
        typing.get_args(hint)
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        else (hint,)
    )
    return int in members and float not in members


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _show(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in params.items())


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
