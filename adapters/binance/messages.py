"""Binance JSON messages to columnar NumPy batches: the one place that parses Binance JSON.

Messages come in as decoded dicts, either combined-stream envelopes
(``{"stream": ..., "data": ...}``) or bare REST depth snapshots (``{"lastUpdateId": ...,
"bids": ..., "asks": ...}``), many at a time. Collecting is two steps so that a capture
without instrument data can infer its grid first: ``collect_*`` gathers one kind of message
into columns (prices and sizes still decimal values, parsed from their strings by NumPy in
one call per batch), then ``to_batch`` converts them with the
:class:`~streamsim.instruments.Instrument`'s vectorised converters. Venue times (ms) and
receive times come out as int64 ns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from streamsim.errors import DataError
from streamsim.events import BUY, SELL
from streamsim.feed.batches import DepthBatch, MarkPriceBatch, TradeBatch
from streamsim.feed.plausibility import DEFAULT_LIMITS, Flag, Limits, beyond_book
from streamsim.instruments import GRID_TOLERANCE, Instrument

from .wire.codec import loads

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Names a message by its index in the batch being collected (for example "file:line").
Locate = Callable[[int], str]

Kind = Literal["depth", "snapshot", "trade", "mark_price", "book_ticker", "other"]

NS_PER_MS = 1_000_000
#: Decimal places tried when inferring a grid (Binance strings carry at most 8).
MAX_PLACES = 12

_EVENT_KINDS: dict[str, Kind] = {
    "depthUpdate": "depth",
    "trade": "trade",
    "aggTrade": "trade",
    "markPriceUpdate": "mark_price",
    "bookTicker": "book_ticker",
}
#: Stream channels (``<symbol>@<channel>[@<speed>]``) whose events this module reads.
_CHANNELS = frozenset(("depth", "trade", "aggTrade", "markPrice", "bookTicker"))


# -- decoding and routing ---------------------------------------------------------------


def decode(raw: bytes | str) -> Any:
    """Parse one JSON document (the wire codec's :func:`~adapters.binance.wire.loads`)."""
    return loads(raw)


def payload(message: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event of a combined-stream envelope; any other message as it is."""
    data = message.get("data")
    if "stream" in message and isinstance(data, Mapping):
        return data
    return message


def classify(message: Any) -> tuple[Kind, str | None, Mapping[str, Any]]:
    """Kind, symbol (upper case, None if the message names none) and payload of a message.

    Spot ``bookTicker`` events carry no ``e``: they are recognised by their stream name.
    Bare REST snapshots name no symbol; the caller knows it (URL, file, the only symbol).
    """
    if not isinstance(message, Mapping):
        return "other", None, {}
    stream = message.get("stream")
    if isinstance(stream, str):
        _check_envelope(stream, message.get("data"))
    data = payload(message)
    if "lastUpdateId" in data and "bids" in data:
        return "snapshot", None, data
    event = data.get("e")
    kind: Kind = _EVENT_KINDS.get(event, "other") if isinstance(event, str) else "other"
    if event is None and isinstance(stream, str) and stream.endswith("@bookTicker"):
        kind = "book_ticker"
    symbol = data.get("s")
    if not isinstance(symbol, str):
        symbol = stream.split("@", 1)[0].upper() if isinstance(stream, str) else None
    return kind, symbol, data


def _check_envelope(stream: str, data: Any) -> None:
    """A combined-stream envelope of a stream this module reads carries one event object of
    the stream's own symbol; anything else is bad input, never ignored or misfiled."""
    name, _, channel = stream.partition("@")
    if name.startswith("!") or channel.partition("@")[0] not in _CHANNELS:
        return  # all-market (array) streams and channels not read here
    if not isinstance(data, Mapping):
        raise DataError(
            f"stream {stream!r}: 'data' is {type(data).__name__} {str(data)[:40]!r}, "
            "not an event object"
        )
    symbol = data.get("s")
    if isinstance(symbol, str) and symbol.upper() != name.upper():
        raise DataError(f"stream {stream!r} carries an event of {symbol!r} (field 's')")


def event_name(message: Any) -> str:
    """A short name for a message of a kind this module does not convert (for counts)."""
    if not isinstance(message, Mapping):
        return type(message).__name__
    data = payload(message)
    event = data.get("e")
    if isinstance(event, str):
        return event
    stream = message.get("stream")
    return stream.split("@", 1)[-1] if isinstance(stream, str) else "unknown"


# -- checks -------------------------------------------------------------------------------


class Rejects:
    """Messages of one kind that broke a rule: per message the first rule, with its field.

    Typed-field checks add one message at a time (:meth:`one`); value checks add masks
    (:meth:`flag`). The reader then fails on, or quarantines, the bad messages and keeps
    the rest (:meth:`keep`).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.which = np.full(n, -1, dtype=np.int32)
        self.rules: list[tuple[str, str]] = []

    @property
    def bad(self) -> BoolArray:
        return self.which >= 0

    def any(self) -> bool:
        return bool((self.which >= 0).any())

    def _rule(self, field: str, reason: str) -> int:
        key = (field, reason)
        try:
            return self.rules.index(key)
        except ValueError:
            self.rules.append(key)
            return len(self.rules) - 1

    def one(self, i: int, field: str, reason: str) -> None:
        if self.which[i] < 0:
            self.which[i] = self._rule(field, reason)

    def flag(self, mask: BoolArray, field: str, reason: str) -> None:
        fresh = mask & (self.which < 0)
        if fresh.any():
            self.which[fresh] = self._rule(field, reason)

    def flags(self, flags: Iterable[Flag]) -> None:
        for flag in flags:
            self.flag(flag.mask, flag.column, flag.reason)

    def keep(self) -> BoolArray:
        return self.which < 0

    def items(self) -> list[tuple[int, str, str]]:
        """``(message index, field, reason)`` of every bad message, in index order."""
        return [
            (i, *self.rules[int(self.which[i])]) for i in np.flatnonzero(self.which >= 0).tolist()
        ]

    def raise_first(self, locate: Locate | None, what: str) -> None:
        """Raise :class:`DataError` for the first bad message (no policy to quarantine by)."""
        items = self.items()
        if items:
            i, field, reason = items[0]
            more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
            raise DataError(f"{_where(locate, i)}{what} field {field!r}: {reason}{more}")


_INT64 = 2**63


def int_problem(value: Any) -> str | None:
    """Why ``value`` is not a JSON integer that fits int64 (None if it is)."""
    if type(value) is int:  # not bool: bool is a subclass of int
        return None if -_INT64 <= value < _INT64 else f"{value} does not fit in int64"
    if type(value) is float:
        return f"a float ({value!r}), not an integer"
    return f"not an integer ({_shown(value)})"


def number_problem(value: Any) -> str | None:
    """Why ``value`` is not a number or a numeric string (None if it is)."""
    kind = type(value)
    if kind is str or kind is float:
        return None
    if kind is int:
        return None if -_INT64 <= value < _INT64 else f"{value} does not fit in int64"
    return f"not a number or numeric string ({_shown(value)})"


def bool_problem(value: Any) -> str | None:
    """Why ``value`` is not a JSON boolean: the string ``"false"`` is not false."""
    return None if type(value) is bool else f"not a boolean ({_shown(value)})"


def levels_problem(value: Any) -> str | None:
    """Why ``value`` is not a list of ``[price, size]`` pairs of numbers or numeric strings."""
    if type(value) is not list:
        return f"not a list of [price, size] pairs ({_shown(value)})"
    for pair in value:
        if type(pair) is not list or len(pair) != 2:
            return f"a level is not a [price, size] pair ({_shown(pair)})"
        for item in pair:
            kind = type(item)
            if kind is not str and kind is not float and kind is not int:
                return f"a level holds {_shown(item)}, not a number or numeric string"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


_PROBLEMS: dict[str, Callable[[Any], str | None]] = {
    "int": int_problem,
    "num": number_problem,
    "bool": bool_problem,
    "levels": levels_problem,
}


def field_problem(
    data: Mapping[str, Any], fields: Sequence[tuple[str, str]]
) -> tuple[str, str] | None:
    """The first of ``fields`` (``(name, type)``) missing or mistyped in ``data``."""
    for name, kind in fields:
        if name not in data:
            return name, "missing"
        problem = _PROBLEMS[kind](data[name])
        if problem is not None:
            return name, problem
    return None


# -- helpers ------------------------------------------------------------------------------


def _where(locate: Locate | None, i: int) -> str:
    return f"{locate(i)}: " if locate is not None else f"message {i}: "


def _ms_to_ns(values: Sequence[int] | IntArray) -> IntArray:
    """Venue ms times to ns; -1 (absent) stays -1; values that would overflow become -2."""
    ms = np.asarray(values, dtype=np.int64)
    fits = (ms >= 0) & (ms < _INT64 // NS_PER_MS)
    return np.where(fits, ms * NS_PER_MS, np.where(ms == -1, -1, -2))


def _fill_missing(ts: IntArray, recv: IntArray) -> IntArray:
    """Absent venue times (-1) replaced by the receive time, the best estimate left."""
    return np.where(ts == -1, recv, ts)


#: The characters of the venue's decimal strings (``-?digits[.digits]``), and the newline
#: that joins them; NumPy and ``float()`` would also read ``"1_000"``, ``"+1"``, ``" 1"``,
#: ``"1e3"``, ``"inf"``.
_DECIMAL_BYTES = b"0123456789.-\n"


def _plain_decimals(text: str) -> bool:
    """True if ``text`` (one string, or strings joined by newlines) holds only decimal
    characters."""
    return text.isascii() and not text.encode().translate(None, _DECIMAL_BYTES)


def _decimals(values: Sequence[Any]) -> tuple[FloatArray, BoolArray | None]:
    """Numbers or numeric strings to float64 in one NumPy call (C-level parsing), and which
    could not be read (None when all could; only then is each value tried on its own).

    A string is read only in the venue's plain decimal form: one scan over all of them
    finds a stray character (an underscore, a sign, a space, an exponent)."""
    try:
        floats = np.asarray(values, dtype=np.float64)
        joined = "\n".join(values)
    except (TypeError, ValueError, OverflowError):
        pass  # a value NumPy cannot read, or numbers among the strings
    else:
        if _plain_decimals(joined):
            return floats, None
    out = np.full(len(values), np.nan)
    bad = np.zeros(len(values), dtype=np.bool_)
    for i, value in enumerate(values):
        try:
            if isinstance(value, str) and not _plain_decimals(value):
                raise ValueError(value)
            out[i] = float(value)
        except (TypeError, ValueError, OverflowError):
            bad[i] = True
    return out, bad


def _numbers(
    rejects: Rejects, values: Sequence[Any], field: str, rows: IntArray | None = None
) -> FloatArray:
    """``values`` as float64; unreadable and non-finite ones flag their message (or, with
    ``rows``, the message of each value)."""
    floats, unreadable = _decimals(values)
    flags = []
    if unreadable is not None:
        flags.append(Flag(unreadable, field, "not a number"))
    non_finite = ~np.isfinite(floats) if unreadable is None else ~np.isfinite(floats) & ~unreadable
    flags.append(Flag(non_finite, field, "not a finite number (NaN or infinite)"))
    _value_flags(rejects, flags, rows)
    return floats


def _any_per_message(mask: BoolArray, message_of_row: IntArray, n: int) -> BoolArray:
    """Per message, whether any of its rows (levels) is in ``mask``."""
    if not mask.any():
        return np.zeros(n, dtype=np.bool_)
    return np.bincount(message_of_row[mask], minlength=n) > 0


def _value_flags(rejects: Rejects, flags: Iterable[Flag], rows: IntArray | None = None) -> None:
    """Flag the messages of ``flags`` (with ``rows``: the messages their rows belong to)."""
    for flag in flags:
        mask = flag.mask if rows is None else _any_per_message(flag.mask, rows, rejects.n)
        rejects.flag(mask, flag.column, flag.reason)


def _times(
    rejects: Rejects, limits: Limits, ms: Sequence[int], field: str, optional: bool = False
) -> IntArray:
    """Venue ms times checked for their unit, as ns (-1 where absent, if ``optional``)."""
    raw = np.asarray(ms, dtype=np.int64)
    present = raw != -1 if optional else np.ones(len(raw), dtype=np.bool_)
    for flag in limits.times(raw, field, "ms"):
        rejects.flag(flag.mask & present, flag.column, flag.reason)
    return _ms_to_ns(raw)


def _clock(rejects: Rejects, limits: Limits, ts: IntArray, recv: IntArray, field: str) -> None:
    present = ts >= 0
    for flag in limits.clock(np.where(present, ts, recv), recv, field):
        rejects.flag(flag.mask, flag.column, flag.reason)


def _off_grid(values: FloatArray, step: Decimal) -> BoolArray:
    """Values off the grid of ``step``, with the tolerance the Instrument converters use."""
    with np.errstate(invalid="ignore"):
        scaled = values / float(step)
        return ~np.isfinite(scaled) | (np.abs(scaled - np.rint(scaled)) > GRID_TOLERANCE)


def _to_grid(values: FloatArray, step: Decimal) -> IntArray:
    """Values already checked to be on the grid of ``step``, in grid units."""
    return np.rint(values / float(step)).astype(np.int64)


def _check_grid(
    rejects: Rejects,
    columns: Sequence[tuple[FloatArray, Decimal, str]],
    rows: IntArray | None = None,
) -> None:
    for values, step, field in columns:
        off = _off_grid(values, step)
        if off.any():
            mask = off if rows is None else _any_per_message(off, rows, rejects.n)
            rejects.flag(mask, field, f"off the grid of step {step}")


# -- depth --------------------------------------------------------------------------------


_DIFF_FIELDS = (("E", "int"), ("U", "int"), ("u", "int"), ("b", "levels"), ("a", "levels"))
_SNAPSHOT_FIELDS = (("lastUpdateId", "int"), ("bids", "levels"), ("asks", "levels"))


@dataclass(frozen=True, eq=False)
class DepthColumns:
    """Depth diffs and snapshots collected into columns; levels still decimal values.

    ``rejects`` holds the messages that broke a rule (their columns hold placeholders).
    """

    ts_exchange: IntArray
    ts_recv: IntArray
    first: IntArray
    final: IntArray
    prev_final: IntArray
    is_snapshot: BoolArray
    level_offsets: IntArray
    bid_counts: IntArray
    price: FloatArray
    qty: FloatArray
    locate: Locate | None = None
    rejects: Rejects | None = None

    def __len__(self) -> int:
        return len(self.ts_exchange)

    def message_of_level(self) -> IntArray:
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.level_offsets))

    def off_grid(self, instrument: Instrument) -> BoolArray:
        """Levels whose price or size is off ``instrument``'s grid (one flag per level)."""
        return _off_grid(self.price, instrument.tick_size) | _off_grid(
            self.qty, instrument.lot_size
        )

    def check_grid(self, instrument: Instrument, grid: bool = True) -> None:
        """Flag, in :attr:`rejects`, messages with a level off ``instrument``'s grid (unless
        not ``grid``) or further from the others than a book can hold."""
        assert self.rejects is not None
        owner = self.message_of_level()
        if grid:
            _check_grid(
                self.rejects,
                (
                    (self.price, instrument.tick_size, "price"),
                    (self.qty, instrument.lot_size, "size"),
                ),
                owner,
            )
        far = beyond_book(self.price / float(instrument.tick_size), "price")
        _value_flags(self.rejects, [far], owner)

    def without_levels(self, drop: BoolArray) -> DepthColumns:
        """These columns without the levels flagged in ``drop``; offsets and bid counts
        follow, messages stay (possibly with no level left)."""
        n = len(self)
        offsets = self.level_offsets
        message = self.message_of_level()
        is_bid = np.arange(len(self.price)) < (offsets[:-1] + self.bid_counts)[message]
        keep = ~drop
        sizes = np.bincount(message[keep], minlength=n)
        return replace(
            self,
            level_offsets=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
            bid_counts=np.bincount(message[keep & is_bid], minlength=n).astype(np.int64),
            price=self.price[keep],
            qty=self.qty[keep],
        )

    def take(self, keep: BoolArray) -> DepthColumns:
        """Only the messages in ``keep``, with their levels (rejects cleared)."""
        levels = np.repeat(keep, np.diff(self.level_offsets))
        sizes = np.diff(self.level_offsets)[keep]
        return DepthColumns(
            self.ts_exchange[keep],
            self.ts_recv[keep],
            self.first[keep],
            self.final[keep],
            self.prev_final[keep],
            self.is_snapshot[keep],
            np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
            self.bid_counts[keep],
            self.price[levels],
            self.qty[levels],
            None,
            Rejects(int(keep.sum())),
        )

    def to_batch(self, instrument: Instrument) -> DepthBatch:
        """Convert the levels to ticks and lots, all levels of all messages at once.

        Raises :class:`DataError` naming the message of the first level off the grid.
        """
        rejects = Rejects(len(self))
        _check_grid(
            rejects,
            ((self.price, instrument.tick_size, "price"), (self.qty, instrument.lot_size, "size")),
            self.message_of_level(),
        )
        rejects.raise_first(self.locate, f"{instrument.symbol} depth level")
        return DepthBatch(
            instrument.symbol,
            self.ts_exchange,
            self.ts_recv,
            self.first,
            self.final,
            self.prev_final,
            self.is_snapshot,
            self.level_offsets,
            self.bid_counts,
            _to_grid(self.price, instrument.tick_size),
            _to_grid(self.qty, instrument.lot_size),
        )


def collect_depth(
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    locate: Locate | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> DepthColumns:
    """Collect ``depthUpdate`` diffs and REST snapshots, in the order given.

    Diffs: ``E`` (venue time), ``U``, ``u``, ``pu`` (-1 on spot, which has none), ``b``,
    ``a``. Snapshots: ``first = final = lastUpdateId``, ``prev_final = -1``, venue time
    ``E``, else ``T``, else (spot REST has neither) the receive time. Bids come before
    asks within each message. Mistyped fields, prices not finite or not above 0, sizes
    not finite or negative (0 deletes a level), times in the wrong unit, receive times
    far from ``E`` and level prices far from the others (``limits``) flag their message
    in the result's ``rejects``.
    """
    n = len(messages)
    rejects = Rejects(n)
    ts = [-1] * n
    first = [0] * n
    final = [0] * n
    prev = [-1] * n
    snap = [False] * n
    bid_counts = [0] * n
    sizes = [0] * n
    levels: list[Any] = []
    extend = levels.extend
    for i, message in enumerate(messages):
        data = payload(message)
        snapshot = "lastUpdateId" in data
        problem = field_problem(data, _SNAPSHOT_FIELDS if snapshot else _DIFF_FIELDS)
        if problem is None:
            for name in ("E", "T") if snapshot else ("pu",):
                if name in data:
                    reason = int_problem(data[name])
                    if reason is not None:
                        problem = (name, reason)
                        break
        if problem is not None:
            rejects.one(i, *problem)
            continue
        if snapshot:
            bids = data["bids"]
            asks = data["asks"]
            first[i] = final[i] = data["lastUpdateId"]
            ts[i] = data.get("E", data.get("T", -1))
            snap[i] = True
        else:
            bids = data["b"]
            asks = data["a"]
            if "pu" in data and (reason := int_problem(data["pu"])) is not None:
                rejects.one(i, "pu", reason)
                continue
            first[i] = data["U"]
            final[i] = data["u"]
            prev[i] = data.get("pu", -1)
            ts[i] = data["E"]
        bid_counts[i] = len(bids)
        sizes[i] = len(bids) + len(asks)
        extend(bids)
        extend(asks)
    offsets = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))).astype(np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), sizes)
    if levels:
        prices = _numbers(rejects, [pair[0] for pair in levels], "price", owner)
        qtys = _numbers(rejects, [pair[1] for pair in levels], "size", owner)
    else:
        prices = qtys = np.empty(0)
    recv = np.asarray(recv_ns, dtype=np.int64)
    exchange = _times(rejects, limits, ts, "E", optional=True)
    _clock(rejects, limits, exchange, recv, "E")
    first_ids = np.asarray(first, dtype=np.int64)
    final_ids = np.asarray(final, dtype=np.int64)
    _value_flags(rejects, (Flag(first_ids > final_ids, "U", "after the final update id 'u'"),))
    with np.errstate(invalid="ignore"):
        _value_flags(
            rejects,
            (
                Flag(prices <= 0, "price", "not positive"),
                Flag(qtys < 0, "size", "negative"),
                *limits.levels(prices, "price")[0],
            ),
            owner,
        )
    return DepthColumns(
        ts_exchange=_fill_missing(exchange, recv),
        ts_recv=recv,
        first=first_ids,
        final=final_ids,
        prev_final=np.asarray(prev, dtype=np.int64),
        is_snapshot=np.asarray(snap, dtype=np.bool_),
        level_offsets=offsets,
        bid_counts=np.asarray(bid_counts, dtype=np.int64),
        price=np.ascontiguousarray(prices),
        qty=np.ascontiguousarray(qtys),
        locate=locate,
        rejects=rejects,
    )


