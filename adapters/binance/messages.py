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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import orjson

from streamsim.errors import DataError
from streamsim.events import BUY, SELL
from streamsim.feed.batches import DepthBatch, MarkPriceBatch, TradeBatch
from streamsim.instruments import GRID_TOLERANCE, Instrument

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


# -- decoding and routing ---------------------------------------------------------------


def decode(raw: bytes | str) -> Any:
    """Parse one JSON document with orjson; :class:`DataError` if it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc}") from exc


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
    data = payload(message)
    if "lastUpdateId" in data and "bids" in data:
        return "snapshot", None, data
    stream = message.get("stream")
    event = data.get("e")
    kind: Kind = _EVENT_KINDS.get(event, "other") if isinstance(event, str) else "other"
    if event is None and isinstance(stream, str) and stream.endswith("@bookTicker"):
        kind = "book_ticker"
    symbol = data.get("s")
    if not isinstance(symbol, str):
        symbol = stream.split("@", 1)[0].upper() if isinstance(stream, str) else None
    return kind, symbol, data


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


# -- helpers ------------------------------------------------------------------------------


def _where(locate: Locate | None, i: int) -> str:
    return f"{locate(i)}: " if locate is not None else f"message {i}: "


def _ms_to_ns(values: Sequence[int]) -> IntArray:
    """Venue ms times to ns; -1 (absent) stays -1."""
    ms = np.asarray(values, dtype=np.int64)
    return np.where(ms >= 0, ms * NS_PER_MS, -1)


def _fill_missing(ts: IntArray, recv: IntArray) -> IntArray:
    """Absent venue times (-1) replaced by the receive time, the best estimate left."""
    return np.where(ts >= 0, ts, recv)


def _decimals(
    values: Sequence[Any],
    what: str,
    locate: Locate | None = None,
    message_of_row: Callable[[int], int] | None = None,
) -> FloatArray:
    """Numeric strings to float64 in one NumPy call (C-level parsing, no Python loop).

    On failure, bisection finds the first bad row (error path only) to name its message.
    """
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        lo, hi = 0, len(values)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                np.asarray(values[lo:mid], dtype=np.float64)
            except (TypeError, ValueError):
                hi = mid
            else:
                lo = mid
        message = lo if message_of_row is None else message_of_row(lo)
        raise DataError(
            f"{_where(locate, message)}{what}: cannot read {values[lo]!r} as numbers ({exc})"
        ) from exc


def _convert(
    values: FloatArray,
    convert: Callable[[FloatArray, str], IntArray],
    step: Decimal,
    message_of_row: Callable[[int], int],
    locate: Locate | None,
    what: str,
) -> IntArray:
    """Run an Instrument converter; on a value off the grid name the message it came from."""
    try:
        return convert(values, f"{what}, ")
    except DataError as exc:
        bad = np.flatnonzero(_off_grid(values, step))
        if not len(bad):
            raise
        raise DataError(f"{_where(locate, message_of_row(int(bad[0])))}{exc}") from exc


def _off_grid(values: FloatArray, step: Decimal) -> BoolArray:
    """Values off the grid of ``step``, with the tolerance the Instrument converters use."""
    scaled = values / float(step)
    return ~np.isfinite(scaled) | (np.abs(scaled - np.rint(scaled)) > GRID_TOLERANCE)


def _same_row(row: int) -> int:
    return row


# -- depth --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DepthColumns:
    """Depth diffs and snapshots collected into columns; levels still decimal values."""

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

    def __len__(self) -> int:
        return len(self.ts_exchange)

    def off_grid(self, instrument: Instrument) -> BoolArray:
        """Levels whose price or size is off ``instrument``'s grid (one flag per level)."""
        return _off_grid(self.price, instrument.tick_size) | _off_grid(
            self.qty, instrument.lot_size
        )

    def without_levels(self, drop: BoolArray) -> DepthColumns:
        """These columns without the levels flagged in ``drop``; offsets and bid counts
        follow, messages stay (possibly with no level left)."""
        n = len(self)
        offsets = self.level_offsets
        message = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
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

    def to_batch(self, instrument: Instrument) -> DepthBatch:
        """Convert the levels to ticks and lots, all levels of all messages at once."""
        offsets = self.level_offsets
        n = len(self)

        def message_of_row(row: int) -> int:
            return min(int(np.searchsorted(offsets, row, side="right")) - 1, max(n - 1, 0))

        what = f"{instrument.symbol} depth levels"
        price = _convert(
            self.price,
            instrument.prices_to_ticks,
            instrument.tick_size,
            message_of_row,
            self.locate,
            what,
        )
        qty = _convert(
            self.qty,
            instrument.qtys_to_lots,
            instrument.lot_size,
            message_of_row,
            self.locate,
            what,
        )
        return DepthBatch(
            instrument.symbol,
            self.ts_exchange,
            self.ts_recv,
            self.first,
            self.final,
            self.prev_final,
            self.is_snapshot,
            offsets,
            self.bid_counts,
            price,
            qty,
        )


