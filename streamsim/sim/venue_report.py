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
from ..order_checks import BANKRUPT_REJECT
from ..results.record import RunRecord
from ..units import utc_text
from .bankruptcy import Bankruptcy
from .guard import GuardStats
from .liquidity import FillAudit
from .marking import FallbackMarks
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
    bankrupt: bool = False,
) -> AccountUpdate:
    """The account now, with the positions of ``symbols``; ``change`` is the wallet change
    of the event on ``symbol`` that caused it; ``bankrupt`` the venue's bankrupt state."""
    state = AccountState(
        wallet=portfolio.wallet,
        equity=portfolio.equity,
        margin_used=portfolio.initial_margin(),
        maintenance_margin=portfolio.maintenance_margin(),
        available=portfolio.available_balance,
        bankrupt=bankrupt,
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
    (``guard_trips``, ``guard_rejected``, ``guard_warmup_rejected``, ``guard_cancelled``,
    ``guard_stops_expired``);
    ``guard`` is 1 if the guard is on."""
    health: dict[str, dict[str, int]] = {}
    for symbol, book in sorted(books.items()):
        row = asdict(book.stats)
        counts = guard_stats.symbols.get(symbol) or Counter()
        for what in ("trips", "rejected", "warmup_rejected", "cancelled", "stops_expired"):
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
    bankruptcy: Bankruptcy | None = None,
    fallback: FallbackMarks | None = None,
    trade_depletion: bool = True,
    fill_audit: FillAudit | None = None,
) -> dict[str, Any]:
    """Fills, costs, the account (with its bankrupt state), how symbols without a mark
    stream were marked, guard counts, book counts, whether trades depleted the book and
    the audit of fills against the trades printed."""
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
        **(bankruptcy or Bankruptcy()).report(),
        "mark_fallback": None
        if fallback is None
        else {"source": fallback.source, "marks": dict(fallback.marks)},
        "open_orders": open_orders,
        "median_queue_wait_ns": waits[len(waits) // 2] if waits else None,
        "guard_trips": dict(guard_stats.trips),
        "guard_blocked": dict(guard_stats.blocked),
        "books": {s: asdict(b.stats) for s, b in sorted(books.items())},
        "book_health": book_health(books, guard_stats, guarded),
        "trade_depletion": trade_depletion,
        "fill_audit": asdict(fill_audit or FillAudit()),
    }


def account_lines(report: Mapping[str, Any]) -> list[str]:
    """What a person must not miss about the account, from a venue's :func:`venue_report`:
    its liquidations, and whether (when, at what wallet) it went bankrupt; [] for a venue
    that keeps no account."""
    if "bankrupt" not in report:
        return []
    asset = report.get("margin_asset") or ""
    lines = [f"liquidations: {report.get('liquidation_fills', 0):,}"]
    at = report.get("bankrupt_at_ns")
    if report["bankrupt"] and at is not None:
        lines.append(
            f"BANKRUPT at {utc_text(at)}: wallet {report['bankrupt_balance']:,.2f} {asset}; "
            f"{report['bankrupt_rejected']:,} later orders rejected (code {BANKRUPT_REJECT})"
        )
    return lines
