"""Trading against the loopback venue through its wire protocol, with a client written here
(aiohttp, hmac, dicts; not streamsim's code): signed orders, amend, partial fills, cancel,
the venue's rejects, fills on the user stream, and the signature and recvWindow checks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
from test_venue_sync import loopback_only  # noqa: F401 (the socket guard fixture)

import streamsim as ss
from adapters.binance import Capture, read_capture, sources_from_capture
from adapters.binance.venue import LoopbackVenue
from adapters.binance.wire import Credentials, Secret

pytestmark = pytest.mark.usefixtures("loopback_only")

CAPTURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance-usdm-capture"
KEY, SECRET = "testkey123", "testsecret456"


@cache
def capture() -> Capture:
    return read_capture([CAPTURE / "btcusdt_20240808.gz"])


class Client:
    """Just enough of a Binance USD-M REST client: sign, send, decode."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.offset_ms = 0

    async def sync_time(self) -> None:
        async with self.session.get(f"{self.base}/fapi/v1/time") as response:
            server = (await response.json())["serverTime"]
        self.offset_ms = server - int(time.time() * 1000)

    def signed_query(self, params: dict[str, Any], ahead_ms: int = 0, secret: str = SECRET) -> str:
        stamp = int(time.time() * 1000) + self.offset_ms + ahead_ms
        query = urlencode({**params, "timestamp": stamp})
        signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        return f"{query}&signature={signature}"

    async def call(
        self, method: str, path: str, params: dict[str, Any], **sign: Any
    ) -> tuple[int, Any]:
        url = f"{self.base}{path}?{self.signed_query(params, **sign)}"
        async with self.session.request(method, url, headers={"X-MBX-APIKEY": KEY}) as response:
            return response.status, orjson.loads(await response.read())

    async def listen_key(self) -> str:
        url = f"{self.base}/fapi/v1/listenKey"
        async with self.session.post(url, headers={"X-MBX-APIKEY": KEY}) as response:
            return str((await response.json())["listenKey"])


@asynccontextmanager
async def trading_venue() -> AsyncIterator[tuple[LoopbackVenue, Client, list[dict[str, Any]]]]:
    # the venue's BTCUSDT minimum notional (the capture has no exchangeInfo)
    instrument = replace(capture()["BTCUSDT"].instrument, min_notional=Decimal(100))
    exchange = ss.SimExchange([instrument], mark_fallback="mid", initial_balance=50_000.0)
    venue = LoopbackVenue(
        sources_from_capture(capture(), ("depth", "trades")),
        [instrument],
        speed=1.0,
        start_on="now",
        exchange=exchange,
        keys=[Credentials(KEY, Secret(SECRET))],
    )
    async with venue, aiohttp.ClientSession() as session:
        client = Client(session, venue.rest_url)
        await client.sync_time()
        key = await client.listen_key()
        events: list[dict[str, Any]] = []
        private = await session.ws_connect(
            f"ws://127.0.0.1:{venue.port}/private/ws?listenKey={key}"
        )

        async def read() -> None:
            async for message in private:
                events.append(orjson.loads(message.data))

        reader = asyncio.create_task(read())
        # wait until the replay has a two-sided book on the venue's side
        while exchange.books["BTCUSDT"].best_ask is None or not exchange.books["BTCUSDT"].valid:
            await asyncio.sleep(0.05)
        try:
            yield venue, client, events
        finally:
            reader.cancel()
            await private.close()


def top(venue: LoopbackVenue) -> tuple[Decimal, Decimal, Decimal]:
    """Best bid, best ask and the ask's size on the venue's matching book."""
    assert venue.desk is not None
    book = venue.desk.exchange.books["BTCUSDT"]
    inst = venue.desk.instruments["BTCUSDT"]
    assert book.best_bid is not None and book.best_ask is not None
    return (
        inst.ticks_to_decimal(book.best_bid),
        inst.ticks_to_decimal(book.best_ask),
        inst.lots_to_decimal(book.best_ask_qty),
    )


