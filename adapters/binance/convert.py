"""Write a Binance capture into the CryptoHFTData layout (Parquet, zstd), vectorised.

Layout under ``root`` (see ``docs/binance.md`` and the reference ``formats.md``); every
file carries Parquet page checksums (:mod:`streamsim.parquet_options`)::

    trades/{exchange}/{symbol}/YYYY/MM/DD/trades.parquet
    orderbook/{exchange}/{symbol}/YYYY/MM/DD/orderbook_{HH}.parquet
    mark_price/{exchange}/{symbol}/YYYY/MM/DD/mark_price.parquet

Rows are split by the UTC day (and hour, for the order book) of each stream's venue
time: depth by ``event_time`` (``E``; all levels of a message go to the same file),
trades by ``trade_time`` (``T``), mark price by ``event_time``, open interest by its
bucket ``timestamp``. Within a file rows keep the capture's receive order.

Prices and quantities are decimal strings formatted exactly (integer arithmetic, no
float) from ticks and lots with the instrument's grid, with as many decimal places as
the grid's ``Decimal`` exponent: an instrument with ``tick_size=Decimal("0.10")`` (as
Binance's exchangeInfo gives for BTCUSDT) writes ``"28145.10"``, exactly the venue's
string; ``Decimal("0.1")`` (what :func:`~adapters.binance.messages.infer_instrument`
infers) writes ``"28145.1"``, the same value. Mark-price columns are written with the
8 decimal places of Binance's ``markPriceUpdate`` strings and checked to reproduce the
parsed values bit for bit (a value that does not raises :class:`DataError`).

What a :class:`~adapters.binance.capture.Capture` does not keep is written as null, never
invented: ``transaction_time`` (depth ``T``), trades' ``event_time`` (``E``) and
``order_type`` (``X``), and ``order_count``. Our extension: the REST depth snapshot is
written as rows with ``event_type = "snapshot"``, ``first_update_id = final_update_id =
last_update_id = lastUpdateId`` and ``prev_final_update_id = -1`` (diff rows have
``event_type = "update"`` and a null ``last_update_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from adapters.cryptohftdata.reader import NOTES_KEY
from streamsim.errors import DataError
from streamsim.events import SELL
from streamsim.feed.batches import DepthBatch, MarkPriceBatch, TradeBatch
from streamsim.instruments import Instrument
from streamsim.parquet_options import ARCHIVE_COMPRESSION_LEVEL, write_options
from streamsim.path_parts import check_path_part

from .capture import Capture, SymbolCapture

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

NS_PER_MS = 1_000_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
#: Decimal places of Binance ``markPriceUpdate`` strings (mark, index, settle, funding).
MARK_PRICE_PLACES = 8
#: zstd level used by default (high: the files are written once and read many times).
COMPRESSION_LEVEL = ARCHIVE_COMPRESSION_LEVEL

_SIDES = pa.array(["bid", "ask"], type=pa.string())
_EVENT_TYPES = pa.array(["update", "snapshot"], type=pa.string())

DEPTH_SCHEMA = pa.schema(
    [
        ("received_time", pa.int64()),
        ("event_time", pa.int64()),
        ("transaction_time", pa.int64()),
        ("symbol", pa.string()),
        ("event_type", pa.string()),
        ("first_update_id", pa.int64()),
        ("final_update_id", pa.int64()),
        ("prev_final_update_id", pa.int64()),
        ("last_update_id", pa.int64()),
        ("side", pa.string()),
        ("price", pa.string()),
        ("quantity", pa.string()),
        ("order_count", pa.int64()),
    ]
)
TRADES_SCHEMA = pa.schema(
    [
        ("received_time", pa.int64()),
        ("event_time", pa.int64()),
        ("symbol", pa.string()),
        ("trade_id", pa.int64()),
        ("price", pa.string()),
        ("quantity", pa.string()),
        ("trade_time", pa.int64()),
        ("is_buyer_maker", pa.bool_()),
        ("order_type", pa.string()),
    ]
)
MARK_PRICE_SCHEMA = pa.schema(
    [
        ("received_time", pa.int64()),
        ("event_time", pa.int64()),
        ("symbol", pa.string()),
        ("mark_price", pa.string()),
        ("index_price", pa.string()),
        ("estimated_settle_price", pa.string()),
        ("funding_rate", pa.string()),
        ("next_funding_time", pa.int64()),
    ]
)
OPEN_INTEREST_SCHEMA = pa.schema(
    [
        ("received_time", pa.int64()),
        ("symbol", pa.string()),
        ("sum_open_interest", pa.string()),
        ("sum_open_interest_value", pa.string()),
        ("timestamp", pa.int64()),
    ]
)


# -- exact decimal strings ------------------------------------------------------------------


def format_fixed(units: IntArray, places: int) -> pa.Array:
    """Integers counted in ``10 ** -places`` as decimal strings with exactly ``places``
    decimals (``format_fixed([2814510], 2) -> ["28145.10"]``), in a few Arrow kernels."""
    units = np.asarray(units, dtype=np.int64)
    if places < 0:
        raise ValueError(f"places must be >= 0, got {places}")
    magnitude = np.abs(units)
    if places == 0:
        text = pc.cast(pa.array(magnitude), pa.string())
    else:
        scale = 10**places
        whole = pc.cast(pa.array(magnitude // scale), pa.string())
        frac = pc.utf8_lpad(
            pc.cast(pa.array(magnitude % scale), pa.string()), width=places, padding="0"
        )
        text = pc.binary_join_element_wise(whole, frac, ".")
    negative = units < 0
    if negative.any():
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    return text


def grid_places(step: Decimal) -> tuple[int, int]:
    """``(places, multiplier)`` of a grid step: a value of ``n`` steps is ``n * multiplier``
    units of ``10 ** -places``. ``Decimal("0.10") -> (2, 10)``, ``Decimal("0.001") ->
    (3, 1)``, ``Decimal("5") -> (0, 5)``."""
    exponent = step.as_tuple().exponent
    if not isinstance(exponent, int):
        raise DataError(f"grid step {step} is not finite")
    places = max(0, -exponent)
    multiplier = step.scaleb(places)
    if multiplier != multiplier.to_integral_value() or multiplier <= 0:
        raise DataError(f"grid step {step} is not a positive decimal")
    return places, int(multiplier)


def grid_strings(counts: IntArray, step: Decimal, what: str = "values") -> pa.Array:
    """Ticks (or lots) as exact decimal strings of ``counts * step`` (see
    :func:`grid_places` for the number of decimals)."""
    places, multiplier = grid_places(step)
    counts = np.asarray(counts, dtype=np.int64)
    if len(counts) and int(np.abs(counts).max()) * multiplier >= 2**63:
        raise DataError(f"{what}: {int(np.abs(counts).max())} x {step} overflows int64 units")
    return format_fixed(counts * multiplier, places)


def float_strings(values: FloatArray, places: int, what: str) -> pa.Array:
    """Floats parsed from decimal strings of at most ``places`` decimals, back to such
    strings; :class:`DataError` if any value is not reproduced exactly by its string."""
    values = np.asarray(values, dtype=np.float64)
    scale = 10**places
    if not np.isfinite(values).all() or (len(values) and np.abs(values).max() * scale >= 2**53):
        raise DataError(f"{what}: values too large for exact {places}-decimal strings")
    units = np.rint(values * scale).astype(np.int64)
    bad = units / scale != values
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what}: row {row}, {values[row]!r} has more than {places} decimals")
    return format_fixed(units, places)


# -- tables ---------------------------------------------------------------------------------


def _ms(ts_ns: IntArray) -> IntArray:
    """ns to ms, floored (venue times are whole ms; receive-time fill-ins may not be)."""
    return np.asarray(ts_ns, dtype=np.int64) // NS_PER_MS


def _repeat(value: str, n: int) -> pa.Array:
    return pa.array([value], type=pa.string()).take(pa.array(np.zeros(n, dtype=np.int32)))


def _nulls(n: int, kind: pa.DataType) -> pa.Array:
    return pa.nulls(n, type=kind)


def depth_table(depth: DepthBatch, instrument: Instrument) -> pa.Table:
    """One row per level of every message, bids then asks, in the batch's order."""
    n = len(depth)
    offsets = depth.level_offsets
    rows = int(offsets[-1]) if n else 0
    message = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    is_ask = np.arange(rows, dtype=np.int64) >= (offsets[:-1] + depth.bid_counts)[message]
    snapshot = depth.is_snapshot[message]
    final = depth.final[message]
    last_update = pa.array(final, mask=~snapshot, type=pa.int64())
    columns = [
        pa.array(depth.ts_recv[message]) if depth.ts_recv is not None else _nulls(rows, pa.int64()),
        pa.array(_ms(depth.ts_exchange)[message]),
        _nulls(rows, pa.int64()),
        _repeat(depth.symbol, rows),
        _EVENT_TYPES.take(pa.array(snapshot.astype(np.int8))),
        pa.array(depth.first[message]),
        pa.array(final),
        pa.array(depth.prev_final[message]),
        last_update,
        _SIDES.take(pa.array(is_ask.astype(np.int8))),
        grid_strings(depth.level_price, instrument.tick_size, f"{depth.symbol} depth prices"),
        grid_strings(depth.level_qty, instrument.lot_size, f"{depth.symbol} depth sizes"),
        _nulls(rows, pa.int64()),
    ]
    return pa.Table.from_arrays(columns, schema=DEPTH_SCHEMA)


