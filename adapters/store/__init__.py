"""The compiled event store: any streamsim sources compiled once into sorted integer events.

:func:`compile_sources` (or :func:`compile_store`) drains sources into per-stream Parquet
files with a ``manifest.json`` of input and output hashes; :func:`store_sources` replays
them as sources with no parsing and no per-row Python. See ``docs/store.md``.
"""

from .compile import ROWS_PER_GROUP, compile_sources, compile_store, cryptohftdata_inputs
from .layout import (
    FORMAT_VERSION,
    InputFile,
    Manifest,
    OutputFile,
    StreamEntry,
)
from .replay import RecordedQuarantine, StoreSource, read_manifest, store_sources, verify_store

__all__ = [
    "FORMAT_VERSION",
    "ROWS_PER_GROUP",
    "InputFile",
    "Manifest",
    "OutputFile",
    "RecordedQuarantine",
    "StoreSource",
    "StreamEntry",
    "compile_sources",
    "compile_store",
    "cryptohftdata_inputs",
    "read_manifest",
    "store_sources",
    "verify_store",
]
