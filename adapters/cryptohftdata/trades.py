"""Decode CryptoHFTData trade rows into a trade batch ordered by trade time."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamsim.batches import TradeBatch
from streamsim.errors import DataError
from streamsim.instruments import Instrument

COLUMNS = ("received_time", "trade_time", "trade_id", "price", "quantity", "is_buyer_maker")
_MS = 1_000_000


def decode_trades(table: pa.Table, instrument: Instrument, where: str = "") -> TradeBatch:
    """Trades sorted by ``trade_time`` (stably: file order breaks ties).

    Files are not always in time order, so rows are sorted; ``is_buyer_maker`` true means
    the seller was the aggressor (side -1).
    """
    missing = [name for name in COLUMNS if name not in table.column_names]
    if missing:
        raise DataError(f"{where}missing column(s) {', '.join(missing)}")
    trade_time = table.column("trade_time").to_numpy().astype(np.int64) * _MS
    order = np.argsort(trade_time, kind="stable")
    price = pc.cast(table.column("price"), pa.float64()).to_numpy()[order]
    qty = pc.cast(table.column("quantity"), pa.float64()).to_numpy()[order]
    buyer_maker = table.column("is_buyer_maker").to_numpy(zero_copy_only=False)[order]
    return TradeBatch(
        instrument.symbol,
        trade_time[order],
        table.column("received_time").to_numpy().astype(np.int64)[order],
        instrument.prices_to_ticks(price, where),
        instrument.qtys_to_lots(qty, where),
        np.where(buyer_maker, -1, 1).astype(np.int8),
        table.column("trade_id").to_numpy().astype(np.int64)[order],
    )
