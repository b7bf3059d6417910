"""The sample bundled with streamsim: 8.6 minutes of real BTCUSDT in the CryptoHFTData layout.

Depth (REST snapshot and diffs), trades and mark price are the hftbacktest project's
2023-04-04/05 Binance USD-M recording (MIT licence, ``streamsim/sample/LICENSE``),
converted with :func:`~adapters.binance.convert.write_cryptohftdata`. Open interest is
**synthetic** (seeded, see :func:`synthetic_open_interest`): attach
:data:`SAMPLE_OI_NOTE` to the ``notes`` of any source built from it. Rebuild with
``python benchmarks/make_sample.py``; see ``streamsim/sample/README.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from adapters.cryptohftdata import CryptoHFTData, CryptoHFTSource, LocalStore
from streamsim.errors import DataError
from streamsim.feed.batches import MarkPriceBatch
from streamsim.instruments import Instrument
from streamsim.units import MINUTE, MS

from .capture import read_capture
from .convert import (
    COMPRESSION_LEVEL,
    NS_PER_MS,
    format_fixed,
    open_interest_table,
    write_cryptohftdata,
    write_partitioned,
)

PathLike = str | os.PathLike[str]

SAMPLE_SYMBOL = "BTCUSDT"
SAMPLE_EXCHANGE = "binance_futures"
#: 2023-04-04T23:58:20Z: the second of the sample's first row (a trade at 23:58:20.452).
SAMPLE_START = 1_680_652_700_000_000_000
#: 2023-04-05T00:06:55Z, exclusive: the second after the last row (depth at 00:06:54.691).
SAMPLE_END = 1_680_653_215_000_000_000
#: The grid of the recording's strings: prices with 2 decimals on a 0.1 step (Binance's
#: BTCUSDT ``tickSize`` "0.10"), sizes with 3 (``stepSize`` "0.001"). Converting with it
#: writes every price and size string exactly as the venue sent it.
SAMPLE_INSTRUMENT = Instrument(SAMPLE_SYMBOL, Decimal("0.10"), Decimal("0.001"))
#: Seed of the synthetic open interest in the bundled sample.
SAMPLE_OI_SEED = 20230405
#: Attach to the ``notes`` of any source built from the sample's open interest.
SAMPLE_OI_NOTE = (
    f"{SAMPLE_SYMBOL}.open_interest of the bundled sample is synthetic (seeded random walk, "
    f"seed {SAMPLE_OI_SEED}, value = open interest x recorded mark price, publication "
    "delays 20-120 s), not recorded: do not draw conclusions from it"
)
#: The recording the sample is converted from (the project's shared data directory).
CAPTURE_FILES = ("btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz")

_OI_BUCKET = 5 * MINUTE
_OI_PLACES = 8
_OI_LOT = 10**5  # 0.001 BTC in units of 1e-8


def sample_path() -> Path:
    """The bundled CryptoHFTData tree (``streamsim/sample/cryptohftdata`` of the installed
    package); pass it to a local store."""
    resource = resources.files("streamsim").joinpath("sample", "cryptohftdata")
    path = Path(str(resource))
    if not path.is_dir():
        raise FileNotFoundError(
            f"the streamsim sample is missing at {path}; rebuild it with "
            "'python benchmarks/make_sample.py' or reinstall streamsim"
        )
    return path


def synthetic_open_interest(
    symbol: str,
    start: int,
    end: int,
    mark: MarkPriceBatch,
    seed: int = SAMPLE_OI_SEED,
    publish_delay_ms: tuple[int, int] = (20_000, 120_000),
    first_lots: int = 80_000_000,
    step_lots: float = 50_000.0,
) -> pa.Table:
    """Seeded synthetic open interest as a CryptoHFTData ``open_interest`` table.

    One row per 5-minute bucket ``timestamp`` from the last at or before ``start`` to the
    last before ``end`` (ns), so that every UTC day the span touches gets rows. Open
    interest is a random walk in lots of 0.001 from ``first_lots`` (normal steps of
    ``step_lots``); its value is that times the last recorded mark price at or before the
    bucket, else the first one, rounded to the cent; each row is received
    ``publish_delay_ms`` (uniform, whole ms) after its bucket, as in
    :func:`streamsim.feed.synthetic.open_interest`. Strings with 8 decimals, like Binance's
    ``openInterestHist``. Not market data.
    """
    if not len(mark):
        raise DataError(f"{symbol}: no mark price to value the open interest with")
    rng = np.random.default_rng(seed)
    first = start // _OI_BUCKET
    buckets = np.arange(first, -(-end // _OI_BUCKET), dtype=np.int64) * _OI_BUCKET
    n = len(buckets)
    lots = first_lots + np.rint(np.cumsum(rng.normal(0.0, step_lots, n))).astype(np.int64)
    delay = rng.integers(publish_delay_ms[0], publish_delay_ms[1] + 1, n) * MS
    at = np.maximum(np.searchsorted(mark.ts_exchange, buckets, side="right") - 1, 0)
    cents = np.rint(lots * 1e-3 * mark.mark[at] * 100).astype(np.int64)
    return open_interest_table(
        symbol,
        buckets // NS_PER_MS,
        buckets + delay,
        format_fixed(lots * _OI_LOT, _OI_PLACES),
        format_fixed(cents * 10**6, _OI_PLACES),
    )


def build_sample(
    capture_paths: Iterable[PathLike],
    root: PathLike,
    *,
    compression_level: int = COMPRESSION_LEVEL,
    overwrite: bool = False,
) -> list[Path]:
    """Convert the recording into the CryptoHFTData tree at ``root`` and add the
    synthetic open interest; returns the files written."""
    root = Path(root)
    capture = read_capture(capture_paths, {SAMPLE_SYMBOL: SAMPLE_INSTRUMENT})
    data = capture[SAMPLE_SYMBOL]
    if data.mark_price is None:
        raise DataError("the sample recording has no mark price")
    first = min(int(b.ts_exchange[0]) for b in (data.depth, data.trades, data.mark_price))
    last = max(int(b.ts_exchange[-1]) for b in (data.depth, data.trades, data.mark_price))
    if first < SAMPLE_START or last >= SAMPLE_END:
        raise DataError(
            f"the recording spans {first} to {last} ns, outside the sample's "
            f"[{SAMPLE_START}, {SAMPLE_END})"
        )
    written = write_cryptohftdata(
        capture,
        root,
        SAMPLE_EXCHANGE,
        compression_level=compression_level,
        overwrite=overwrite,
    )
    oi = synthetic_open_interest(SAMPLE_SYMBOL, SAMPLE_START, SAMPLE_END, data.mark_price)
    written += write_partitioned(
        oi,
        oi.column("timestamp").to_numpy(),
        root,
        "open_interest",
        SAMPLE_EXCHANGE,
        SAMPLE_SYMBOL,
        compression_level=compression_level,
        overwrite=overwrite,
    )
    return written


def sample_sources(
    kinds: Sequence[str] = ("depth", "trades", "mark_price", "open_interest"),
    start: int = SAMPLE_START,
    end: int = SAMPLE_END,
    **options: Any,
) -> list[CryptoHFTSource]:
    """Sources over the bundled sample (local Parquet) from ``start`` to ``end`` (ns), the
    synthetic open interest noted for every window (the one place the note is attached);
    ``options`` (``policy``, ``quarantine``, ``plausibility``) go to :class:`CryptoHFTData`."""
    dataset = CryptoHFTData(
        LocalStore(sample_path()),
        exchange=SAMPLE_EXCHANGE,
        instruments={SAMPLE_SYMBOL: SAMPLE_INSTRUMENT},
        **options,
    )
    sources = [
        source
        for source in dataset.sources([SAMPLE_SYMBOL], kinds, start=start, end=end)
        if isinstance(source, CryptoHFTSource)
    ]
    for source in sources:
        if source.stream.kind == "open_interest":
            source.labels.append(SAMPLE_OI_NOTE)
            source.notes.append(SAMPLE_OI_NOTE)
    return sources


__all__ = [
    "CAPTURE_FILES",
    "SAMPLE_END",
    "SAMPLE_EXCHANGE",
    "SAMPLE_INSTRUMENT",
    "SAMPLE_OI_NOTE",
    "SAMPLE_OI_SEED",
    "SAMPLE_START",
    "SAMPLE_SYMBOL",
    "build_sample",
    "sample_path",
    "sample_sources",
    "synthetic_open_interest",
]
