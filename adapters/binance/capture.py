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
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit

import numpy as np

from streamsim.errors import DataError
from streamsim.feed.batches import DepthBatch, MarkPriceBatch, TradeBatch
from streamsim.feed.plausibility import TIME_HIGH, TIME_LOW, Limits, limits_from, wrong_unit
from streamsim.feed.quarantine import Ingest, Policy, Quarantine
from streamsim.instruments import Instrument
from streamsim.sequencing import chains_by_prev_final, links

from . import messages as msg
from .wire.filters import parse_exchange_info

PathLike = str | os.PathLike[str]

#: Receive timestamps above this are nanoseconds, others microseconds.
NS_THRESHOLD = 10**17
_GZIP_MAGIC = b"\x1f\x8b"
_SKIPPED_PREFIXES = (b"wss://", b"ws://", b"configuration:")
#: Errors of a damaged or cut gzip stream.
_STREAM_ERRORS = (OSError, EOFError, zlib.error)
#: What a damaged line or a badly typed field can raise while it is framed and parsed.
_LINE_ERRORS = (ValueError, TypeError, OverflowError, KeyError, AttributeError, ArithmeticError)
#: Stream names of the kinds, for quarantine counts.
_STREAM_KIND = {"depth": "depth", "trade": "trades", "mark_price": "mark_price"}
_STREAM_KIND["book_ticker"] = "book_ticker"


#: What to do with depth levels off the instrument's grid: ``"raise"`` (bad input),
#: ``"drop"`` (left out, counted and noted) or ``"auto"`` (the default: drop them when
#: they are at most :data:`AUTO_DROP_SHARE` of the symbol's levels, as orders resting
#: since a tick size change are (6.7 % of CTKUSDT's in binance-futures-ws); a wrong tick
#: size puts most levels off the grid: then they are bad input).
OffGrid = Literal["raise", "drop", "auto"]
AUTO_DROP_SHARE = 0.25


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

    def reading_notes(self, symbol: str) -> list[str]:
        """What reading left out of the symbol's data (off-grid levels dropped): every
        source of it, and every file converted from it, carries these notes."""
        if not self.dropped_levels:
            return []
        return [
            f"{symbol}.depth: {self.dropped_levels:,} levels off the {self.instrument.tick_size}"
            f"/{self.instrument.lot_size} grid dropped when reading: at most 25 % of its "
            "levels, as orders resting since a tick size change are (off_grid='raise' "
            "makes them bad input)"
        ]


@dataclass(frozen=True, eq=False)
class Capture:
    """A capture read by :func:`read_capture`: per-symbol data and the messages it skipped
    (counts by event type, e.g. ``kline``), so that nothing is dropped silently."""

    symbols: dict[str, SymbolCapture]
    ignored: dict[str, int] = field(default_factory=dict)
    #: Where skipped lines and messages went (``policy="quarantine"``), else None.
    quarantine: Quarantine | None = None

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

    def in_receive_order(
        self, names: list[str]
    ) -> tuple[list[Any], msg.IntArray, msg.Locate, Callable[[int], tuple[str, int, int]]]:
        """Messages sorted by receive time (stable), their times, a locator for errors, and
        each message's ``(file name, line, file index)``."""
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

        def origin(i: int) -> tuple[str, int, int]:
            return names[files[i]], lines[i], files[i]

        return messages, recv, locate, origin


def _read_text(path: PathLike) -> tuple[bytes, str | None]:
    """The file's bytes, gunzipped when they start with the gzip magic number, and why the
    rest could not be read (None when all could): a damaged gzip stream keeps what came
    before the damage."""
    try:
        with open(path, "rb") as f:
            if f.read(2) != _GZIP_MAGIC:
                f.seek(0)
                return f.read(), None
    except OSError as exc:
        raise DataError(f"{os.fspath(path)}: cannot read the file ({exc})") from exc
    chunks: list[bytes] = []
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                chunks.append(chunk)
    except _STREAM_ERRORS as exc:
        return b"".join(chunks), f"truncated or corrupt gzip data ({type(exc).__name__}: {exc})"
    return b"".join(chunks), None


