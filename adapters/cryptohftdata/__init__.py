"""CryptoHFTData Parquet files (local or S3) as streamsim sources."""

from .orderbook import decode_orderbook
from .trades import decode_trades

__all__ = ["decode_orderbook", "decode_trades"]
