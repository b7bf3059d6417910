"""The broker contract: what a strategy may do and know, in every world.

``ctx.broker`` is a :class:`Broker`. The simulator implements it
(:class:`streamsim.sim.broker.StrategyBroker`); a live gateway implements the same
methods. Orders go out with :meth:`Broker.submit` and friends and are answered through
order updates; the state methods answer from what the strategy's side last learnt from
the venue (order and account updates that have *arrived*), never from the venue's instant
truth: in simulation they change only after the response latency.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .account import AccountState, PositionState
from .orders import Order, OrderHandle


@runtime_checkable
class Broker(Protocol):
    """One strategy's door to a venue (simulated or live)."""

    def submit(self, order: Order) -> OrderHandle:
        """Send ``order``; the handle changes only as the venue's answers arrive."""
        ...

    def cancel(self, handle: OrderHandle) -> None:
        """Ask the venue to cancel ``handle``'s order (answered by an order update)."""
        ...

    def amend(
        self, handle: OrderHandle, price: int | None = None, qty: int | None = None
    ) -> OrderHandle:
        """Replace ``handle``'s order with a new price and/or size; returns the new handle."""
        ...

    def cancel_all(self, symbol: str) -> list[OrderHandle]:
        """Cancel this strategy's open orders on ``symbol``; returns the handles cancelled."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[OrderHandle]:
        """This strategy's orders not known to be final, oldest first (``PENDING`` ones too)."""
        ...

    def position(self, symbol: str) -> PositionState:
        """The account's position on ``symbol`` as last reported by the venue."""
        ...

    def balance(self) -> float:
        """The account's wallet balance as last reported by the venue."""
        ...

    def account(self) -> AccountState:
        """Wallet, equity, margin used and available, as last reported by the venue."""
        ...