def _read_bytes(path: PathLike) -> bytes:
    """The file's text as bytes (gunzipped); a damaged file raises :class:`DataError`."""
    text, problem = _read_text(path)
    if problem is not None:
        raise DataError(f"{os.fspath(path)}: {problem}")
    return text


def _recv_ns(value: int, unit: Literal["ns", "us"]) -> int:
    """A receive timestamp as ns, checked to be a time (2000-2100) in its unit."""
    ns = value if unit == "ns" else value * 1000
    if not TIME_LOW <= ns < TIME_HIGH:
        flags = wrong_unit(np.array([float(value)]), "receive time", unit)
        raise ValueError(f"receive time {value}: {flags[0].reason}")
    return ns


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
        return _recv_ns(value, "ns" if value > NS_THRESHOLD else "us"), rest, None
    if head.endswith(b":") and head[:1].isdigit():
        return _recv_ns(_seconds_to_ns(head[:-1]), "ns"), rest, None
    if head.startswith((b"http://", b"https://")):
        arrow, _, rest = rest.partition(b" ")
        stamp, _, raw = rest.partition(b" ")
        if arrow == b"->" and stamp.endswith(b":"):
            return _recv_ns(_seconds_to_ns(stamp[:-1]), "ns"), raw, head.decode()
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
    off_grid: OffGrid = "auto",
    *,
    policy: Policy = "fail",
    quarantine: Quarantine | None = None,
    plausibility: Limits | Mapping[str, Any] | None = None,
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

    Bad input follows ``policy``: ``"fail"`` (the default) raises :class:`DataError` naming
    the file, the line (from 1) and the field; ``"quarantine"`` skips the line or message,
    writes it with its reason to ``quarantine`` and counts it (the sources carry the counts
    into the run's report). Bad input is: a damaged gzip stream (the rest of the file), a
    line that does not frame or parse, a receive time that is not a time in its unit, a
    message lacking a field or holding one of the wrong type (``m`` must be a JSON boolean,
    ids integers: a float id is never truncated), prices not finite or not above 0, sizes
    not finite or negative (trades: not above 0), venue times not in milliseconds, and the
    value rules of ``plausibility`` (:class:`~streamsim.feed.plausibility.Limits` or a dict
    of its fields: receive time far from the venue's, fat-finger prices, funding beyond
    the cap).

    The depth diffs of each symbol are checked as one update-id chain after reading
    (:func:`check_chain`: ``pu`` equals the previous diff's ``u``, on spot ``U`` equals it
    plus 1; snapshots outside): under ``"fail"`` a break raises naming the file and line
    of the diff that breaks it and the field; under ``"quarantine"`` that diff is recorded
    and counted but kept, so the run's book sees the gap and resyncs.

    A depth level off the instrument's grid is bad input too (its whole message), unless
    ``off_grid="drop"``: then such levels are left out and counted in
    :attr:`SymbolCapture.dropped_levels`. Real books hold them: orders resting since before
    a tick size change (the CTKUSDT snapshot of ``binance-futures-ws`` has 131 levels, all
    far from the top, off the 0.001 tick its exchangeInfo gives).
    """
    limits = limits_from(plausibility)
    line_ingest = Ingest("capture", policy, quarantine)
    path_list = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    names = [os.fspath(p) for p in path_list]
    buckets: dict[str | None, dict[str, _Bucket]] = {}
    ignored: Counter[str] = Counter()
    exchange_info: dict[str, Instrument] = {}
    for file, path in enumerate(path_list):
        text, damage = _read_text(path)
        lines = text.split(b"\n")
        for number, line in enumerate(lines, 1):
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
                    exchange_info.update(parse_exchange_info(decoded))
                    continue
                if kind == "other":
                    ignored[msg.event_name(decoded)] += 1
                    continue
                if kind == "snapshot":
                    kind = "depth"
                    symbol = _url_symbol(url) if url is not None else None
                elif symbol is None:
                    raise DataError("message names no symbol")
            except (*_LINE_ERRORS, DataError) as exc:
                shown = line[:120].decode("utf-8", errors="replace")
                line_ingest.bad(
                    names[file], [number], None, f"{exc}: {shown!r}", [{"line": shown}], "line"
                )
                continue
            streams = buckets.setdefault(symbol, {})
            streams.setdefault(kind, _Bucket()).add(data, recv, file, number)
        if damage is not None:
            rest = len(lines) if text.endswith(b"\n") else len(lines) - 1
            line_ingest.bad(
                names[file],
                [max(rest, 1)],
                None,
                f"{damage}: lines from {max(rest, 1)} on cannot be read",
                [{"readable_bytes": len(text)}],
                "line",
            )
    _assign_bare_snapshots(buckets, names)
    chosen = {**exchange_info, **(instruments or {})}
    symbols = {
        symbol: _build(
            symbol, streams, chosen.get(symbol), names, off_grid, limits, policy, quarantine
        )
        for symbol, streams in buckets.items()
        if symbol is not None
    }
    return Capture(symbols, dict(ignored), quarantine if policy == "quarantine" else None)


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


class _Kind:
    """One kind of one symbol being built: its ordered messages, origins and policy."""

    def __init__(
        self, symbol: str, kind: str, bucket: _Bucket, names: list[str], ingest: Ingest
    ) -> None:
        self.messages, self.recv, self.locate, self.origin = bucket.in_receive_order(names)
        self.stream = f"{symbol}.{_STREAM_KIND[kind]}"
        self.ingest = ingest

    def report(self, rejects: msg.Rejects) -> msg.BoolArray | None:
        """Fail on, or quarantine, the rejected messages; the mask of those kept (None: all)."""
        if not rejects.any():
            return None
        for i, field_name, reason in rejects.items():
            file, line, _ = self.origin(i)
            data = msg.payload(self.messages[i])
            shown = reason
            if self.ingest.policy == "fail" and field_name in data:
                shown = f"{reason} (value {str(data[field_name])[:60]!r})"
            self.ingest.bad(file, [line], field_name, shown, [dict(data)], "line")
        return rejects.keep()


def _build(
    symbol: str,
    streams: dict[str, _Bucket],
    instrument: Instrument | None,
    names: list[str],
    off_grid: OffGrid,
    limits: Limits,
    policy: Policy,
    quarantine: Quarantine | None,
) -> SymbolCapture:
    """Collect each kind into columns, report bad messages, settle the instrument, convert."""
    kinds = {
        kind: _Kind(
            symbol,
            kind,
            streams.get(kind, _Bucket()),
            names,
            Ingest(f"{symbol}.{_STREAM_KIND[kind]}", policy, quarantine),
        )
        for kind in ("depth", "trade", "book_ticker", "mark_price")
    }
    d, t, b = kinds["depth"], kinds["trade"], kinds["book_ticker"]
    depth = msg.collect_depth(d.messages, d.recv, d.locate, limits)
    trades = msg.collect_trades(t.messages, t.recv, t.locate, limits)
    tickers = msg.collect_book_tickers(b.messages, b.recv, b.locate, limits)
    mark_price: MarkPriceBatch | None = None
    checks: list[tuple[_Kind, msg.Rejects]] = [
        (d, depth.rejects or msg.Rejects(0)),
        (t, trades.rejects or msg.Rejects(0)),
        (b, tickers.rejects or msg.Rejects(0)),
    ]
    mark_rejects = None
    if "mark_price" in streams:
        m = kinds["mark_price"]
        mark_price, mark_rejects = msg.collect_mark_prices(symbol, m.messages, m.recv, limits)
        checks.append((m, mark_rejects))
    kept = _report_in_file_order(checks)
    depth = depth if kept[0] is None else depth.take(kept[0])
    trades = trades if kept[1] is None else trades.take(kept[1])
    tickers = tickers if kept[2] is None else tickers.take(kept[2])
    if mark_price is not None and kept[3] is not None:
        mark_price = msg.take_rows(mark_price, kept[3])
    if instrument is None:
        if msg.is_coin_m_symbol(symbol):
            raise DataError(
                f"{names[0]}: {symbol} is a COIN-M (inverse) symbol: its contract size and "
                "margin asset cannot be inferred from the data; record GET /dapi/v1/"
                "exchangeInfo with the capture or pass instruments={...} with an inverse "
                "Instrument (kind=ContractKind.INVERSE, contract_size, margin_asset)"
            )
        instrument = msg.infer_instrument(
            symbol,
            (depth.price, trades.price, tickers.bid_price, tickers.ask_price),
            (depth.qty, trades.qty, tickers.bid_qty, tickers.ask_qty),
        )
    elif instrument.symbol != symbol:
        raise DataError(f"instrument {instrument.symbol} given for symbol {symbol}")
    dropped = 0
    drop = off_grid == "drop"
    if off_grid != "raise":
        flags = depth.off_grid(instrument)
        dropped = int(flags.sum())
        drop = drop or dropped <= AUTO_DROP_SHARE * len(flags)
        if dropped and drop:
            depth = depth.without_levels(flags)
        else:
            dropped = 0
    depth, positions = _grid_stage(depth, d, kept[0], instrument, grid=not drop)
    check_chain(depth, positions, d)
    trades, _ = _grid_stage(trades, t, kept[1], instrument)
    tickers, _ = _grid_stage(tickers, b, kept[2], instrument)
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


_Columns = TypeVar("_Columns", msg.DepthColumns, msg.TradeColumns, msg.BookTickerColumns)


def _grid_stage(
    columns: _Columns,
    kind: _Kind,
    kept: msg.BoolArray | None,
    instrument: Instrument,
    grid: bool = True,
) -> tuple[_Columns, msg.IntArray]:
    """Report the messages with values off ``instrument``'s grid (depth: or beyond what a
    book can hold) and keep the rest; also returns the positions of those kept among
    ``kind``'s messages (to name their file and line later)."""
    rejects = msg.Rejects(len(columns))
    checked = replace(columns, rejects=rejects)
    if isinstance(checked, msg.DepthColumns):
        checked.check_grid(instrument, grid)
    else:
        checked.check_grid(instrument)
    positions = np.flatnonzero(kept) if kept is not None else np.arange(len(columns))
    if not rejects.any():
        return columns, positions
    bad = [(int(positions[i]), f, r) for i, f, r in rejects.items()]
    original = msg.Rejects(len(kind.messages))
    for i, field_name, reason in bad:
        original.one(i, field_name, reason)
    kind.report(original)
    keep = rejects.keep()
    return columns.take(keep), positions[keep]


