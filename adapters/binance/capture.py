"""Readers of raw Binance recordings: per symbol, columnar batches in receive order.

Two recorder formats, told apart line by line:

* hftbacktest-style captures (``binance-usdm-capture/``, ``binance-spot-capture/``): gzip
  (or plain) text, ``<local receive timestamp> <raw JSON>``. The timestamp's unit is
  detected per line: a value above 1e17 is nanoseconds, anything else microseconds (1e17
  ns is 1973, 1e17 us is year 5138). Several files of one recording, given in order,
  chain into one sequence.
* cryptofeed-style recordings (``binance-futures-ws/``): ``<recv_unix_seconds>: <raw
  JSON>`` for stream messages, ``<url> -> <recv_unix_seconds>: <raw JSON>`` for REST
  responses (depth snapshots, exchangeInfo). The websocket URL header line
  (``wss://... <-> <seconds>``) and ``configuration: {...}`` lines carry no market data
  and are skipped.

JSON is parsed only by :mod:`adapters.binance.messages`; this module frames lines, routes
messages by symbol and kind, and orders each symbol's messages by receive time (stable,
so equal times keep file order).
"""

from __future__ import annotations

import gzip
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import numpy as np

from streamsim.errors import DataError
from streamsim.feed.batches import DepthBatch, MarkPriceBatch, TradeBatch
from streamsim.instruments import Instrument

from . import messages as msg

PathLike = str | os.PathLike[str]

#: Receive timestamps above this are nanoseconds, others microseconds.
NS_THRESHOLD = 10**17
_GZIP_MAGIC = b"\x1f\x8b"
_SKIPPED_PREFIXES = (b"wss://", b"ws://", b"configuration:")


@dataclass(frozen=True, eq=False)
class SymbolCapture:
    """Everything one capture holds for one symbol, as columnar arrays.

    ``depth`` merges REST snapshots and diffs in receive order; ``mark_price`` is None when
    the capture has no mark price stream. ``instrument`` is the grid the prices and sizes
    were converted with (given, from exchangeInfo, or inferred); ``dropped_levels``
    counts depth levels left out for being off its grid (``off_grid="drop"``).
    """

    instrument: Instrument
    depth: DepthBatch
    trades: TradeBatch
    mark_price: MarkPriceBatch | None
    book_tickers: msg.BookTickers
    dropped_levels: int = 0


@dataclass(frozen=True, eq=False)
class Capture:
    """A capture read by :func:`read_capture`: per-symbol data and the messages it skipped
    (counts by event type, e.g. ``kline``), so that nothing is dropped silently."""

    symbols: dict[str, SymbolCapture]
    ignored: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, symbol: str) -> SymbolCapture:
        return self.symbols[symbol]


@dataclass
class _Bucket:
    """Decoded messages of one symbol and kind, with their receive times and origins."""

    messages: list[Any] = field(default_factory=list)
    recv: list[int] = field(default_factory=list)
    files: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def add(self, message: Any, recv: int, file: int, line: int) -> None:
        self.messages.append(message)
        self.recv.append(recv)
        self.files.append(file)
        self.lines.append(line)

    def extend(self, other: _Bucket) -> None:
        self.messages += other.messages
        self.recv += other.recv
        self.files += other.files
        self.lines += other.lines

    def in_receive_order(self, names: list[str]) -> tuple[list[Any], msg.IntArray, msg.Locate]:
        """Messages sorted by receive time (stable), their times, and a locator for errors."""
        recv = np.asarray(self.recv, dtype=np.int64)
        messages, files, lines = self.messages, self.files, self.lines
        if len(recv) > 1 and (np.diff(recv) < 0).any():
            order = np.argsort(recv, kind="stable")
            recv = recv[order]
            index = order.tolist()
            messages = [messages[i] for i in index]
            files = [files[i] for i in index]
            lines = [lines[i] for i in index]

        def locate(i: int) -> str:
            return f"{names[files[i]]}, line {lines[i]}"

        return messages, recv, locate


