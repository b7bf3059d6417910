"""Where a CryptoHFTData tree lives: a local directory or an S3 prefix, read asynchronously.

Keys are the tree's relative paths (``trades/binance_futures/BTCUSDT/2025/07/01/trades.parquet``).
Readers fetch whole objects or byte ranges (Parquet footers and row groups), so the same
decoding code serves both stores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import anyio


class Store(Protocol):
    """Read access to a CryptoHFTData tree."""

    def describe(self, key: str) -> str:
        """A human name for ``key`` in error messages (a path or an ``s3://`` URL)."""
        ...

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None if it does not exist."""
        ...

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the object."""
        ...


class LocalStore:
    """A CryptoHFTData tree in a local directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def describe(self, key: str) -> str:
        return str(self.root / key)

    async def size(self, key: str) -> int | None:
        path = self.root / key
        return path.stat().st_size if path.is_file() else None

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        def read() -> bytes:
            with (self.root / key).open("rb") as handle:
                handle.seek(start)
                return handle.read(end - start)

        return await anyio.to_thread.run_sync(read)