#: Why a diff breaks the update-id chain, by the field checked (one reason per field, so
#: the quarantine counts group all breaks of a stream under one key).
CHAIN_REASONS = {
    "pu": "sequence gap: pu is not the previous diff's u (depth messages are missing; "
    "under quarantine the message is kept and recorded, and the book resyncs)",
    "U": "sequence gap: U is not the previous diff's u + 1 (depth messages are missing; "
    "under quarantine the message is kept and recorded, and the book resyncs)",
}


def chain_breaks(
    columns: msg.DepthColumns | DepthBatch,
) -> tuple[msg.IntArray, msg.IntArray, msg.BoolArray]:
    """The diffs that break the update-id chain, vectorised over the symbol's depth.

    Diffs are checked in receive order; REST snapshots are outside the chain (the chain
    runs from the diff before a snapshot to the diff after it). A futures diff (``pu``
    present) must have ``pu`` equal to the previous diff's ``u``; a spot diff (no ``pu``)
    must have ``U`` equal to the previous diff's ``u + 1`` (the rule of
    :mod:`streamsim.sequencing`). Returns the breaking
    messages' indices in ``columns``, the value each one should have held, and whether
    it was checked by ``pu`` (else by ``U``).
    """
    diffs = np.flatnonzero(~columns.is_snapshot)
    if len(diffs) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.bool_)
    prev = columns.prev_final[diffs]
    by_pu = chains_by_prev_final(prev)
    ok, expected = links(columns.first[diffs], columns.final[diffs], prev, by_pu)
    broken = np.flatnonzero(~ok)
    return diffs[broken], expected[broken], by_pu[broken]


