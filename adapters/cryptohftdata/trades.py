"""CryptoHFTData trade rows as a trade batch ordered by trade time."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from streamsim.errors import DataError
from streamsim.feed.batches import TradeBatch
from streamsim.feed.quarantine import Ingest
from streamsim.instruments import Instrument

from .decode import (
    SPECS,
    check_schema,
    decode_table,
    duplicates,
    first_issue_rows,
    report_rows,
    row_batch,
)

SPEC = SPECS["trades"]
COLUMNS = tuple(column.name for column in SPEC.columns if not column.optional)


def decode_trades(table: pa.Table, instrument: Instrument, where: str = "") -> TradeBatch:
    """A whole table of trades, sorted by ``trade_time`` (stably: file order breaks ties).

    Files are not always in time order, so rows are sorted; ``is_buyer_maker`` true means
    the seller was the aggressor (side -1). ``where`` prefixes errors (e.g.
    ``"trades.parquet, "``); any bad row or repeated ``trade_id`` raises :class:`DataError`
    naming its row and column.
    """
    file = where.removesuffix(", ") or "table"
    missing = [name for name in COLUMNS if name not in table.column_names]
    if missing:
        raise DataError(f"{where}missing column(s) {', '.join(missing)}")
    check_schema(table.schema, SPEC, file)
    table = table.select(SPEC.present(table.schema))
    frame, issues, cut = decode_table(table, SPEC, instrument)
    bad, which = first_issue_rows(issues, len(frame))
    ingest = Ingest(f"{instrument.symbol}.trades")
    report_rows(ingest, file, issues, which, np.flatnonzero(bad), frame, cut)
    dup = duplicates(frame["trade_id"], None)
    if dup is not None:
        positions = np.flatnonzero(dup)
        records = cut.take(positions).to_pylist()
        ingest.bad(file, positions.tolist(), "trade_id", "duplicate trade_id", records)
    batch = row_batch(
        SPEC, instrument.symbol, frame.take(np.argsort(frame["trade_time"], kind="stable"))
    )
    assert isinstance(batch, TradeBatch)
    return batch