def depth_batch(
    symbol: str,
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    instrument: Instrument,
    locate: Locate | None = None,
) -> DepthBatch:
    """Depth diffs and snapshots of ``symbol`` as one :class:`DepthBatch` (the first bad
    message raises :class:`DataError`)."""
    _check_symbol(symbol, instrument)
    columns = collect_depth(messages, recv_ns, locate)
    assert columns.rejects is not None
    columns.rejects.raise_first(locate, "depth")
    return columns.to_batch(instrument)


# -- trades -------------------------------------------------------------------------------


_TRADE_FIELDS = (("T", "int"), ("p", "num"), ("q", "num"), ("m", "bool"))


@dataclass(frozen=True, eq=False)
class TradeColumns:
    """``trade`` / ``aggTrade`` events collected into columns; price and size decimal."""

    ts_exchange: IntArray
    ts_recv: IntArray
    price: FloatArray
    qty: FloatArray
    side: npt.NDArray[np.int8]
    trade_id: IntArray
    locate: Locate | None = None
    rejects: Rejects | None = None

    def __len__(self) -> int:
        return len(self.ts_exchange)

    def check_grid(self, instrument: Instrument) -> None:
        assert self.rejects is not None
        _check_grid(
            self.rejects,
            ((self.price, instrument.tick_size, "p"), (self.qty, instrument.lot_size, "q")),
        )

    def take(self, keep: BoolArray) -> TradeColumns:
        return TradeColumns(
            self.ts_exchange[keep],
            self.ts_recv[keep],
            self.price[keep],
            self.qty[keep],
            self.side[keep],
            self.trade_id[keep],
            None,
            Rejects(int(keep.sum())),
        )

    def to_batch(self, instrument: Instrument) -> TradeBatch:
        """Convert prices and sizes to ticks and lots in one call each (off the grid raises)."""
        rejects = Rejects(len(self))
        _check_grid(
            rejects, ((self.price, instrument.tick_size, "p"), (self.qty, instrument.lot_size, "q"))
        )
        rejects.raise_first(self.locate, f"{instrument.symbol} trade")
        return TradeBatch(
            instrument.symbol,
            self.ts_exchange,
            self.ts_recv,
            _to_grid(self.price, instrument.tick_size),
            _to_grid(self.qty, instrument.lot_size),
            self.side,
            self.trade_id,
        )


