"""The loopback venue's connection rules: bind guard, routes, control messages, limits,
server pings and the hard disconnect (on tiny replay-time values)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest
from test_venue_sync import loopback_only, synth_data  # noqa: F401

import streamsim as ss
from adapters.binance.venue import LoopbackVenue, check_bind
from streamsim.errors import ConfigError

pytestmark = pytest.mark.usefixtures("loopback_only")


def venue(minutes: int = 1, kinds: tuple[str, ...] = ("depth",), **settings: Any) -> LoopbackVenue:
    sources, instrument = synth_data(minutes, kinds)
    return LoopbackVenue(sources, [instrument], **settings)


async def ask(ws: aiohttp.ClientWebSocketResponse, request: Any) -> Any:
    await ws.send_str(request if isinstance(request, str) else orjson.dumps(request).decode())
    while True:
        message = await ws.receive()
        answer = orjson.loads(message.data)
        if "e" not in answer and "stream" not in answer:
            return answer


def test_a_venue_refuses_a_non_loopback_bind_address_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="allow_remote=True"):
        venue(host="0.0.0.0")
    with pytest.raises(ConfigError, match="--allow-remote"):
        check_bind("192.168.1.10", allow_remote=False)
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind(host, allow_remote=False)
    check_bind("0.0.0.0", allow_remote=True)


def test_the_port_is_ephemeral_by_default_and_the_urls_carry_it() -> None:
    async def main() -> tuple[int, str, str]:
        async with venue(start_on="manual") as v:
            return v.port, v.rest_url, v.ws_url("market", ["btcusdt@aggTrade"], combined=False)

    port, rest, ws = asyncio.run(main())
    assert port > 0
    assert rest == f"http://127.0.0.1:{port}"
    assert ws == f"ws://127.0.0.1:{port}/market/ws/btcusdt@aggTrade"


def test_control_messages_are_answered_as_the_venue_answers_them() -> None:
    async def main() -> list[Any]:
        v = venue(start_on="manual", max_incoming_per_second=100)
        async with (
            v,
            aiohttp.ClientSession() as session,
            session.ws_connect(v.ws_url("public", combined=False)) as ws,
        ):
            return [
                await ask(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 1}),
                await ask(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 2}),
                await ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 3}),
                await ask(ws, {"method": "UNSUBSCRIBE", "params": ["btcusdt@depth"], "id": 4}),
                await ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 5}),
                await ask(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 6}),
                await ask(ws, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 7}),
                await ask(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 8}),
                await ask(ws, {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 9}),
                await ask(ws, {"method": "SET_PROPERTY", "params": ["colour", 1], "id": 10}),
                await ask(ws, {"method": "RESUBSCRIBE", "params": [], "id": 11}),
                await ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": -1}),
                await ask(ws, "{not json"),
            ]

    answers = asyncio.run(main())
    assert answers[:8] == [
        {"result": None, "id": 1},
        {"result": None, "id": 2},
        {"result": ["btcusdt@depth", "btcusdt@bookTicker"], "id": 3},
        {"result": None, "id": 4},
        {"result": ["btcusdt@bookTicker"], "id": 5},
        {"result": False, "id": 6},
        {"result": None, "id": 7},
        {"result": True, "id": 8},
    ]
    assert answers[8] == {"code": 1, "msg": "Invalid value type: expected Boolean", "id": 9}
    assert answers[9] == {"code": 0, "msg": "Unknown property", "id": 10}
    assert answers[10]["code"] == 2 and "unknown variant `RESUBSCRIBE`" in answers[10]["msg"]
    assert answers[11]["code"] == 2 and "unsigned integer" in answers[11]["msg"]
    assert answers[12]["code"] == 3


def test_a_stream_on_the_wrong_route_is_accepted_but_silent() -> None:
    async def count(ws: aiohttp.ClientWebSocketResponse) -> int:
        return sum([1 async for m in ws if m.type == aiohttp.WSMsgType.TEXT])

    async def main() -> tuple[Any, int, int]:
        async with venue(start_on="manual", speed=None) as v, aiohttp.ClientSession() as session:
            wrong = await session.ws_connect(v.ws_url("market", combined=False))
            answer = await ask(
                wrong, {"method": "SUBSCRIBE", "params": ["btcusdt@depth@0ms"], "id": 1}
            )
            right = await session.ws_connect(v.ws_url("public", ["btcusdt@depth@0ms"]))
            counts = [asyncio.create_task(count(wrong)), asyncio.create_task(count(right))]
            v.start_replay()
            await v.wait_done()
            await v.close()
            silent, heard = await asyncio.gather(*counts)
            return answer, silent, heard

    answer, silent, heard = asyncio.run(main())
    assert answer == {"result": None, "id": 1}
    assert silent == 0
    assert heard == 600  # one minute of 100 ms diffs


def test_more_than_ten_incoming_messages_a_second_disconnect_the_connection() -> None:
    async def main() -> tuple[int, int | None]:
        async with (
            venue(start_on="manual") as v,
            aiohttp.ClientSession() as session,
            session.ws_connect(v.ws_url("public", combined=False)) as ws,
        ):
            for i in range(11):
                await ws.send_str(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
            answers = 0
            async for message in ws:
                answers += message.type == aiohttp.WSMsgType.TEXT
            return answers, ws.close_code

    answers, code = asyncio.run(main())
    assert answers == 10
    assert code == 1008


def test_more_than_200_streams_on_one_connection_disconnect_it() -> None:
    names = [f"sym{i}usdt@aggTrade" for i in range(201)]

    async def main() -> int | None:
        async with (
            venue(start_on="manual") as v,
            aiohttp.ClientSession() as session,
            session.ws_connect(v.ws_url("market", names)) as ws,
        ):
            async for _ in ws:
                pass
            return ws.close_code

    assert asyncio.run(main()) == 1008


def test_the_server_pings_on_replay_time_and_disconnects_at_the_lifetime() -> None:
    async def main() -> tuple[int, int, int | None, int]:
        settings = {"ping_interval": 5 * ss.SECOND, "max_lifetime": 30 * ss.SECOND}
        async with (
            venue(minutes=1, speed=None, **settings) as v,
            aiohttp.ClientSession() as session,
        ):
            url = v.ws_url("public", ["btcusdt@depth@0ms"])
            async with session.ws_connect(url, autoping=False) as ws:
                pings = frames = 0
                last_time = 0
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.PING:
                        pings += 1
                        await ws.pong(message.data)
                    elif message.type == aiohttp.WSMsgType.TEXT:
                        frames += 1
                        last_time = orjson.loads(message.data)["data"]["E"]
                return pings, frames, ws.close_code, last_time

    pings, frames, code, last_time = asyncio.run(main())
    # Pings at 5, 10, 15, 20 and 25 s of replay time; the disconnect at 30 s.
    assert pings == 5
    assert code == 1000
    assert 290 <= frames <= 301
    assert last_time < 1_751_371_200_000 + 30_100  # nothing after the disconnect


def test_a_source_without_an_instrument_is_refused_when_the_venue_is_built() -> None:
    sources, _ = synth_data(1)
    other = ss.Instrument("ETHUSDT", "0.01", "0.001")
    with pytest.raises(ConfigError, match="no instrument for BTCUSDT"):
        LoopbackVenue(sources, [other])


def test_a_clock_given_to_the_venue_owns_replay_time() -> None:
    clock = ss.VirtualClock()

    async def main() -> tuple[int, int]:
        async with venue(minutes=1, clock=clock, start_on="now") as v:
            await v.wait_done()
            return v.now(), v.replay.rows

    now, rows = asyncio.run(main())
    assert rows == 600
    assert now == clock.now()
    assert 1_751_371_259_000 * ss.MS <= now < 1_751_371_260_000 * ss.MS