def _read_bytes(path: PathLike) -> bytes:
    """The file's text as bytes, gunzipped when it starts with the gzip magic number."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head == _GZIP_MAGIC:
        with gzip.open(path, "rb") as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


def _seconds_to_ns(text: bytes) -> int:
    """``b"1626992741.06217"`` to int ns, exactly (no float rounding)."""
    whole, _, frac = text.partition(b".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 9:
        raise ValueError(f"not a time in seconds: {text[:40]!r}")
    return int(whole) * 1_000_000_000 + (int(frac.ljust(9, b"0")) if frac else 0)


def _frame(line: bytes) -> tuple[int, bytes, str | None] | None:
    """(receive time ns, raw JSON, REST URL or None) of one line; None if it carries none."""
    head, _, rest = line.partition(b" ")
    if head.isdigit():
        value = int(head)
        return (value if value > NS_THRESHOLD else value * 1000), rest, None
    if head.endswith(b":") and head[:1].isdigit():
        return _seconds_to_ns(head[:-1]), rest, None
    if head.startswith((b"http://", b"https://")):
        arrow, _, rest = rest.partition(b" ")
        stamp, _, raw = rest.partition(b" ")
        if arrow == b"->" and stamp.endswith(b":"):
            return _seconds_to_ns(stamp[:-1]), raw, head.decode()
        raise ValueError("REST line is not '<url> -> <seconds>: <json>'")
    if line.startswith(_SKIPPED_PREFIXES):
        return None
    raise ValueError("neither '<timestamp> <json>' nor '<seconds>: <json>'")


def _url_symbol(url: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get("symbol")
    return values[0].upper() if values else None


def read_capture(
    paths: PathLike | Iterable[PathLike],
    instruments: Mapping[str, Instrument] | None = None,
    off_grid: Literal["raise", "drop"] = "raise",
) -> Capture:
    """Read one recording (its files in order) into per-symbol batches.

    Returns, per symbol, the depth (REST snapshots and diffs merged in receive order),
    trades, mark price (if any) and bookTicker arrays. Prices and sizes are converted
    with, in order of preference: the instrument given in ``instruments``; one from an
    exchangeInfo response among the files (cryptofeed's ``BINANCE_FUTURES.0``, see
    :func:`instruments_from_exchange_info`); or, failing both, an instrument inferred from
    the data: tick and lot are the smallest decimal steps seen in that symbol's price and
    quantity strings (trailing zeros ignored; see :func:`messages.decimal_step`).

    A REST snapshot names its symbol in its URL; a bare snapshot line (hftbacktest
    captures) belongs to the capture's only symbol, and is an error if there are several.
    A line that does not parse raises :class:`DataError` naming the file and line.

    A depth level off the instrument's grid raises too, unless ``off_grid="drop"``: then
    such levels are left out and counted in :attr:`SymbolCapture.dropped_levels`. Real
    books hold them: orders resting since before a tick size change (the CTKUSDT snapshot
    of ``binance-futures-ws`` has 131 levels, all far from the top, off the 0.001 tick its
    exchangeInfo gives). Trades and bookTickers off the grid always raise.
    """
    path_list = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    names = [os.fspath(p) for p in path_list]
    buckets: dict[str | None, dict[str, _Bucket]] = {}
    ignored: Counter[str] = Counter()
    exchange_info: dict[str, Instrument] = {}
    for file, path in enumerate(path_list):
        for number, line in enumerate(_read_bytes(path).split(b"\n"), 1):
            line = line.rstrip(b"\r")
            if not line.strip():
                continue
            try:
                framed = _frame(line)
                if framed is None:
                    continue
                recv, raw, url = framed
                decoded = msg.decode(raw)
                kind, symbol, data = msg.classify(decoded)
                if url is not None and "exchangeInfo" in url:
                    exchange_info.update(msg.parse_exchange_info(decoded))
                    continue
            except (ValueError, DataError) as exc:
                raise DataError(f"{names[file]}, line {number}: {exc}: {line[:120]!r}") from exc
            if kind == "other":
                ignored[msg.event_name(decoded)] += 1
                continue
            if kind == "snapshot":
                kind = "depth"
                symbol = _url_symbol(url) if url is not None else None
            elif symbol is None:
                raise DataError(f"{names[file]}, line {number}: message names no symbol")
            streams = buckets.setdefault(symbol, {})
            streams.setdefault(kind, _Bucket()).add(data, recv, file, number)
    _assign_bare_snapshots(buckets, names)
    chosen = {**exchange_info, **(instruments or {})}
    symbols = {
        symbol: _build(symbol, streams, chosen.get(symbol), names, off_grid)
        for symbol, streams in buckets.items()
        if symbol is not None
    }
    return Capture(symbols, dict(ignored))


def _assign_bare_snapshots(buckets: dict[str | None, dict[str, _Bucket]], names: list[str]) -> None:
    """Give snapshots without a symbol to the capture's only symbol."""
    orphans = buckets.pop(None, None)
    if orphans is None:
        return
    bucket = orphans["depth"]
    if len(buckets) != 1:
        where = f"{names[bucket.files[0]]}, line {bucket.lines[0]}"
        raise DataError(
            f"{where}: depth snapshot without a symbol in a capture of "
            f"{len(buckets)} symbols ({', '.join(sorted(map(str, buckets)))})"
        )
    streams = next(iter(buckets.values()))
    streams.setdefault("depth", _Bucket()).extend(bucket)