def collect_trades(
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    locate: Locate | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> TradeColumns:
    """Collect trades: time ``T``, ``p``, ``q``, id ``t`` (``a`` for aggTrade), side from ``m``.

    ``m`` true means the buyer was the maker, so the aggressor sold: side ``SELL`` (-1),
    else ``BUY`` (+1); ``m`` must be a JSON boolean (the string ``"false"`` is not false).
    Ids must be integers (a float id is rejected, never truncated). Prices and sizes must
    be finite and above 0; ``T`` in milliseconds; the receive time near ``T`` and the
    price near its neighbours (``limits``). Messages breaking a rule are in ``rejects``.
    """
    n = len(messages)
    rejects = Rejects(n)
    ts = [0] * n
    prices: list[Any] = ["0"] * n
    qtys: list[Any] = ["0"] * n
    maker = [False] * n
    ids = [0] * n
    for i, message in enumerate(messages):
        data = payload(message)
        id_field = "t" if "t" in data else "a"
        problem = field_problem(data, _TRADE_FIELDS)
        if problem is None:
            if id_field not in data:
                problem = ("t", "missing (nor a, for aggTrade)")
            else:
                reason = int_problem(data[id_field])
                problem = None if reason is None else (id_field, reason)
        if problem is not None:
            rejects.one(i, *problem)
            continue
        ts[i] = data["T"]
        prices[i] = data["p"]
        qtys[i] = data["q"]
        maker[i] = data["m"]
        ids[i] = data[id_field]
    recv = np.asarray(recv_ns, dtype=np.int64)
    price = _numbers(rejects, prices, "p")
    qty = _numbers(rejects, qtys, "q")
    exchange = _times(rejects, limits, ts, "T")
    _clock(rejects, limits, exchange, recv, "T")
    keep = rejects.keep()
    jumps, _ = limits.prices(np.where(keep, price, np.nan), "p")
    with np.errstate(invalid="ignore"):
        _value_flags(
            rejects,
            (
                Flag(keep & (price <= 0), "p", "not positive"),
                Flag(keep & (qty <= 0), "q", "not positive"),
                *jumps,
            ),
        )
    return TradeColumns(
        ts_exchange=exchange,
        ts_recv=recv,
        price=price,
        qty=qty,
        side=np.where(np.asarray(maker, dtype=np.bool_), SELL, BUY).astype(np.int8),
        trade_id=np.asarray(ids, dtype=np.int64),
        locate=locate,
        rejects=rejects,
    )


def trade_batch(
    symbol: str,
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    instrument: Instrument,
    locate: Locate | None = None,
) -> TradeBatch:
    """Trades of ``symbol`` as one :class:`TradeBatch` (the first bad one raises)."""
    _check_symbol(symbol, instrument)
    columns = collect_trades(messages, recv_ns, locate)
    assert columns.rejects is not None
    columns.rejects.raise_first(locate, "trade")
    return columns.to_batch(instrument)


# -- mark price ---------------------------------------------------------------------------


_MARK_FIELDS = (("E", "int"), ("T", "int"), ("p", "num"), ("i", "num"), ("P", "num"), ("r", "num"))


def collect_mark_prices(
    symbol: str,
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[MarkPriceBatch, Rejects]:
    """``markPriceUpdate`` events as a batch, with the messages that broke a rule.

    Mark and index prices must be finite and above 0, the settle price finite and not
    negative, the funding rate finite and within ``limits.funding_cap``, ``E`` and ``T``
    in milliseconds, the receive time near ``E`` and the mark near its neighbours.
    """
    n = len(messages)
    rejects = Rejects(n)
    ts = [0] * n
    next_funding = [0] * n
    columns: dict[str, list[Any]] = {key: ["0"] * n for key in ("p", "i", "P", "r")}
    for i, message in enumerate(messages):
        data = payload(message)
        problem = field_problem(data, _MARK_FIELDS)
        if problem is not None:
            rejects.one(i, *problem)
            continue
        ts[i] = data["E"]
        next_funding[i] = data["T"]
        for key, column in columns.items():
            column[i] = data[key]
    recv = np.asarray(recv_ns, dtype=np.int64)
    floats = {key: _numbers(rejects, column, key) for key, column in columns.items()}
    exchange = _times(rejects, limits, ts, "E")
    funding_time = _times(rejects, limits, next_funding, "T")
    _clock(rejects, limits, exchange, recv, "E")
    keep = rejects.keep()
    jumps, _ = limits.prices(np.where(keep, floats["p"], np.nan), "p")
    with np.errstate(invalid="ignore"):
        _value_flags(
            rejects,
            (
                Flag(keep & (floats["p"] <= 0), "p", "not positive"),
                Flag(keep & (floats["i"] <= 0), "i", "not positive"),
                Flag(keep & (floats["P"] < 0), "P", "negative"),
                *limits.funding(np.where(keep, floats["r"], 0.0), "r"),
                *jumps,
            ),
        )
    batch = MarkPriceBatch(
        symbol,
        exchange,
        recv,
        floats["p"],
        floats["i"],
        floats["P"],
        floats["r"],
        funding_time,
    )
    return batch, rejects


def mark_price_batch(
    symbol: str,
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    locate: Locate | None = None,
) -> MarkPriceBatch:
    """``markPriceUpdate`` events: ``E``, mark ``p``, index ``i``, settle ``P``, funding
    ``r``, next funding time ``T`` (prices stay floats: they are not on the tick grid).
    The first message breaking a rule of :func:`collect_mark_prices` raises."""
    batch, rejects = collect_mark_prices(symbol, messages, recv_ns)
    rejects.raise_first(locate, "markPriceUpdate")
    return batch


def take_rows(batch: MarkPriceBatch, keep: BoolArray) -> MarkPriceBatch:
    """The rows of a mark price batch in ``keep``."""
    assert batch.ts_recv is not None
    return MarkPriceBatch(
        batch.symbol,
        batch.ts_exchange[keep],
        batch.ts_recv[keep],
        batch.mark[keep],
        batch.index[keep],
        batch.settle[keep],
        batch.funding_rate[keep],
        batch.next_funding_time[keep],
    )


# -- book ticker --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BookTickers:
    """The venue's best bid and ask (``bookTicker``) of one symbol, in ticks and lots.

    There is no bookTicker event in the core; these arrays serve as an independent check
    of a reconstructed book: ``update_id`` is the book update id the quote reflects.
    ``ts_exchange`` is ``E``, else ``T``, else (spot carries neither) the receive time.
    """

    symbol: str
    ts_exchange: IntArray
    ts_recv: IntArray
    update_id: IntArray
    bid_price: IntArray
    bid_qty: IntArray
    ask_price: IntArray
    ask_qty: IntArray

    def __len__(self) -> int:
        return len(self.update_id)


_TICKER_FIELDS = (("u", "int"), ("b", "num"), ("B", "num"), ("a", "num"), ("A", "num"))


@dataclass(frozen=True, eq=False)
class BookTickerColumns:
    """``bookTicker`` events collected into columns; prices and sizes still decimal."""

    ts_exchange: IntArray
    ts_recv: IntArray
    update_id: IntArray
    bid_price: FloatArray
    bid_qty: FloatArray
    ask_price: FloatArray
    ask_qty: FloatArray
    locate: Locate | None = None
    rejects: Rejects | None = None

    def __len__(self) -> int:
        return len(self.update_id)

    def _grid(self, instrument: Instrument) -> list[tuple[FloatArray, Decimal, str]]:
        tick, lot = instrument.tick_size, instrument.lot_size
        return [
            (self.bid_price, tick, "b"),
            (self.bid_qty, lot, "B"),
            (self.ask_price, tick, "a"),
            (self.ask_qty, lot, "A"),
        ]

    def check_grid(self, instrument: Instrument) -> None:
        assert self.rejects is not None
        _check_grid(self.rejects, self._grid(instrument))

    def take(self, keep: BoolArray) -> BookTickerColumns:
        return BookTickerColumns(
            self.ts_exchange[keep],
            self.ts_recv[keep],
            self.update_id[keep],
            self.bid_price[keep],
            self.bid_qty[keep],
            self.ask_price[keep],
            self.ask_qty[keep],
            None,
            Rejects(int(keep.sum())),
        )

    def to_arrays(self, instrument: Instrument) -> BookTickers:
        """Convert to ticks and lots, one conversion per column (off the grid raises)."""
        rejects = Rejects(len(self))
        _check_grid(rejects, self._grid(instrument))
        rejects.raise_first(self.locate, f"{instrument.symbol} bookTicker")
        tick, lot = instrument.tick_size, instrument.lot_size
        return BookTickers(
            instrument.symbol,
            self.ts_exchange,
            self.ts_recv,
            self.update_id,
            _to_grid(self.bid_price, tick),
            _to_grid(self.bid_qty, lot),
            _to_grid(self.ask_price, tick),
            _to_grid(self.ask_qty, lot),
        )


def collect_book_tickers(
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    locate: Locate | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> BookTickerColumns:
    """Collect ``bookTicker`` events: ``u``, ``b``, ``B``, ``a``, ``A`` and ``E`` or ``T``
    (prices finite and above 0, sizes finite and not negative, the bid below the ask)."""
    n = len(messages)
    rejects = Rejects(n)
    ts = [-1] * n
    ids = [0] * n
    columns: dict[str, list[Any]] = {key: ["0"] * n for key in ("b", "B", "a", "A")}
    for i, message in enumerate(messages):
        data = payload(message)
        problem = field_problem(data, _TICKER_FIELDS)
        time = data.get("E", data.get("T", -1))
        if problem is None and time != -1:
            reason = int_problem(time)
            problem = None if reason is None else ("E" if "E" in data else "T", reason)
        if problem is not None:
            rejects.one(i, *problem)
            continue
        ids[i] = data["u"]
        ts[i] = time
        for key, column in columns.items():
            column[i] = data[key]
    floats = {key: _numbers(rejects, column, key) for key, column in columns.items()}
    recv = np.asarray(recv_ns, dtype=np.int64)
    exchange = _times(rejects, limits, ts, "E", optional=True)
    _clock(rejects, limits, exchange, recv, "E")
    with np.errstate(invalid="ignore"):
        _value_flags(
            rejects,
            (
                Flag(floats["b"] <= 0, "b", "not positive"),
                Flag(floats["a"] <= 0, "a", "not positive"),
                Flag(floats["B"] < 0, "B", "negative"),
                Flag(floats["A"] < 0, "A", "negative"),
                Flag(floats["b"] >= floats["a"], "b", "at or above the ask 'a' (a crossed quote)"),
            ),
        )
    return BookTickerColumns(
        ts_exchange=_fill_missing(exchange, recv),
        ts_recv=recv,
        update_id=np.asarray(ids, dtype=np.int64),
        bid_price=floats["b"],
        bid_qty=floats["B"],
        ask_price=floats["a"],
        ask_qty=floats["A"],
        locate=locate,
        rejects=rejects,
    )


def book_tickers(
    symbol: str,
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    instrument: Instrument,
    locate: Locate | None = None,
) -> BookTickers:
    """``bookTicker`` events of ``symbol`` as :class:`BookTickers` arrays."""
    _check_symbol(symbol, instrument)
    columns = collect_book_tickers(messages, recv_ns, locate)
    assert columns.rejects is not None
    columns.rejects.raise_first(locate, "bookTicker")
    return columns.to_arrays(instrument)


# -- instruments --------------------------------------------------------------------------


def _check_symbol(symbol: str, instrument: Instrument) -> None:
    if symbol != instrument.symbol:
        raise DataError(f"instrument {instrument.symbol} given for symbol {symbol}")


def decimal_step(values: Iterable[FloatArray]) -> Decimal:
    """The smallest decimal step the values use: ``10 ** -places`` for the fewest decimal
    places on which every value lies (trailing zeros of the strings do not count).

    A power of ten, so it may be finer than the venue's tick (0.005 is read as 0.001) and,
    for a short capture that never uses the last digit, coarser than it.
    """
    arrays = [np.abs(a) for a in values if len(a)]
    if not arrays:
        return Decimal(1)
    merged = np.unique(np.concatenate(arrays))
    for places in range(MAX_PLACES + 1):
        scaled = merged * 10.0**places
        if np.all(np.abs(scaled - np.rint(scaled)) <= GRID_TOLERANCE):
            return Decimal(1).scaleb(-places)
    raise DataError(f"values need more than {MAX_PLACES} decimal places: no grid to infer")


#: Binance COIN-M symbol names: ``<BASE>USD_PERP`` or ``<BASE>USD_<YYMMDD>`` (USD-M
#: delivery contracts end ``USDT_<YYMMDD>`` and do not match).
_COIN_M_SYMBOL = re.compile(r"^[A-Z0-9]+USD_(PERP|\d{6})$")


def is_coin_m_symbol(symbol: str) -> bool:
    """Whether ``symbol`` is named like a Binance COIN-M contract (``BTCUSD_PERP``)."""
    return _COIN_M_SYMBOL.match(symbol) is not None


def infer_instrument(
    symbol: str, prices: Iterable[FloatArray], qtys: Iterable[FloatArray]
) -> Instrument:
    """An instrument whose tick and lot are the smallest decimal steps of the prices and
    sizes seen (see :func:`decimal_step`); for captures without exchange information."""
    return Instrument(symbol, decimal_step(prices), decimal_step(qtys))
