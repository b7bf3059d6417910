"""The ``streamsim`` command line (see ``docs/cli.md``), re-exported from its modules.

The modules load lazily: the console script imports :func:`main` from here, and a Ctrl-C
while Python loads NumPy, Arrow and streamsim is then one line and exit code 130 too.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.cli.app import build_parser
    from adapters.cli.compile import cmd_compile
    from adapters.cli.config import (
        ADAPTERS,
        DEFAULT_KINDS,
        INTERNAL,
        INTERRUPTED,
        MODES,
        OK,
        PROBLEMS,
        USAGE,
        CliError,
        format_time,
        parse_time,
    )
    from adapters.cli.data import plan_data
    from adapters.cli.data_plan import DataPlan
    from adapters.cli.demo import cmd_demo
    from adapters.cli.progress import run_with_progress, summary_table
    from adapters.cli.report import cmd_report
    from adapters.cli.run import cmd_run
    from adapters.cli.strategy import build_strategy, load_strategy_class
    from adapters.cli.validate import FileCheck, cmd_validate

#: Where each public name lives (loaded on first use).
_HOMES = {
    "build_parser": "app",
    "cmd_compile": "compile",
    "cmd_demo": "demo",
    "cmd_report": "report",
    "cmd_run": "run",
    "DataPlan": "data",
    "plan_data": "data",
    "run_with_progress": "progress",
    "summary_table": "progress",
    "build_strategy": "strategy",
    "load_strategy_class": "strategy",
    "FileCheck": "validate",
    "cmd_validate": "validate",
    "ADAPTERS": "config",
    "DEFAULT_KINDS": "config",
    "INTERNAL": "config",
    "INTERRUPTED": "config",
    "MODES": "config",
    "OK": "config",
    "PROBLEMS": "config",
    "USAGE": "config",
    "CliError": "config",
    "format_time": "config",
    "parse_time": "config",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``streamsim`` command line; returns the exit code (see ``app.main``)."""
    try:
        from adapters.cli.app import main as run  # noqa: PLC0415 (lazy on purpose)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted (Ctrl-C) while starting\n")
        return 130
    return run(argv)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "ADAPTERS",
    "DEFAULT_KINDS",
    "INTERNAL",
    "INTERRUPTED",
    "MODES",
    "OK",
    "PROBLEMS",
    "USAGE",
    "CliError",
    "DataPlan",
    "FileCheck",
    "build_parser",
    "build_strategy",
    "cmd_compile",
    "cmd_demo",
    "cmd_report",
    "cmd_run",
    "cmd_validate",
    "format_time",
    "load_strategy_class",
    "main",
    "parse_time",
    "plan_data",
    "run_with_progress",
    "summary_table",
]