def trades_table(trades: TradeBatch, instrument: Instrument) -> pa.Table:
    """One row per trade; ``is_buyer_maker`` is true when the seller was the aggressor."""
    n = len(trades)
    columns = [
        pa.array(trades.ts_recv) if trades.ts_recv is not None else _nulls(n, pa.int64()),
        _nulls(n, pa.int64()),
        _repeat(trades.symbol, n),
        pa.array(trades.trade_id),
        grid_strings(trades.price, instrument.tick_size, f"{trades.symbol} trade prices"),
        grid_strings(trades.qty, instrument.lot_size, f"{trades.symbol} trade sizes"),
        pa.array(_ms(trades.ts_exchange)),
        pa.array(trades.side == SELL),
        _nulls(n, pa.string()),
    ]
    return pa.Table.from_arrays(columns, schema=TRADES_SCHEMA)


def mark_price_table(mark: MarkPriceBatch) -> pa.Table:
    """One row per ``markPriceUpdate``, prices and funding rate as 8-decimal strings."""
    n = len(mark)
    what = f"{mark.symbol} mark price"
    columns = [
        pa.array(mark.ts_recv) if mark.ts_recv is not None else _nulls(n, pa.int64()),
        pa.array(_ms(mark.ts_exchange)),
        _repeat(mark.symbol, n),
        float_strings(mark.mark, MARK_PRICE_PLACES, f"{what} 'p'"),
        float_strings(mark.index, MARK_PRICE_PLACES, f"{what} 'i'"),
        float_strings(mark.settle, MARK_PRICE_PLACES, f"{what} 'P'"),
        float_strings(mark.funding_rate, MARK_PRICE_PLACES, f"{what} 'r'"),
        pa.array(_ms(mark.next_funding_time)),
    ]
    return pa.Table.from_arrays(columns, schema=MARK_PRICE_SCHEMA)


