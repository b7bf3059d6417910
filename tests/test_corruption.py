"""Corruption is seen: Parquet page checksums written and verified, damaged pages named."""

from __future__ import annotations

from pathlib import Path

import anyio
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamsim as ss
from adapters.binance.capture import read_capture
from adapters.binance.convert import write_cryptohftdata, write_partitioned
from adapters.cryptohftdata import CryptoHFTData, LocalStore
from adapters.store import compile_store, store_sources
from streamsim.parquet_options import write_options

CAPTURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance-usdm-capture"
SAMPLE_CAPTURE = [CAPTURE / "btcusdt_20230404.dat.gz"]
SYMBOL = "BTCUSDT"


def flip_in_page(path: Path, column: str, row_group: int = 0, back: int = 3) -> None:
    """Flip one byte inside the last data page of ``column`` (``back`` bytes before its end)."""
    meta = pq.read_metadata(path)
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    chunk = meta.row_group(row_group).column(names.index(column))
    start = chunk.data_page_offset
    if chunk.has_dictionary_page and chunk.dictionary_page_offset:
        start = min(start, chunk.dictionary_page_offset)
    position = start + chunk.total_compressed_size - back
    raw = bytearray(path.read_bytes())
    raw[position] ^= 0x5A
    path.write_bytes(bytes(raw))


async def drain(sources: list[ss.Source]) -> int:
    rows = 0
    for source in sources:
        async for batch in source:
            rows += len(batch)
    return rows


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("converted")
    capture = read_capture(SAMPLE_CAPTURE, {SYMBOL: ss.Instrument(SYMBOL, "0.10", "0.001")})
    write_cryptohftdata(capture, root, compression_level=1)
    return root


def test_streamsim_refuses_to_write_parquet_without_checksums() -> None:
    assert write_options()["write_page_checksum"] is True
    assert write_options(compression_level=3)["compression_level"] == 3
    with pytest.raises(ValueError, match="checksums"):
        write_options(write_page_checksum=False)


@pytest.mark.parametrize(
    ("kind", "column"), [("trades", "price"), ("trades", "trade_id"), ("depth", "quantity")]
)
def test_a_flipped_byte_in_a_converter_page_is_a_data_error_naming_file_group_and_column(
    converted: Path, tmp_path: Path, kind: str, column: str
) -> None:
    root = tmp_path / "tree"
    folder = "orderbook" if kind == "depth" else kind
    name = "orderbook_23.parquet" if kind == "depth" else f"{kind}.parquet"
    relative = f"{folder}/binance_futures/{SYMBOL}/2023/04/04/{name}"
    (root / relative).parent.mkdir(parents=True)
    (root / relative).write_bytes((converted / relative).read_bytes())
    flip_in_page(root / relative, column)
    data = CryptoHFTData(LocalStore(root))
    start = 1_680_652_800 * ss.SECOND - ss.HOUR
    sources = data.sources([SYMBOL], [kind], start, start + ss.HOUR - 1)
    with pytest.raises(ss.DataError) as caught:
        anyio.run(drain, sources)
    text = str(caught.value)
    assert str(root / relative) in text
    assert "row group 0" in text and f"column {column!r}" in text
    assert "checksum" in text.lower()


def test_a_flipped_byte_in_a_store_page_is_a_data_error_naming_the_store_file(
    tmp_path: Path,
) -> None:
    ex = np.arange(0, 50_000, dtype=np.int64) * ss.MS
    batch = ss.TradeBatch(
        SYMBOL,
        ex,
        None,
        np.arange(len(ex), dtype=np.int64) + 100,
        np.ones(len(ex), dtype=np.int64),
        np.ones(len(ex), dtype=np.int8),
        np.arange(len(ex), dtype=np.int64),
    )
    store = tmp_path / "store"
    instrument = ss.Instrument(SYMBOL, "0.1", "0.001")
    compile_store(
        [ss.MemorySource([batch], ss.Stream(SYMBOL, "trades"))],
        store,
        instruments={SYMBOL: instrument},
    )
    flip_in_page(store / SYMBOL / "trades.parquet", "price")
    # The manifest's SHA-256 catches it upfront; the page checksum catches it without.
    with pytest.raises(ss.DataError, match="SHA-256"):
        store_sources(store)
    with pytest.raises(ss.DataError) as caught:
        anyio.run(drain, store_sources(store, verify=False))
    text = str(caught.value)
    assert "trades.parquet" in text and "row group 0" in text and "column 'price'" in text
    assert "checksum" in text.lower()


