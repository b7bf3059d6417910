"""Loopback venue throughput: the synthetic hour replayed at maximum speed to one client.

The four streams of ``cryptohftdata-synth`` (2,610,325 rows) are read from Parquet and
replayed by :class:`~adapters.binance.venue.LoopbackVenue` with ``speed=None`` (as fast as
the client reads). The client is a separate process (the machine's second core) written
with aiohttp alone: one ``/public`` connection (``btcusdt@depth@0ms``, ``btcusdt@bookTicker``)
whose diffs it applies to a dict book synced by the documented procedure, and one
``/market`` connection (``btcusdt@aggTrade``, ``btcusdt@markPrice@1s``). Timing runs from
building the sources to the client's last frame. The last line gives frames/s and the
end-to-end replay seconds.

    python benchmarks/bench_venue.py [--minutes N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson

import streamsim as ss
from adapters.binance.venue import LoopbackVenue
from adapters.cryptohftdata import CryptoHFTData, LocalStore

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
START = 1_751_371_200 * ss.SECOND  # 2025-07-01 12:00 UTC


async def client(rest_url: str, public_url: str, market_url: str) -> dict[str, Any]:
    """Sync a dict book from the diff stream; count every frame of both connections."""
    counts = {"depth": 0, "bookTicker": 0, "market": 0, "applied": 0, "resyncs": 0}
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    buffer: list[dict[str, Any]] = []
    state: dict[str, Any] = {"last": None}

    def apply(diff: dict[str, Any]) -> None:
        for side, levels in ((bids, diff["b"]), (asks, diff["a"])):
            for price, qty in levels:
                if qty == "0" or float(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(qty)
        state["last"] = diff["u"]
        counts["applied"] += 1

    async def snapshot(session: aiohttp.ClientSession) -> int:
        while True:
            async with session.get(f"{rest_url}/fapi/v1/depth?symbol=BTCUSDT&limit=1000") as r:
                if r.status == 200:
                    data = orjson.loads(await r.read())
                    bids.clear()
                    asks.clear()
                    bids.update((Decimal(p), Decimal(q)) for p, q in data["bids"])
                    asks.update((Decimal(p), Decimal(q)) for p, q in data["asks"])
                    return int(data["lastUpdateId"])
            await asyncio.sleep(0.01)

    async def public(session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(public_url, max_msg_size=0) as ws:
            sync = asyncio.create_task(snapshot(session))
            last_id: int | None = None
            async for message in ws:
                data = orjson.loads(message.data)["data"]
                if data["e"] == "bookTicker":
                    counts["bookTicker"] += 1
                    continue
                counts["depth"] += 1
                if state["last"] is None:
                    buffer.append(data)
                    if last_id is None and sync.done():
                        last_id = sync.result()
                    if last_id is not None:
                        kept = [d for d in buffer if d["u"] >= last_id]
                        buffer.clear()
                        if kept and kept[0]["U"] <= last_id:
                            for diff in kept:
                                apply(diff)
                        elif kept:  # snapshot too old: fetch again
                            buffer.extend(kept)
                            last_id = None
                            sync = asyncio.create_task(snapshot(session))
                elif data["pu"] == state["last"]:
                    apply(data)
                else:
                    counts["resyncs"] += 1
                    state["last"], last_id = None, None
                    buffer.append(data)
                    sync = asyncio.create_task(snapshot(session))

    async def market(session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(market_url, max_msg_size=0) as ws:
            async for message in ws:
                orjson.loads(message.data)
                counts["market"] += 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(public(session), market(session))
    counts["finished"] = time.time()
    return counts


def client_process(urls: tuple[str, str, str], out: Any) -> None:
    out.send(asyncio.run(client(*urls)))


async def main(minutes: int) -> None:
    started = time.time()
    data = CryptoHFTData(LocalStore(DATA))
    sources = data.sources(["BTCUSDT"], start=START, end=START + minutes * ss.MINUTE - 1)
    venue = LoopbackVenue(sources, [data.instrument("BTCUSDT")], speed=None, start_on="manual")
    async with venue:
        public = venue.ws_url("public", ["btcusdt@depth@0ms", "btcusdt@bookTicker"])
        market = venue.ws_url("market", ["btcusdt@aggTrade", "btcusdt@markPrice@1s"])
        receive, send = mp.Pipe(duplex=False)
        process = mp.get_context("spawn").Process(
            target=client_process, args=((venue.rest_url, public, market), send)
        )
        process.start()
        while len(venue.hub.connections) < 2:
            await asyncio.sleep(0.01)
        replay_start = time.time()
        venue.start_replay()
        await venue.wait_done()
        venue_done = time.time()
    counts = await asyncio.to_thread(receive.recv)
    process.join()
    frames = counts["depth"] + counts["bookTicker"] + counts["market"]
    seconds = counts["finished"] - started
    replay = counts["finished"] - replay_start
    print(
        f"rows {venue.replay.rows:,}  frames sent {venue.replay.frames:,}  received {frames:,} "
        f"(depth {counts['depth']:,}, bookTicker {counts['bookTicker']:,}, "
        f"market {counts['market']:,})  diffs applied {counts['applied']:,}  "
        f"resyncs {counts['resyncs']}  venue done after {venue_done - replay_start:.2f} s"
    )
    print(
        f"frames/s {frames / replay:,.0f}  replay {replay:.2f} s  "
        f"end-to-end (sources built, replayed, last frame read) {seconds:.2f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60, help="replay the first N minutes")
    asyncio.run(main(parser.parse_args().minutes))