def check_chain(columns: msg.DepthColumns, positions: msg.IntArray, kind: _Kind) -> None:
    """Report each diff of ``columns`` that breaks the update-id chain (see
    :func:`chain_breaks`), naming its file and line and the field ``pu`` (spot: ``U``).

    Such a diff is not bad in itself (one before it is missing), so under quarantine it
    is recorded and counted but kept: the run's book sees the gap and resyncs. Under the
    fail policy the first break raises :class:`DataError`.
    """
    index, expected, by_pu = chain_breaks(columns)
    if not len(index):
        return
    fail = kind.ingest.policy == "fail"
    groups: dict[tuple[str, str], tuple[list[int], list[dict[str, Any]]]] = {}
    for i, want, pu in zip(index.tolist(), expected.tolist(), by_pu.tolist(), strict=True):
        name, line, _ = kind.origin(int(positions[i]))
        field_name = "pu" if pu else "U"
        got = int(columns.prev_final[i] if pu else columns.first[i])
        record = {
            "E": int(columns.ts_exchange[i]) // 1_000_000,
            "U": int(columns.first[i]),
            "u": int(columns.final[i]),
            "pu": int(columns.prev_final[i]),
            "levels": int(columns.level_offsets[i + 1] - columns.level_offsets[i]),
            f"expected_{field_name}": want,
        }
        if fail:
            reason = f"{CHAIN_REASONS[field_name]}: {field_name} {got}, expected {want}"
            kind.ingest.bad(name, [line], field_name, reason, [record], "line")
        rows, records = groups.setdefault((name, field_name), ([], []))
        rows.append(line)
        records.append(record)
    for (name, field_name), (rows, records) in groups.items():
        kind.ingest.bad(name, rows, field_name, CHAIN_REASONS[field_name], records, "line")


