"""Tardis.dev downloadable CSV files (gzip) as streamsim sources.

``tardis_sources(root_or_file, exchange, symbol, data_types, dates, instrument)`` returns
one :class:`TardisSource` per stream: ``incremental_book_L2`` and ``book_snapshot_N`` give
depth, ``trades`` trades, ``derivative_ticker`` mark price and open interest,
``liquidations`` liquidations. See ``docs/tardis.md``.
"""

from .decoders import MARK_FIELDS, UnknownSide
from .files import DATA_TYPES, find_file, find_files, infer_data_type
from .sources import (
    COMMON_COLUMNS,
    DEFAULT_BLOCK_SIZE,
    BadRow,
    TardisSource,
    stream_kinds,
    tardis_sources,
)

__all__ = [
    "COMMON_COLUMNS",
    "DATA_TYPES",
    "DEFAULT_BLOCK_SIZE",
    "MARK_FIELDS",
    "BadRow",
    "TardisSource",
    "UnknownSide",
    "find_file",
    "find_files",
    "infer_data_type",
    "stream_kinds",
    "tardis_sources",
]
