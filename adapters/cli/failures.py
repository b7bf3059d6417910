"""How the CLI reports what went wrong: one line, the right exit code, never a raw traceback.

* A user mistake (:class:`CliError`, :class:`~streamsim.errors.ConfigError`): the message,
  exit code 2.
* The data or a run failing (:class:`~streamsim.errors.StreamsimError`, an ``OSError``
  such as a missing or unreadable file): the error's name and message, exit code 1.
* Ctrl-C (:class:`Interrupted` or a bare ``KeyboardInterrupt``): what was interrupted,
  exit code 130.
* Anything else is a bug in streamsim: one line asking for a bug report, the traceback
  written to a file (its path is printed), exit code 70.

With ``--debug`` (or ``STREAMSIM_DEBUG=1``) the traceback is printed to stderr after the
line, for every kind of failure.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from adapters.cli.config import INTERNAL, INTERRUPTED, PROBLEMS, USAGE, CliError, Interrupted
from streamsim.errors import ConfigError, StreamsimError

#: The environment variable that turns ``--debug`` on.
DEBUG_ENV = "STREAMSIM_DEBUG"


def debug_requested(flag: bool) -> bool:
    """``--debug`` given, or ``STREAMSIM_DEBUG`` set to something other than ``0``/empty."""
    return flag or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def report_failure(console: Console, error: BaseException, debug: bool) -> int:
    """Print one line for ``error`` and return the exit code it gets."""
    if isinstance(error, Interrupted | KeyboardInterrupt):
        text = str(error) if isinstance(error, Interrupted) else "interrupted (Ctrl-C)"
        code, line = INTERRUPTED, f"[yellow]{escape(text)}[/yellow]"
    elif isinstance(error, CliError | ConfigError):
        code, line = USAGE, f"[red]error:[/red] {escape(str(error))}"
    elif isinstance(error, StreamsimError | OSError):
        code, line = PROBLEMS, f"[red]error:[/red] {escape(_describe(error))}"
    else:
        code = INTERNAL
        where = "the traceback follows" if debug else _save_traceback(error)
        line = (
            f"[red]internal error:[/red] {escape(_describe(error))} - this is a bug in "
            f"streamsim; please report it with the traceback ({escape(where)})"
        )
    console.print(line, highlight=False, soft_wrap=True)
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    return code


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{type(error).__name__}: {error.strerror or error}: {error.filename}"
    return f"{type(error).__name__}: {error}"


def _save_traceback(error: BaseException) -> str:
    """Write ``error``'s traceback to a file in the temp directory; say where (or, when
    that fails, how to see it)."""
    text = "".join(traceback.format_exception(error))
    try:
        folder = Path(tempfile.gettempdir())
        path = folder / f"streamsim-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        path.write_text(text, encoding="utf-8")
    except OSError:
        return "rerun with --debug to see it"
    return f"written to {path}; --debug prints it"