def open_interest_table(
    symbol: str,
    timestamp_ms: IntArray,
    received_ns: IntArray,
    sum_open_interest: Sequence[str] | pa.Array,
    sum_open_interest_value: Sequence[str] | pa.Array,
) -> pa.Table:
    """Open-interest rows (5-minute buckets) from decimal strings, in the given order."""
    n = len(timestamp_ms)
    columns = [
        pa.array(np.asarray(received_ns, dtype=np.int64)),
        _repeat(symbol, n),
        pa.array(sum_open_interest, type=pa.string()),
        pa.array(sum_open_interest_value, type=pa.string()),
        pa.array(np.asarray(timestamp_ms, dtype=np.int64)),
    ]
    return pa.Table.from_arrays(columns, schema=OPEN_INTEREST_SCHEMA)


# -- files ----------------------------------------------------------------------------------


def _day_dir(root: Path, kind: str, exchange: str, symbol: str, day: int) -> Path:
    date = str(np.datetime64(day, "D"))  # YYYY-MM-DD
    year, month, dom = date.split("-")
    return root / kind / exchange / symbol / year / month / dom


def write_partitioned(
    table: pa.Table,
    time_ms: IntArray,
    root: Path,
    kind: str,
    exchange: str,
    symbol: str,
    *,
    hourly: bool = False,
    span_ms: tuple[int, int] | None = None,
    notes: Sequence[str] = (),
    compression_level: int = COMPRESSION_LEVEL,
    overwrite: bool = False,
) -> list[Path]:
    """Split ``table`` by the UTC day (and hour) of ``time_ms`` and write each part as
    ``{kind}/{exchange}/{symbol}/YYYY/MM/DD/{kind}.parquet`` (``orderbook_{HH}`` when
    ``hourly``); rows keep their order. ``span_ms`` (first, last) is the time the
    recording covered: each day (hour) of it gets its file, empty where the stream had
    no row (a day with no trade), so a reader asking for the span finds every file.
    ``notes`` (what reading the source left out) go into each file's key-value metadata,
    where the CryptoHFTData reader finds them and puts them in a run's notes. An
    existing file raises unless ``overwrite``."""
    for name, what in ((kind, "kind"), (exchange, "exchange"), (symbol, "symbol")):
        check_path_part(name, what)
    time_ms = np.asarray(time_ms, dtype=np.int64)
    if len(time_ms) != table.num_rows:
        raise ValueError(f"{len(time_ms)} times for {table.num_rows} rows")
    if not len(time_ms):
        return []
    unit = MS_PER_HOUR if hourly else MS_PER_DAY
    key = time_ms // unit
    parts = np.unique(key).tolist()
    if span_ms is not None:
        parts = sorted(set(parts) | set(range(span_ms[0] // unit, span_ms[1] // unit + 1)))
    if notes:  # what reading left out travels with the data (see NOTES_KEY)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), NOTES_KEY: orjson.dumps(list(notes))}
        )
    written: list[Path] = []
    for part in parts:
        rows = np.flatnonzero(key == part)
        day = part * unit // MS_PER_DAY
        hour = part * unit % MS_PER_DAY // MS_PER_HOUR
        name = f"{kind}_{hour:02d}.parquet" if hourly else f"{kind}.parquet"
        path = _day_dir(root, kind, exchange, symbol, day) / name
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table.take(pa.array(rows)), path, **write_options(compression_level=compression_level)
        )
        written.append(path)
    return written


def _span_ms(data: SymbolCapture) -> tuple[int, int] | None:
    """First and last venue time (ms) of any stream of the symbol's recording."""
    times = [
        batch.ts_exchange
        for batch in (data.depth, data.trades, data.mark_price)
        if batch is not None and len(batch)
    ]
    if not times:
        return None
    return int(min(t.min() for t in times)) // NS_PER_MS, int(
        max(t.max() for t in times)
    ) // NS_PER_MS


