"""Every fault of the loopback venue is observable as the venue's documented behaviour,
by a client written here (aiohttp and dicts)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiohttp
import orjson
import pytest
from test_venue_sync import loopback_only  # noqa: F401 (the socket guard fixture)
from test_venue_trading import trading_venue, until

import streamsim as ss
from adapters.binance.venue.faults import (
    Banned,
    ClockJump,
    DelayFrames,
    DropConnections,
    DropUserEvents,
    DuplicateFrames,
    DuplicateUserEvents,
    ExpireListenKey,
    RateLimited,
    SkipUpdateId,
    UnknownStatus,
    parse_fault,
)
from streamsim.errors import ConfigError

pytestmark = pytest.mark.usefixtures("loopback_only")

ORDER = "/fapi/v1/order"
LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}


def far_bid(venue: Any, cid: str) -> dict[str, Any]:
    book = venue.desk.exchange.books["BTCUSDT"]
    price = venue.desk.instruments["BTCUSDT"].ticks_to_decimal(book.best_bid - 5000)
    return {**LIMIT, "quantity": "0.002", "price": str(price), "newClientOrderId": cid}


def test_request_faults_answer_as_the_venue_does_when_overloaded_banning_or_unsure() -> None:
    async def scenario() -> None:
        async with trading_venue() as (venue, client, _):
            faults = venue.faults
            faults.on_request("POST", ORDER, RateLimited(retry_after=7))
            async with client.session.post(
                f"{client.base}{ORDER}?{client.signed_query(far_bid(venue, 'a'))}",
                headers={"X-MBX-APIKEY": "testkey123"},
            ) as response:
                assert response.status == 429 and response.headers["Retry-After"] == "7"
                assert (await response.json())["code"] == -1003
            status, _ = await client.call("POST", ORDER, far_bid(venue, "a"))  # served again
            assert status == 200

            # 503 "Unknown error": placed or not, the client must ask
            faults.on_request("POST", ORDER, UnknownStatus(placed=True))
            status, body = await client.call("POST", ORDER, far_bid(venue, "b"))
            assert status == 503 and body["msg"].startswith("Unknown error")
            status, found = await client.call(
                "GET", ORDER, {"symbol": "BTCUSDT", "origClientOrderId": "b"}
            )
            assert status == 200 and found["status"] == "NEW"  # it was placed
            faults.on_request("POST", ORDER, UnknownStatus(placed=False, code=-1007))
            status, body = await client.call("POST", ORDER, far_bid(venue, "c"))
            assert (status, body["code"]) == (408, -1007)
            status, body = await client.call(
                "GET", ORDER, {"symbol": "BTCUSDT", "origClientOrderId": "c"}
            )
            assert (status, body["code"]) == (400, -2013)  # it was not

            # the second request of a kind banned for a second: 418 on every request
            faults.on_request("GET", "/fapi/v1/openOrders", Banned(seconds=1.0), nth=2)
            assert (await client.call("GET", "/fapi/v1/openOrders", {}))[0] == 200
            status, body = await client.call("GET", "/fapi/v1/openOrders", {})
            assert status == 418 and "banned until" in body["msg"]
            assert (await client.call("POST", ORDER, far_bid(venue, "d")))[0] == 418
            await asyncio.sleep(1.1)
            assert (await client.call("GET", "/fapi/v1/openOrders", {}))[0] == 200

            # the venue's clock jumps: signed requests fail with -1021, until the client
            # measures the venue's clock again from /time
            faults.now(ClockJump(ms=30_000))
            status, body = await client.call("GET", "/fapi/v1/openOrders", {})
            assert (status, body["code"]) == (400, -1021)
            await client.sync_time()
            assert (await client.call("GET", "/fapi/v1/openOrders", {}))[0] == 200

            # a 429 on a market endpoint (the depth snapshot of a resync)
            faults.on_request("GET", "/fapi/v1/depth", RateLimited(retry_after=3))
            depth = f"{client.base}/fapi/v1/depth?symbol=BTCUSDT&limit=5"
            async with client.session.get(depth) as response:
                assert response.status == 429 and response.headers["Retry-After"] == "3"
            async with client.session.get(depth) as response:
                assert response.status == 200
            assert faults.fired  # a log of what fired

    asyncio.run(scenario())


def test_user_stream_faults_expire_the_key_twice_duplicate_and_drop_events() -> None:
    async def scenario() -> None:
        async with trading_venue() as (venue, client, events):
            faults = venue.faults
            faults.now(DuplicateUserEvents(count=1))
            await client.call("POST", ORDER, far_bid(venue, "dup"))
            await until(events, lambda e: e.get("o", {}).get("c") == "dup")
            await asyncio.sleep(0.2)
            mine = [e for e in events if e.get("o", {}).get("c") == "dup"]
            assert len(mine) == 2 and mine[0] == mine[1]  # the same event twice

            faults.now(DropUserEvents(duration=3_600 * ss.SECOND))
            await client.call("POST", ORDER, far_bid(venue, "lost"))
            await asyncio.sleep(0.3)
            assert not [e for e in events if e.get("o", {}).get("c") == "lost"]
            status, _ = await client.call(
                "GET", ORDER, {"symbol": "BTCUSDT", "origClientOrderId": "lost"}
            )
            assert status == 200  # placed: only its events were lost

            faults.now(ExpireListenKey(times=2))
            await until(events, lambda e: e.get("e") == "listenKeyExpired")
            await asyncio.sleep(0.2)
            assert sum(e.get("e") == "listenKeyExpired" for e in events) == 2

    asyncio.run(scenario())


async def depth_frames(
    venue: Any, session: aiohttp.ClientSession, seconds: float
) -> tuple[list[tuple[float, dict[str, Any]]], str]:
    """The depth frames received within ``seconds`` and how the connection ended."""
    frames: list[tuple[float, dict[str, Any]]] = []
    async with session.ws_connect(venue.ws_url("public", ["btcusdt@depth@0ms"])) as ws:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                message = await ws.receive(timeout=deadline - time.monotonic())
            except TimeoutError:
                return frames, "open"
            if message.type != aiohttp.WSMsgType.TEXT:
                return frames, "closed"
            frames.append((time.monotonic(), orjson.loads(message.data)))
    return frames, "open"


def test_market_faults_break_the_chain_repeat_hold_and_drop_frames() -> None:
    async def scenario() -> None:
        async with trading_venue() as (venue, client, _):
            faults, session = venue.faults, client.session
            reader = asyncio.create_task(depth_frames(venue, session, 1.2))
            await asyncio.sleep(0.3)
            faults.now(SkipUpdateId("BTCUSDT"))
            frames, state = await reader
            data = [f["data"] for _, f in frames if "data" in f]
            assert state == "open"  # no disconnect
            breaks = [b for a, b in itertools.pairwise(data) if b["pu"] != a["u"]]
            assert len(breaks) == 1, "one skipped update id breaks the pu chain once"
            assert not any(a == b for a, b in itertools.pairwise(data))

            reader = asyncio.create_task(depth_frames(venue, session, 1.2))
            await asyncio.sleep(0.3)
            faults.on_request("GET", "/fapi/v1/ping", DuplicateFrames(count=1))  # by a request
            async with session.get(f"{client.base}/fapi/v1/ping") as response:
                assert response.status == 200
            frames, _ = await reader
            data = [f["data"] for _, f in frames if "data" in f]
            assert any(a == b for a, b in itertools.pairwise(data))  # a repeat

            reader = asyncio.create_task(depth_frames(venue, session, 2.5))
            await asyncio.sleep(0.3)
            faults.now(DelayFrames(seconds=1.0))
            frames, _ = await reader
            gaps = [b[0] - a[0] for a, b in itertools.pairwise(frames)]
            assert max(gaps) >= 0.9  # frames held, then sent

            reader = asyncio.create_task(depth_frames(venue, session, 3.0))
            await asyncio.sleep(0.3)
            faults.now(DropConnections())
            _, state = await reader
            assert state == "closed"

    asyncio.run(scenario())


def test_the_fault_flag_reads_every_fault_and_refuses_what_it_cannot() -> None:
    when, request, fault = parse_fault("drop at=2024-08-08T23:56:00Z")
    assert (when, request, fault) == (1_723_161_360 * ss.SECOND, None, DropConnections())
    assert parse_fault("503 placed=no request=POST/fapi/v1/order#2") == (
        None,
        ("POST", "/fapi/v1/order", 2),
        UnknownStatus(placed=False),
    )
    assert parse_fault("clock by=-3s at=2024-08-08T23:56:00Z")[2] == ClockJump(-3000)
    assert parse_fault("drop request=GET/fapi/v1/depth#2") == (
        None,
        ("GET", "/fapi/v1/depth", 2),
        DropConnections(),
    )
    assert parse_fault("skip-id symbol=btcusdt at=2024-08-08T23:56:00Z")[2] == SkipUpdateId(
        "BTCUSDT"
    )
    for bad, message in (
        ("wobble at=2024-08-08T23:56:00Z", "unknown fault"),
        ("drop", "exactly one of"),
        ("503 placed=maybe request=POST/fapi/v1/order", "expected yes or no"),
        ("429 at=2024-08-08T23:56:00Z", "use on_request"),
        ("drop at=2024-08-08T23:56:00", "time zone"),
        ("skip-id at=2024-08-08T23:56:00Z", "needs symbol"),
    ):
        with pytest.raises(ConfigError, match=message):
            when, request, fault = parse_fault(bad)
            if when is not None:  # a request fault given a time: refused where it is armed
                from adapters.binance.venue.faults import Faults

                Faults(None).at(when, fault)  # type: ignore[arg-type]
