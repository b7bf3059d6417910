"""Which strategies a depth message reaches: ``on_depth``'s book is never silently wrong.

The rule, the same in every runtime (``docs/execution.md``, "Strategy-side and
exchange-side books"): a strategy that keeps books (``uses_books = True``) gets
``on_depth`` only for messages the strategy-side book applied, so its ``book`` always
includes the message. A message the book skipped (stale after a snapshot, or while an
invalid book waits for a snapshot) reaches only strategies with ``uses_books = False``,
which see every message raw, and is counted per symbol as ``undelivered_skipped``. A
message applied while the book is not synced is delivered with ``book.valid`` False.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TypeVar

from ..book import L2Book

R = TypeVar("R")


def bookless_routes(
    routes: Sequence[tuple[R, ...]], uses_books: Callable[[R], bool]
) -> list[tuple[R, ...]]:
    """Per stream, the targets that still get a message the strategy-side book skipped."""
    return [tuple(target for target in targets if not uses_books(target)) for targets in routes]


def book_counts(books: dict[str, L2Book], undelivered: Counter[str]) -> dict[str, dict[str, int]]:
    """Per symbol, the strategy-side book's counts, ``invalid_at_end`` and
    ``undelivered_skipped`` (messages it skipped that no book-using strategy got)."""
    return {
        symbol: asdict(book.stats)
        | {"invalid_at_end": int(not book.valid), "undelivered_skipped": undelivered[symbol]}
        for symbol, book in sorted(books.items())
    }
