"""How streamsim writes and reads the Parquet files it makes: one home for the options.

Every file streamsim writes (the Binance converter's CryptoHFTData tree, the compiled
event store, a recorder's output) carries a CRC-32 checksum per page, so a flipped bit on
disk or in transit is found when the page is read instead of decoding to plausible wrong
numbers; every reader verifies them (files without checksums still read). A mismatch
surfaces from pyarrow as ``OSError: could not verify page integrity, CRC checksum
verification failed for page_ordinal N``; readers turn it into
:class:`~streamsim.errors.DataError` naming the file, row group and column.
"""

from __future__ import annotations

from typing import Any

#: zstd level of files written once and read many times (converter output).
ARCHIVE_COMPRESSION_LEVEL = 19

#: Options of every ``pq.write_table`` / ``pq.ParquetWriter`` streamsim calls.
WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "write_page_checksum": True,
}

#: Options of every ``pq.ParquetFile`` streamsim opens.
READ_OPTIONS: dict[str, Any] = {
    "page_checksum_verification": True,
}


def write_options(**overrides: Any) -> dict[str, Any]:
    """:data:`WRITE_OPTIONS` with ``overrides`` (compression level, statistics, ...).

    Checksums cannot be turned off here: a file streamsim writes is always verifiable.
    """
    if overrides.get("write_page_checksum", True) is not True:
        raise ValueError("streamsim always writes Parquet page checksums")
    return {**WRITE_OPTIONS, **overrides}


def footer_problem(metadata: Any) -> str | None:
    """What makes a Parquet footer (``pyarrow.parquet.FileMetaData``) unsafe to read, or
    None: a column chunk whose physical type differs from its schema column's. pyarrow
    aborts the whole process (a C++ ``terminate``) when it reads such a chunk, so readers
    check this before they read any data."""
    schema = metadata.schema
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for column in range(row_group.num_columns):
            stored = row_group.column(column).physical_type
            expected = schema.column(column).physical_type
            if stored != expected:
                return (
                    f"corrupt footer: row group {group}, column {schema.column(column).path!r} "
                    f"is stored as {stored} but its schema says {expected}"
                )
    return None
