"""Frames from the loopback venue, read back with the project's own Binance readers
(``depth_batch``, ``trade_batch``, ``mark_price_batch``), equal the source's batches."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import numpy as np
import orjson
import pytest
from test_venue_sync import SYMBOL, loopback_only, synth_data  # noqa: F401

import streamsim as ss
from adapters.binance import depth_batch, mark_price_batch, trade_batch
from adapters.binance.venue import LoopbackVenue
from streamsim.feed.batches import Batch

pytestmark = pytest.mark.usefixtures("loopback_only")


async def batches_of(source: ss.Source) -> list[Batch]:
    return [batch async for batch in source]


def joined(batches: list[Batch], name: str) -> np.ndarray:
    return np.concatenate([getattr(b, name) for b in batches])


async def collect(ws: aiohttp.ClientWebSocketResponse, out: list[dict[str, Any]]) -> None:
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT:
            out.append(orjson.loads(message.data))


async def replay_all(minutes: int) -> tuple[dict[str, list[dict[str, Any]]], ss.Instrument]:
    """Every frame of depth@0ms (combined), aggTrade and markPrice@1s (raw) of the replay."""
    sources, instrument = synth_data(minutes, ["depth", "trades", "mark_price"])
    public: list[dict[str, Any]] = []
    market: list[dict[str, Any]] = []
    depth = ["btcusdt@depth@0ms"]
    rows = ["btcusdt@aggTrade", "btcusdt@markPrice@1s"]
    async with (
        LoopbackVenue(sources, [instrument], speed=None, start_on="manual") as venue,
        aiohttp.ClientSession() as session,
        session.ws_connect(venue.ws_url("public", depth)) as a,
        session.ws_connect(venue.ws_url("market", rows, combined=False)) as b,
    ):
        tasks = [asyncio.create_task(collect(a, public)), asyncio.create_task(collect(b, market))]
        while len(venue.hub.connections) < 2:
            await asyncio.sleep(0.001)
        venue.start_replay()
        await venue.wait_done()
        await venue.close()
        await asyncio.gather(*tasks)
    frames = {
        "depth": [m["data"] for m in public],
        "trades": [m for m in market if m["e"] == "aggTrade"],
        "mark_price": [m for m in market if m["e"] == "markPriceUpdate"],
    }
    return frames, instrument


def test_frames_read_back_by_the_project_readers_equal_the_source_batches() -> None:
    frames, instrument = asyncio.run(replay_all(minutes=2))
    sources, _ = synth_data(2, ["depth", "trades", "mark_price"])
    source = {s.stream.kind: asyncio.run(batches_of(s)) for s in sources}

    def recv(messages: list[dict[str, Any]], key: str) -> np.ndarray:
        return np.array([m[key] for m in messages], dtype=np.int64) * ss.MS

    depth = depth_batch(SYMBOL, frames["depth"], recv(frames["depth"], "E"), instrument)
    expected = source["depth"]
    assert len(depth) == sum(len(b) for b in expected) > 1000
    for name in ("ts_exchange", "first", "final", "prev_final", "bid_counts"):
        assert np.array_equal(getattr(depth, name), joined(expected, name)), name
    for name in ("level_price", "level_qty"):
        assert np.array_equal(getattr(depth, name), joined(expected, name)), name
    sizes = np.concatenate([np.diff(b.level_offsets) for b in expected])
    assert np.array_equal(np.diff(depth.level_offsets), sizes)

    trades = trade_batch(SYMBOL, frames["trades"], recv(frames["trades"], "T"), instrument)
    expected = source["trades"]
    assert len(trades) == sum(len(b) for b in expected) > 1000
    for name in ("ts_exchange", "price", "qty", "side", "trade_id"):
        assert np.array_equal(getattr(trades, name), joined(expected, name)), name

    marks = mark_price_batch(SYMBOL, frames["mark_price"], recv(frames["mark_price"], "E"))
    expected = source["mark_price"]
    assert len(marks) == sum(len(b) for b in expected) > 100
    for name in ("ts_exchange", "mark", "index", "settle", "funding_rate", "next_funding_time"):
        assert np.array_equal(getattr(marks, name), joined(expected, name)), name
