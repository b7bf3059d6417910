"""Binance raw recordings (combined-stream messages and REST responses) as columnar batches."""

from .capture import Capture, SymbolCapture, instruments_from_exchange_info, read_capture
from .messages import (
    BookTickers,
    book_tickers,
    decimal_step,
    depth_batch,
    infer_instrument,
    mark_price_batch,
    trade_batch,
)

__all__ = [
    "BookTickers",
    "Capture",
    "SymbolCapture",
    "book_tickers",
    "decimal_step",
    "depth_batch",
    "infer_instrument",
    "instruments_from_exchange_info",
    "mark_price_batch",
    "read_capture",
    "trade_batch",
]
