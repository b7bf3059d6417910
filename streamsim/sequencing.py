"""The update-id chain rule of depth diffs, in one place for the book and the file checks.

Binance diffs carry ``first`` / ``final`` / ``prev_final`` update ids (``U`` / ``u`` /
``pu``). A diff continues the chain whose last final id is ``last`` when

* futures: ``prev_final == last``;
* spot (no ``pu``): ``first == last + 1``.

A diff with ``prev_final`` -1 has no ``pu``: it is spot data and chains by ``first``
whatever the book was told (:func:`chains_by_prev_final`). The first diff after a
snapshot whose final id is ``last`` continues it when it straddles it
(:func:`straddles`).

:func:`follows` is the scalar form the strategy- and exchange-side books apply to each
message; :func:`links` the vectorised form the adapters use to check whole files. Both
only say whether the chain holds: what a break means (a gap, a quarantined row, an
unchecked -1 id) is left to the caller.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: How a book checks update ids: ``"futures"`` (``pu``), ``"spot"`` (``U``) or not at all.
Sequencing = Literal["futures", "spot"] | None


@overload
def chains_by_prev_final(prev_final: int) -> bool: ...
@overload
def chains_by_prev_final(prev_final: IntArray) -> BoolArray: ...
def chains_by_prev_final(prev_final: int | IntArray) -> bool | BoolArray:
    """True if a diff chains by ``prev_final`` (futures data); one without a ``pu`` (-1,
    spot data) chains by ``first``. Elementwise on an array."""
    return prev_final >= 0


def straddles(first: int, last: int, futures: bool) -> bool:
    """True if the first diff after a snapshot whose final id is ``last`` covers it:
    futures ``first <= last`` (``U <= lastUpdateId``), spot ``first <= last + 1``."""
    return first <= last + (0 if futures else 1)


def straddle_all(first: IntArray, last: IntArray, futures: BoolArray) -> BoolArray:
    """:func:`straddles` over arrays."""
    straddling: BoolArray = first <= last + np.where(futures, 0, 1)
    return straddling


def follows(futures: bool, first: int, prev_final: int, last: int) -> bool:
    """True if a diff with ids ``first`` / ``prev_final`` continues a chain whose last
    final id is ``last`` (futures: by ``prev_final``; spot: by ``first``)."""
    return prev_final == last if futures else first == last + 1


def links(
    first: IntArray,
    final: IntArray,
    prev_final: IntArray,
    futures: bool | BoolArray,
    before: int | None = None,
) -> tuple[BoolArray, IntArray]:
    """For consecutive diffs (in order): whether each one follows the one before, and the
    id it should hold for that (``prev_final`` for futures, ``first`` for spot).

    ``futures`` is one mode for all, or one per diff. Diff 0 is checked against
    ``before``, the final id before these diffs; with ``before`` None it is not checked
    (reported as following, expected id -1).
    """
    n = len(final)
    last = np.empty(n, dtype=np.int64)
    last[1:] = final[:-1]
    last[:1] = -1 if before is None else before
    is_futures = np.broadcast_to(np.asarray(futures, dtype=np.bool_), (n,))
    expected = np.where(is_futures, last, last + 1)
    ok = np.where(is_futures, prev_final, first) == expected
    if before is None and n:
        ok[0] = True
        expected[0] = -1
    return ok, expected
