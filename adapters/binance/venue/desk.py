"""The loopback venue's trading side: signed requests in, ``SimExchange`` matching, the
venue's answers and user-stream events out. No network here: the server routes to it.

The desk is the :class:`~streamsim.sim.exchange.Venue` its ``SimExchange`` is bound to, so
every fill, cancel and account change the simulator produces passes through it. It keeps
what the real venue keeps and the simulator does not: order ids, client ids unique among
*open* orders, each order's wire state (``GET /fapi/v1/order`` answers for finished
orders too), the account's trades (``userTrades``), and the user stream's events.

Semantics follow the venue's (``../shared/reference/formats.md``): a request the venue
rejects (GTX that would cross: -5022; margin: -2019; reduce-only: -2022; notional:
-4164; a stop on the order endpoint: -4120) is an HTTP 400 with the venue's code and is
never recorded (no order id, no user event); an amend keeps the order id and client id
and loses queue priority (the simulator cancels and re-places it; the user stream shows
one ``AMENDMENT``); an order the venue itself ends (IOC / market remainder, FOK) is
``EXPIRED``. Stops live on the algo-order endpoint with their own ids.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from streamsim import order_checks as oc
from streamsim.account import AccountReason, AccountUpdate
from streamsim.errors import DataError
from streamsim.events import BUY, SELL
from streamsim.instruments import Instrument
from streamsim.orders import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    TimeInForce,
)
from streamsim.results.record import RunRecord
from streamsim.sim.matching import SimExchange

from .. import wire
from ..wire import ERRORS
from ..wire.errors import (
    ALGO_ENDPOINT,
    INVALID_ORDER_TYPE,
    INVALID_PARAMETER,
    INVALID_SIDE,
    INVALID_TIF,
    MANDATORY_PARAMETER,
    UNKNOWN_ERROR,
)
from ..wire.requests import AlgoOrderQuery, AmendOrder, NewAlgoOrder, NewOrder, OrderQuery

#: The venue's client id rule (``newClientOrderId`` / ``clientAlgoId``).
CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")

#: Order types the order endpoint takes; conditional types go to the algo endpoint.
ORDER_TYPES = {"LIMIT": OrderType.LIMIT, "MARKET": OrderType.MARKET}
ALGO_TYPES = {"STOP": OrderType.STOP_LIMIT, "STOP_MARKET": OrderType.STOP_MARKET}
CONDITIONAL = frozenset(
    ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
)
TIME_IN_FORCE = {tif.value: tif for tif in TimeInForce}
#: Decimals of an average fill price (the venue writes a handful, not 28).
AVERAGE_PLACES = Decimal("1e-8")
#: Self-trade prevention modes (of the taker order; ``NONE``, the default here, trades).
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
SIDES = {"BUY": BUY, "SELL": SELL}
SIDE_NAMES = {BUY: "BUY", SELL: "SELL"}

_ALGO_STATUS = {"NEW": "NEW", "CANCELED": "CANCELED", "EXPIRED": "EXPIRED"}

#: User-stream listeners take one event object (``ORDER_TRADE_UPDATE`` ...) at a time.
Listener = Callable[[dict[str, Any]], None]


class DeskError(Exception):
    """A request the venue refuses: its HTTP status and body (``{"code", "msg"}``)."""

    def __init__(self, code: int, *values: object) -> None:
        error = ERRORS[code]
        self.status = error.http_status
        self.body = error.body(*values)
        super().__init__(f"{code}: {self.body['msg']}")


@dataclass(slots=True)
class Tracked:
    """One order as the venue keeps it (its wire state, in ticks and lots)."""

    order_id: int
    client_id: str
    order: Order
    wire_type: str
    time: int
    algo: bool = False
    status: str = "NEW"
    filled: int = 0
    quote: Decimal = Decimal(0)
    update_time: int = 0
    #: Lots filled before the simulator's current version of the order (amends re-place it).
    base_filled: int = 0
    serial: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


def _ms(ns: int) -> int:
    return ns // 1_000_000


def _text(value: Decimal) -> str:
    return format(value, "f")


class Desk:
    """Order entry, bookkeeping and the user stream of one account on the loopback venue.

    ``now`` is the venue's replay time (ns); the desk binds ``exchange`` to itself.
    """

    def __init__(
        self,
        exchange: SimExchange,
        instruments: Mapping[str, Instrument],
        now: Callable[[], int],
    ) -> None:
        self.exchange = exchange
        self.instruments = dict(instruments)
        self._now = now
        self.record = RunRecord()
        self.listeners: list[Listener] = []
        self._ids = itertools.count(1)
        self._auto_ids = itertools.count(1)
        self._serials = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._algo_ids = itertools.count(1)
        self.orders: dict[int, Tracked] = {}  # by order id
        self.algo_orders: dict[int, Tracked] = {}  # by algo id (its own numbering)
        self._by_serial: dict[int, Tracked] = {}
        #: (symbol, client id, algo) -> order or algo id, of open orders only.
        self._open_ids: dict[tuple[str, str, bool], int] = {}
        self.trades: list[wire.UserTrade] = []
        self._pending: list[OrderUpdate | AccountUpdate] = []
        self._quiet: set[int] = set()  # serials whose cancel is an amend's (not shown)
        self._stp_expired: set[int] = set()  # serials self-trade prevention cancels
        exchange.bind(self)

    # -- the Venue protocol (what the simulator calls) -------------------------------------

    def now(self) -> int:
        return self._now()

    def respond(self, update: OrderUpdate | AccountUpdate) -> None:
        self._pending.append(update)

    # -- market ----------------------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        """Apply one market event (the replay's hook)."""
        self.on_market([event])

    def on_market(self, events: list[Any]) -> None:
        """Apply market events (in ``ts_exchange`` order) and publish what they caused."""
        start, stop = 0, len(events)
        while start < stop:
            start = self.exchange.on_market(events, start, stop)
            self._publish()

    # -- order entry -----------------------------------------------------------------------

    def new_order(self, request: NewOrder) -> dict[str, Any]:
        """``POST /fapi/v1/order``: the order's state after the venue took it."""
        wire_type = request.order_type
        if wire_type in CONDITIONAL:
            raise DeskError(ALGO_ENDPOINT)
        if wire_type not in ORDER_TYPES:
            raise DeskError(INVALID_ORDER_TYPE)
        instrument = self._instrument(request.symbol)
        order = self._order(
            instrument,
            request.side,
            ORDER_TYPES[wire_type],
            request.time_in_force,
            request.quantity,
            request.price,
            None,
            request.reduce_only,
        )
        client_id = self._client_id(request.symbol, request.new_client_order_id)
        stp = request.stp_mode or "NONE"
        if stp not in STP_MODES:
            raise DeskError(INVALID_PARAMETER, "selfTradePreventionMode")
        makers = self._self_matches(order) if stp != "NONE" else []
        if makers and stp in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
            for maker in makers:  # the resting orders it would meet expire first
                self._stp_expired.add(maker.serial)
                self._send("cancel", maker.client_id, maker.order, maker.serial)
        if makers and stp in ("EXPIRE_TAKER", "EXPIRE_BOTH"):
            tracked = self._expire_in_match(order, client_id, wire_type)
        else:
            tracked = self._place(order, client_id, wire_type, algo=False)
        if request.new_order_resp_type == "RESULT":
            return self.order_state(tracked)
        return self.order_state(tracked, as_placed=True)

    def new_algo_order(self, request: NewAlgoOrder) -> dict[str, Any]:
        """``POST /fapi/v1/algoOrder``: a conditional order (STOP, STOP_MARKET)."""
        if request.algo_type != "CONDITIONAL":
            raise DeskError(INVALID_PARAMETER, "algoType")
        if request.order_type not in ALGO_TYPES:
            raise DeskError(INVALID_ORDER_TYPE)
        if request.trigger_price is None:
            raise DeskError(MANDATORY_PARAMETER, "triggerPrice")
        instrument = self._instrument(request.symbol)
        order = self._order(
            instrument,
            request.side,
            ALGO_TYPES[request.order_type],
            request.time_in_force,
            request.quantity,
            request.price,
            request.trigger_price,
            request.reduce_only,
        )
        client_id = self._client_id(request.symbol, request.client_algo_id, algo=True)
        tracked = self._place(order, client_id, request.order_type, algo=True)
        return self.algo_state(tracked)

    def cancel_order(self, query: OrderQuery) -> dict[str, Any]:
        """``DELETE /fapi/v1/order``: the order's state after the cancel."""
        tracked = self._find(query.symbol, query.order_id, query.orig_client_order_id)
        if tracked is None or not tracked.is_open or tracked.algo:
            raise DeskError(oc.UNKNOWN_ORDER)
        self._send("cancel", tracked.client_id, tracked.order, tracked.serial)
        return self.order_state(tracked)

    def cancel_algo_order(self, query: AlgoOrderQuery) -> dict[str, Any]:
        """``DELETE /fapi/v1/algoOrder``."""
        tracked = self._find_algo(query.algo_id, query.client_algo_id)
        if tracked is None or not tracked.is_open:
            raise DeskError(oc.UNKNOWN_ORDER)
        self._send("cancel", tracked.client_id, tracked.order, tracked.serial)
        return {
            "algoId": tracked.order_id,
            "clientAlgoId": tracked.client_id,
            "code": "200",
            "msg": "success",
        }

    def cancel_all(self, symbol: str) -> dict[str, Any]:
        """``DELETE /fapi/v1/allOpenOrders``."""
        self._instrument(symbol)
        for tracked in list(self.orders.values()):
            if tracked.is_open and tracked.order.symbol == symbol and not tracked.algo:
                self._send("cancel", tracked.client_id, tracked.order, tracked.serial)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def amend_order(self, request: AmendOrder) -> dict[str, Any]:
        """``PUT /fapi/v1/order``: a LIMIT order's new price and quantity; it keeps its ids
        and loses its place in the queue. As on the venue, an order amended to no more than
        it has filled, or a GTX order amended to a price that would cross, is cancelled."""
        tracked = self._find(request.symbol, request.order_id, request.orig_client_order_id)
        if tracked is None or tracked.algo:
            raise DeskError(oc.NO_SUCH_ORDER[0])
        if not tracked.is_open:
            raise DeskError(oc.NO_SUCH_ORDER[0])
        instrument = self._instrument(request.symbol)
        side = SIDES.get(request.side)
        if side != tracked.order.side:
            raise DeskError(INVALID_SIDE)
        qty = self._lots(instrument, request.quantity, "quantity")
        price = self._ticks(instrument, request.price, "price")
        if qty <= tracked.filled:  # the venue cancels an order amended to what it filled
            self._send("cancel", tracked.client_id, tracked.order, tracked.serial)
            return self.order_state(tracked)
        old = tracked.order
        new = Order(
            old.symbol,
            old.side,
            qty - tracked.filled,
            price,
            old.type,
            old.tif,
            old.reduce_only,
            old.stop_price,
            old.client_id,
            old.trigger,
        )
        serial = next(self._serials)
        self._quiet.add(tracked.serial)
        request_ = OrderRequest(
            "amend",
            f"v{serial}",
            new,
            self.now(),
            serial,
            self._sim_id(tracked),
            tracked.serial,
        )
        previous = (tracked.serial, tracked.order, tracked.base_filled)
        tracked.serial, tracked.order, tracked.base_filled = serial, new, tracked.filled
        self._by_serial[serial] = tracked
        self.exchange.on_order(request_)
        rejected = self._reject_of(serial)
        if rejected is not None:
            self._quiet.discard(previous[0])
            tracked.serial, tracked.order, tracked.base_filled = previous
            del self._by_serial[serial]
            self._pending.clear()
            if rejected.code == oc.POST_ONLY[0]:  # a GTX order amended to cross: cancelled
                self._send("cancel", tracked.client_id, tracked.order, tracked.serial)
                return self.order_state(tracked)
            code, *values = _known(rejected)
            raise DeskError(code, *values)
        self._publish(amended=tracked)
        return self.order_state(tracked)

    # -- queries ---------------------------------------------------------------------------

    def query_order(self, query: OrderQuery) -> dict[str, Any]:
        tracked = self._find(query.symbol, query.order_id, query.orig_client_order_id)
        if tracked is None or tracked.algo:
            raise DeskError(oc.NO_SUCH_ORDER[0])
        return self.order_state(tracked)

    def query_algo_order(self, query: AlgoOrderQuery) -> dict[str, Any]:
        tracked = self._find_algo(query.algo_id, query.client_algo_id)
        if tracked is None:
            raise DeskError(oc.NO_SUCH_ORDER[0])
        return self.algo_state(tracked)

    def open_orders(self, symbol: str | None) -> list[dict[str, Any]]:
        return [
            self.order_state(t)
            for t in self.orders.values()
            if t.is_open and not t.algo and (symbol is None or t.order.symbol == symbol)
        ]

    def open_algo_orders(self, symbol: str | None) -> list[dict[str, Any]]:
        return [
            self.algo_state(t)
            for t in self.algo_orders.values()
            if t.is_open and (symbol is None or t.order.symbol == symbol)
        ]

    def user_trades(self, symbol: str, from_id: int | None = None) -> list[dict[str, Any]]:
        self._instrument(symbol)
        return [
            t.to_wire()
            for t in self.trades
            if t.symbol == symbol and (from_id is None or t.trade_id >= from_id)
        ]

    def position_risk(self, symbol: str | None) -> list[dict[str, Any]]:
        return [self._position_risk(name).to_wire() for name in self._symbols(symbol)]

    def account(self) -> dict[str, Any]:
        portfolio = self.exchange.portfolio
        now = _ms(self.now())
        wallet, unrealized = repr(portfolio.wallet), repr(portfolio.unrealized())
        equity, initial = repr(portfolio.equity), repr(portfolio.initial_margin())
        maint = repr(portfolio.maintenance_margin())
        available = repr(portfolio.equity - portfolio.initial_margin())
        asset = wire.AccountAsset(
            asset=portfolio.margin_asset,
            wallet_balance=wallet,
            unrealized_profit=unrealized,
            margin_balance=equity,
            maint_margin=maint,
            initial_margin=initial,
            position_initial_margin=initial,
            open_order_initial_margin="0",
            cross_wallet_balance=wallet,
            cross_un_pnl=unrealized,
            available_balance=available,
            max_withdraw_amount=available,
            update_time=now,
        )
        positions = []
        for name in self._symbols(None):
            risk = self._position_risk(name)
            positions.append(
                wire.AccountPosition(
                    symbol=name,
                    position_side="BOTH",
                    position_amt=risk.position_amt,
                    unrealized_profit=risk.unrealized_profit,
                    isolated_margin="0",
                    notional=risk.notional or "0",
                    isolated_wallet="0",
                    initial_margin=risk.initial_margin or "0",
                    maint_margin=risk.maint_margin or "0",
                    update_time=now,
                )
            )
        return wire.Account(
            total_initial_margin=initial,
            total_maint_margin=maint,
            total_wallet_balance=wallet,
            total_unrealized_profit=unrealized,
            total_margin_balance=equity,
            total_position_initial_margin=initial,
            total_open_order_initial_margin="0",
            total_cross_wallet_balance=wallet,
            total_cross_un_pnl=unrealized,
            available_balance=available,
            max_withdraw_amount=available,
            assets=(asset,),
            positions=tuple(positions),
        ).to_wire()

    # -- wire state ------------------------------------------------------------------------

    def order_state(self, tracked: Tracked, as_placed: bool = False) -> dict[str, Any]:
        """The order as ``GET /fapi/v1/order`` gives it; ``as_placed``: as the ACK of its
        placement (status NEW, nothing filled yet), the venue's default response."""
        order = tracked.order
        instrument = self.instruments[order.symbol]
        filled = 0 if as_placed else tracked.filled
        quote = Decimal(0) if as_placed else tracked.quote
        executed = _text(instrument.lots_to_decimal(filled))
        return wire.Order(
            order_id=tracked.order_id,
            symbol=order.symbol,
            status="NEW" if as_placed else tracked.status,
            client_order_id=tracked.client_id,
            price=self._price(instrument, order.price),
            avg_price=self._average(instrument, filled, quote),
            orig_qty=_text(instrument.lots_to_decimal(order.qty + tracked.base_filled)),
            executed_qty=executed,
            cum_qty=executed,
            cum_quote=_text(quote),
            time_in_force=order.tif.value,
            order_type=tracked.wire_type,
            reduce_only=order.reduce_only,
            close_position=False,
            side=SIDE_NAMES[order.side],
            position_side="BOTH",
            stop_price=self._price(instrument, order.stop_price),
            working_type="CONTRACT_PRICE",
            price_protect=False,
            orig_type=tracked.wire_type,
            price_match="NONE",
            stp_mode="NONE",
            good_till_date=0,
            time=_ms(tracked.time),
            update_time=_ms(tracked.update_time or tracked.time),
        ).to_wire()

    def algo_state(self, tracked: Tracked) -> dict[str, Any]:
        return self._algo(tracked).to_wire()

    def _algo(self, tracked: Tracked) -> wire.AlgoOrder:
        order = tracked.order
        instrument = self.instruments[order.symbol]
        return wire.AlgoOrder(
            algo_id=tracked.order_id,
            client_algo_id=tracked.client_id,
            algo_type="CONDITIONAL",
            order_type=tracked.wire_type,
            symbol=order.symbol,
            side=SIDE_NAMES[order.side],
            position_side="BOTH",
            time_in_force=order.tif.value,
            quantity=_text(instrument.lots_to_decimal(order.qty)),
            algo_status=_ALGO_STATUS.get(tracked.status, "TRIGGERED"),
            trigger_price=self._price(instrument, order.stop_price),
            price=self._price(instrument, order.price),
            reduce_only=order.reduce_only,
            working_type="CONTRACT_PRICE",
            create_time=_ms(tracked.time),
            update_time=_ms(tracked.update_time or tracked.time),
        )

    @staticmethod
    def _price(instrument: Instrument, ticks: int | None) -> str:
        return "0" if ticks is None else _text(instrument.ticks_to_decimal(ticks))

    @staticmethod
    def _average(instrument: Instrument, filled: int, quote: Decimal) -> str:
        if not filled:
            return "0"
        average = quote / instrument.lots_to_decimal(filled) / instrument.contract_size
        return _text(average.quantize(AVERAGE_PLACES).normalize())

    def _symbols(self, symbol: str | None) -> list[str]:
        if symbol is not None:
            self._instrument(symbol)
            return [symbol]
        return sorted(self.instruments)

    def _position_risk(self, name: str) -> wire.PositionRisk:
        portfolio = self.exchange.portfolio
        instrument = self.instruments[name]
        position = portfolio.position(name)
        return wire.PositionRisk(
            symbol=name,
            position_side="BOTH",
            position_amt=_text(instrument.lots_to_decimal(position.lots)),
            entry_price=repr(position.entry_price),
            mark_price=repr(portfolio.mark_price(name)),
            unrealized_profit=repr(portfolio.unrealized(name)),
            liquidation_price="0",
            notional=repr(portfolio.notional(name)),
            margin_asset=instrument.margin_asset,
            initial_margin=repr(portfolio.initial_margin(name)),
            maint_margin=repr(portfolio.maintenance_margin(name)),
            leverage=str(portfolio.leverage(name)),
            margin_type="cross",
            update_time=_ms(self.now()),
        )

    # -- internals -------------------------------------------------------------------------

    def _instrument(self, symbol: str) -> Instrument:
        instrument = self.instruments.get(symbol)
        if instrument is None:
            raise DeskError(oc.INVALID_SYMBOL[0])
        return instrument

    def _ticks(self, instrument: Instrument, text: str | None, name: str) -> int:
        return _on_grid(text, name, instrument.price_to_ticks)

    def _lots(self, instrument: Instrument, text: str | None, name: str) -> int:
        return _on_grid(text, name, instrument.qty_to_lots, positive=True)

    def _order(
        self,
        instrument: Instrument,
        side_text: str,
        order_type: OrderType,
        tif_text: str | None,
        qty_text: str | None,
        price_text: str | None,
        stop_text: str | None,
        reduce_text: str | None,
    ) -> Order:
        side = SIDES.get(side_text)
        if side is None:
            raise DeskError(INVALID_SIDE)
        limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        if limit and tif_text is None:
            raise DeskError(MANDATORY_PARAMETER, "timeInForce")
        tif = TIME_IN_FORCE.get(tif_text or "GTC")
        if tif is None:
            raise DeskError(INVALID_TIF)
        if reduce_text not in (None, "true", "false"):
            raise DeskError(INVALID_PARAMETER, "reduceOnly")
        qty = self._lots(instrument, qty_text, "quantity")
        price = self._ticks(instrument, price_text, "price") if limit else None
        if not limit and price_text is not None:
            raise DeskError(oc.PRICE_NOT_REQUIRED[0], "price")
        stop = None if stop_text is None else self._ticks(instrument, stop_text, "triggerPrice")
        return Order(
            instrument.symbol,
            side,
            qty,
            price,
            order_type,
            tif,
            reduce_text == "true",
            stop,
        )

    def _client_id(self, symbol: str, given: str | None, algo: bool = False) -> str:
        if given is None:
            return f"ss-{next(self._auto_ids)}"
        if not CLIENT_ID.match(given):
            raise DeskError(oc.BAD_CLIENT_ID[0])
        if (symbol, given, algo) in self._open_ids:
            raise DeskError(oc.DUPLICATE_ID[0])
        return given

    @staticmethod
    def _sim_id(tracked: Tracked) -> str:
        """The simulator's client id of the order's current version (an amend re-places it)."""
        return f"v{tracked.serial}"

    def _place(self, order: Order, client_id: str, wire_type: str, algo: bool) -> Tracked:
        serial = next(self._serials)
        now = self.now()
        tracked = Tracked(0, client_id, order, wire_type, now, algo=algo, serial=serial)
        tracked.update_time = now
        self._by_serial[serial] = tracked
        self.exchange.on_order(OrderRequest("new", self._sim_id(tracked), order, now, serial))
        rejected = self._reject_of(serial)
        if rejected is not None:  # never recorded: no order id, no event
            del self._by_serial[serial]
            self._pending.clear()
            code, *values = _known(rejected)
            raise DeskError(code, *values)
        order_id = next(self._algo_ids) if algo else next(self._ids)
        tracked.order_id = order_id
        (self.algo_orders if algo else self.orders)[order_id] = tracked
        self._open_ids[(order.symbol, client_id, algo)] = order_id
        self._publish()
        return tracked

    def _self_matches(self, order: Order) -> list[Tracked]:
        """The account's open orders on the other side that ``order`` would trade against
        (a market order meets them all; a limit order those at or through its price)."""
        matches = []
        for tracked in self.orders.values():
            other = tracked.order
            if not tracked.is_open or tracked.algo or other.symbol != order.symbol:
                continue
            if other.side == order.side or other.price is None:
                continue
            if order.price is None or (
                other.price <= order.price if order.side == BUY else other.price >= order.price
            ):
                matches.append(tracked)
        return matches

    def _expire_in_match(self, order: Order, client_id: str, wire_type: str) -> Tracked:
        """Record a taker order that self-trade prevention expired before it traded."""
        now = self.now()
        order_id = next(self._ids)
        tracked = Tracked(order_id, client_id, order, wire_type, now, serial=0, update_time=now)
        tracked.status = "EXPIRED_IN_MATCH"
        self.orders[order_id] = tracked
        for execution, status in (("NEW", "NEW"), ("EXPIRED", "EXPIRED_IN_MATCH")):
            self._emit(self._order_event(tracked, execution, status, now))
        return tracked

    def _send(self, action: str, client_id: str, order: Order, serial: int) -> None:
        tracked = self._by_serial[serial]
        request = OrderRequest(action, self._sim_id(tracked), order, self.now(), serial)
        self.exchange.on_order(request)
        self._publish()

    def _reject_of(self, serial: int) -> OrderUpdate | None:
        for update in self._pending:
            if isinstance(update, OrderUpdate) and update.serial == serial:
                return update if update.status is OrderStatus.REJECTED else None
        return None

    def _find(self, symbol: str, order_id: int | None, client_id: str | None) -> Tracked | None:
        self._instrument(symbol)
        if order_id is None and client_id is None:
            raise DeskError(MANDATORY_PARAMETER, "orderId")
        if order_id is not None:
            tracked = self.orders.get(order_id)
        else:
            open_id = self._open_ids.get((symbol, client_id or "", False))
            tracked = self.orders.get(open_id) if open_id is not None else None
            if tracked is None:  # the latest finished order of that client id
                matches = [
                    t
                    for t in self.orders.values()
                    if t.client_id == client_id and t.order.symbol == symbol and not t.algo
                ]
                tracked = matches[-1] if matches else None
        if tracked is None or tracked.order.symbol != symbol:
            return None
        return tracked

    def _find_algo(self, algo_id: int | None, client_id: str | None) -> Tracked | None:
        if algo_id is None and client_id is None:
            raise DeskError(MANDATORY_PARAMETER, "algoId")
        for tracked in reversed(self.algo_orders.values()):
            if (
                tracked.order_id == algo_id
                if algo_id is not None
                else tracked.client_id == client_id
            ):
                return tracked
        return None

    def _publish(self, amended: Tracked | None = None) -> None:
        """Book every pending simulator answer into the orders and tell the listeners."""
        pending, self._pending = self._pending, []
        for update in pending:
            if isinstance(update, AccountUpdate):
                self._emit(self._account_event(update))
                continue
            tracked = self._by_serial.get(update.serial)
            if tracked is None:
                continue  # the venue's own orders (liquidations) have no desk order
            if update.serial in self._quiet and update.status is OrderStatus.CANCELED:
                self._quiet.discard(update.serial)
                continue  # the cancel half of an amend
            event = self._book(tracked, update, amended is tracked)
            if event is not None:
                self._emit(event)

    def _book(self, tracked: Tracked, update: OrderUpdate, amended: bool) -> dict[str, Any] | None:
        """Apply one simulator answer to ``tracked``; its ``ORDER_TRADE_UPDATE`` (or None)."""
        instrument = self.instruments[tracked.order.symbol]
        now = update.ts_exchange
        tracked.update_time = now
        status = update.status
        trade_id = 0
        execution = status.value
        if update.last_qty:
            execution = "TRADE"
            tracked.filled = tracked.base_filled + update.filled_qty
            price = instrument.ticks_to_decimal(update.last_price)
            qty = instrument.lots_to_decimal(update.last_qty)
            quote = price * qty * instrument.contract_size
            tracked.quote += quote
            trade_id = next(self._trade_ids)
            self.trades.append(
                wire.UserTrade(
                    buyer=tracked.order.side == BUY,
                    commission=repr(update.fee),
                    commission_asset=instrument.margin_asset,
                    trade_id=trade_id,
                    maker=update.is_maker,
                    order_id=tracked.order_id,
                    price=_text(price),
                    qty=_text(qty),
                    quote_qty=_text(quote),
                    realized_pnl=repr(update.realized_pnl),
                    side=SIDE_NAMES[tracked.order.side],
                    position_side="BOTH",
                    symbol=tracked.order.symbol,
                    time=_ms(now),
                )
            )
        if status is OrderStatus.NEW:
            if amended:
                execution = "AMENDMENT"
            wire_status = "PARTIALLY_FILLED" if tracked.filled else "NEW"
        elif status is OrderStatus.CANCELED and update.serial in self._stp_expired:
            self._stp_expired.discard(update.serial)  # self-trade prevention took it
            execution, wire_status = "EXPIRED", "EXPIRED_IN_MATCH"
        else:
            wire_status = status.value
        tracked.status = wire_status
        if not tracked.is_open:
            self._open_ids.pop((tracked.order.symbol, tracked.client_id, tracked.algo), None)
        if tracked.algo and status is OrderStatus.NEW and not amended:
            return self._algo_event(tracked, "NEW", now)
        return self._order_event(tracked, execution, wire_status, now, update, trade_id)

    def _order_event(
        self,
        tracked: Tracked,
        execution: str,
        wire_status: str,
        now: int,
        update: OrderUpdate | None = None,
        trade_id: int = 0,
    ) -> dict[str, Any]:
        """The ``ORDER_TRADE_UPDATE`` of ``tracked`` now (its fill from ``update``, if any)."""
        instrument = self.instruments[tracked.order.symbol]
        state = self.order_state(tracked)
        last_qty = 0 if update is None else update.last_qty
        last_price = self._price(instrument, update.last_price if update and last_qty else None)
        return wire.OrderTradeUpdate(
            event_type="ORDER_TRADE_UPDATE",
            event_time=_ms(now),
            transaction_time=_ms(now),
            order=wire.OrderUpdate(
                symbol=tracked.order.symbol,
                client_order_id=tracked.client_id,
                side=state["side"],
                order_type="LIMIT" if tracked.order.price is not None else "MARKET",
                time_in_force=state["timeInForce"],
                orig_qty=state["origQty"],
                price=state["price"],
                average_price=state["avgPrice"],
                stop_price=state["stopPrice"],
                execution_type=execution,
                status=wire_status,
                order_id=tracked.order_id,
                last_filled_qty=_text(instrument.lots_to_decimal(last_qty)),
                filled_qty=state["executedQty"],
                last_filled_price=last_price,
                commission_asset=instrument.margin_asset,
                commission=repr(0.0 if update is None else update.fee),
                trade_time=_ms(now),
                trade_id=trade_id,
                bids_notional="0",
                asks_notional="0",
                is_maker=False if update is None else update.is_maker,
                reduce_only=tracked.order.reduce_only,
                working_type="CONTRACT_PRICE",
                orig_type=tracked.wire_type,
                position_side="BOTH",
                close_position=False,
                realized_profit=repr(0.0 if update is None else update.realized_pnl),
                price_protect=False,
                stp_mode="NONE",
                price_match="NONE",
                good_till_date=0,
            ),
        ).to_wire()

    def _algo_event(self, tracked: Tracked, status: str, now: int) -> dict[str, Any]:
        algo = self._algo(tracked)
        return wire.AlgoUpdate(
            event_type="ALGO_UPDATE",
            transaction_time=_ms(now),
            event_time=_ms(now),
            order=wire.AlgoOrderUpdate(
                client_algo_id=algo.client_algo_id,
                algo_id=algo.algo_id,
                algo_type=algo.algo_type,
                order_type=algo.order_type,
                symbol=algo.symbol,
                side=algo.side,
                position_side="BOTH",
                time_in_force=algo.time_in_force or "GTC",
                quantity=algo.quantity or "0",
                algo_status=status,
                trigger_price=algo.trigger_price or "0",
                price=algo.price or "0",
                working_type="CONTRACT_PRICE",
                close_position=False,
                reduce_only=tracked.order.reduce_only,
                trigger_time=0,
            ),
        ).to_wire()

    def _account_event(self, update: AccountUpdate) -> dict[str, Any]:
        portfolio = self.exchange.portfolio
        reason = "ORDER" if update.reason is AccountReason.SNAPSHOT else update.reason.value
        positions = tuple(
            wire.PositionUpdate(
                symbol=p.symbol,
                position_amount=_text(self.instruments[p.symbol].lots_to_decimal(p.lots)),
                entry_price=repr(p.entry_price),
                accumulated_realized="0",
                unrealized_pnl=repr(p.unrealized_pnl),
                margin_type="cross",
                isolated_wallet="0",
                position_side="BOTH",
            )
            for p in update.positions
            if p.symbol in self.instruments
        )
        wallet = repr(update.account.wallet)
        return wire.AccountUpdate(
            event_type="ACCOUNT_UPDATE",
            event_time=_ms(update.ts_exchange),
            transaction_time=_ms(update.ts_exchange),
            account=wire.AccountData(
                reason=reason,
                balances=(
                    wire.BalanceUpdate(
                        asset=portfolio.margin_asset,
                        wallet_balance=wallet,
                        cross_wallet_balance=wallet,
                        balance_change=repr(update.balance_change),
                    ),
                ),
                positions=positions,
            ),
        ).to_wire()

    def _emit(self, event: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(event)


def _on_grid(
    text: str | None, name: str, convert: Callable[[Decimal], int], positive: bool = False
) -> int:
    """A decimal parameter in grid units: -1102 when missing or not a number, -4003 when
    a quantity is not above zero, -1111 when it is off the grid."""
    if text is None:
        raise DeskError(MANDATORY_PARAMETER, name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise DeskError(MANDATORY_PARAMETER, name) from None
    if positive and value <= 0:
        raise DeskError(oc.BAD_QTY[0])
    try:
        return convert(value)
    except DataError:
        raise DeskError(oc.PRECISION[0]) from None


def _known(update: OrderUpdate) -> tuple[int, *tuple[object, ...]]:
    """The venue error of a simulator reject, with the values its message takes."""
    code = update.code
    if code not in ERRORS:
        return (UNKNOWN_ERROR,)
    template = ERRORS[code].message
    if "{}" in template:
        found = re.findall(r"[0-9]+(?:\.[0-9]+)?", update.reason)
        return (code, found[0] if found else "")
    return (code,)