def _report_in_file_order(
    checks: list[tuple[_Kind, msg.Rejects]],
) -> list[msg.BoolArray | None]:
    """Report every kind's rejected messages (under ``fail`` the first in file order raises)."""
    firsts = []
    for position, (kind, rejects) in enumerate(checks):
        items = rejects.items()
        if items:
            _, line, index = kind.origin(items[0][0])
            firsts.append(((index, line), position))
    kept: list[msg.BoolArray | None] = [None] * len(checks)
    order = [position for _, position in sorted(firsts)]
    for position in order:
        kind, rejects = checks[position]
        kept[position] = kind.report(rejects)
    return kept


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
            return parse_exchange_info(msg.decode(text))
        except DataError as exc:
            raise DataError(f"{name}: {exc}") from exc
    for number, line in enumerate(text.split(b"\n"), 1):
        if not line.startswith((b"http://", b"https://")):
            continue
        try:
            framed = _frame(line.rstrip(b"\r"))
            if framed is None or framed[2] is None or "exchangeInfo" not in framed[2]:
                continue
            return parse_exchange_info(msg.decode(framed[1]))
        except (ValueError, DataError) as exc:
            raise DataError(f"{name}, line {number}: {exc}") from exc
    raise DataError(f"{name}: no exchangeInfo response found")