def test_files_written_without_checksums_still_read(tmp_path: Path) -> None:
    table = pa.table({"received_time": pa.array([1, 2], pa.int64())})
    pq.write_table(table, tmp_path / "plain.parquet")
    assert pq.ParquetFile(tmp_path / "plain.parquet", page_checksum_verification=True).read()


def test_write_partitioned_files_carry_checksums(tmp_path: Path) -> None:
    """A byte flipped in a page of a file written by the converter's writer is caught by
    the verifying read, where a plain read decodes garbage or fails obscurely."""
    values = np.arange(200_000, dtype=np.int64)
    table = pa.table({"received_time": pa.array(values)})
    (path,) = write_partitioned(
        table, values // 1000, tmp_path, "trades", "binance_futures", SYMBOL, compression_level=1
    )
    flip_in_page(path, "received_time", back=50)
    with pytest.raises(OSError, match="CRC checksum verification failed"):
        pq.ParquetFile(path, page_checksum_verification=True).read()


def retype_first_int64_chunk(path: Path) -> None:
    """Rewrite the footer so the first INT64 column chunk says it is stored as INT96.

    In the footer's Thrift compact encoding a ColumnMetaData starts with its type (field 1,
    i32) followed by its encodings (field 2, list): ``15 04 19`` for INT64; a schema element
    follows its type with the repetition type instead, and the footer itself opens with
    the same bytes (its version, 2, then the schema list), so the search starts past them.
    pyarrow aborts the process reading such a chunk.
    """
    raw = bytearray(path.read_bytes())
    length = int.from_bytes(raw[-8:-4], "little")
    footer_start = len(raw) - 8 - length
    position = raw.index(b"\x15\x04\x19", footer_start + 1)
    raw[position + 1] = 0x06
    path.write_bytes(bytes(raw))


def test_a_footer_whose_chunk_type_contradicts_its_schema_is_a_data_error_not_an_abort(
    converted: Path, tmp_path: Path
) -> None:
    relative = f"trades/binance_futures/{SYMBOL}/2023/04/04/trades.parquet"
    root = tmp_path / "tree"
    (root / relative).parent.mkdir(parents=True)
    (root / relative).write_bytes((converted / relative).read_bytes())
    retype_first_int64_chunk(root / relative)
    data = CryptoHFTData(LocalStore(root))
    start = 1_680_652_800 * ss.SECOND - ss.HOUR
    with pytest.raises(ss.DataError) as caught:
        anyio.run(drain, data.sources([SYMBOL], ["trades"], start, start + ss.HOUR - 1))
    text = str(caught.value)
    assert str(root / relative) in text
    assert "corrupt footer" in text and "INT96" in text and "INT64" in text


def test_a_store_file_whose_chunk_type_contradicts_its_schema_is_a_data_error(
    tmp_path: Path,
) -> None:
    ex = np.arange(0, 1_000, dtype=np.int64) * ss.MS
    ones = np.ones(len(ex), dtype=np.int64)
    batch = ss.TradeBatch(SYMBOL, ex, None, ex + 100, ones, ones.astype(np.int8), ex)
    store = tmp_path / "store"
    compile_store(
        [ss.MemorySource([batch], ss.Stream(SYMBOL, "trades"))],
        store,
        instruments={SYMBOL: ss.Instrument(SYMBOL, "0.1", "0.001")},
    )
    retype_first_int64_chunk(store / SYMBOL / "trades.parquet")
    with pytest.raises(ss.DataError, match=r"trades\.parquet: corrupt footer"):
        anyio.run(drain, store_sources(store, verify=False))
