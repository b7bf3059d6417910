"""Open interest polled by REST on a schedule (no stream carries it)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import numpy as np

from streamsim.errors import DataError
from streamsim.feed.batches import Batch, OpenInterestBatch
from streamsim.feed.sources import Stream
from streamsim.instruments import Instrument

from ..messages import NS_PER_MS, decode
from ..wire.market import OpenInterest

if TYPE_CHECKING:
    from .client import BinanceFeed


class OpenInterestSource:
    """``GET /fapi/v1/openInterest`` every ``open_interest_every`` seconds: one row per new
    venue ``time``, ``ts_recv`` the real receive time, ``notional`` NaN (the endpoint has
    none). Failed polls (not yet replayed, rate limited) are counted and retried at the
    next tick."""

    kind = "open_interest"

    def __init__(self, feed: BinanceFeed, instrument: Instrument) -> None:
        self.feed = feed
        self.instrument = instrument
        self.polls = 0
        self.failed_polls = 0
        self.rows = 0
        self._closed = asyncio.Event()

    @property
    def stream(self) -> Stream:
        return Stream(self.instrument.symbol, self.kind)

    @property
    def notes(self) -> list[str]:
        if not self.failed_polls:
            return []
        return [f"{self.stream}: {self.failed_polls} of {self.polls} REST polls failed"]

    def close(self) -> None:
        self._closed.set()

    async def __aiter__(self) -> AsyncIterator[Batch]:
        await self.feed.start()
        every = self.feed.config.open_interest_every
        assert every is not None
        last_time = -1
        while not self._closed.is_set():
            row = await self._poll()
            if row is not None and row[0] > last_time:
                last_time = row[0]
                self.rows += 1
                yield OpenInterestBatch(
                    self.instrument.symbol,
                    np.array([row[0]], dtype=np.int64),
                    np.array([row[1]], dtype=np.int64),
                    np.array([row[2]], dtype=np.float64),
                    np.array([np.nan], dtype=np.float64),
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), every)

    async def _poll(self) -> tuple[int, int, float] | None:
        """(venue time ns, receive time ns, open interest), or None if the poll failed."""
        config = self.feed.config
        self.polls += 1
        url = f"{config.rest_url}/fapi/v1/openInterest"
        async with self.feed.session.get(url, params={"symbol": self.instrument.symbol}) as r:
            body = await r.read()
            recv = time.time_ns()
            status = r.status
        if status != 200:
            self.failed_polls += 1
            return None
        try:
            answer = OpenInterest.from_wire(decode(body))
            value = float(answer.open_interest)
        except (DataError, ValueError):
            self.failed_polls += 1
            return None
        return answer.time * NS_PER_MS, recv, value
