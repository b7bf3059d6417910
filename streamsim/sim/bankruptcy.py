"""The bankrupt state: an account whose wallet went below zero stops trading.

No insurance fund is modelled, so a fill, fee, funding payment or liquidation can leave
the wallet balance negative. The venue then records, once, when and at what wallet the
account went bankrupt, cancels its open orders and stops at the end of that instant,
rejects every later new order (and amend) but a reduce-only one with
:data:`~streamsim.order_checks.BANKRUPT` and counts those rejects. Cancels still work;
positions stay (the liquidation rule still applies to them). The state
reaches the strategy as ``AccountState.bankrupt`` on every account update from then on.
"""

from __future__ import annotations

from typing import Any

from ..order_checks import BANKRUPT


class Bankruptcy:
    """When the account went bankrupt (``at``, ns; None while solvent), its wallet
    ``balance`` then, and how many orders were rejected for it."""

    __slots__ = ("at", "balance", "rejected")

    def __init__(self) -> None:
        self.at: int | None = None
        self.balance: float | None = None
        self.rejected = 0

    @property
    def bankrupt(self) -> bool:
        return self.at is not None

    def check(self, now: int, wallet: float) -> bool:
        """Enter the bankrupt state if ``wallet`` is below zero; True while bankrupt."""
        if self.at is None and wallet < 0:
            self.at = now
            self.balance = wallet
        return self.at is not None

    def reject(self) -> tuple[int, str]:
        """The reject of a new order while bankrupt (counted)."""
        self.rejected += 1
        return BANKRUPT

    def report(self) -> dict[str, Any]:
        """``bankrupt``, ``bankrupt_at_ns``, ``bankrupt_balance``, ``bankrupt_rejected``."""
        return {
            "bankrupt": self.bankrupt,
            "bankrupt_at_ns": self.at,
            "bankrupt_balance": self.balance,
            "bankrupt_rejected": self.rejected,
        }
