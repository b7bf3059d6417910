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
from ..errors import ConfigError
from ..instruments import ContractKind
from ..orders import Order, OrderHandle, OrderRequest, OrderUpdate
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
        self.open: dict[str, OrderHandle] = {}


class SimBroker:
    """Routes the orders of every strategy in a run through one simulated venue.

    ``submit`` returns a handle at once; the request reaches the venue after the entry
    latency, and each venue message reaches the strategy side after the response latency.
    Both directions behave like one ordered connection: with random latencies a message
    may wait for the one before it, but never overtakes it.

    Order updates go to the strategy that sent the order; the venue's own orders (a
    liquidation, client id ``autoclose-...``) and account updates go to every strategy,
    since they share the account. The shared :class:`~streamsim.account.AccountView` takes
    each account update when it arrives, before any strategy sees it.
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
        self._orders: dict[str, tuple[OrderHandle, _Client]] = {}
        self._clients: list[_Client] = []
        self._ids = count(1)
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

    def submit(self, order: Order, client: _Client) -> OrderHandle:
        client_id = order.client_id or f"{client.name}-{next(self._ids)}"
        known = self._orders.get(client_id)
        if known is not None and not known[0].status.is_final:
            raise ConfigError(f"client order id {client_id!r} is already in use by an open order")
        handle = OrderHandle(order, client_id)
        self._orders[client_id] = (handle, client)
        client.open[client_id] = handle
        self.record.orders.append(OrderRecord(client.name, handle))
        self._send(OrderRequest("new", client_id, order, self._scheduler.now()))
        self.submitted += 1
        return handle

    def cancel(self, handle: OrderHandle) -> None:
        self._send(OrderRequest("cancel", handle.client_id, handle.order, self._scheduler.now()))

    def _send(self, request: OrderRequest) -> None:
        now = self._scheduler.now()
        # One ordered connection: a message never overtakes the one sent before it.
        arrival = max(now + self._latency.entry(now), self._last_arrival)
        self._last_arrival = arrival
        self._scheduler.schedule(arrival, PHASE_EXCHANGE_ORDER, self._exchange.on_order, request)

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
        known = self._orders.get(update.client_id)
        if known is None:  # the venue's own order (a liquidation): every strategy sees it
            for client in self._clients:
                client.deliver(update)
            return
        handle, client = known
        handle.apply(update)
        if update.status.is_final:
            client.open.pop(update.client_id, None)
        client.deliver(update)


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
    """``ctx.broker`` in simulation: one strategy's :class:`streamsim.Broker`."""

    __slots__ = ("_broker", "_client")

    def __init__(self, broker: SimBroker, client: _Client) -> None:
        self._broker = broker
        self._client = client

    def submit(self, order: Order) -> OrderHandle:
        """Send ``order``; the handle's state changes only as responses arrive."""
        return self._broker.submit(order, self._client)

    def cancel(self, handle: OrderHandle) -> None:
        """Send a cancel for ``handle``'s order (it travels like a submit)."""
        self._broker.cancel(handle)

    def amend(
        self, handle: OrderHandle, price: int | None = None, qty: int | None = None
    ) -> OrderHandle:
        """Cancel-replace: cancel ``handle``'s order and send a copy with a new price and/or
        size under a new client id. The replacement joins the back of the queue."""
        self._broker.cancel(handle)
        order = handle.order
        return self.submit(
            replace(
                order,
                price=order.price if price is None else price,
                qty=order.qty if qty is None else qty,
                client_id=None,
            )
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
