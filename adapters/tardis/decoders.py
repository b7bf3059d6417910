"""Per data type: the columns a stream needs and how a chunk of rows becomes one batch.

A decoder adds its rules to the chunk's :class:`~.parse.Checks` and builds a batch from
the rows that pass them (for depth, from the messages all of whose rows pass). The
source has already checked the columns every data type shares (times, exchange, symbol).
Decoders keep state across chunks and files (open snapshot runs, values carried
forward), so one decoder serves one iteration of one source.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from streamsim.feed.batches import (
    Batch,
    DepthBatch,
    LiquidationBatch,
    MarkPriceBatch,
    OpenInterestBatch,
    TradeBatch,
)
from streamsim.feed.plausibility import DEFAULT_LIMITS, Limits, beyond_book
from streamsim.feed.snapshot_times import shift_text, snapshots_within_neighbours
from streamsim.instruments import Instrument

from .parse import (
    MAX_US,
    BoolArray,
    Checks,
    FloatArray,
    IntArray,
    parse_choice,
    parse_float,
    parse_int,
    to_grid,
)

#: What to do with a trade or liquidation whose side is ``unknown``.
UnknownSide = Literal["keep", "bad"]

_US = 1000  # ns per microsecond
SideArray = npt.NDArray[np.int8]


@dataclass(frozen=True, eq=False)
class Chunk:
    """Rows of one file to decode: string columns, data-row numbers, parsed times (us),
    ``lt_ok`` (local_timestamp valid and not going backwards) and the checks so far."""

    file: str
    table: pa.Table
    rows: IntArray
    ts: IntArray
    lt: IntArray
    lt_ok: BoolArray
    checks: Checks

    def __len__(self) -> int:
        return len(self.rows)


class Decoder:
    """Turns chunks of one data type into batches of one stream kind."""

    kind: ClassVar[str]
    #: Rows sharing a local_timestamp are one message and must stay in one chunk.
    grouped: ClassVar[bool] = False
    columns: tuple[str, ...] = ()

    def __init__(self, symbol: str, limits: Limits = DEFAULT_LIMITS) -> None:
        self.symbol = symbol
        self.limits = limits

    def start_file(self) -> None:
        """A new file begins (state that must not cross files is reset here)."""

    def decode(self, chunk: Chunk) -> Batch | None:
        """The batch of the chunk's good rows (None if there are none)."""
        raise NotImplementedError

    def notes(self, stream: str) -> list[str]:
        """What the run's report should say about this stream's decoding (after the end)."""
        return []


def _ffill(values: IntArray, valid: BoolArray, initial: int) -> IntArray:
    """``values`` with invalid entries replaced by the last valid one before (or ``initial``)."""
    index = np.where(valid, np.arange(len(values)), -1)
    last = np.maximum.accumulate(index) if len(index) else index
    return np.where(last >= 0, values[np.maximum(last, 0)], initial).astype(np.int64)


def _level_checks(
    checks: Checks, limits: Limits, column: str, ticks: IntArray, prices: FloatArray
) -> None:
    """Depth level prices far from the others (``limits``) or beyond what a book holds."""
    ok = ~checks.bad
    for flag in limits.levels(np.where(ok, prices, np.nan), column)[0]:
        checks.add(flag.mask, flag.column, flag.reason)
    far = beyond_book(np.where(ok, ticks, -1), column)
    checks.add(far.mask & ok, far.column, far.reason)


def _price_checks(checks: Checks, limits: Limits, column: str, prices: FloatArray) -> None:
    """Trade or mark prices far from their neighbours (``limits.max_price_jump``)."""
    for flag in limits.prices(np.where(~checks.bad, prices, np.nan), column)[0]:
        checks.add(flag.mask, flag.column, flag.reason)


