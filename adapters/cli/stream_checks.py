"""What ``streamsim validate`` checks in decoded batches: the replayed book and the values.

:class:`DepthCheck` replays a depth stream, in the reader's update-id order, into an
:class:`~streamsim.book.L2Book` and counts sequence gaps (a diff whose
``prev_final_update_id`` is not the previous diff's ``final_update_id`` and that does not
straddle the snapshot just before it) and crossed books (best bid at or above best ask
after a message), with the first few of each. :func:`implausible_values` applies the
shared value rules (:mod:`streamsim.feed.plausibility`) to each decoded batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import numpy as np
import numpy.typing as npt

from adapters.cli.config import CliError, format_time
from streamsim.book import BookPolicy, L2Book
from streamsim.events import DepthUpdate, Levels
from streamsim.feed import plausibility as rules
from streamsim.feed.batches import (
    Batch,
    DepthBatch,
    LiquidationBatch,
    MarkPriceBatch,
    OpenInterestBatch,
    TickerBatch,
    TradeBatch,
)
from streamsim.feed.plausibility import Flag
from streamsim.instruments import Instrument
from streamsim.sequencing import chains_by_prev_final, links, straddle_all

BoolArray = npt.NDArray[np.bool_]
#: Examples kept of each problem.
EXAMPLES = 3


@dataclass
class Finding:
    """One kind of problem in a stream: how many, and the first few, described."""

    what: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, count: int, examples: list[str]) -> None:
        self.count += count
        room = EXAMPLES - len(self.examples)
        if room > 0:
            self.examples.extend(examples[:room])

    def text(self) -> str:
        more = f" (first: {'; '.join(self.examples)})" if self.examples else ""
        return f"{self.count:,} {self.what}{more}"


def _price(ticks: int, instrument: Instrument | None) -> str:
    return str(ticks * instrument.tick_size) if instrument is not None else f"{ticks} ticks"


def implausible_values(batch: Batch) -> list[tuple[str, BoolArray, str]]:
    """Rows (or depth levels) whose values no market has: ``(what, mask, column)`` per rule.

    Prices must be finite and above 0, sizes finite and not negative, funding rates
    finite, using the rules every adapter applies (:mod:`streamsim.feed.plausibility`).
    The readers already refuse such values in the files they read; this checks what
    reaches the simulation, whatever the source.
    """
    flags: list[tuple[str, Flag]] = []

    def price(values: npt.NDArray[np.generic], column: str) -> None:
        flags.append(("non-finite prices", rules.non_finite(values, column)))
        flags.append(("non-positive prices", rules.not_positive(values, column)))

    def size(values: npt.NDArray[np.generic], column: str) -> None:
        flags.append(("non-finite sizes", rules.non_finite(values, column)))
        flags.append(("negative sizes", rules.negative(values, column)))

    if isinstance(batch, DepthBatch):
        price(batch.level_price, "price")
        size(batch.level_qty, "quantity")
    elif isinstance(batch, TradeBatch | LiquidationBatch):
        price(batch.price, "price")
        size(batch.qty, "quantity")
    elif isinstance(batch, MarkPriceBatch):
        price(batch.mark, "mark_price")
        flags.append(
            ("non-finite funding rates", rules.non_finite(batch.funding_rate, "funding_rate"))
        )
    elif isinstance(batch, OpenInterestBatch):
        size(batch.value, "sum_open_interest")
    elif isinstance(batch, TickerBatch):
        price(batch.last_price, "last_price")
    return [(what, flag.mask, flag.column) for what, flag in flags if flag.mask.any()]


class ValueCheck:
    """Counts what :func:`implausible_values` finds across a stream's batches."""

    def __init__(self, instrument: Instrument | None) -> None:
        self.instrument = instrument
        self.findings: dict[str, Finding] = {}

    def add(self, batch: Batch) -> None:
        for what, mask, column in implausible_values(batch):
            positions = np.flatnonzero(mask)
            if isinstance(batch, DepthBatch):  # levels: the time of their message
                message = np.searchsorted(batch.level_offsets, positions, "right") - 1
                times = batch.ts_exchange[message[:EXAMPLES]]
            else:
                times = batch.ts_exchange[positions[:EXAMPLES]]
            values = getattr(batch, _FIELD.get(column, column), None)
            examples = [
                f"{column} {values[p] if values is not None else '?'} at {format_time(int(t))}"
                for p, t in zip(positions[:EXAMPLES].tolist(), times.tolist(), strict=True)
            ]
            key = f"{what} ({column})"
            self.findings.setdefault(key, Finding(key)).add(len(positions), examples)


_FIELD = {
    "price": "price",
    "quantity": "qty",
    "mark_price": "mark",
    "funding_rate": "funding_rate",
    "sum_open_interest": "value",
    "last_price": "last_price",
}