async def until(events: list[dict[str, Any]], test: Any, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in events:
            if test(event):
                return event
        await asyncio.sleep(0.02)
    raise AssertionError(f"no such event among {len(events)}")


def test_orders_fills_amends_cancels_and_rejects_through_the_wire() -> None:
    async def scenario() -> None:
        async with trading_venue() as (venue, client, events):
            bid, ask, _ = top(venue)
            order = "/fapi/v1/order"
            base = {"symbol": "BTCUSDT", "timeInForce": "GTC", "type": "LIMIT"}
            # The venue's rejects, with its codes, recorded nowhere.
            rejects = {
                -5022: {
                    **base,
                    "side": "BUY",
                    "timeInForce": "GTX",
                    "quantity": "0.002",
                    "price": str(ask),
                },
                -2019: {**base, "side": "BUY", "quantity": "500", "price": str(bid)},
                -4164: {**base, "side": "BUY", "quantity": "0.001", "price": "100"},
                -2022: {
                    "symbol": "BTCUSDT",
                    "side": "SELL",
                    "type": "MARKET",
                    "quantity": "0.001",
                    "reduceOnly": "true",
                },
            }
            for code, params in rejects.items():
                status, body = await client.call("POST", order, params)
                assert (status, body["code"]) == (400, code), body
            status, body = await client.call("GET", "/fapi/v1/openOrders", {})
            assert (status, body) == (200, [])

            # A market order fills and its fills come on the user stream.
            status, body = await client.call(
                "POST",
                order,
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "MARKET",
                    "quantity": "0.002",
                    "newClientOrderId": "mkt-1",
                },
            )
            assert status == 200 and body["clientOrderId"] == "mkt-1"
            fill = await until(
                events, lambda e: e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["X"] == "FILLED"
            )
            assert fill["o"]["c"] == "mkt-1" and Decimal(fill["o"]["z"]) == Decimal("0.002")
            await until(events, lambda e: e["e"] == "ACCOUNT_UPDATE")
            status, trades = await client.call("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
            assert sum(Decimal(t["qty"]) for t in trades) == Decimal("0.002")

            # A resting order: amended (same ids, one AMENDMENT), then cancelled.
            low = bid - 500
            status, placed = await client.call(
                "POST", order, {**base, "side": "BUY", "quantity": "0.002", "price": str(low)}
            )
            assert status == 200 and placed["status"] == "NEW"
            status, amended = await client.call(
                "PUT",
                order,
                {
                    "symbol": "BTCUSDT",
                    "orderId": placed["orderId"],
                    "side": "BUY",
                    "quantity": "0.003",
                    "price": str(low - 1),
                },
            )
            assert status == 200, amended
            assert (amended["orderId"], amended["origQty"]) == (placed["orderId"], "0.003")
            await until(events, lambda e: e.get("o", {}).get("x") == "AMENDMENT")
            status, cancelled = await client.call(
                "DELETE", order, {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
            )
            assert (status, cancelled["status"]) == (200, "CANCELED")
            status, again = await client.call(
                "DELETE", order, {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
            )
            assert (status, again["code"]) == (400, -2011)

            # A limit order larger than the best ask fills partly at once and rests.
            bid, ask, size = top(venue)
            status, partial = await client.call(
                "POST",
                order,
                {
                    **base,
                    "side": "BUY",
                    "quantity": str(size + Decimal("0.5")),
                    "price": str(ask),
                    "newOrderRespType": "RESULT",
                },
            )
            assert status == 200 and partial["status"] == "PARTIALLY_FILLED", partial
            # what the ask held then (the replay moves on meanwhile), and no more
            assert 0 < Decimal(partial["executedQty"]) < Decimal(partial["origQty"])

    asyncio.run(scenario())


def test_a_wrong_signature_a_stale_timestamp_and_one_ahead_are_refused() -> None:
    async def scenario() -> None:
        async with trading_venue() as (_, client, _events):
            path, params = "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}
            status, body = await client.call("GET", path, params, secret="not-the-secret")
            assert (status, body["code"]) == (400, -1022)
            status, body = await client.call("GET", path, params, ahead_ms=-6_000)  # > recvWindow
            assert (status, body["code"]) == (400, -1021)
            status, body = await client.call("GET", path, params, ahead_ms=1_500)
            assert (status, body["code"]) == (400, -1021)
            status, body = await client.call("GET", path, params)
            assert (status, body) == (200, [])

    asyncio.run(scenario())