def _grid_checks(
    checks: Checks, column: str, values: FloatArray, step: Decimal, present: BoolArray, what: str
) -> IntArray:
    """Values in grid units; values off the grid are flagged on ``column``."""
    units, off = to_grid(values, step)
    checks.add(present & off, column, f"off the grid of {what} {step}")
    return units


class IncrementalBookDecoder(Decoder):
    """``incremental_book_L2``: rows sharing a ``local_timestamp`` form one message.

    A message is also cut where ``is_snapshot`` changes, so that each message is wholly a
    snapshot or wholly a diff. A snapshot is a run of ``is_snapshot=true`` rows starting
    at a false->true switch (or at the start of a file); its first message has
    ``is_snapshot=True`` (the book resets) and the rest of the run, if it spans several
    local timestamps, follows as plain level updates. ``ts_exchange`` of a message is the
    largest ``timestamp`` among its rows; update ids are -1 (Tardis has none). Updates
    before the stream's first snapshot change a book nobody has seen: they are skipped,
    counted and noted (the book starts at the first snapshot). A snapshot stamped before
    the diffs ahead of it or after those behind it (a REST snapshot's own clock) is
    replayed within their times (:mod:`streamsim.feed.snapshot_times`) and noted; the
    diffs behind it are those of the same block read (a snapshot that ends a block is
    only kept after the diffs ahead of it).
    """

    kind = "depth"
    grouped = True
    columns = ("is_snapshot", "side", "price", "amount")

    def __init__(self, instrument: Instrument, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(instrument.symbol, limits)
        self.instrument = instrument
        self._prev_flag = 0  # is_snapshot of the last row with a valid flag in this file
        self._run = 0  # snapshot runs started so far
        self._reset_run = -1  # the last run whose first message was emitted as a snapshot
        self.before_snapshot = 0  # update messages skipped before the first snapshot
        self._latest = np.iinfo(np.int64).min  # the latest ts_exchange emitted so far
        self.moved = 0  # snapshot messages whose time was moved within their neighbours'
        self.moved_by: list[IntArray] = []

    def start_file(self) -> None:
        self._prev_flag = 0

    def notes(self, stream: str) -> list[str]:
        notes = []
        if self.before_snapshot:
            notes.append(
                f"{stream}: {self.before_snapshot:,} update messages before the first snapshot "
                "skipped (they change levels of a book not yet known; the book starts at the "
                "snapshot)"
            )
        if self.moved:
            by = shift_text(np.concatenate(self.moved_by))
            notes.append(
                f"{stream}: {self.moved:,} snapshot message(s) had a timestamp outside the "
                "times of the depth messages around them; ts_exchange moved to the nearest "
                f"of those, by {by}, keeping file order (local_timestamp and levels unchanged)"
            )
        return notes

    def decode(self, chunk: Chunk) -> DepthBatch | None:
        table, checks, inst = chunk.table, chunk.checks, self.instrument
        flag, bad_flag = parse_choice(table.column("is_snapshot"), ("false", "true"))
        checks.add(bad_flag, "is_snapshot", "not 'true' or 'false'")
        side, bad_side = parse_choice(table.column("side"), ("bid", "ask"))
        checks.add(bad_side, "side", "not 'bid' or 'ask'")
        price = parse_float(table.column("price"))
        checks.number(price, "price", minimum=0, strict=True)
        ticks = _grid_checks(checks, "price", price.values, inst.tick_size, price.present, "tick")
        amount = parse_float(table.column("amount"))
        checks.number(amount, "amount", minimum=0)
        lots = _grid_checks(checks, "amount", amount.values, inst.lot_size, amount.present, "lot")
        _level_checks(checks, self.limits, "price", ticks, price.values)

        pos = np.flatnonzero(chunk.lt_ok)  # rows that can belong to a message
        if not len(pos):
            return None
        f = flag[pos]
        valid = f >= 0
        filled = _ffill(f, valid, self._prev_flag)
        lt = chunk.lt[pos]
        new = np.ones(len(pos), dtype=np.bool_)
        new[1:] = (lt[1:] != lt[:-1]) | (filled[1:] != filled[:-1])
        msg = np.cumsum(new) - 1
        # Snapshot runs, from the flags as written (rows skipped for other reasons count).
        fv = f[valid]
        before = np.concatenate(([self._prev_flag], fv[:-1]))
        run_valid = self._run + np.cumsum((fv == 1) & (before != 1))
        run = np.full(len(pos), self._run, dtype=np.int64)
        run[valid] = run_valid
        run = _ffill(run, valid, self._run)
        if len(fv):
            self._run = int(run_valid[-1])
            self._prev_flag = int(fv[-1])

        row_bad = checks.bad[pos]
        msg_bad = np.zeros(int(msg[-1]) + 1, dtype=np.bool_)
        msg_bad[msg[row_bad]] = True
        mates = np.zeros(len(chunk), dtype=np.bool_)
        mates[pos[msg_bad[msg] & ~row_bad]] = True
        checks.add(mates, None, "in a depth message with a bad row", primary=False)
        keep = ~msg_bad[msg]
        unsynced = (run == 0) & (filled != 1)  # no snapshot seen yet in this stream
        if unsynced.any():
            self.before_snapshot += len(np.unique(msg[keep & unsynced]))
            keep &= ~unsynced
        kpos = pos[keep]
        if not len(kpos):
            return None
        kmsg = msg[keep]
        first = np.ones(len(kmsg), dtype=np.bool_)
        first[1:] = kmsg[1:] != kmsg[:-1]
        starts = np.flatnonzero(first)
        compact = np.cumsum(first) - 1
        n = len(starts)
        stamped = (np.maximum.reduceat(chunk.ts[kpos], starts) * _US).astype(np.int64)
        ts_recv = chunk.lt[kpos][starts] * _US
        snapshot_flag = filled[keep][starts] == 1
        ts_exchange = snapshots_within_neighbours(stamped, snapshot_flag, self._latest)
        moved = ts_exchange != stamped
        if moved.any():
            self.moved += int(moved.sum())
            self.moved_by.append(np.abs(ts_exchange[moved] - stamped[moved]))
        self._latest = max(self._latest, int(ts_exchange.max()))
        runs = run[keep][starts][snapshot_flag]
        previous = np.concatenate(([self._reset_run], runs[:-1]))
        is_snapshot = np.zeros(n, dtype=np.bool_)
        is_snapshot[snapshot_flag] = runs != previous
        if len(runs):
            self._reset_run = int(runs[-1])
        sides = side[kpos]
        order = np.argsort(compact * 2 + sides, kind="stable")  # bids first, file order kept
        counts = np.diff(np.append(starts, len(kpos)))
        none = np.full(n, -1, dtype=np.int64)
        return DepthBatch(
            self.symbol,
            ts_exchange,
            ts_recv.astype(np.int64),
            none,
            none.copy(),
            none.copy(),
            is_snapshot,
            np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
            np.bincount(compact, weights=sides == 0, minlength=n).astype(np.int64),
            ticks[kpos][order],
            lots[kpos][order],
        )


class BookSnapshotDecoder(Decoder):
    """``book_snapshot_N``: each row is one snapshot message of up to N levels a side.

    An empty price and amount pair is a level the book did not have; a pair with only one
    of them empty is a bad row.
    """

    kind = "depth"

    def __init__(
        self, instrument: Instrument, levels: int, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        super().__init__(instrument.symbol, limits)
        self.instrument = instrument
        self.levels = levels
        self.columns = tuple(
            f"{side}[{i}].{field}"
            for side in ("bids", "asks")
            for i in range(levels)
            for field in ("price", "amount")
        )

    def decode(self, chunk: Chunk) -> DepthBatch | None:
        table, checks, inst = chunk.table, chunk.checks, self.instrument
        prices: list[IntArray] = []
        qtys: list[IntArray] = []
        present: list[BoolArray] = []
        for side in ("bids", "asks"):
            for i in range(self.levels):
                pcol, acol = f"{side}[{i}].price", f"{side}[{i}].amount"
                price = parse_float(table.column(pcol))
                amount = parse_float(table.column(acol))
                checks.add(price.empty & ~amount.empty, pcol, "empty price with an amount")
                checks.add(amount.empty & ~price.empty, acol, "empty amount with a price")
                checks.number(price, pcol, required=False, minimum=0, strict=True)
                checks.number(amount, acol, required=False, minimum=0)
                prices.append(
                    _grid_checks(checks, pcol, price.values, inst.tick_size, price.present, "tick")
                )
                _level_checks(checks, self.limits, pcol, prices[-1], price.values)
                qtys.append(
                    _grid_checks(checks, acol, amount.values, inst.lot_size, amount.present, "lot")
                )
                present.append(~price.empty & ~amount.empty)
        keep = ~checks.bad
        if not keep.any():
            return None
        levels = np.stack(present, axis=1)[keep]
        n = int(keep.sum())
        return DepthBatch(
            self.symbol,
            chunk.ts[keep] * _US,
            chunk.lt[keep] * _US,
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            np.ones(n, dtype=np.bool_),
            np.concatenate(([0], np.cumsum(levels.sum(axis=1)))).astype(np.int64),
            levels[:, : self.levels].sum(axis=1).astype(np.int64),
            np.stack(prices, axis=1)[keep][levels],
            np.stack(qtys, axis=1)[keep][levels],
        )


_SIDES = ("buy", "sell", "unknown")
_SIDE_VALUES = np.array([1, -1, 0], dtype=np.int8)


class _SidedDecoder(Decoder):
    """Shared by trades and liquidations: ``side`` buy (+1), sell (-1) or unknown."""

    def __init__(
        self, symbol: str, unknown_side: UnknownSide, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        super().__init__(symbol, limits)
        self.unknown_side = unknown_side
        self.unknown_kept = 0

    def _sides(self, chunk: Chunk) -> SideArray:
        codes, bad = parse_choice(chunk.table.column("side"), _SIDES)
        chunk.checks.add(bad, "side", "not 'buy', 'sell' or 'unknown'")
        if self.unknown_side == "bad":
            chunk.checks.add(codes == 2, "side", "unknown aggressor side")
        return _SIDE_VALUES[np.maximum(codes, 0)]

    def _count_unknown(self, sides: SideArray) -> None:
        self.unknown_kept += int((sides == 0).sum())


class TradesDecoder(_SidedDecoder):
    """``trades``: price in ticks, amount in lots (both on the grid and above 0).

    ``side`` is the aggressor: buy -> +1, sell -> -1. ``unknown`` is kept with side 0 by
    default (the trade happened; which side took is unknown), or treated as a bad row with
    ``unknown_side="bad"``. ``id`` becomes ``trade_id`` when it is an integer, else -1
    (some venues use non-numeric ids); both are counted in the notes.
    """

    kind = "trades"
    columns = ("id", "side", "price", "amount")

    def __init__(
        self,
        instrument: Instrument,
        unknown_side: UnknownSide = "keep",
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(instrument.symbol, unknown_side, limits)
        self.instrument = instrument
        self.odd_ids = 0

    def decode(self, chunk: Chunk) -> TradeBatch | None:
        table, checks, inst = chunk.table, chunk.checks, self.instrument
        sides = self._sides(chunk)
        price = parse_float(table.column("price"))
        checks.number(price, "price", minimum=0, strict=True)
        ticks = _grid_checks(checks, "price", price.values, inst.tick_size, price.present, "tick")
        amount = parse_float(table.column("amount"))
        checks.number(amount, "amount", minimum=0, strict=True)
        lots = _grid_checks(checks, "amount", amount.values, inst.lot_size, amount.present, "lot")
        _price_checks(checks, self.limits, "price", price.values)
        ids = parse_int(table.column("id"))
        keep = ~checks.bad
        if not keep.any():
            return None
        trade_id = np.where(ids.present, ids.values, -1)[keep]
        self.odd_ids += int((~ids.present[keep]).sum())
        sides = sides[keep]
        self._count_unknown(sides)
        return TradeBatch(
            self.symbol,
            chunk.ts[keep] * _US,
            chunk.lt[keep] * _US,
            ticks[keep],
            lots[keep],
            sides.astype(np.int8),
            trade_id.astype(np.int64),
        )

    def notes(self, stream: str) -> list[str]:
        out: list[str] = []
        if self.unknown_kept:
            out.append(f"{stream}: {self.unknown_kept} trades with side 'unknown' kept with side 0")
        if self.odd_ids:
            out.append(f"{stream}: {self.odd_ids} trade ids empty or not integers: trade_id -1")
        return out


class LiquidationsDecoder(_SidedDecoder):
    """``liquidations``: side of the liquidation order (buy +1, sell -1), price and amount
    as floats (finite, above 0; not checked against the grid). ``avg_price`` is NaN:
    Tardis has none. ``unknown`` sides as for trades."""

    kind = "liquidations"
    columns = ("side", "price", "amount")

    def decode(self, chunk: Chunk) -> LiquidationBatch | None:
        table, checks = chunk.table, chunk.checks
        sides = self._sides(chunk)
        price = parse_float(table.column("price"))
        checks.number(price, "price", minimum=0, strict=True)
        amount = parse_float(table.column("amount"))
        checks.number(amount, "amount", minimum=0, strict=True)
        keep = ~checks.bad
        if not keep.any():
            return None
        sides = sides[keep]
        self._count_unknown(sides)
        return LiquidationBatch(
            self.symbol,
            chunk.ts[keep] * _US,
            chunk.lt[keep] * _US,
            sides.astype(np.int8),
            price.values[keep],
            amount.values[keep],
            np.full(int(keep.sum()), np.nan),
        )

    def notes(self, stream: str) -> list[str]:
        if not self.unknown_kept:
            return []
        return [f"{stream}: {self.unknown_kept} liquidations with side 'unknown' kept with side 0"]


#: derivative_ticker fields of the mark price stream, in MarkPriceBatch terms.
MARK_FIELDS = ("mark_price", "index_price", "funding_rate", "funding_timestamp")


class MarkPriceDecoder(Decoder):
    """``derivative_ticker`` -> mark price: ``mark_price``, ``index_price``, ``funding_rate``
    and ``funding_timestamp`` (-> ``next_funding_time``, ns).

    Tardis leaves a field empty when it did not change or is not known. A row with at
    least one of the four fields gives one event; its empty fields carry the last value
    seen in an earlier row (counted per field in the notes). A value is never invented:
    a row that needs a field no earlier row had is a bad row (failed, or quarantined).
    Rows with none of the four (e.g. open interest only) give no event and are counted.
    ``settle`` is NaN (Tardis has no estimated settle price); ``predicted_funding_rate``
    and ``last_price`` are not used (the trades stream carries last prices).
    """

    kind = "mark_price"
    columns = MARK_FIELDS

    def __init__(self, symbol: str, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(symbol, limits)
        self._last: dict[str, float | int | None] = dict.fromkeys(MARK_FIELDS)
        self.carried = dict.fromkeys(MARK_FIELDS, 0)
        self.without_fields = 0

    def decode(self, chunk: Chunk) -> MarkPriceBatch | None:
        table, checks = chunk.table, chunk.checks
        fields = {name: parse_float(table.column(name)) for name in MARK_FIELDS[:3]}
        fields["funding_timestamp"] = parse_int(table.column("funding_timestamp"))
        checks.number(fields["mark_price"], "mark_price", required=False, minimum=0, strict=True)
        checks.number(fields["index_price"], "index_price", required=False, minimum=0, strict=True)
        checks.number(fields["funding_rate"], "funding_rate", required=False)
        rate = fields["funding_rate"]
        for flag in self.limits.funding(rate.values):
            checks.add(flag.mask & rate.present, flag.column, flag.reason)
        _price_checks(checks, self.limits, "mark_price", fields["mark_price"].values)
        funding = fields["funding_timestamp"]
        checks.number(funding, "funding_timestamp", required=False, minimum=0)
        checks.add(funding.present & (funding.values > MAX_US), "funding_timestamp", "too large")
        for flag in self.limits.times(funding.values, "funding_timestamp", "us"):
            checks.add(flag.mask & funding.present, flag.column, flag.reason)
        usable = ~checks.bad  # rows whose values count, to be carried forward
        given = {name: field.present & usable for name, field in fields.items()}
        has_any = np.logical_or.reduce(list(given.values()))
        columns: dict[str, npt.NDArray[np.float64] | IntArray] = {}
        for name, field in fields.items():
            index = np.where(given[name], np.arange(len(chunk)), -1)
            last = np.maximum.accumulate(index) if len(index) else index
            values = field.values[np.maximum(last, 0)]
            known = last >= 0
            previous = self._last[name]
            if previous is not None:
                values = np.where(known, values, previous)
                known[:] = True
            columns[name] = values
            checks.add(
                has_any & ~known, name, "empty, and no earlier row has a value to carry forward"
            )
            if given[name].any():
                self._last[name] = field.values[given[name]][-1].item()
        emit = has_any & ~checks.bad
        self.without_fields += int((usable & ~has_any).sum())
        if not emit.any():
            return None
        for name in MARK_FIELDS:
            self.carried[name] += int((emit & ~given[name]).sum())
        return MarkPriceBatch(
            self.symbol,
            chunk.ts[emit] * _US,
            chunk.lt[emit] * _US,
            columns["mark_price"][emit].astype(np.float64),
            columns["index_price"][emit].astype(np.float64),
            np.full(int(emit.sum()), np.nan),
            columns["funding_rate"][emit].astype(np.float64),
            columns["funding_timestamp"][emit].astype(np.int64) * _US,
        )

    def notes(self, stream: str) -> list[str]:
        out: list[str] = []
        carried = ", ".join(f"{name} {n}" for name, n in self.carried.items() if n)
        if carried:
            out.append(f"{stream}: empty fields carried forward from earlier rows: {carried}")
        if self.without_fields:
            out.append(
                f"{stream}: {self.without_fields} derivative_ticker rows without mark or "
                "funding fields gave no event"
            )
        return out


class OpenInterestDecoder(Decoder):
    """``derivative_ticker`` -> open interest: one event per row with ``open_interest``
    (finite, not negative). Rows where it is empty give no event (counted, never carried
    forward: a repeated value would be a new observation that was not made).
    ``notional`` is NaN (Tardis gives none)."""

    kind = "open_interest"
    columns = ("open_interest",)

    def __init__(self, symbol: str, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(symbol, limits)
        self.empty_rows = 0

    def decode(self, chunk: Chunk) -> OpenInterestBatch | None:
        value = parse_float(chunk.table.column("open_interest"))
        chunk.checks.number(value, "open_interest", required=False, minimum=0)
        keep = ~chunk.checks.bad & value.present
        self.empty_rows += int((~chunk.checks.bad & value.empty).sum())
        if not keep.any():
            return None
        return OpenInterestBatch(
            self.symbol,
            chunk.ts[keep] * _US,
            chunk.lt[keep] * _US,
            value.values[keep],
            np.full(int(keep.sum()), np.nan),
        )

    def notes(self, stream: str) -> list[str]:
        if not self.empty_rows:
            return []
        return [f"{stream}: {self.empty_rows} derivative_ticker rows with empty open_interest"]