def collect_depth(
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    locate: Locate | None = None,
) -> DepthColumns:
    """Collect ``depthUpdate`` diffs and REST snapshots, in the order given.

    Diffs: ``E`` (venue time), ``U``, ``u``, ``pu`` (-1 on spot, which has none), ``b``,
    ``a``. Snapshots: ``first = final = lastUpdateId``, ``prev_final = -1``, venue time
    ``E``, else ``T``, else (spot REST has neither) the receive time. Bids come before
    asks within each message.
    """
    n = len(messages)
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
        try:
            if "lastUpdateId" in data:
                bids = data["bids"]
                asks = data["asks"]
                first[i] = final[i] = data["lastUpdateId"]
                ts[i] = data.get("E", data.get("T", -1))
                snap[i] = True
            else:
                bids = data["b"]
                asks = data["a"]
                first[i] = data["U"]
                final[i] = data["u"]
                prev[i] = data.get("pu", -1)
                ts[i] = data["E"]
        except KeyError as exc:
            raise DataError(f"{_where(locate, i)}depth message lacks field {exc}") from exc
        bid_counts[i] = len(bids)
        sizes[i] = len(bids) + len(asks)
        extend(bids)
        extend(asks)
    offsets = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))).astype(np.int64)

    def message_of_row(row: int) -> int:
        return int(np.searchsorted(offsets, row, side="right")) - 1

    pairs = _decimals(levels, "depth level", locate, message_of_row) if levels else np.empty((0, 2))
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise DataError(f"depth levels must be [price, size] pairs, got shape {pairs.shape}")
    recv = np.asarray(recv_ns, dtype=np.int64)
    return DepthColumns(
        ts_exchange=_fill_missing(_ms_to_ns(ts), recv),
        ts_recv=recv,
        first=np.asarray(first, dtype=np.int64),
        final=np.asarray(final, dtype=np.int64),
        prev_final=np.asarray(prev, dtype=np.int64),
        is_snapshot=np.asarray(snap, dtype=np.bool_),
        level_offsets=offsets,
        bid_counts=np.asarray(bid_counts, dtype=np.int64),
        price=np.ascontiguousarray(pairs[:, 0]),
        qty=np.ascontiguousarray(pairs[:, 1]),
        locate=locate,
    )


def depth_batch(
    symbol: str,
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    instrument: Instrument,
    locate: Locate | None = None,
) -> DepthBatch:
    """Depth diffs and snapshots of ``symbol`` as one :class:`DepthBatch`."""
    _check_symbol(symbol, instrument)
    return collect_depth(messages, recv_ns, locate).to_batch(instrument)


