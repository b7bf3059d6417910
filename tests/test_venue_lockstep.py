"""Lockstep against the loopback venue, with a client written here (aiohttp, hmac): the
same client strategy run twice gets identical fills, one of the runs beside a CPU hog,
because the venue releases replay time only as the client reports its progress and
matches each order at its send time plus the entry latency in replay time."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
from test_venue_sync import loopback_only  # noqa: F401 (the socket guard fixture)
from test_venue_trading import KEY, SECRET, capture

import streamsim as ss
from adapters.binance import sources_from_capture
from adapters.binance.venue import LoopbackVenue
from adapters.binance.wire import Credentials, Secret
from streamsim.feed.batches import Batch

pytestmark = pytest.mark.usefixtures("loopback_only")

LATENCY = 5 * ss.MS
SECONDS = 20  # of the capture replayed


class Cut:
    """A source cut at replay time ``end`` (the first seconds of a capture)."""

    def __init__(self, inner: ss.Source, end: int) -> None:
        self._inner = inner
        self._end = end
        self.stream = inner.stream

    async def __aiter__(self) -> AsyncIterator[Batch]:
        async for batch in self._inner:
            keep = int((batch.ts_exchange <= self._end).sum())
            if keep:
                yield batch.slice(0, keep)
            if keep < len(batch):
                return


def signed(params: dict[str, Any], stamp_ms: int) -> str:
    query = urlencode({**params, "timestamp": stamp_ms})
    signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def lockstep_client(venue: LoopbackVenue, orders: int) -> list[tuple[str, str, int]]:
    """Every 25th bookTicker change, a market order (buy, sell, ...) sent at that ticker's
    replay time; the venue's fills for them, as (price, qty, time)."""
    sent = 0
    pending: list[asyncio.Task[Any]] = []
    async with aiohttp.ClientSession() as session:
        url = venue.ws_url("public", ["btcusdt@bookTicker"])
        async with session.ws_connect(url) as ws:
            await ws.send_str(
                orjson.dumps({"method": "STREAMSIM_PROGRESS", "params": [0, 0], "id": 1}).decode()
            )
            tickers = 0

            async def order(side: str, at: int) -> Any:
                query = signed(
                    {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.003"},
                    at // ss.MS,
                )
                headers = {"X-MBX-APIKEY": KEY, "X-SS-Sent-At": str(at)}
                async with session.post(
                    f"{venue.rest_url}/fapi/v1/order?{query}", headers=headers
                ) as r:
                    # matched at its send time + the entry latency, in replay time
                    assert int(r.headers["X-SS-Replay-Time"]) == at + LATENCY
                    return r.status, await r.json()

            async for message in ws:
                frame = orjson.loads(message.data)
                if "ss_next" in frame:  # nothing before that time: report it
                    report = {
                        "method": "STREAMSIM_PROGRESS",
                        "params": [frame["ss_next"], sent],
                        "id": 2,
                    }
                    await ws.send_str(orjson.dumps(report).decode())
                    continue
                if frame.get("stream") != "btcusdt@bookTicker":
                    continue  # a control answer
                tickers += 1
                if tickers % 25 == 0 and sent < orders:
                    side = "BUY" if sent % 2 == 0 else "SELL"
                    pending.append(asyncio.create_task(order(side, frame["ss_t"])))
                    sent += 1
                if sent == orders and all(t.done() for t in pending):
                    break
        answers = [await t for t in pending]
        assert all(status == 200 for status, _ in answers), answers
        query = signed({"symbol": "BTCUSDT"}, venue.now() // ss.MS)
        async with session.get(
            f"{venue.rest_url}/fapi/v1/userTrades?{query}", headers={"X-MBX-APIKEY": KEY}
        ) as response:
            trades = await response.json()
    return [(t["price"], t["qty"], t["time"]) for t in trades]


def run_once(hog: bool) -> list[tuple[str, str, int]]:
    recorded = capture()
    instrument = replace(recorded["BTCUSDT"].instrument, min_notional=Decimal(100))
    sources = sources_from_capture(recorded, ("depth", "trades"))
    first = min(int(s._batches[0].ts_exchange[0]) for s in sources)  # type: ignore[attr-defined]
    cut = [Cut(s, first + SECONDS * ss.SECOND) for s in sources]
    exchange = ss.SimExchange([instrument], mark_fallback="mid", initial_balance=50_000.0)

    async def main() -> list[tuple[str, str, int]]:
        venue = LoopbackVenue(
            cut,
            [instrument],
            lockstep=True,
            min_entry_latency=LATENCY,
            exchange=exchange,
            keys=[Credentials(KEY, Secret(SECRET))],
        )
        async with venue:
            return await asyncio.wait_for(lockstep_client(venue, orders=8), 120)

    spinner = None
    if hog:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        return asyncio.run(main())
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def test_the_same_lockstep_client_gets_the_same_fills_whatever_the_load() -> None:
    quiet = run_once(hog=False)
    busy = run_once(hog=True)
    assert len(quiet) >= 8  # every order filled (some across levels)
    assert busy == quiet
