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
from dataclasses import dataclass, field, replace
from typing import Any


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
    """One symbol's position: signed lots, average entry price, the unrealized PnL at
    ``mark_price`` and the liquidation price (``None`` when flat or when no price
    liquidates it). An account update carries the venue's mark of that moment;
    ``broker.position()`` revalues the PnL at the last mark price the strategy side
    received (see :class:`AccountView`)."""

    symbol: str
    lots: int = 0
    entry_price: float = 0.0
    unrealized_pnl: float = 0.0
    liquidation_price: float | None = None
    mark_price: float = 0.0


@dataclass(frozen=True, slots=True)
class AccountState:
    """Balances in the margin asset. ``margin_used`` is the positions' initial margin;
    ``available`` is equity minus it (negative when losses have eaten into it).
    ``bankrupt`` is True from the moment the wallet went below zero: the venue then
    rejects every new order (code -9002, ``ss.BANKRUPT_REJECT``)."""

    wallet: float = 0.0
    equity: float = 0.0
    margin_used: float = 0.0
    maintenance_margin: float = 0.0
    available: float = 0.0
    bankrupt: bool = False


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


class Marks:
    """The last mark price of each symbol the strategy side received (its ``apply`` takes
    a :class:`~streamsim.events.MarkPrice` as the runtime delivers it)."""

    __slots__ = ("prices",)

    def __init__(self) -> None:
        self.prices: dict[str, float] = {}

    def apply(self, mark: Any) -> bool:
        """Keep ``mark``'s price; True (a mark is always applied, like a book's message)."""
        self.prices[mark.symbol] = mark.mark
        return True


class AccountView:
    """The account as the strategies' side last learnt it, kept from account updates.

    One per run and shared by every strategy of it: they trade one account, as on the
    venue. It changes only when :meth:`apply` is given an update that has reached the
    strategy side; ``marks`` holds the mark prices that reached it, at which
    :meth:`position` values the unrealized PnL (``units`` gives each symbol's base units
    per lot; a symbol without it keeps the update's PnL). Balances (:attr:`state`) stay
    as the last update reported them, as on the venue.
    """

    __slots__ = ("_positions", "marks", "state", "units")

    def __init__(
        self,
        state: AccountState | None = None,
        positions: Mapping[str, PositionState] | None = None,
        units: Mapping[str, float] | None = None,
    ) -> None:
        self.state = state or AccountState()
        self._positions: dict[str, PositionState] = dict(positions or {})
        self.marks = Marks()
        self.units: dict[str, float] = dict(units or {})

    def apply(self, update: AccountUpdate) -> None:
        """Take the balances and the positions ``update`` carries."""
        self.state = update.account
        for position in update.positions:
            self._positions[position.symbol] = position

    def position(self, symbol: str) -> PositionState:
        """The symbol's last known position (flat if none was ever reported), its
        unrealized PnL at the last mark price received."""
        position = self._positions.get(symbol) or PositionState(symbol)
        mark = self.marks.prices.get(symbol)
        units = self.units.get(symbol)
        if mark is None or units is None or mark == position.mark_price:
            return position
        pnl = (mark - position.entry_price) * position.lots * units if position.lots else 0.0
        return replace(position, unrealized_pnl=pnl, mark_price=mark)

    def positions(self) -> dict[str, PositionState]:
        """Every symbol with a reported position, open or flat (valued as in
        :meth:`position`)."""
        return {symbol: self.position(symbol) for symbol in self._positions}
