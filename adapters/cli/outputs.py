"""What a run leaves behind: its artifacts and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

import streamsim as ss
from streamsim.results.artifacts import write_artifacts
from streamsim.results.report import write_report


def _write_outputs(
    console: Console,
    result: ss.RunResult,
    out: Path,
    config: Mapping[str, Any],
    seed: int | None,
    inputs: Sequence[Path],
    *,
    report: bool = True,
) -> None:
    """The artifacts, and ``report.html`` beside them unless ``report`` is False."""
    write_artifacts(result, out, config=config, seed=seed, inputs=inputs)
    if report:
        try:
            write_report(out)
        except Exception as error:  # the artifacts are written; say why the report is not
            console.print(f"[yellow]report not written: {escape(str(error))}")
    console.print(f"artifacts written to [bold]{out}")