class DepthCheck:
    """Replays one depth stream (batches in update-id order) and counts gaps and crossings.

    The book applies every message (no sequence rule skips any, so a crossing after a gap
    is still seen); gaps are counted separately, all of them, not only the first.
    """

    def __init__(self, symbol: str, instrument: Instrument | None) -> None:
        self.instrument = instrument
        self.book = L2Book(symbol, sequencing=None, policy=BookPolicy(crossed="keep"))
        self.messages = 0
        self.gaps = Finding("sequence gaps")
        self.crossed = Finding("messages leave the book crossed (best bid >= best ask)")
        self._last_diff_final: int | None = None
        self._last_was_snapshot = False
        self._last_snapshot_id = 0

    def add(self, batch: DepthBatch) -> None:
        n = len(batch)
        if not n:
            return
        self.messages += n
        self._gaps(batch)
        levels = Levels(batch.level_price, batch.level_qty, batch.level_offsets, batch.bid_counts)
        book = self.book
        ts = batch.ts_exchange.tolist()
        first, final, prev = batch.first.tolist(), batch.final.tolist(), batch.prev_final.tolist()
        snapshot = batch.is_snapshot.tolist()
        crossed = 0
        examples: list[str] = []
        for i in range(n):
            book.apply(
                DepthUpdate(
                    batch.symbol, ts[i], None, ts[i], first[i], final[i], prev[i],
                    snapshot[i], levels, i,
                )
            )  # fmt: skip
            if book.crossed:
                crossed += 1
                if len(examples) < EXAMPLES:
                    bid, ask = book.best_bid, book.best_ask
                    assert bid is not None and ask is not None
                    examples.append(
                        f"at {format_time(ts[i])}, final_update_id {final[i]}: bid "
                        f"{_price(bid, self.instrument)} >= ask {_price(ask, self.instrument)}"
                    )
        if crossed:
            self.crossed.add(crossed, examples)

    def _gaps(self, batch: DepthBatch) -> None:
        """Vectorised chain check over the batch's diffs (:func:`streamsim.sequencing.links`),
        continuing the previous batch; a diff right after a snapshot that straddles the
        snapshot's id resyncs the chain."""
        snapshot = np.asarray(batch.is_snapshot, dtype=np.bool_)
        final, prev, first = batch.final, batch.prev_final, batch.first
        diffs = np.flatnonzero(~snapshot)
        prev_snapshot = np.concatenate(([self._last_was_snapshot], snapshot[:-1]))
        snap_id = np.where(snapshot, final, np.iinfo(np.int64).min)
        running = np.maximum.accumulate(np.concatenate(([self._last_snapshot_id], snap_id[:-1])))
        by_pu = chains_by_prev_final(prev)
        straddles = prev_snapshot & straddle_all(first, running, by_pu)
        if len(diffs):
            ok, before = links(
                first[diffs], final[diffs], prev[diffs], by_pu[diffs], before=self._last_diff_final
            )
            broken = np.flatnonzero(~ok & ~straddles[diffs])
            shown = broken[:EXAMPLES].tolist()
            if len(broken):
                self.gaps.add(
                    len(broken),
                    [
                        f"final_update_id {int(final[i])} at "
                        f"{format_time(int(batch.ts_exchange[i]))}: "
                        + (
                            f"prev_final_update_id {int(prev[i])} != previous final_update_id "
                            if by_pu[i]
                            else f"first_update_id {int(first[i])} != previous "
                            "final_update_id + 1 = "
                        )
                        + f"{int(before[b])}"
                        for i, b in zip(diffs[shown].tolist(), shown, strict=True)
                    ],
                )
            self._last_diff_final = int(final[diffs[-1]])
        self._last_was_snapshot = bool(snapshot[-1])
        if snapshot.any():
            self._last_snapshot_id = int(final[np.flatnonzero(snapshot)[-1]])

    def findings(self) -> list[Finding]:
        return [f for f in (self.gaps, self.crossed) if f.count]


def instrument_for(symbol: str, tick: str | None, lot: str | None) -> Instrument | None:
    """An instrument from ``--tick-size`` / ``--lot-size`` (both or neither)."""
    if tick is None and lot is None:
        return None
    if tick is None or lot is None:
        raise CliError("--tick-size and --lot-size go together")
    try:
        grid = Decimal(tick), Decimal(lot)
    except InvalidOperation as error:
        raise CliError(f"--tick-size/--lot-size: not decimals: {tick!r}, {lot!r}") from error
    if not all(step.is_finite() and step > 0 for step in grid):
        raise CliError(f"--tick-size/--lot-size: expected decimals > 0, got {tick}, {lot}")
    return Instrument(symbol, *grid)
