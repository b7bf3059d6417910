"""The ``streamsim`` command line: demo, run, compile, validate, report and venue.

``main(argv)`` parses ``argv`` (default ``sys.argv[1:]``), runs one command and returns
its exit code: 0 success, 1 problems found (``validate``) or a failed run, 2 a usage or
configuration error, 130 Ctrl-C, 70 a bug in streamsim (see ``failures.py``). All output
goes through a :class:`rich.console.Console`; a progress line (events/s, simulated time)
is shown only when stdout is a terminal. See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rich.console import Console

from adapters.cli.compile import cmd_compile
from adapters.cli.config import DEFAULT_KINDS, MODES, PROBLEMS, USAGE
from adapters.cli.demo import cmd_demo
from adapters.cli.failures import DEBUG_ENV, debug_requested, report_failure
from adapters.cli.report import cmd_report
from adapters.cli.run import cmd_run
from adapters.cli.validate import cmd_validate
from adapters.cli.venue import add_venue_parser

FORCE_HELP = "replace an existing output directory wholly (only a previous run's)"


def _path(text: str) -> str:
    """A path argument: an empty one is a usage error, never the default's stand-in."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file or directory")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``streamsim``."""
    parser = argparse.ArgumentParser(prog="streamsim", description=__doc__.splitlines()[0])
    debug_help = f"on a failure, also print the traceback (or set {DEBUG_ENV}=1)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the bundled sample with the market maker")
    demo.add_argument("--out", type=_path, default="runs/demo", help="artifacts directory")
    demo.add_argument("--force", action="store_true", help=FORCE_HELP)
    demo.set_defaults(handler=cmd_demo)

    run = sub.add_parser("run", help="run a TOML config")
    run.add_argument("config", help="CONFIG.toml, or a run's manifest.json to repeat it")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override, e.g. exchange.fees.taker=0.0004",
    )
    run.add_argument("--mode", choices=MODES, help="override run.mode")
    run.add_argument("--speed", type=float, help="override run.speed (paper-replay, paper-live)")
    run.add_argument(
        "--window",
        metavar="START/END",
        help="data.start and data.end (ISO-8601 with Z or an offset, both inclusive)",
    )
    run.add_argument("--days", type=float, metavar="N", help="data.end N days after data.start")
    run.add_argument(
        "--out", type=_path, help="artifacts directory (default output.dir or runs/<name>)"
    )
    run.add_argument("--force", action="store_true", help=FORCE_HELP)
    run.set_defaults(handler=cmd_run)

    comp = sub.add_parser("compile", help="compile data into an event store")
    comp.add_argument(
        "--data", required=True, help="'sample', a CryptoHFTData root, or a config .toml"
    )
    comp.add_argument("--out", type=_path, required=True, help="store directory")
    comp.add_argument("--symbol", help="symbols, comma-separated")
    comp.add_argument("--kinds", help="kinds, comma-separated")
    comp.add_argument("--start", help="ISO-8601 UTC, inclusive")
    comp.add_argument("--end", help="ISO-8601 UTC, inclusive")
    comp.add_argument("--exchange", default="binance_futures")
    comp.add_argument("--overwrite", action="store_true", help="replace an existing store")
    comp.set_defaults(handler=cmd_compile)

    val = sub.add_parser("validate", help="check a CryptoHFTData tree (local or s3://)")
    val.add_argument("root", help="a local directory or s3://bucket/prefix")
    val.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS)")
    val.add_argument("--symbol", required=True)
    val.add_argument("--start", required=True, help="ISO-8601 UTC, inclusive")
    val.add_argument("--end", required=True, help="ISO-8601 UTC, inclusive")
    val.add_argument("--kinds", help=f"comma-separated (default {','.join(DEFAULT_KINDS)})")
    val.add_argument("--exchange", default="binance_futures")
    val.add_argument("--tick-size", help="price grid (default: built in for BTCUSDT, ETHUSDT)")
    val.add_argument("--lot-size", help="size grid (with --tick-size)")
    val.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="deadline of each S3 request, retries included (default 60 s + 1 s per 256 KiB)",
    )
    val.add_argument(
        "--jobs", type=int, default=8, metavar="N", help="files checked at once (default 8)"
    )
    val.set_defaults(handler=cmd_validate)

    rep = sub.add_parser("report", help="rebuild report.html from a run's artifacts")
    rep.add_argument("artifacts", help="artifacts directory (from run or demo)")
    rep.add_argument("--out", type=_path, help="HTML file (default <artifacts>/report.html)")
    rep.add_argument(
        "--check", action="store_true", help="only verify the files against the manifest"
    )
    rep.set_defaults(handler=cmd_report)
    add_venue_parser(sub)
    for command in sub.choices.values():  # `--debug` after the command too
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``streamsim`` command line; returns the exit code (see
    :mod:`adapters.cli.failures` for how failures are reported)."""
    # Not a terminal (CI, pipes, tests): wide enough that table cells do not wrap.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exit_:
        return int(exit_.code) if isinstance(exit_.code, int) else USAGE
    debug = debug_requested(getattr(args, "debug", False))
    try:
        code: int = args.handler(args, console)
    except BrokenPipeError:  # stdout closed early (`| head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return PROBLEMS
    except (Exception, KeyboardInterrupt) as error:
        return report_failure(console, error, debug)
    return code
