"""CryptoHFTData Parquet files (local or S3) as streamsim sources.

:class:`CryptoHFTData` plans and reads a tree through a :class:`Store`; the decoders
:func:`decode_orderbook` and :func:`decode_trades` turn whole in-memory tables into
batches. See ``docs/data.md``.
"""

from .dataset import KNOWN_GRIDS, CryptoHFTData, CryptoHFTSource, FileRef, known_instrument
from .orderbook import decode_orderbook
from .reader import ParquetObject
from .s3 import S3Error, S3NotFoundError, S3Store, S3TimeoutError
from .store import LocalStore, Store
from .trades import decode_trades

__all__ = [
    "KNOWN_GRIDS",
    "CryptoHFTData",
    "CryptoHFTSource",
    "FileRef",
    "LocalStore",
    "ParquetObject",
    "S3Error",
    "S3NotFoundError",
    "S3Store",
    "S3TimeoutError",
    "Store",
    "decode_orderbook",
    "decode_trades",
    "known_instrument",
]