# -- trades -------------------------------------------------------------------------------


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

    def __len__(self) -> int:
        return len(self.ts_exchange)

    def to_batch(self, instrument: Instrument) -> TradeBatch:
        """Convert prices and sizes to ticks and lots in one call each."""
        rows = _same_row
        what = f"{instrument.symbol} trades"
        return TradeBatch(
            instrument.symbol,
            self.ts_exchange,
            self.ts_recv,
            _convert(
                self.price,
                instrument.prices_to_ticks,
                instrument.tick_size,
                rows,
                self.locate,
                what,
            ),
            _convert(
                self.qty, instrument.qtys_to_lots, instrument.lot_size, rows, self.locate, what
            ),
            self.side,
            self.trade_id,
        )


def collect_trades(
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    locate: Locate | None = None,
) -> TradeColumns:
    """Collect trades: time ``T``, ``p``, ``q``, id ``t`` (``a`` for aggTrade), side from ``m``.

    ``m`` true means the buyer was the maker, so the aggressor sold: side ``SELL`` (-1),
    else ``BUY`` (+1).
    """
    n = len(messages)
    ts = [0] * n
    prices: list[Any] = [None] * n
    qtys: list[Any] = [None] * n
    maker = [False] * n
    ids = [0] * n
    for i, message in enumerate(messages):
        data = payload(message)
        try:
            ts[i] = data["T"]
            prices[i] = data["p"]
            qtys[i] = data["q"]
            maker[i] = data["m"]
            ids[i] = data["t"] if "t" in data else data["a"]
        except KeyError as exc:
            if exc.args == ("a",):
                exc = KeyError("t (or a for aggTrade)")
            raise DataError(f"{_where(locate, i)}trade lacks field {exc}") from exc
    return TradeColumns(
        ts_exchange=_ms_to_ns(ts),
        ts_recv=np.asarray(recv_ns, dtype=np.int64),
        price=_decimals(prices, "trade price", locate),
        qty=_decimals(qtys, "trade size", locate),
        side=np.where(np.asarray(maker, dtype=np.bool_), SELL, BUY).astype(np.int8),
        trade_id=np.asarray(ids, dtype=np.int64),
        locate=locate,
    )


def trade_batch(
    symbol: str,
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    instrument: Instrument,
    locate: Locate | None = None,
) -> TradeBatch:
    """Trades of ``symbol`` as one :class:`TradeBatch`."""
    _check_symbol(symbol, instrument)
    return collect_trades(messages, recv_ns, locate).to_batch(instrument)


# -- mark price ---------------------------------------------------------------------------


