"""The loopback venue's REST market endpoints: answers from the replayed state, the
venue's weights and errors, 429 past the weight limit, and depth only once the book is
whole."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from test_venue_sync import SYMBOL, loopback_only, synth_data  # noqa: F401

import streamsim as ss
from adapters.binance.venue import LoopbackVenue
from adapters.binance.wire.filters import parse_exchange_info

pytestmark = pytest.mark.usefixtures("loopback_only")

Answer = tuple[int, dict[str, str], Any]


async def get(session: aiohttp.ClientSession, url: str) -> Answer:
    async with session.get(url) as response:
        body = await response.read()
        json = response.content_type == "application/json"
        return response.status, dict(response.headers), orjson.loads(body) if json else body


def replayed(
    minutes: int, kinds: tuple[str, ...], paths: list[str], **settings: Any
) -> list[Answer]:
    """GET ``paths`` once the whole replay is done."""

    async def main() -> list[Answer]:
        sources, instrument = synth_data(minutes, kinds)
        venue = LoopbackVenue(sources, [instrument], speed=None, start_on="now", **settings)
        async with venue, aiohttp.ClientSession() as session:
            await venue.wait_done()
            return [await get(session, venue.rest_url + path) for path in paths]

    return asyncio.run(main())


def test_ping_time_and_exchange_info_describe_the_replay_and_its_instrument() -> None:
    (ping, time, info) = replayed(
        1, ("depth",), ["/fapi/v1/ping", "/fapi/v1/time", "/fapi/v1/exchangeInfo"]
    )
    assert ping[0] == 200 and ping[2] == {}
    # Server time is replay time: the last event of the first minute.
    assert 1_751_371_259_000 <= time[2]["serverTime"] < 1_751_371_260_000
    _, instrument = synth_data(1)
    assert parse_exchange_info(info[2]) == {SYMBOL: instrument}
    limits = info[2]["rateLimits"]
    assert {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 2400,
    } in limits
    assert info[2]["symbols"][0]["contractType"] == "PERPETUAL"


def test_every_response_carries_the_used_weight_and_depth_weighs_by_its_limit() -> None:
    paths = [
        "/fapi/v1/ping",
        "/fapi/v1/depth?symbol=BTCUSDT&limit=5",
        "/fapi/v1/depth?symbol=BTCUSDT&limit=100",
        "/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
        "/fapi/v1/depth?symbol=BTCUSDT",
        "/fapi/v1/premiumIndex",
        "/fapi/v1/noSuchEndpoint",
    ]
    answers = replayed(1, ("depth",), paths)
    used = [int(headers["X-MBX-USED-WEIGHT-1M"]) for _, headers, _ in answers]
    # 1, then +2, +5, +20, +10 (limit 500 by default), +10 (premiumIndex of every symbol),
    # and an unknown path weighs nothing but still reports the weight.
    steps = [b - a for a, b in itertools.pairwise(used)]
    assert steps == [2, 5, 20, 10, 10, 0]
    assert answers[-1][0] == 404
    depth = answers[1][2]
    assert len(depth["bids"]) == len(depth["asks"]) == 5
    assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
    deeper = answers[3][2]
    assert 5 < len(deeper["bids"]) <= 1000
    assert deeper["bids"][:5] == depth["bids"] and deeper["asks"][:5] == depth["asks"]


def test_depth_refuses_bad_parameters_with_the_venue_codes() -> None:
    paths = [
        "/fapi/v1/depth?limit=5",
        "/fapi/v1/depth?symbol=ETHUSDT",
        "/fapi/v1/depth?symbol=BTCUSDT&limit=7",
    ]
    answers = replayed(1, ("depth",), paths)
    assert [(status, body["code"]) for status, _, body in answers] == [
        (400, -1102),
        (400, -1121),
        (400, -1130),
    ]


def test_past_the_weight_limit_the_venue_answers_429_with_retry_after() -> None:
    paths = ["/fapi/v1/depth?symbol=BTCUSDT&limit=1000"] * 3
    answers = replayed(1, ("depth",), paths, weight_limit=50)
    assert [a[0] for a in answers] == [200, 200, 429]
    _status, headers, body = answers[2]
    assert body["code"] == -1003
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert headers["X-MBX-USED-WEIGHT-1M"] == "60"


def test_depth_waits_for_the_warm_up_of_a_book_without_a_snapshot() -> None:
    async def main() -> tuple[Answer, Answer, Answer]:
        sources, instrument = synth_data(1)
        venue = LoopbackVenue(
            sources, [instrument], speed=None, start_on="manual", warmup=20 * ss.SECOND
        )
        async with venue, aiohttp.ClientSession() as session:
            url = venue.rest_url + "/fapi/v1/depth?symbol=BTCUSDT&limit=5"
            before = await get(session, url)
            # Replay 10 s (100 diffs) by hand: still inside the 20 s warm-up.
            await venue.replay.run(venue.now() + 10 * ss.SECOND)
            warming = await get(session, url)
            await venue.replay.run(venue.now() + 15 * ss.SECOND)
            ready = await get(session, url)
            return before, warming, ready

    before, warming, ready = asyncio.run(main())
    assert before[0] == 503 and before[2]["code"] == -1008
    assert warming[0] == 503 and "warming up" in warming[2]["msg"]
    assert warming[1]["Retry-After"] == "1"
    assert ready[0] == 200 and ready[2]["lastUpdateId"] > 0


def test_premium_index_and_open_interest_come_from_the_last_replayed_rows() -> None:
    paths = ["/fapi/v1/premiumIndex?symbol=BTCUSDT", "/fapi/v1/openInterest?symbol=BTCUSDT"]
    premium, interest = replayed(10, ("mark_price", "open_interest"), paths)
    sources, _ = synth_data(10, ("mark_price", "open_interest"))

    async def last_rows() -> dict[str, Any]:
        return {s.stream.kind: [b async for b in s][-1] for s in sources}

    rows = asyncio.run(last_rows())
    mark = rows["mark_price"]
    assert float(premium[2]["markPrice"]) == mark.mark[-1]
    assert float(premium[2]["lastFundingRate"]) == mark.funding_rate[-1]
    assert premium[2]["nextFundingTime"] == mark.next_funding_time[-1] // ss.MS
    oi = rows["open_interest"]
    assert float(interest[2]["openInterest"]) == oi.value[-1]
    assert interest[2]["time"] == oi.ts_exchange[-1] // ss.MS
