"""The exchange-side hook: what a simulated venue plugs into the kernel.

The kernel feeds the venue market events on the exchange timeline (at ``ts_exchange``)
and order messages when they arrive (send time + entry latency); the venue answers
through :meth:`Venue.respond` (order updates and account updates), and the broker
delivers each answer to the strategy side after the response latency. What the venue
books (fills, ledger, equity) it writes into the run's record, :attr:`Venue.record`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..account import AccountReason, AccountState, AccountUpdate
from ..order_checks import DUPLICATE_ID, NO_SUCH_ORDER, UNKNOWN_ORDER, UNKNOWN_ORDER_MESSAGE
from ..orders import OrderRequest, OrderStatus, OrderUpdate

if TYPE_CHECKING:
    from ..results.record import RunRecord


class Venue(Protocol):
    """What the kernel offers an exchange."""

    def now(self) -> int:
        """Current exchange time, ns."""
        ...

    #: The run's record, where the venue writes its fills, ledger and equity samples.
    record: RunRecord

    def respond(self, update: OrderUpdate | AccountUpdate) -> None:
        """Send a message produced at ``update.ts_exchange`` back to the strategy side."""
        ...


class Exchange(Protocol):
    """A simulated venue."""

    #: False when the venue ignores market data (the kernel then skips the exchange timeline).
    wants_market: bool

    def bind(self, venue: Venue) -> None:
        """Called once before the run starts."""
        ...

    def check_streams(self, streams: Sequence[str]) -> list[str]:
        """Called once before the run starts with the names (``SYMBOL.kind``) of the run's
        streams: raise :class:`~streamsim.errors.ConfigError` for a run the venue cannot
        account for honestly; return data-quality notes about how it will account."""
        ...

    def on_market(self, events: Sequence[Any], start: int, stop: int) -> int:
        """Apply ``events[start:stop]`` (sorted by ``ts_exchange``).

        Return the index after the last event applied, in ``(start, stop]``: a venue that
        produced a response may stop early so the kernel can deliver it in time order.
        """
        ...

    def on_order(self, request: OrderRequest) -> None:
        """An order message arrives now."""
        ...

    def snapshot(self, now: int) -> AccountUpdate:
        """The account as it stands (what a client fetches before it starts trading)."""
        ...

    def report(self) -> dict[str, Any]:
        """What the venue did, for the run's result (JSON-ready)."""
        ...


class NullExchange:
    """Acknowledges orders and cancels, never fills: enough to test the plumbing.

    Like a venue it keeps client ids unique among open orders (-4116), answers with the
    request's serial, and does an amend only while the order it replaces is open (-2013).
    """

    wants_market = False

    def __init__(self) -> None:
        self._venue: Venue | None = None
        self._open: dict[str, int] = {}  # client id -> serial

    def bind(self, venue: Venue) -> None:
        self._venue = venue

    def check_streams(self, streams: Sequence[str]) -> list[str]:
        return []  # no account: nothing to mark

    def on_market(self, events: Sequence[Any], start: int, stop: int) -> int:
        return stop

    def report(self) -> dict[str, Any]:
        return {"open_orders": len(self._open)}

    def snapshot(self, now: int) -> AccountUpdate:
        return AccountUpdate(now, None, now, AccountReason.SNAPSHOT, "", 0.0, AccountState())

    def on_order(self, request: OrderRequest) -> None:
        venue = self._venue
        assert venue is not None, "NullExchange used before bind()"
        now = venue.now()
        cid = request.client_id

        def answer(status: OrderStatus, code: int = 0, reason: str = "") -> None:
            venue.respond(
                OrderUpdate(
                    request.order.symbol,
                    now,
                    None,
                    now,
                    cid,
                    status,
                    code=code,
                    reason=reason,
                    serial=request.serial,
                )
            )

        if request.action == "cancel":
            if self._open.get(cid) == request.serial:
                del self._open[cid]
                answer(OrderStatus.CANCELED)
            else:
                answer(OrderStatus.REJECTED, UNKNOWN_ORDER, UNKNOWN_ORDER_MESSAGE)
            return
        if request.action == "amend" and self._open.get(request.replaces_id) != request.replaces:
            answer(OrderStatus.REJECTED, *NO_SUCH_ORDER)
            return
        if cid in self._open:
            answer(OrderStatus.REJECTED, *DUPLICATE_ID)
            return
        if request.action == "amend":
            del self._open[request.replaces_id]
            venue.respond(
                OrderUpdate(
                    request.order.symbol,
                    now,
                    None,
                    now,
                    request.replaces_id,
                    OrderStatus.CANCELED,
                    serial=request.replaces,
                )
            )
        self._open[cid] = request.serial
        answer(OrderStatus.NEW)
