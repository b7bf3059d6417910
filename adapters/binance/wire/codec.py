"""JSON in and out of the venue's wire format: the one place that calls orjson for Binance."""

from __future__ import annotations

from typing import Any

import orjson

from streamsim.errors import DataError


def loads(raw: bytes | bytearray | memoryview | str) -> Any:
    """Parse one JSON document; :class:`DataError` if it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc}") from exc


def dumps(value: Any) -> bytes:
    """One JSON document as compact UTF-8 bytes, as the venue sends it."""
    return orjson.dumps(value)
