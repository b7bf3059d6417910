"""The REST depth snapshot, retried while the venue is warming up or rate-limiting."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from streamsim.errors import SourceError

from ..messages import decode

#: Statuses answered by waiting (``Retry-After`` when given) and asking again.
RETRY_STATUSES = frozenset((429, 503))
#: The longest wait between attempts, whatever ``Retry-After`` says (seconds).
MAX_WAIT = 5.0


async def fetch_snapshot(
    session: aiohttp.ClientSession, rest_url: str, symbol: str, limit: int, retries: int
) -> tuple[int, dict[str, Any]]:
    """``GET /fapi/v1/depth?symbol=S&limit=L``: its receive time (ns) and decoded body."""
    url = f"{rest_url}/fapi/v1/depth"
    params = {"symbol": symbol, "limit": str(limit)}
    for attempt in range(retries + 1):
        async with session.get(url, params=params) as response:
            body = await response.read()
            recv = time.time_ns()
            if response.status == 200:
                data = decode(body)
                if isinstance(data, dict) and "lastUpdateId" in data:
                    return recv, data
            elif response.status in RETRY_STATUSES and attempt < retries:
                after = response.headers.get("Retry-After")
                wait = float(after) if after else 0.05 * 2**attempt
                await asyncio.sleep(min(MAX_WAIT, wait))
                continue
            raise SourceError(
                f"{symbol}.depth",
                None,
                RuntimeError(f"depth snapshot: HTTP {response.status}: {body[:200]!r}"),
            )
    raise AssertionError("unreachable")
