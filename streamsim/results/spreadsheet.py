"""CSV text cells a spreadsheet cannot run as formulas.

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return as a formula (OWASP "CSV injection"); some also read their
full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20). A strategy chooses client ids, tags
and notes, and a data file chooses symbols, so any text cell may start so.
:func:`neutralise` prefixes such a cell with ``'`` (which spreadsheets show as text and
drop); a cell already starting with ``'`` gets one more, so removing one leading ``'``
from every text cell that has one restores the value exactly. Text that is a plain decimal
number (``-1.5``, ``+2``, ``-3e-4``) is left alone: a spreadsheet reads it as that number,
never as a formula. Numeric columns are not text and are never changed; the Parquet files
hold every value unchanged.
"""

from __future__ import annotations

import re

#: First characters that make a spreadsheet evaluate a cell, plus the escape itself.
TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20'")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def neutralise(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet evaluates (see the module docstring)."""
    if not text or text[0] not in TRIGGERS or _NUMBER.fullmatch(text):
        return text
    return "'" + text


def restore(cell: str) -> str:
    """The text :func:`neutralise` was given for ``cell`` (one leading ``'`` removed)."""
    return cell[1:] if cell.startswith("'") else cell
