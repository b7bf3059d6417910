"""What a run leaves behind: its artifacts and the HTML report."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

import streamsim as ss
from streamsim.results.artifacts import write_artifacts


def _write_outputs(
    console: Console,
    result: ss.RunResult,
    out: Path,
    config: Mapping[str, Any],
    seed: int | None,
    inputs: Sequence[Path],
) -> None:
    """Artifacts, plus the HTML report when ``streamsim.results.report.write_report`` exists."""
    write_artifacts(result, out, config=config, seed=seed, inputs=inputs)
    try:
        report = importlib.import_module("streamsim.results.report")
    except ImportError:
        report = None
    write_report = getattr(report, "write_report", None)
    if write_report is not None:
        try:
            write_report(out)
        except Exception as error:  # the report is optional; the artifacts are written
            console.print(f"[yellow]report not written: {escape(str(error))}")
    console.print(f"artifacts written to [bold]{out}")
