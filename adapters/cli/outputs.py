"""What a run leaves behind: its artifacts and the HTML report, written all at once."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.markup import escape

import streamsim as ss
from adapters.cli.config import CliError
from streamsim.errors import ArtifactError
from streamsim.results.artifacts import check_out_dir, write_artifacts
from streamsim.results.report import REPORT_NAME

#: Exit code of a write stopped by SIGTERM (128 + 15, as a shell reports it).
TERMINATED = 143


def check_out(out: Path, force: bool, inputs: Sequence[Path] = (), label: str = "--out") -> None:
    """Fail before the run (exit 2) when ``out`` could not take the artifacts; ``label``
    says where the path came from (``--out``, ``output.dir``)."""
    try:
        check_out_dir(out, force=force, inputs=inputs)
    except ArtifactError as error:
        raise CliError(f"{label} {error}") from error


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """While the artifacts are written, SIGTERM exits through Python (143), so the staging
    directory is removed and the previous output stays as it was."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(TERMINATED)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_outputs(
    console: Console,
    result: ss.RunResult,
    out: Path,
    config: Mapping[str, Any],
    seed: int | None,
    inputs: Sequence[Path],
    *,
    report: bool = True,
    force: bool = False,
    label: str = "--out",
) -> None:
    """The artifacts, and ``report.html`` among them unless ``report`` is False; a path
    that cannot take them is a one-line error (exit 2), with nothing half-written."""
    try:
        with _sigterm_as_exit():
            written = write_artifacts(
                result, out, config=config, seed=seed, inputs=inputs, force=force, report=report
            )
    except ArtifactError as error:
        raise CliError(f"{label} {error}") from error
    except SystemExit:
        console.print(f"[red]terminated while writing; {escape(str(out))} is as it was")
        raise
    if report and REPORT_NAME not in written:
        console.print(f"[yellow]{REPORT_NAME} not written: rendering failed (logged above)")
    console.print(f"artifacts written to [bold]{escape(str(out))}")
