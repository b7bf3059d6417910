"""The rules an order's fields must meet: one home, for the broker of every world.

Two kinds of fault, told apart on purpose:

* a **programming error** (a field of the wrong type, a value outside its enum, a string
  where an enum member belongs, ``None`` where a value is required): :func:`order_fault`
  describes it, and the broker raises :class:`~streamsim.errors.StrategyError` at
  ``submit``; nothing is sent, nothing is silently defaulted;
* a **value the venue would reject** (size or price not positive, not on the grid, beyond
  the venue's range, a price a type does not take, a malformed client id):
  :func:`field_reject` gives the venue's error code and message, and the order is answered
  ``REJECTED`` with them, as the venue would answer it.

Rules that need the venue's state (symbol, book guard, reduce-only, stop trigger,
notional, margin, post-only) are :func:`venue_reject`, which a simulated venue calls with
its state. Every reject code a strategy can get is defined in this module, the field
rules' and the venue's alike (``REJECT_CODES`` lists them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from numbers import Integral, Real
from typing import TYPE_CHECKING

import numpy as np

from .events import BUY
from .orders import LIQUIDATION_PREFIX, Order, OrderType, TimeInForce

if TYPE_CHECKING:
    from .book import L2Book
    from .instruments import Instrument
    from .sim.guard import BookGuard
    from .sim.portfolio import Portfolio

#: Binance USD-M codes and messages of the field rules.
PRECISION = (-1111, "Precision is over the maximum defined for this asset.")
BAD_QTY = (-4003, "Quantity less than or equal to zero.")
QTY_TOO_LARGE = (-4005, "Quantity greater than max quantity.")
PRICE_TOO_SMALL = (-4013, "Price less than min price.")
PRICE_TOO_LARGE = (-4002, "Price greater than max price.")
STOP_TOO_SMALL = (-4006, "Stop price less than zero.")
STOP_TOO_LARGE = (-4007, "Stop price greater than max price.")
NO_PRICE = (-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
NO_STOP_PRICE = (
    -1102,
    "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed.",
)
PRICE_NOT_REQUIRED = (-1106, "Parameter 'price' sent when not required.")
STOP_NOT_REQUIRED = (-1106, "Parameter 'stopPrice' sent when not required.")
BAD_CLIENT_ID = (-4015, "Client order id is not valid.")

#: Binance USD-M codes and messages of the rules that need the venue's state.
INVALID_SYMBOL = (-1121, "Invalid symbol.")
MARGIN = (-2019, "Margin is insufficient.")
REDUCE_ONLY = (-2022, "ReduceOnly Order is rejected.")
MIN_NOTIONAL = (
    -4164,
    "Order's notional must be no smaller than {} (unless you choose reduce only).",
)
IMMEDIATE_TRIGGER = (-2021, "Order would immediately trigger.")
POST_ONLY = (
    -5022,
    "Due to the order could not be executed as maker, the Post Only order will be rejected.",
)
DUPLICATE_ID = (-4116, "ClientOrderId is duplicated.")
NO_SUCH_ORDER = (-2013, "Order does not exist.")
#: Binance's code for a cancel of an order it does not know.
UNKNOWN_ORDER = -2011
UNKNOWN_ORDER_MESSAGE = "Unknown order sent."
#: streamsim's own reject code for a submit blocked by the book guard (not a venue code).
GUARD_REJECT = -9001
GUARD_MESSAGE = "Blocked by the book guard: {}."
#: streamsim's own reject code for a new order of a bankrupt account (wallet below zero).
BANKRUPT_REJECT = -9002
BANKRUPT_MESSAGE = "Account is bankrupt: the wallet balance went below zero."
BANKRUPT = (BANKRUPT_REJECT, BANKRUPT_MESSAGE)

#: Every reject code a strategy can get from a streamsim venue, with its message.
REJECT_CODES: dict[int, tuple[str, ...]] = {}
for _code, _message in (
    PRECISION,
    BAD_QTY,
    QTY_TOO_LARGE,
    PRICE_TOO_SMALL,
    PRICE_TOO_LARGE,
    STOP_TOO_SMALL,
    STOP_TOO_LARGE,
    NO_PRICE,
    NO_STOP_PRICE,
    PRICE_NOT_REQUIRED,
    STOP_NOT_REQUIRED,
    BAD_CLIENT_ID,
    INVALID_SYMBOL,
    MARGIN,
    REDUCE_ONLY,
    MIN_NOTIONAL,
    IMMEDIATE_TRIGGER,
    POST_ONLY,
    DUPLICATE_ID,
    NO_SUCH_ORDER,
    (UNKNOWN_ORDER, UNKNOWN_ORDER_MESSAGE),
    (GUARD_REJECT, GUARD_MESSAGE),
    BANKRUPT,
):
    REJECT_CODES[_code] = (*REJECT_CODES.get(_code, ()), _message)
del _code, _message

#: The venue's client-id pattern (``newClientOrderId``).
CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
#: Largest price or size in ticks / lots: what fits the int64 columns of books and results.
MAX_UNITS = 2**63 - 1
#: The values ``Order.trigger`` takes.
TRIGGERS = (None, "last", "mark")

_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_STOPS = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


def _is_int(value: object) -> bool:
    # type() first: a plain int is the usual case, and the ABC check costs ~1 us.
    return type(value) is int or (
        isinstance(value, Integral) and not isinstance(value, bool | np.bool_)
    )


def _is_number(value: object) -> bool:
    """A real number (Python or NumPy), not a bool: the fields a grid check applies to."""
    return type(value) in (int, float) or (
        isinstance(value, Real) and not isinstance(value, bool | np.bool_)
    )


def reducible(side: int, position: int) -> int:
    """Lots a reduce-only order of ``side`` may still fill against ``position`` (signed
    lots): the position's size if the order is on its other side, else 0 (the venue then
    expires the order)."""
    return abs(position) if position * side < 0 else 0


def order_fault(order: object) -> str | None:
    """What makes ``order`` a programming error (None if its fields are well typed).

    Enum fields take their enum's members only (``TimeInForce.IOC``, never ``"IOC"``);
    ``side`` is ``BUY`` (+1) or ``SELL`` (-1); ``qty`` is a number, ``price`` and
    ``stop_price`` a number or None; ``reduce_only`` a bool; ``client_id`` a str or None;
    ``trigger`` ``"last"``, ``"mark"`` or None.
    """
    if not isinstance(order, Order):
        return f"expected a streamsim.Order, got {type(order).__name__} {order!r}"
    # Read as plain objects: the annotations say what they should be, not what they are.
    fields: dict[str, object] = {
        name: getattr(order, name) for name in ("symbol", "side", "qty", "price", "stop_price")
    }
    kind: object = order.type
    tif: object = order.tif
    reduce_only: object = order.reduce_only
    client_id: object = order.client_id
    trigger: object = order.trigger
    if not isinstance(fields["symbol"], str):
        return f"symbol must be a str, got {fields['symbol']!r}"
    side = fields["side"]
    if not _is_int(side) or side not in (1, -1):
        return f"side must be ss.BUY (1) or ss.SELL (-1), got {side!r}"
    if not _is_number(fields["qty"]):
        return f"qty must be an integer number of lots, got {fields['qty']!r}"
    for name in ("price", "stop_price"):
        value = fields[name]
        if value is not None and not _is_number(value):
            return f"{name} must be an integer number of ticks or None, got {value!r}"
    if type(kind) is not OrderType:
        return f"type must be an ss.OrderType member, got {kind!r}"
    if type(tif) is not TimeInForce:
        return f"tif must be an ss.TimeInForce member, got {tif!r}"
    if not isinstance(reduce_only, bool | np.bool_):
        return f"reduce_only must be a bool, got {reduce_only!r}"
    if client_id is not None and not isinstance(client_id, str):
        return f"client_id must be a str or None, got {client_id!r}"
    if trigger is not None and (not isinstance(trigger, str) or trigger not in TRIGGERS):
        return f"trigger must be 'last', 'mark' or None, got {trigger!r}"
    return None


def _units(value: object, small: tuple[int, str], large: tuple[int, str]) -> tuple[int, str] | None:
    if not _is_int(value):
        return PRECISION  # a float, NaN, a Fraction: not on the tick / lot grid
    number = int(value)  # type: ignore[call-overload]
    if number <= 0:
        return small
    if number > MAX_UNITS:
        return large
    return None


def field_reject(order: Order) -> tuple[int, str] | None:
    """The venue's (code, message) for a well-typed ``order`` whose values it would reject,
    or None. Checks run in the order of the table in ``docs/execution.md``."""
    if not all(_is_int(v) for v in (order.qty, order.price, order.stop_price) if v is not None):
        return PRECISION
    error = _units(order.qty, BAD_QTY, QTY_TOO_LARGE)
    if error is not None:
        return error
    if order.type in _PRICED:
        if order.price is None:
            return NO_PRICE
    elif order.price is not None:
        return PRICE_NOT_REQUIRED
    if order.type in _STOPS:
        if order.stop_price is None:
            return NO_STOP_PRICE
    elif order.stop_price is not None:
        return STOP_NOT_REQUIRED
    if order.price is not None:
        error = _units(order.price, PRICE_TOO_SMALL, PRICE_TOO_LARGE)
        if error is not None:
            return error
    if order.stop_price is not None:
        error = _units(order.stop_price, STOP_TOO_SMALL, STOP_TOO_LARGE)
        if error is not None:
            return error
    cid = order.client_id
    if cid is not None and (CLIENT_ID.fullmatch(cid) is None or cid.startswith(LIQUIDATION_PREFIX)):
        return BAD_CLIENT_ID
    return None


def venue_reject(
    order: Order,
    instrument: Instrument | None,
    book: L2Book | None,
    portfolio: Portfolio,
    guard: BookGuard | None,
    now: int,
    last: int | None,
    would_trigger: Callable[[Order], bool],
) -> tuple[int, str] | None:
    """The venue's (code, message) for a new ``order`` it would reject in its state now,
    or None: symbol, field rules, book guard, reduce-only, stop trigger, notional, margin,
    post-only, in that order (the table in ``docs/execution.md``).

    ``last`` is the symbol's last trade price (ticks) if any; ``would_trigger`` says
    whether a stop order would trigger at once (the stop module's rule).
    """
    if instrument is None or book is None:
        return INVALID_SYMBOL
    error = field_reject(order)
    if error is not None:
        return error
    if guard is not None:
        reason = guard.blocks(book, now)
        if reason is not None:
            return (GUARD_REJECT, GUARD_MESSAGE.format(reason))
    reduces = order.qty <= reducible(order.side, portfolio.position(order.symbol).lots)
    if order.reduce_only and not reduces:
        return REDUCE_ONLY
    if order.type in _STOPS and would_trigger(order):
        return IMMEDIATE_TRIGGER
    reference = (
        order.price
        if order.price is not None
        else (book.best_ask if order.side == BUY else book.best_bid)
    )
    if reference is None:
        reference = order.stop_price or last
    if reference is not None and not order.reduce_only:
        notional = instrument.notional(reference, order.qty)
        if notional < float(instrument.min_notional):
            return (MIN_NOTIONAL[0], MIN_NOTIONAL[1].format(instrument.min_notional))
        if not reduces and not portfolio.can_open(order.symbol, order.side, order.qty, reference):
            return MARGIN
    if order.tif is TimeInForce.GTX and order.price is not None:
        opposite = book.best_ask if order.side == BUY else book.best_bid
        if opposite is not None and (
            order.price >= opposite if order.side == BUY else order.price <= opposite
        ):
            return POST_ONLY
    return None
