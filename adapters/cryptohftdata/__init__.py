"""CryptoHFTData Parquet files (local or S3) as streamsim sources."""

from .orderbook import decode_orderbook

__all__ = ["decode_orderbook"]
