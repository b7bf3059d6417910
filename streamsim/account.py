"""The account as a strategy learns it: account updates and the state kept from them.

Modelled on Binance's user-stream ``ACCOUNT_UPDATE``: every change of balance or
position reaches the strategy as an :class:`AccountUpdate` with its reason, after the
response latency (never before). The broker keeps the latest :class:`AccountState` and
:class:`PositionState` of each symbol from these updates, so what ``ctx.broker`` answers
is what the strategy's side knows, not the venue's instant truth.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class AccountReason(enum.Enum):
    """Why the account changed (the venue's ``ACCOUNT_UPDATE`` reason ``m``)."""

    #: The account as it stood when the run started (a venue client fetches it by REST).
    SNAPSHOT = "SNAPSHOT"
    #: A fill: realized PnL and its fee.
    ORDER = "ORDER"
    #: A funding payment, received or paid.
    FUNDING_FEE = "FUNDING_FEE"
    #: A liquidation: positions closed at the mark price and the liquidation fee.
    LIQUIDATION = "LIQUIDATION"


@dataclass(frozen=True, slots=True)
class PositionState:
    """One symbol's position: signed lots, average entry price, and, at the mark price
    the venue used for the update (``mark_price``), the unrealized PnL and the liquidation
    price (``None`` when flat or when no price liquidates it). Like the venue's
    ``ACCOUNT_UPDATE``, it is refreshed by account changes, not by every mark price."""

    symbol: str
    lots: int = 0
    entry_price: float = 0.0
    unrealized_pnl: float = 0.0
    liquidation_price: float | None = None
    mark_price: float = 0.0


@dataclass(frozen=True, slots=True)
class AccountState:
    """Balances in the margin asset. ``margin_used`` is the positions' initial margin;
    ``available`` is equity minus it (negative when losses have eaten into it)."""

    wallet: float = 0.0
    equity: float = 0.0
    margin_used: float = 0.0
    maintenance_margin: float = 0.0
    available: float = 0.0


@dataclass(slots=True)
class AccountUpdate:
    """A change of the account as the strategy receives it.

    ``balance_change`` is the wallet change of this event (realized PnL minus fee,
    funding, liquidation losses and fee); ``account`` the balances after it;
    ``positions`` the positions it changed, after it; ``ref`` the client id of the order
    behind it ("" for funding).
    """

    ts_exchange: int
    ts_recv: int | None
    ts_local: int
    reason: AccountReason
    symbol: str
    balance_change: float
    account: AccountState
    positions: tuple[PositionState, ...] = field(default_factory=tuple)
    ref: str = ""


class AccountView:
    """The account as the strategies' side last learnt it, kept from account updates.

    One per run and shared by every strategy of it: they trade one account, as on the
    venue. It changes only when :meth:`apply` is given an update that has reached the
    strategy side.
    """

    __slots__ = ("_positions", "state")

    def __init__(
        self,
        state: AccountState | None = None,
        positions: Mapping[str, PositionState] | None = None,
    ) -> None:
        self.state = state or AccountState()
        self._positions: dict[str, PositionState] = dict(positions or {})

    def apply(self, update: AccountUpdate) -> None:
        """Take the balances and the positions ``update`` carries."""
        self.state = update.account
        for position in update.positions:
            self._positions[position.symbol] = position

    def position(self, symbol: str) -> PositionState:
        """The symbol's last known position (flat if none was ever reported)."""
        return self._positions.get(symbol) or PositionState(symbol)

    def positions(self) -> dict[str, PositionState]:
        """Every symbol with a reported position, open or flat."""
        return dict(self._positions)
