"""Queue-position models: how much of the visible queue stands ahead of our resting order.

A model updates ``order.ahead`` (lots ahead of us at our price) when the level's visible
size changes for reasons other than the trades already counted. Trades at our price
always consume the queue ahead first; increases of the level always join behind us.
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

    def __init__(
        self, client_id: str, order: Order, price: int, filled: int, level: int, now: int
    ) -> None:
        self.client_id = client_id
        self.order = order
        self.side = order.side
        self.price = price
        self.qty = order.qty
        self.filled = filled
        self.level = level  # the level's visible size when we last looked
        self.ahead = float(level)  # the queue ahead of us, lots
        self.traded = 0  # lots traded at our price since the last depth message
        self.joined = now

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


class QueueTracked(Protocol):
    """What a model reads and writes on a resting order."""

    ahead: float


class QueueModel(Protocol):
    """Attributes size decreases of our level to the queue ahead of us, or behind."""

    def on_decrease(self, order: QueueTracked, before: int, after: int, decrease: float) -> None:
        """The level went from ``before`` to ``after`` lots; ``decrease`` is the part
        not explained by trades already counted (> 0)."""
        ...


class Conservative:
    """Cancels are assumed behind us: the queue ahead only shrinks to the level's new size.

    The queue ahead is the visible size when we join; trades at our price consume it; a
    size decrease reduces it only where the level becomes smaller than what was ahead.
    """

    def on_decrease(self, order: QueueTracked, before: int, after: int, decrease: float) -> None:
        order.ahead = min(order.ahead, float(after))

    def __repr__(self) -> str:
        return "Conservative()"


class _Probabilistic:
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
