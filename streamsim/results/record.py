"""One run's record: everything its results are made from, in one place.

The run owns a :class:`RunRecord` and hands it to whichever broker runs it (the
simulator's, or later a live gateway): orders with their lifecycle (their handles keep
every update), fills with their liquidity, queue wait and the book's mid, the cash
ledger, equity samples, the account updates the strategies received, and the
data-quality report. Metrics (:func:`streamsim.results.metrics.from_record`), artifacts
and the report read only this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from ..account import AccountUpdate
from ..feed.quality import DataQuality
from ..orders import OrderHandle
from ..sim.portfolio import Fill, LedgerEntry

Liquidity = Literal["maker", "taker", "liquidation"]


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One order sent in the run: the strategy that sent it and its handle (lifecycle in
    ``handle.updates``)."""

    strategy: str
    handle: OrderHandle


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One fill as the venue booked it, with what the fill alone does not say.

    ``mid_price`` is the venue-side book's mid at the fill (NaN if unknown);
    ``queue_wait_ns`` is, on the maker fill that completes a resting order, the time from
    joining the queue to it (``None`` otherwise).
    """

    fill: Fill
    liquidity: Liquidity
    client_id: str
    mid_price: float = math.nan
    queue_wait_ns: int | None = None
    #: The broker's serial of the order filled (client ids may be reused once an order is
    #: done; the serial is unique in the run). 0 for the venue's liquidation orders.
    serial: int = 0

    @property
    def is_maker(self) -> bool:
        return self.liquidity == "maker"


@dataclass
class RunRecord:
    """What happened in one run (see the module docstring)."""

    orders: list[OrderRecord] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    equity_times: list[int] = field(default_factory=list)
    equity_values: list[float] = field(default_factory=list)
    account_updates: list[AccountUpdate] = field(default_factory=list)
    quality: DataQuality = field(default_factory=DataQuality)
    #: Limit orders that rested on the book (the denominator of the fill rate).
    rested_orders: int = 0
    #: Equity samples taken at a time before the previous one's (a live venue fed by
    #: concurrent streams saw an event after a later one): kept at the previous time.
    late_samples: int = 0

    def sample_equity(self, ts: int, equity: float) -> None:
        """Append one equity sample (marked at the mark price); the curve's times never
        go back (a late one is kept at the latest time and counted in ``late_samples``)."""
        times = self.equity_times
        if times and ts < times[-1]:
            ts = times[-1]
            self.late_samples += 1
        times.append(ts)
        self.equity_values.append(equity)

    @property
    def handles(self) -> list[OrderHandle]:
        """Every order handle of the run, in the order sent."""
        return [order.handle for order in self.orders]

    @property
    def queue_waits(self) -> list[int]:
        """Queue waits of the resting orders completed by a maker fill, in fill order."""
        return [f.queue_wait_ns for f in self.fills if f.queue_wait_ns is not None]
