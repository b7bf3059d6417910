"""The ``streamsim`` command line (see ``docs/cli.md``), re-exported from its modules."""

from adapters.cli.app import build_parser, main
from adapters.cli.compile import cmd_compile
from adapters.cli.config import (
    ADAPTERS,
    DEFAULT_KINDS,
    INTERRUPTED,
    MODES,
    OK,
    PROBLEMS,
    USAGE,
    CliError,
    format_time,
    parse_time,
)
from adapters.cli.data import DataPlan, plan_data
from adapters.cli.demo import cmd_demo
from adapters.cli.progress import run_with_progress, summary_table
from adapters.cli.report import cmd_report
from adapters.cli.run import cmd_run
from adapters.cli.strategy import build_strategy, load_strategy_class
from adapters.cli.validate import FileCheck, cmd_validate

__all__ = [
    "ADAPTERS",
    "DEFAULT_KINDS",
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
