"""The queue rule: when and how much a resting (maker) order of ours fills.

A :class:`QueueModel` owns the whole rule, step by step, as hftbacktest's ``models/``
do. The venue (:class:`~streamsim.sim.matching.SimExchange`) calls it on a
:class:`RestingOrder` when the order joins its level, when a trade prints at or through
its price, when a depth message reports its level, and when the opposite side of the book
reaches its price; the model answers how many lots fill. The venue does the rest: fees,
the reduce-only cap, the order's ``filled`` count, answers to the strategy.

:class:`QueueRule` is streamsim's rule, the base of the three models shipped:

* **join**: the queue ahead is the level's visible size plus our own earlier orders at
  the price (we join behind both);
* **trade at our price**: it consumes the queue ahead first; what goes beyond fills us,
  times ``participation`` (rounded down);
* **level change**: trades counted since the venue last reported the level are part of
  the change; the rest of a decrease is attributed by :meth:`QueueRule.on_decrease`
  (the one step the three models differ in), and the queue ahead never exceeds the
  level; increases join behind us;
* **trade through our price**: fills all we have left;
* **book crosses our price**: fills what we take of the liquidity at or through it.

The probabilistic models follow the queue-position literature and hftbacktest's
``ProbQueueModel``: a decrease is split between the queue ahead and the queue behind,
with the share behind ``f(behind) / (f(behind) + f(ahead))``; they are deterministic
(they move the expected amount), so a run needs no random draws.
"""

from __future__ import annotations

import math
from typing import Protocol

from ..errors import ConfigError
from ..orders import Order


class RestingOrder:
    """One of our orders resting in the venue's book, with its place in the queue."""

    __slots__ = (
        "ahead",
        "client_id",
        "filled",
        "joined",
        "level",
        "order",
        "price",
        "qty",
        "side",
        "traded",
    )

    def __init__(self, client_id: str, order: Order, price: int, filled: int, now: int) -> None:
        self.client_id = client_id
        self.order = order
        self.side = order.side
        self.price = price
        self.qty = order.qty
        self.filled = filled  # lots filled so far (the venue counts them)
        self.level = 0  # the level's visible size when we last looked (set at join)
        self.ahead = 0.0  # the queue ahead of us, lots (set at join)
        self.traded = 0  # lots traded at our price since the last depth message
        self.joined = now

    @property
    def remaining(self) -> int:
        """Lots not filled yet."""
        return self.qty - self.filled


class QueueTracked(Protocol):
    """What :meth:`QueueRule.on_decrease` reads and writes on a resting order."""

    ahead: float


class QueueModel(Protocol):
    """The whole queue rule for our resting orders (see the module docstring).

    Every method may read and write the order's queue fields (``ahead``, ``level``,
    ``traded``) and must not change ``filled``: the venue books the fills it returns.
    A returned fill is capped by the venue at what the order has left.
    """

    def join(self, order: RestingOrder, level: int, ours: int) -> None:
        """``order`` rests at its price, where the book shows ``level`` lots and our own
        earlier orders have ``ours`` lots left."""
        ...

    def on_trade(self, order: RestingOrder, qty: int, participation: float) -> int:
        """A trade of ``qty`` lots printed at our price (the aggressor on the other side):
        the lots that fill us."""
        ...

    def on_trade_through(self, order: RestingOrder, qty: int) -> int:
        """A trade of ``qty`` lots printed through our price: the lots that fill us."""
        ...

    def on_level(self, order: RestingOrder, level: int) -> None:
        """A depth message reported our level at ``level`` lots (not ``order.level``)."""
        ...

    def on_cross(self, order: RestingOrder) -> int:
        """The opposite side of the book reached our price: the lots we try to take of
        the liquidity at or through it (what is taken fills us as maker)."""
        ...


#: The steps a queue model implements (the :class:`QueueModel` protocol).
QUEUE_STEPS = ("join", "on_trade", "on_trade_through", "on_level", "on_cross")


def check_queue_model(model: object) -> None:
    """A ConfigError if ``model`` lacks a step of the protocol (e.g. a model written for
    the older, ``on_decrease``-only protocol), before a run, not deep inside one."""
    missing = [step for step in QUEUE_STEPS if not callable(getattr(model, step, None))]
    if missing:
        raise ConfigError(
            f"queue: {model!r} is not a QueueModel, it lacks {', '.join(missing)}; "
            "implement the protocol or subclass ss.QueueRule (override on_decrease only "
            "to change how a level's decrease is attributed)"
        )


class QueueRule:
    """streamsim's queue rule (see the module docstring); subclasses choose
    :meth:`on_decrease`, how an unexplained decrease of our level is attributed."""

    def join(self, order: RestingOrder, level: int, ours: int) -> None:
        order.level = level
        order.ahead = float(level) + ours  # behind the venue's queue and our earlier orders
        order.traded = 0

    def on_trade(self, order: RestingOrder, qty: int, participation: float) -> int:
        order.traded += qty
        order.ahead -= qty
        if order.ahead >= 0:
            return 0
        reach = math.floor(-order.ahead * participation)
        order.ahead = 0.0
        return min(reach, order.remaining)

    def on_trade_through(self, order: RestingOrder, qty: int) -> int:
        return order.remaining

    def on_level(self, order: RestingOrder, level: int) -> None:
        # Trades counted since the venue's last report are part of this change; the rest
        # is attributed by the model.
        decrease = order.level - level - order.traded
        if decrease > 0:
            self.on_decrease(order, order.level, level, decrease)
        order.ahead = min(order.ahead, float(level))
        order.level = level
        order.traded = 0

    def on_cross(self, order: RestingOrder) -> int:
        return order.remaining

    def on_decrease(self, order: QueueTracked, before: int, after: int, decrease: float) -> None:
        """The level went from ``before`` to ``after`` lots; ``decrease`` is the part
        not explained by trades already counted (> 0)."""
        raise NotImplementedError


class Conservative(QueueRule):
    """Cancels are assumed behind us: the queue ahead only shrinks to the level's new size.

    The queue ahead is the visible size when we join; trades at our price consume it; a
    size decrease reduces it only where the level becomes smaller than what was ahead.
    """

    def on_decrease(self, order: QueueTracked, before: int, after: int, decrease: float) -> None:
        order.ahead = min(order.ahead, float(after))

    def __repr__(self) -> str:
        return "Conservative()"


class _Probabilistic(QueueRule):
    def _f(self, x: float) -> float:
        raise NotImplementedError

    def on_decrease(self, order: QueueTracked, before: int, after: int, decrease: float) -> None:
        front = order.ahead
        back = max(before - front, 0.0)
        total = self._f(back) + self._f(front)
        share_back = self._f(back) / total if total > 0 else 1.0
        # The part assigned behind us cannot exceed what is behind; the rest comes off the front.
        from_back = min(share_back * decrease, back)
        order.ahead = min(max(front - (decrease - from_back), 0.0), float(after))


class PowerQueue(_Probabilistic):
    """``f(x) = x ** n``: larger ``n`` attributes decreases more to the longer side."""

    def __init__(self, n: float = 2.0) -> None:
        if n <= 0:
            raise ConfigError(f"PowerQueue(n) needs n > 0, got {n}")
        self.n = n

    def _f(self, x: float) -> float:
        return math.pow(x, self.n)

    def __repr__(self) -> str:
        return f"PowerQueue(n={self.n})"


class LogQueue(_Probabilistic):
    """``f(x) = log(1 + x)``: a gentler split than any power."""

    def _f(self, x: float) -> float:
        return math.log1p(x)

    def __repr__(self) -> str:
        return "LogQueue()"