def mark_price_batch(
    symbol: str,
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    locate: Locate | None = None,
) -> MarkPriceBatch:
    """``markPriceUpdate`` events: ``E``, mark ``p``, index ``i``, settle ``P``, funding
    ``r``, next funding time ``T`` (prices stay floats: they are not on the tick grid)."""
    n = len(messages)
    ts = [0] * n
    next_funding = [0] * n
    columns: dict[str, list[Any]] = {key: [None] * n for key in ("p", "i", "P", "r")}
    for i, message in enumerate(messages):
        data = payload(message)
        try:
            ts[i] = data["E"]
            next_funding[i] = data["T"]
            for key, column in columns.items():
                column[i] = data[key]
        except KeyError as exc:
            raise DataError(f"{_where(locate, i)}markPriceUpdate lacks field {exc}") from exc
    floats = {
        key: _decimals(column, f"markPriceUpdate {key!r}", locate)
        for key, column in columns.items()
    }
    return MarkPriceBatch(
        symbol,
        _ms_to_ns(ts),
        np.asarray(recv_ns, dtype=np.int64),
        floats["p"],
        floats["i"],
        floats["P"],
        floats["r"],
        _ms_to_ns(next_funding),
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

    def __len__(self) -> int:
        return len(self.update_id)

    def to_arrays(self, instrument: Instrument) -> BookTickers:
        """Convert to ticks and lots, one converter call per column."""
        rows = _same_row
        what = f"{instrument.symbol} bookTicker"
        ticks, lots = instrument.prices_to_ticks, instrument.qtys_to_lots
        return BookTickers(
            instrument.symbol,
            self.ts_exchange,
            self.ts_recv,
            self.update_id,
            _convert(self.bid_price, ticks, instrument.tick_size, rows, self.locate, what),
            _convert(self.bid_qty, lots, instrument.lot_size, rows, self.locate, what),
            _convert(self.ask_price, ticks, instrument.tick_size, rows, self.locate, what),
            _convert(self.ask_qty, lots, instrument.lot_size, rows, self.locate, what),
        )


def collect_book_tickers(
    messages: Sequence[Mapping[str, Any]],
    recv_ns: Sequence[int] | IntArray,
    locate: Locate | None = None,
) -> BookTickerColumns:
    """Collect ``bookTicker`` events: ``u``, ``b``, ``B``, ``a``, ``A`` and ``E`` or ``T``."""
    n = len(messages)
    ts = [-1] * n
    ids = [0] * n
    columns: dict[str, list[Any]] = {key: [None] * n for key in ("b", "B", "a", "A")}
    for i, message in enumerate(messages):
        data = payload(message)
        try:
            ids[i] = data["u"]
            ts[i] = data.get("E", data.get("T", -1))
            for key, column in columns.items():
                column[i] = data[key]
        except KeyError as exc:
            raise DataError(f"{_where(locate, i)}bookTicker lacks field {exc}") from exc
    floats = {
        key: _decimals(column, f"bookTicker {key!r}", locate) for key, column in columns.items()
    }
    recv = np.asarray(recv_ns, dtype=np.int64)
    return BookTickerColumns(
        ts_exchange=_fill_missing(_ms_to_ns(ts), recv),
        ts_recv=recv,
        update_id=np.asarray(ids, dtype=np.int64),
        bid_price=floats["b"],
        bid_qty=floats["B"],
        ask_price=floats["a"],
        ask_qty=floats["A"],
        locate=locate,
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
    return collect_book_tickers(messages, recv_ns, locate).to_arrays(instrument)


# -- instruments --------------------------------------------------------------------------


def _check_symbol(symbol: str, instrument: Instrument) -> None:
    if symbol != instrument.symbol:
        raise DataError(f"instrument {instrument.symbol} given for symbol {symbol}")


def parse_exchange_info(info: Mapping[str, Any]) -> dict[str, Instrument]:
    """Instruments of a decoded ``GET /fapi/v1/exchangeInfo`` response.

    Tick size from ``PRICE_FILTER.tickSize``, lot size from ``LOT_SIZE.stepSize``, minimum
    notional from ``MIN_NOTIONAL.notional`` when present; symbols lacking the first two
    are left out.
    """
    symbols = info.get("symbols")
    if not isinstance(symbols, list):
        raise DataError("exchangeInfo response has no 'symbols' list")
    result: dict[str, Instrument] = {}
    for entry in symbols:
        filters = {f.get("filterType"): f for f in entry.get("filters", ())}
        price = filters.get("PRICE_FILTER", {}).get("tickSize")
        lot = filters.get("LOT_SIZE", {}).get("stepSize")
        if price is None or lot is None:
            continue
        notional = filters.get("MIN_NOTIONAL", {}).get("notional", "0")
        symbol = entry["symbol"]
        result[symbol] = Instrument(
            symbol,
            Decimal(price),
            Decimal(lot),
            min_notional=Decimal(notional),
            quote=entry.get("quoteAsset", "USDT"),
        )
    return result


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


def infer_instrument(
    symbol: str, prices: Iterable[FloatArray], qtys: Iterable[FloatArray]
) -> Instrument:
    """An instrument whose tick and lot are the smallest decimal steps of the prices and
    sizes seen (see :func:`decimal_step`); for captures without exchange information."""
    return Instrument(symbol, decimal_step(prices), decimal_step(qtys))
