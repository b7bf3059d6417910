"""What a simulated venue reports about itself: the end-of-run summary, the health of its
books, and the account as an :class:`~streamsim.account.AccountUpdate`.

Read-only views of the venue's state, kept out of the matching code so the exchange reads
as the orchestrator it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import asdict
from typing import Any

from ..account import AccountReason, AccountState, AccountUpdate, PositionState
from ..book import L2Book
from ..results.record import RunRecord
from .guard import GuardStats
from .portfolio import LIQUIDATION_REF, Portfolio


def sync_ledger(record: RunRecord, portfolio: Portfolio) -> None:
    """Copy the portfolio's new ledger entries into the record."""
    ledger = record.ledger
    booked = portfolio.ledger
    if len(ledger) < len(booked):
        ledger.extend(booked[len(ledger) :])


def account_update(
    portfolio: Portfolio,
    now: int,
    reason: AccountReason,
    symbol: str,
    change: float,
    symbols: list[str],
) -> AccountUpdate:
    """The account now, with the positions of ``symbols``; ``change`` is the wallet change
    of the event on ``symbol`` that caused it."""
    state = AccountState(
        wallet=portfolio.wallet,
        equity=portfolio.equity,
        margin_used=portfolio.initial_margin(),
        maintenance_margin=portfolio.maintenance_margin(),
        available=portfolio.available_balance,
    )
    positions = []
    for name in symbols:
        position = portfolio.position(name)
        positions.append(
            PositionState(
                name,
                position.lots,
                position.entry_price,
                portfolio.unrealized(name),
                portfolio.liquidation_price(name),
                portfolio.mark_price(name),
            )
        )
    return AccountUpdate(now, None, now, reason, symbol, change, state, tuple(positions))


def book_health(
    books: Mapping[str, L2Book], guard_stats: GuardStats, guarded: Collection[str]
) -> dict[str, dict[str, int]]:
    """Per symbol: the exchange-side book's counts and what the guard did
    (``guard_trips``, ``guard_rejected``, ``guard_cancelled``, ``guard_stops_expired``);
    ``guard`` is 1 if the guard is on."""
    health: dict[str, dict[str, int]] = {}
    for symbol, book in sorted(books.items()):
        row = asdict(book.stats)
        counts = guard_stats.symbols.get(symbol) or Counter()
        for what in ("trips", "rejected", "cancelled", "stops_expired"):
            row[f"guard_{what}"] = int(counts.get(what, 0))
        row["guard"] = int(symbol in guarded)
        row["invalid_at_end"] = int(not book.valid)
        health[symbol] = row
    return health


def venue_report(
    portfolio: Portfolio,
    record: RunRecord,
    maker_fills: int,
    open_orders: int,
    books: Mapping[str, L2Book],
    guard_stats: GuardStats,
    guarded: Collection[str],
) -> dict[str, Any]:
    """Fills, costs, the account, guard counts and book counts."""
    fills = portfolio.fills
    by_reason: dict[str, float] = {}
    for entry in portfolio.ledger:
        by_reason[entry.reason] = by_reason.get(entry.reason, 0.0) + entry.amount
    waits = sorted(record.queue_waits)
    liquidations = sum(1 for fill in fills if fill.ref == LIQUIDATION_REF)
    return {
        "fills": len(fills),
        "maker_fills": maker_fills,
        "taker_fills": len(fills) - maker_fills - liquidations,
        "liquidation_fills": liquidations,
        "ledger": by_reason,
        "margin_asset": portfolio.margin_asset,
        "wallet": portfolio.wallet,
        "equity": portfolio.equity,
        "positions": {s: portfolio.position(s).lots for s in sorted(books)},
        "open_orders": open_orders,
        "median_queue_wait_ns": waits[len(waits) // 2] if waits else None,
        "guard_trips": dict(guard_stats.trips),
        "guard_blocked": dict(guard_stats.blocked),
        "books": {s: asdict(b.stats) for s, b in sorted(books.items())},
        "book_health": book_health(books, guard_stats, guarded),
    }
