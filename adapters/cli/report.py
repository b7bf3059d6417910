"""``streamsim report``: verify a run's artifacts against its manifest, rebuild ``report.html``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from adapters.cli.config import OK, PROBLEMS, CliError
from streamsim.errors import ArtifactError


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """Verify the artifacts (a mismatch exits 1 naming the files), then rebuild
    ``report.html``; with ``--check``, verify only (``report.html`` too)."""
    # Only this command needs the report and the verifier.
    from streamsim.results.report import REPORT_NAME, write_report  # noqa: PLC0415
    from streamsim.results.verify import verify_artifacts  # noqa: PLC0415

    artifacts = Path(args.artifacts)
    if not artifacts.is_dir():
        raise CliError(f"not an artifacts directory: {artifacts}")
    try:
        verified = verify_artifacts(artifacts, skip=() if args.check else (REPORT_NAME,))
    except ArtifactError as error:  # one line, then one per file, as `validate` does
        console.print(
            f"[red]error:[/red] {escape(error.path)}: {escape(error.message)}",
            highlight=False,
            soft_wrap=True,
        )
        for problem in error.problems:
            console.print(f"problem: {escape(problem)}", highlight=False, soft_wrap=True)
        return PROBLEMS
    if args.check:
        console.print(
            f"{len(verified.files)} files match {escape(str(artifacts))}/manifest.json "
            f"(its sha256 {verified.manifest_sha256})",
            highlight=False,
        )
        return OK
    try:
        written = write_report(artifacts, args.out)
    except ArtifactError as error:
        raise CliError(f"--out {error}") from error
    console.print(f"report written to {escape(str(written))}", highlight=False)
    if args.out is None:
        _compare_with_manifest(console, artifacts, REPORT_NAME)
    return OK


def _compare_with_manifest(console: Console, artifacts: Path, name: str) -> None:
    """Say when the rebuilt report is not the one the manifest lists."""
    from streamsim.results.verify import verify_artifacts  # noqa: PLC0415

    try:
        verify_artifacts(artifacts)
    except ArtifactError as error:
        if any(problem.startswith(f"{name}:") for problem in error.problems):
            console.print(
                f"[yellow]{name} differs from the one the manifest lists (another "
                "streamsim version, or a run that wrote no report): `streamsim report "
                "--check` will name it",
                highlight=False,
            )
