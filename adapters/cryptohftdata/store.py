"""Where a CryptoHFTData tree lives: a local directory or an S3 prefix, read asynchronously.

Keys are the tree's relative paths (``trades/binance_futures/BTCUSDT/2025/07/01/trades.parquet``).
Readers fetch whole objects or byte ranges (Parquet footers and row groups), so the same
decoding code serves both stores.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import anyio

from streamsim.path_parts import check_relative_key


class Store(Protocol):
    """Read access to a CryptoHFTData tree.

    ``coalesce_gap`` is how many unneeded bytes between two wanted ranges are cheaper to
    read through than to skip with another request: small for a local disk, about a
    round trip's worth of transfer for an object store.
    """

    coalesce_gap: int

    def describe(self, key: str) -> str:
        """A human name for ``key`` in error messages (a path or an ``s3://`` URL)."""
        ...

    async def read_tail(self, key: str, length: int) -> tuple[int, bytes] | None:
        """The object's size and its last ``min(length, size)`` bytes; None if it does not exist.

        One request where the store allows it, so that a Parquet footer and the object's
        size come together.
        """
        ...

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the object."""
        ...


class LocalStore:
    """A CryptoHFTData tree in a local directory."""

    coalesce_gap = 16 * 1024

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def describe(self, key: str) -> str:
        return str(self.root / key)

    def path(self, key: str) -> Path:
        """The file of ``key``; a key that would leave the root raises ConfigError."""
        return self.root / check_relative_key(key)

    async def read_tail(self, key: str, length: int) -> tuple[int, bytes] | None:
        path = self.path(key)

        def read() -> tuple[int, bytes] | None:
            try:
                handle = path.open("rb")
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None
            with handle:
                size = os.fstat(handle.fileno()).st_size
                handle.seek(max(0, size - length))
                return size, handle.read(length)

        return await anyio.to_thread.run_sync(read)

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        path = self.path(key)

        def read() -> bytes:
            with path.open("rb") as handle:
                handle.seek(start)
                return handle.read(end - start)

        return await anyio.to_thread.run_sync(read)