def write_cryptohftdata(
    capture: Capture,
    root: Path,
    exchange: str = "binance_futures",
    *,
    compression_level: int = COMPRESSION_LEVEL,
    overwrite: bool = False,
) -> list[Path]:
    """Write every symbol of ``capture`` under ``root`` in the CryptoHFTData layout.

    Depth (diffs and the REST snapshot) to hourly ``orderbook_{HH}.parquet`` files, trades
    and mark price (when the capture has it) to daily files, each stream with a file for
    every hour (day) of the symbol's recorded span, empty where it had no row; bookTickers
    have no CryptoHFTData table and are not written. Returns the files written, in order.
    """
    root = Path(root)
    check_path_part(exchange, "exchange")
    for symbol in capture.symbols:  # from the data: a hostile name must not leave root
        check_path_part(symbol, "capture symbol", DataError)
    written: list[Path] = []
    for symbol, data in sorted(capture.symbols.items()):
        span = _span_ms(data)
        notes = [
            f"{note} (in the recording this file was converted from, all of it)"
            for note in data.reading_notes(symbol)
        ]
        depth = data.depth
        if len(depth):
            message = np.repeat(np.arange(len(depth)), np.diff(depth.level_offsets))
            written += write_partitioned(
                depth_table(depth, data.instrument),
                _ms(depth.ts_exchange)[message],
                root,
                "orderbook",
                exchange,
                symbol,
                hourly=True,
                span_ms=span,
                notes=notes,
                compression_level=compression_level,
                overwrite=overwrite,
            )
        if len(data.trades):
            written += write_partitioned(
                trades_table(data.trades, data.instrument),
                _ms(data.trades.ts_exchange),
                root,
                "trades",
                exchange,
                symbol,
                span_ms=span,
                compression_level=compression_level,
                overwrite=overwrite,
            )
        if data.mark_price is not None and len(data.mark_price):
            written += write_partitioned(
                mark_price_table(data.mark_price),
                _ms(data.mark_price.ts_exchange),
                root,
                "mark_price",
                exchange,
                symbol,
                span_ms=span,
                compression_level=compression_level,
                overwrite=overwrite,
            )
    return written
