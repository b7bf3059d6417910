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
from adapters.binance.venue.faults import RateLimited
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


def progress(at: int, sent: int) -> str:
    report = {"method": "STREAMSIM_PROGRESS", "params": [at, sent, "me"], "id": 2}
    return orjson.dumps(report).decode()


async def lockstep_client(venue: LoopbackVenue, rounds: int) -> tuple[list[Any], list[Any]]:
    """On two connections (bookTicker on /public, aggTrade on /market, one client): every
    25th bookTicker, two market orders at once at that ticker's replay time (a tie the
    X-SS-Seq header orders), a far limit order, and a cancel of the previous one. The
    venue's fills and every answer's status and body."""
    sent = 0
    pending: list[asyncio.Task[Any]] = []
    async with aiohttp.ClientSession() as session:

        async def call(method: str, params: dict[str, Any], at: int, seq: int) -> Any:
            query = signed(params, at // ss.MS)
            headers = {"X-MBX-APIKEY": KEY, "X-SS-Sent-At": str(at), "X-SS-Seq": str(seq)}
            url = f"{venue.rest_url}/fapi/v1/order?{query}"
            async with session.request(method, url, headers=headers) as r:
                body = await r.json()
                if r.status == 200:  # matched at its send time + the entry latency
                    assert int(r.headers["X-SS-Replay-Time"]) == at + LATENCY
                return r.status, {k: body.get(k) for k in ("code", "status", "executedQty")}

        market = venue.ws_url("market", ["btcusdt@aggTrade"])
        public = venue.ws_url("public", ["btcusdt@bookTicker"])
        async with session.ws_connect(public) as ws, session.ws_connect(market) as trades_ws:
            for socket in (ws, trades_ws):
                await socket.send_str(progress(0, 0))

            async def drain_market() -> None:  # read its frames, report on its idle frames
                async for message in trades_ws:
                    frame = orjson.loads(message.data)
                    if "ss_next" in frame:
                        await trades_ws.send_str(progress(frame["ss_next"], sent))

            reader = asyncio.create_task(drain_market())
            tickers, done = 0, 0
            async for message in ws:
                frame = orjson.loads(message.data)
                if "ss_next" in frame:
                    await ws.send_str(progress(frame["ss_next"], sent))
                    continue
                if frame.get("stream") != "btcusdt@bookTicker":
                    continue  # a control answer
                tickers += 1
                if tickers % 25 == 0 and done < rounds:
                    at, price = frame["ss_t"], str(int(float(frame["data"]["b"])) - 500)
                    mkt = {"symbol": "BTCUSDT", "type": "MARKET", "quantity": "0.003"}
                    far = {
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "LIMIT",
                        "timeInForce": "GTC",
                        "quantity": "0.002",
                        "price": price,
                        "newClientOrderId": f"far{done}",
                    }
                    requests = [
                        ("POST", {**mkt, "side": "BUY"}),
                        ("POST", {**mkt, "side": "SELL"}),
                        ("POST", far),
                    ]
                    if done:
                        cancel = {"symbol": "BTCUSDT", "origClientOrderId": f"far{done - 1}"}
                        requests.append(("DELETE", cancel))
                    for seq, (method, params) in enumerate(requests):
                        pending.append(asyncio.create_task(call(method, params, at, seq)))
                    sent += len(requests)
                    done += 1
                if done == rounds and all(t.done() for t in pending):
                    break
            reader.cancel()
        answers = [await t for t in pending]
        query = signed({"symbol": "BTCUSDT"}, venue.now() // ss.MS)
        async with session.get(
            f"{venue.rest_url}/fapi/v1/userTrades?{query}", headers={"X-MBX-APIKEY": KEY}
        ) as response:
            fills = await response.json()
    return [(t["price"], t["qty"], t["time"], t["orderId"]) for t in fills], answers


def run_once(hog: bool) -> tuple[list[Any], list[Any]]:
    recorded = capture()
    instrument = replace(recorded["BTCUSDT"].instrument, min_notional=Decimal(100))
    sources = sources_from_capture(recorded, ("depth", "trades"))
    first = min(int(s._batches[0].ts_exchange[0]) for s in sources)  # type: ignore[attr-defined]
    cut = [Cut(s, first + SECONDS * ss.SECOND) for s in sources]
    exchange = ss.SimExchange([instrument], mark_fallback="mid", initial_balance=50_000.0)

    async def main() -> tuple[list[Any], list[Any]]:
        venue = LoopbackVenue(
            cut,
            [instrument],
            lockstep=True,
            min_entry_latency=LATENCY,
            exchange=exchange,
            keys=[Credentials(KEY, Secret(SECRET))],
        )
        # a refused request (429) is still a request the client counted
        venue.faults.on_request("POST", "/fapi/v1/order", RateLimited(retry_after=1), nth=5)
        async with venue:
            return await asyncio.wait_for(lockstep_client(venue, rounds=5), 120)

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
    fills, answers = quiet
    assert len(fills) >= 8  # the market orders filled (some across levels)
    statuses = [status for status, _ in answers]
    assert statuses.count(429) == 1 and statuses.count(200) == len(statuses) - 1
    assert sum(body["status"] == "CANCELED" for _, body in answers) == 4  # every cancel
    assert busy == quiet  # fills, answers and their order: the same
