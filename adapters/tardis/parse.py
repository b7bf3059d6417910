"""Vectorised parsing of Tardis CSV string columns, and the bad-row checks of one chunk.

Every column is read as strings, so a bad value never aborts the CSV reader: it is
parsed here into a value array plus masks of empty and invalid fields, and the adapter
decides per row. The fast path is one Arrow cast per column; only a column that fails
to cast as a whole is scanned with a regular expression (and, for the rare values the
expression accepts but Arrow does not, value by value) to find its bad rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from streamsim.instruments import GRID_TOLERANCE

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
#: A string column (``pa.ChunkedArray`` or ``pa.Array``); pyarrow has no type hints.
Column: TypeAlias = Any

_FLOAT_RE = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|(?i:nan|inf|infinity))$"
_INT_RE = r"^-?[0-9]+$"
_NULL = pa.scalar(None, pa.string())

#: Largest microsecond timestamp whose nanosecond value fits in int64.
MAX_US = (2**63 - 1) // 1000


def _bools(values: Column) -> BoolArray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=np.bool_)


@dataclass(frozen=True, eq=False)
class Parsed:
    """One column parsed: values (0 / NaN where not valid), empty and invalid masks."""

    values: npt.NDArray[Any]
    empty: BoolArray
    invalid: BoolArray

    @property
    def present(self) -> BoolArray:
        """Rows whose field holds a valid value."""
        return ~(self.empty | self.invalid)


def _cast(strings: Column, target: pa.DataType, pattern: str) -> tuple[Column, BoolArray]:
    """Cast non-null ``strings`` to ``target``; invalid values become null and are flagged."""
    try:
        return pc.cast(strings, target), np.zeros(len(strings), dtype=np.bool_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    looks_ok = pc.fill_null(pc.match_substring_regex(strings, pattern), True)
    candidates = pc.if_else(looks_ok, strings, _NULL)
    try:
        return pc.cast(candidates, target), ~_bools(looks_ok)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # The expression let through a value Arrow rejects (an int64 overflow, say): test the
    # candidates one by one. Only reached on bad input.
    flags = ~_bools(looks_ok)
    texts = candidates.to_pylist()
    for i, text in enumerate(texts):
        if text is None:
            continue
        try:
            pc.cast(pa.array([text]), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            flags[i] = True
            texts[i] = None
    return pc.cast(pa.array(texts, pa.string()), target), flags


def _parse(
    column: Column, target: pa.DataType, pattern: str
) -> tuple[Column, BoolArray, BoolArray]:
    """Values (null where empty or invalid), empty mask, invalid mask."""
    none = np.zeros(len(column), dtype=np.bool_)
    try:
        return pc.cast(column, target), none, none  # the common case: every field is good
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    is_empty = pc.equal(column, "")
    values, invalid = _cast(pc.if_else(is_empty, _NULL, column), target, pattern)
    return values, _bools(is_empty), invalid


def parse_int(column: Column) -> Parsed:
    """Decimal integers (int64); empty and invalid fields read as 0."""
    values, empty, invalid = _parse(column, pa.int64(), _INT_RE)
    array = np.asarray(pc.fill_null(values, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return Parsed(array, empty, invalid)


def parse_float(column: Column) -> Parsed:
    """Decimal numbers (float64); empty and invalid fields read as NaN. ``nan`` and ``inf``
    parse: check finiteness separately, so that the reason names the problem."""
    values, empty, invalid = _parse(column, pa.float64(), _FLOAT_RE)
    array = np.asarray(
        pc.fill_null(values, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64
    )
    return Parsed(array, empty, invalid)


def parse_choice(column: Column, choices: Sequence[str]) -> tuple[IntArray, BoolArray]:
    """Index of each field in ``choices`` (-1 and flagged invalid when it is none of them)."""
    index = pc.index_in(column, value_set=pa.array(list(choices), pa.string()))
    codes = np.asarray(pc.fill_null(index, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, codes < 0


def to_grid(values: FloatArray, step: Decimal) -> tuple[IntArray, BoolArray]:
    """Values in units of ``step`` and a mask of values off the grid (or not finite).

    The same rule as :meth:`streamsim.instruments.Instrument.prices_to_ticks`, returning a
    mask instead of raising, so that each bad row can be reported.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values / float(step)
        units = np.rint(scaled)
        off = ~np.isfinite(scaled) | (np.abs(scaled - units) > GRID_TOLERANCE)
    return np.where(off, 0, units).astype(np.int64), off


@dataclass(eq=False)
class Check:
    """Rows that break one rule. ``primary`` is False for rows skipped only because of
    another row (the rest of a depth message): those never name a failure."""

    mask: BoolArray
    column: str | None
    reason: str
    primary: bool = True


@dataclass(eq=False)
class Checks:
    """The bad rows of one chunk; a row breaking several rules is reported for the first."""

    n: int
    items: list[Check] = field(default_factory=list)
    bad: BoolArray = field(init=False)

    def __post_init__(self) -> None:
        self.bad = np.zeros(self.n, dtype=np.bool_)

    def add(self, mask: BoolArray, column: str | None, reason: str, primary: bool = True) -> None:
        """Flag the rows of ``mask`` (only rows not flagged yet count for this rule)."""
        fresh = mask & ~self.bad
        if fresh.any():
            self.items.append(Check(fresh, column, reason, primary))
            self.bad |= fresh

    def number(
        self,
        parsed: Parsed,
        column: str,
        *,
        required: bool = True,
        minimum: float | None = None,
        strict: bool = False,
    ) -> None:
        """The usual rules of a numeric field: present (if required), a number, finite,
        and at least (or, with ``strict``, above) ``minimum``."""
        if required:
            self.add(parsed.empty, column, "empty field")
        self.add(parsed.invalid, column, "not a number")
        values = parsed.values
        if values.dtype.kind == "f":
            self.add(parsed.present & ~np.isfinite(values), column, "not a finite number")
        if minimum is not None:
            with np.errstate(invalid="ignore"):
                low = values <= minimum if strict else values < minimum
            if minimum == 0:
                reason = "not positive" if strict else "negative"
            else:
                reason = f"{'not above' if strict else 'below'} {minimum:g}"
            self.add(parsed.present & low, column, reason)