def _build(
    symbol: str,
    streams: dict[str, _Bucket],
    instrument: Instrument | None,
    names: list[str],
    off_grid: Literal["raise", "drop"],
) -> SymbolCapture:
    """Collect each kind into columns, settle the instrument, convert to batches."""

    def ordered(kind: str) -> tuple[list[Any], msg.IntArray, msg.Locate]:
        return streams.get(kind, _Bucket()).in_receive_order(names)

    depth = msg.collect_depth(*ordered("depth"))
    trades = msg.collect_trades(*ordered("trade"))
    tickers = msg.collect_book_tickers(*ordered("book_ticker"))
    if instrument is None:
        instrument = msg.infer_instrument(
            symbol,
            (depth.price, trades.price, tickers.bid_price, tickers.ask_price),
            (depth.qty, trades.qty, tickers.bid_qty, tickers.ask_qty),
        )
    elif instrument.symbol != symbol:
        raise DataError(f"instrument {instrument.symbol} given for symbol {symbol}")
    mark_price = (
        msg.mark_price_batch(symbol, *ordered("mark_price")) if "mark_price" in streams else None
    )
    dropped = 0
    if off_grid == "drop":
        flags = depth.off_grid(instrument)
        dropped = int(flags.sum())
        if dropped:
            depth = depth.without_levels(flags)
    batch = depth.to_batch(instrument)
    batch.validate()
    return SymbolCapture(
        instrument,
        batch,
        trades.to_batch(instrument),
        mark_price,
        tickers.to_arrays(instrument),
        dropped,
    )


def instruments_from_exchange_info(path: PathLike) -> dict[str, Instrument]:
    """Instruments from a recorded ``GET /fapi/v1/exchangeInfo`` response.

    Accepts a cryptofeed REST line (``<url> -> <seconds>: <json>``, as in
    ``BINANCE_FUTURES.0``) or a file holding the bare JSON response; tick size from
    ``PRICE_FILTER.tickSize``, lot size from ``LOT_SIZE.stepSize``.
    """
    name = os.fspath(path)
    text = _read_bytes(path)
    if text.lstrip().startswith(b"{"):
        try:
            return msg.parse_exchange_info(msg.decode(text))
        except DataError as exc:
            raise DataError(f"{name}: {exc}") from exc
    for number, line in enumerate(text.split(b"\n"), 1):
        if not line.startswith((b"http://", b"https://")):
            continue
        try:
            framed = _frame(line.rstrip(b"\r"))
            if framed is None or framed[2] is None or "exchangeInfo" not in framed[2]:
                continue
            return msg.parse_exchange_info(msg.decode(framed[1]))
        except (ValueError, DataError) as exc:
            raise DataError(f"{name}, line {number}: {exc}") from exc
    raise DataError(f"{name}: no exchangeInfo response found")
