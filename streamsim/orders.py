"""Orders, their handles and the updates a strategy receives about them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .run.parking import SimEvent


class OrderType(enum.Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(enum.Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"  # post-only


class OrderStatus(enum.Enum):
    """Venue order states, plus ``PENDING`` (sent, no response yet)."""

    PENDING = "PENDING"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


@dataclass(frozen=True, slots=True)
class Order:
    """An order request. ``side`` is +1 buy / -1 sell, ``qty`` in lots, prices in ticks."""

    symbol: str
    side: int
    qty: int
    price: int | None = None
    type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    stop_price: int | None = None
    client_id: str | None = None
    #: What triggers a stop: "last" trade or "mark" price (None: the exchange's default).
    trigger: str | None = None


#: Client-id prefix of the venue's liquidation orders (Binance: ``autoclose-``).
LIQUIDATION_PREFIX = "autoclose-"


@dataclass(slots=True)
class OrderUpdate:
    """A venue response as the strategy receives it: ack, fill, cancel, reject.

    ``ts_exchange`` is when the venue produced it, ``ts_local`` when it reaches the
    strategy (``ts_exchange`` + response latency). ``code`` and ``reason`` carry the
    venue's error code and message on rejects (0 and "" otherwise). On a fill, ``fee`` is
    the commission of this fill and ``realized_pnl`` the PnL it closed (quote currency),
    as in the venue's ``ORDER_TRADE_UPDATE`` (``n``, ``rp``). ``side`` is the order's side.
    ``serial`` names the order it answers (``update.serial == handle.serial``): match
    updates to handles by it, since a client id may be reused once its order is final.

    The venue's own orders reach every strategy of the account too: a liquidation is an
    update whose ``client_id`` starts with ``"autoclose-"`` (:attr:`is_liquidation`); it
    executes at the mark price, and ``last_price`` is that price rounded to the nearest
    tick (the exact amounts are in the account update that follows it).
    """

    symbol: str
    ts_exchange: int
    ts_recv: int | None
    ts_local: int
    client_id: str
    status: OrderStatus
    filled_qty: int = 0
    last_qty: int = 0
    last_price: int = 0
    is_maker: bool = False
    code: int = 0
    reason: str = ""
    side: int = 0
    fee: float = 0.0
    realized_pnl: float = 0.0
    #: The broker's serial of the order this answers (its handle's ``serial``); 0 for the
    #: venue's own orders. Client ids may be reused once an order is final; serials never.
    serial: int = 0

    @property
    def is_liquidation(self) -> bool:
        """Whether this is the venue's liquidation order (client id ``autoclose-...``)."""
        return self.client_id.startswith(LIQUIDATION_PREFIX)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A message on its way to the venue: a new order, a cancel or an amend.

    ``serial`` is the broker's serial of the order it concerns (the venue echoes it in
    every answer, so answers reach the right handle whatever the client ids). An
    ``"amend"`` carries the replacement (``client_id``, ``order``, ``serial``) and the order
    it replaces (``replaces_id``, ``replaces``): the venue cancels that one and places the
    replacement only if it is still open (cancel-replace in one step); otherwise the
    replacement is rejected with -2013 and nothing is placed.
    """

    action: str  # "new", "cancel" or "amend"
    client_id: str
    order: Order
    sent_at: int
    serial: int = 0
    replaces_id: str = ""
    replaces: int = 0


class OrderHandle:
    """The strategy's view of one order; changes only when responses arrive.

    ``acked()``, ``filled()`` and ``done()`` can be awaited in every world: under the
    simulation kernel they park on simulated time, on a real event loop they wait there.
    """

    __slots__ = (
        "_acked",
        "_done",
        "_filled",
        "client_id",
        "filled_qty",
        "order",
        "serial",
        "status",
        "updates",
    )

    def __init__(self, order: Order, client_id: str, serial: int = 0) -> None:
        self.order = order
        self.client_id = client_id
        #: The broker's serial of this order, unique in the run (updates carry it too).
        self.serial = serial
        self.status = OrderStatus.PENDING
        self.filled_qty = 0
        self.updates: list[OrderUpdate] = []
        self._acked = SimEvent()
        self._filled = SimEvent()
        self._done = SimEvent()

    def apply(self, update: OrderUpdate) -> None:
        """Record a response (the broker calls this when it reaches the strategy)."""
        self.updates.append(update)
        if self.status.is_final:
            return
        self.status = update.status
        self.filled_qty = update.filled_qty
        self._acked.set()
        if update.last_qty:
            self._filled.set()
        if update.status.is_final:
            self._filled.set()
            self._done.set()

    def acked(self) -> SimEvent:
        """Await the first response (ack, fill or reject)."""
        return self._acked

    def filled(self) -> SimEvent:
        """Await the first fill, or a final state without one (so it never waits forever:
        check ``filled_qty`` or ``status`` afterwards)."""
        return self._filled

    def done(self) -> SimEvent:
        """Await a final state (filled, canceled, rejected, expired)."""
        return self._done

    @property
    def is_open(self) -> bool:
        """Sent and not known to be final (``PENDING`` counts: it may rest at the venue)."""
        return not self.status.is_final

    def __repr__(self) -> str:
        return f"OrderHandle({self.client_id!r}, {self.status.value}, filled={self.filled_qty})"
