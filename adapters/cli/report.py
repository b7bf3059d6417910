"""``streamsim report``: rebuild ``report.html`` from a run's artifacts."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from adapters.cli.config import OK, CliError


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """Rebuild ``report.html`` from a run's artifacts directory."""
    from streamsim.results.report import write_report  # noqa: PLC0415 (only this command needs it)

    artifacts = Path(args.artifacts)
    if not artifacts.is_dir():
        raise CliError(f"not an artifacts directory: {artifacts}")
    written = write_report(artifacts, args.out)
    console.print(f"report written to {escape(str(written))}", highlight=False)
    return OK
