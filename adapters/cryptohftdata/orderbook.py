"""Decode CryptoHFTData order-book rows (one row per level) into depth messages."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamsim.batches import DepthBatch
from streamsim.errors import DataError
from streamsim.instruments import Instrument

COLUMNS = (
    "received_time",
    "event_time",
    "first_update_id",
    "final_update_id",
    "prev_final_update_id",
    "side",
    "price",
    "quantity",
)
_MS = 1_000_000


def decode_orderbook(table: pa.Table, instrument: Instrument, where: str = "") -> DepthBatch:
    """Group level rows into messages by ``final_update_id``; bids first within each.

    Rows of one message share ``final_update_id``; files are not always physically
    ordered, so rows are stably sorted by it when needed (file order is kept within a
    message, so the last row for a price still wins when the book applies it).
    """
    missing = [name for name in COLUMNS if name not in table.column_names]
    if missing:
        raise DataError(f"{where}missing column(s) {', '.join(missing)}")
    final = table.column("final_update_id").to_numpy()
    is_ask = pc.equal(table.column("side"), "ask").to_numpy(zero_copy_only=False)
    # Sort by (message, side) keeping file order inside each group.
    order = np.lexsort((is_ask, final))
    final = final[order]
    is_ask = is_ask[order]
    starts = np.flatnonzero(np.diff(final, prepend=final[0] - 1))
    n = len(starts)
    price = instrument.prices_to_ticks(
        pc.cast(table.column("price"), pa.float64()).to_numpy()[order], where
    )
    qty = instrument.qtys_to_lots(
        pc.cast(table.column("quantity"), pa.float64()).to_numpy()[order], where
    )
    offsets = np.append(starts, len(final)).astype(np.int64)
    asks_per = np.add.reduceat(is_ask.astype(np.int64), starts) if n else starts
    sizes = np.diff(offsets)
    first_rows = order[starts]
    recv = table.column("received_time").to_numpy()[first_rows]
    event = table.column("event_time").to_numpy()[first_rows] * _MS
    return DepthBatch(
        instrument.symbol,
        event.astype(np.int64),
        recv.astype(np.int64),
        table.column("first_update_id").to_numpy()[first_rows],
        final[starts],
        table.column("prev_final_update_id").to_numpy()[first_rows],
        np.zeros(n, dtype=np.bool_),
        offsets,
        (sizes - asks_per).astype(np.int64),
        price,
        qty,
    )
