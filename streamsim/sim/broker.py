"""The simulated broker: carries orders to the venue and its answers back, with latency.

:class:`SimBroker` is the run's one connection to a simulated venue; each strategy gets a
:class:`StrategyBroker` (its ``ctx.broker``, a :class:`streamsim.Broker`). It runs on any
:class:`~streamsim.run.clock.Scheduler`: the virtual clock of a backtest or the wall
clock of paper live.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import count
from typing import Any

from ..account import AccountState, AccountUpdate, AccountView, PositionState
from ..errors import StrategyError
from ..instruments import ContractKind
from ..order_checks import field_reject, order_fault
from ..orders import Order, OrderHandle, OrderRequest, OrderStatus, OrderUpdate
from ..results.record import OrderRecord, RunRecord
from ..run.clock import PHASE_EXCHANGE_ORDER, PHASE_RESPONSE, Scheduler
from .exchange import Exchange
from .latency import OrderLatency

Deliver = Callable[[Any], None]


class _Client:
    """One strategy's end of the connection: where its updates go, its open orders."""

    __slots__ = ("deliver", "name", "open", "wants_account")

    def __init__(self, name: str, deliver: Deliver, wants_account: bool) -> None:
        self.name = name
        self.deliver = deliver
        self.wants_account = wants_account
        self.open: dict[int, OrderHandle] = {}  # by serial, oldest first


class SimBroker:
    """Routes the orders of every strategy in a run through one simulated venue.

    ``submit`` returns a handle at once; the request reaches the venue after the entry
    latency, and each venue message reaches the strategy side after the response latency.
    Both directions behave like one ordered connection: with random latencies a message
    may wait for the one before it, but never overtakes it.

    Every order gets a serial, unique in the run; requests carry it, the venue echoes it,
    and answers are routed by it to the handle they belong to (never by client id, which
    may be reused once its order is final). Order updates go to the strategy that sent the
    order; the venue's own orders (a liquidation, client id ``autoclose-...``, serial 0)
    and account updates go to every strategy, since they share the account. The shared
    :class:`~streamsim.account.AccountView` takes each account update when it arrives,
    before any strategy sees it.

    Orders are checked at submit (:mod:`streamsim.order_checks`): a programming error
    raises :class:`~streamsim.errors.StrategyError` and sends nothing; a value the venue
    would reject is answered ``REJECTED`` with the venue's code, after the round trip the
    venue's answer would take.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        exchange: Exchange,
        latency: OrderLatency,
        record: RunRecord,
    ) -> None:
        self._scheduler = scheduler
        self._exchange = exchange
        self._latency = latency
        self.record = record
        self._orders: dict[int, tuple[OrderHandle, _Client]] = {}
        self._clients: list[_Client] = []
        self._ids = count(1)
        self._serials = count(1)
        self._last_arrival = 0
        self._last_response = 0
        self.submitted = 0
        self.responses = 0
        exchange.bind(self)
        self.view = AccountView(units=_units_per_lot(exchange))
        self.view.apply(exchange.snapshot(scheduler.now()))

    def now(self) -> int:
        return self._scheduler.now()

    def connect(self, name: str, deliver: Deliver, wants_account: bool = True) -> StrategyBroker:
        """Open strategy ``name``'s door; its updates are handed to ``deliver``."""
        client = _Client(name, deliver, wants_account)
        self._clients.append(client)
        return StrategyBroker(self, client)

    def _fault(self, client: _Client, what: str, problem: str) -> StrategyError:
        """The error for a programming error in strategy ``client``'s ``what`` call."""
        return StrategyError(client.name, what, self._scheduler.now(), ValueError(problem))

    def _checked(self, order: Order, client: _Client, what: str) -> tuple[int, str] | None:
        fault = order_fault(order)
        if fault is not None:
            raise self._fault(client, what, f"{fault}, in {order!r}")
        return field_reject(order)

    def own(self, handle: object, client: _Client, what: str) -> OrderHandle:
        """``handle`` if this broker issued it to ``client``; else a StrategyError (a
        strategy acts only on its own orders)."""
        serial = getattr(handle, "serial", None)
        known = self._orders.get(serial) if type(serial) is int else None
        if known is None or known[0] is not handle:
            raise self._fault(client, what, f"{handle!r} was never issued by this broker")
        if known[1] is not client:
            raise self._fault(
                client, what, f"{handle!r} belongs to strategy {known[1].name!r}, not this one"
            )
        return known[0]

    def _issue(self, order: Order, client: _Client) -> OrderHandle:
        client_id = order.client_id
        if client_id is None:
            client_id = f"{client.name}-{next(self._ids)}"
        handle = OrderHandle(order, client_id, next(self._serials))
        self._orders[handle.serial] = (handle, client)
        client.open[handle.serial] = handle
        self.record.orders.append(OrderRecord(client.name, handle))
        self.submitted += 1
        return handle

    def submit(self, order: Order, client: _Client) -> OrderHandle:
        reject = self._checked(order, client, "submit")
        handle = self._issue(order, client)
        request = OrderRequest("new", handle.client_id, order, self._scheduler.now(), handle.serial)
        self._send(request, reject)
        return handle

    def cancel(self, handle: OrderHandle) -> None:
        self._send(
            OrderRequest(
                "cancel", handle.client_id, handle.order, self._scheduler.now(), handle.serial
            )
        )

    def amend(self, handle: OrderHandle, order: Order, client: _Client) -> OrderHandle:
        """Cancel-replace ``handle``'s order by ``order`` in one venue step."""
        reject = self._checked(order, client, "amend")
        new = self._issue(order, client)
        request = OrderRequest(
            "amend",
            new.client_id,
            order,
            self._scheduler.now(),
            new.serial,
            handle.client_id,
            handle.serial,
        )
        self._send(request, reject)
        return new

    def _send(self, request: OrderRequest, reject: tuple[int, str] | None = None) -> None:
        now = self._scheduler.now()
        # One ordered connection: a message never overtakes the one sent before it.
        arrival = max(now + self._latency.entry(now), self._last_arrival)
        self._last_arrival = arrival
        if reject is None:
            self._scheduler.schedule(
                arrival, PHASE_EXCHANGE_ORDER, self._exchange.on_order, request
            )
        else:  # answered as the venue would answer it, when it would
            self._scheduler.schedule(arrival, PHASE_EXCHANGE_ORDER, self._reject, (request, reject))

    def _reject(self, item: tuple[OrderRequest, tuple[int, str]]) -> None:
        request, (code, reason) = item
        now = self._scheduler.now()
        self.respond(
            OrderUpdate(
                request.order.symbol,
                now,
                None,
                now,
                request.client_id,
                OrderStatus.REJECTED,
                code=code,
                reason=reason,
                serial=request.serial,
            )
        )

    def respond(self, update: OrderUpdate | AccountUpdate) -> None:
        """Venue side: deliver ``update`` after the response latency (in the order the
        venue sent them, whatever the drawn latencies)."""
        produced = update.ts_exchange
        update.ts_local = max(produced + self._latency.response(produced), self._last_response)
        self._last_response = update.ts_local
        self._scheduler.schedule(update.ts_local, PHASE_RESPONSE, self._deliver, update)

    def _deliver(self, update: OrderUpdate | AccountUpdate) -> None:
        self.responses += 1
        if type(update) is AccountUpdate:
            self.view.apply(update)
            self.record.account_updates.append(update)
            for client in self._clients:
                if client.wants_account:
                    client.deliver(update)
            return
        assert isinstance(update, OrderUpdate)
        known = self._orders.get(update.serial)
        if known is None:  # the venue's own order (a liquidation): every strategy sees it
            for client in self._clients:
                client.deliver(update)
            return
        handle, client = known
        handle.apply(update)
        if handle.status.is_final:
            client.open.pop(handle.serial, None)
        client.deliver(update)


