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

Rules that need the venue's state (symbol, margin, notional, post-only, reduce-only,
duplicate client id) are the venue's own; see :mod:`streamsim.sim.matching`.
"""

from __future__ import annotations

import re
from numbers import Integral, Real

import numpy as np

from .orders import LIQUIDATION_PREFIX, Order, OrderType, TimeInForce

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

#: The venue's client-id pattern (``newClientOrderId``).
CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
#: Largest price or size in ticks / lots: what fits the int64 columns of books and results.
MAX_UNITS = 2**63 - 1
#: The values ``Order.trigger`` takes.
TRIGGERS = (None, "last", "mark")

_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_STOPS = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool | np.bool_)


def _is_number(value: object) -> bool:
    """A real number (Python or NumPy), not a bool: the fields a grid check applies to."""
    return isinstance(value, Real) and not isinstance(value, bool | np.bool_)


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
