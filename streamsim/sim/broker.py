"""The simulated broker: carries orders to the venue and responses back, with latency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import count
from typing import Any

from ..errors import ConfigError
from ..orders import Order, OrderHandle, OrderRequest, OrderUpdate
from ..run.clock import PHASE_EXCHANGE_ORDER, PHASE_RESPONSE, VirtualClock
from .exchange import Exchange
from .latency import OrderLatency

Deliver = Callable[[Any], None]


class SimBroker:
    """Routes orders of every strategy in a run through one simulated venue.

    ``submit`` returns a handle at once; the request reaches the venue after the entry
    latency, and each venue response reaches its strategy after the response latency.
    Both directions behave like one ordered connection: with random latencies a message
    may wait for the one before it, but never overtakes it.
    """

    def __init__(self, clock: VirtualClock, exchange: Exchange, latency: OrderLatency) -> None:
        self._clock = clock
        self._exchange = exchange
        self._latency = latency
        self._orders: dict[str, tuple[OrderHandle, Deliver]] = {}
        self._ids = count(1)
        self._last_arrival = 0
        self._last_response = 0
        self.submitted = 0
        self.responses = 0
        exchange.bind(self)

    def now(self) -> int:
        return self._clock.now()

    def submit(self, order: Order, owner: Deliver, owner_name: str) -> OrderHandle:
        client_id = order.client_id or f"{owner_name}-{next(self._ids)}"
        known = self._orders.get(client_id)
        if known is not None and not known[0].status.is_final:
            raise ConfigError(f"client order id {client_id!r} is already in use by an open order")
        handle = OrderHandle(order, client_id)
        self._orders[client_id] = (handle, owner)
        self._send(OrderRequest("new", client_id, order, self._clock.now()))
        self.submitted += 1
        return handle

    def cancel(self, handle: OrderHandle) -> None:
        self._send(OrderRequest("cancel", handle.client_id, handle.order, self._clock.now()))

    def _send(self, request: OrderRequest) -> None:
        now = self._clock.now()
        # One ordered connection: a message never overtakes the one sent before it.
        arrival = max(now + self._latency.entry(now), self._last_arrival)
        self._last_arrival = arrival
        self._clock.schedule(arrival, PHASE_EXCHANGE_ORDER, self._exchange.on_order, request)

    def respond(self, update: OrderUpdate) -> None:
        """Venue side: deliver ``update`` to its strategy after the response latency
        (in the order the venue sent them, whatever the drawn latencies)."""
        produced = update.ts_exchange
        update.ts_local = max(produced + self._latency.response(produced), self._last_response)
        self._last_response = update.ts_local
        self._clock.schedule(update.ts_local, PHASE_RESPONSE, self._deliver, update)

    def _deliver(self, update: OrderUpdate) -> None:
        handle, owner = self._orders[update.client_id]
        self.responses += 1
        handle.apply(update)
        owner(update)


class StrategyBroker:
    """``ctx.broker``: one strategy's door to the broker."""

    __slots__ = ("_broker", "_deliver", "_name")

    def __init__(self, broker: SimBroker, deliver: Deliver, name: str) -> None:
        self._broker = broker
        self._deliver = deliver
        self._name = name

    def submit(self, order: Order) -> OrderHandle:
        """Send ``order``; the handle's state changes only as responses arrive."""
        return self._broker.submit(order, self._deliver, self._name)

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