def _remaining(handle: OrderHandle) -> int:
    """What the strategy knows to remain of ``handle``'s order (the whole order once it is
    known to be done: its amend is refused by the venue, not by a size check)."""
    left = handle.order.qty - handle.filled_qty
    return left if left > 0 else handle.order.qty


def _units_per_lot(exchange: Exchange) -> dict[str, float]:
    """Base units per lot of each linear instrument the venue trades (none for a venue
    without instruments, such as :class:`NullExchange`)."""
    instruments = getattr(exchange, "instruments", None) or {}
    return {
        symbol: float(instrument.lot_size * instrument.contract_size)
        for symbol, instrument in instruments.items()
        if instrument.kind is ContractKind.LINEAR
    }


class StrategyBroker:
    """``ctx.broker`` in simulation: one strategy's :class:`streamsim.Broker`.

    A strategy acts only on its own orders: ``cancel`` and ``amend`` of a handle this
    broker did not issue to it (another strategy's, or one built by hand) raise
    :class:`~streamsim.errors.StrategyError`, as do orders with badly typed fields.
    """

    __slots__ = ("_broker", "_client")

    def __init__(self, broker: SimBroker, client: _Client) -> None:
        self._broker = broker
        self._client = client

    def submit(self, order: Order) -> OrderHandle:
        """Send ``order``; the handle's state changes only as responses arrive."""
        return self._broker.submit(order, self._client)

    def cancel(self, handle: OrderHandle) -> None:
        """Send a cancel for ``handle``'s order (it travels like a submit). A cancel of an
        order the venue no longer has is answered ``REJECTED`` -2011 on that handle."""
        self._broker.cancel(self._broker.own(handle, self._client, "cancel"))

    def amend(
        self, handle: OrderHandle, price: int | None = None, qty: int | None = None
    ) -> OrderHandle:
        """Cancel-replace in one venue step: if ``handle``'s order is still open when the
        amend arrives, it is cancelled and a copy with the new price and/or size is placed
        under a new client id (joining the back of the queue); otherwise the returned
        handle is ``REJECTED`` -2013 and no order is placed. A replacement the venue
        rejects (post-only would cross, margin, ...) leaves the original as it was.
        Without ``qty`` the copy is for what the strategy knows to remain
        (``order.qty - handle.filled_qty``; fills still in flight are not subtracted)."""
        handle = self._broker.own(handle, self._client, "amend")
        order = handle.order
        return self._broker.amend(
            handle,
            replace(
                order,
                price=order.price if price is None else price,
                qty=_remaining(handle) if qty is None else qty,
                client_id=None,
            ),
            self._client,
        )

    def cancel_all(self, symbol: str) -> list[OrderHandle]:
        """Send a cancel for each of this strategy's open orders on ``symbol``."""
        handles = self.open_orders(symbol)
        for handle in handles:
            self._broker.cancel(handle)
        return handles

    def open_orders(self, symbol: str | None = None) -> list[OrderHandle]:
        """This strategy's orders not known to be final, oldest first."""
        return [h for h in self._client.open.values() if symbol is None or h.order.symbol == symbol]

    def position(self, symbol: str) -> PositionState:
        """The position on ``symbol`` as the last arrived account update reported it,
        its unrealized PnL at the last mark price this side received."""
        return self._broker.view.position(symbol)

    def balance(self) -> float:
        """The wallet balance as last reported."""
        return self._broker.view.state.wallet

    def account(self) -> AccountState:
        """Wallet, equity, margin used and available, as last reported."""
        return self._broker.view.state
