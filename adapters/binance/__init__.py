"""Binance raw recordings (combined-stream messages and REST responses) as columnar batches."""

from .capture import Capture, SymbolCapture, instruments_from_exchange_info, read_capture
from .convert import write_cryptohftdata
from .messages import (
    BookTickers,
    book_tickers,
    decimal_step,
    depth_batch,
    infer_instrument,
    mark_price_batch,
    trade_batch,
)
from .sample import (
    SAMPLE_END,
    SAMPLE_EXCHANGE,
    SAMPLE_INSTRUMENT,
    SAMPLE_OI_NOTE,
    SAMPLE_START,
    SAMPLE_SYMBOL,
    sample_path,
    sample_sources,
)
from .sources import CaptureSource, capture_sources, sources_from_capture

__all__ = [
    "SAMPLE_END",
    "SAMPLE_EXCHANGE",
    "SAMPLE_INSTRUMENT",
    "SAMPLE_OI_NOTE",
    "SAMPLE_START",
    "SAMPLE_SYMBOL",
    "BookTickers",
    "Capture",
    "CaptureSource",
    "SymbolCapture",
    "book_tickers",
    "capture_sources",
    "decimal_step",
    "depth_batch",
    "infer_instrument",
    "instruments_from_exchange_info",
    "mark_price_batch",
    "read_capture",
    "sample_path",
    "sample_sources",
    "sources_from_capture",
    "trade_batch",
    "write_cryptohftdata",
]
