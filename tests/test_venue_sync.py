"""A plain aiohttp client syncs a local book from the loopback venue by Binance's documented
procedure, and its book agrees with every bookTicker: the venue's own frames and, for a
real capture, the bookTickers the venue itself recorded that day.

The client is written here with aiohttp and dicts, not with streamsim: open the diff
stream and buffer it; GET ``/fapi/v1/depth?limit=1000``; drop buffered diffs with
``u < lastUpdateId``; the first applied one must straddle ``lastUpdateId``; each later
diff's ``pu`` must equal the previous ``u``. Every socket a test opens must be loopback
(:func:`loopback_only`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

import streamsim as ss
from adapters.binance import Capture, read_capture, sources_from_capture
from adapters.binance.venue import LoopbackVenue
from adapters.cryptohftdata import CryptoHFTData, LocalStore
from streamsim.feed.sources import MemorySource

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CAPTURE = DATA / "binance-usdm-capture" / "btcusdt_20240808.gz"
SYNTH = DATA / "cryptohftdata-synth"
SYNTH_START = 1_751_371_200 * ss.SECOND  # 2025-07-01 12:00 UTC
SYMBOL = "BTCUSDT"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse any connect to an address that is not loopback."""
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in LOOPBACK and not host.startswith("127."):
            raise PermissionError(f"test tried to connect to {address!r}: loopback only")

    def guarded(self: socket.socket, address: Any) -> None:
        check(address)
        return connect(self, address)

    def guarded_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_ex)
    yield


pytestmark = pytest.mark.usefixtures("loopback_only")


@dataclass
class SyncedBook:
    """What the client saw: its book's top after each applied diff, and every bookTicker."""

    tops: dict[int, tuple[Decimal, Decimal, Decimal, Decimal]] = field(default_factory=dict)
    tickers: list[tuple[int, Decimal, Decimal, Decimal, Decimal]] = field(default_factory=list)
    resyncs: int = 0
    snapshots: int = 0
    applied: int = 0


class MinimalClient:
    """Binance's local order book procedure over two dicts."""

    def __init__(self, rest_url: str, symbol: str) -> None:
        self.rest_url = rest_url
        self.symbol = symbol
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.last_u: int | None = None
        self.result = SyncedBook()

    async def snapshot(self, session: aiohttp.ClientSession) -> int:
        """Fetch the REST snapshot (retrying while the venue warms up): lastUpdateId."""
        url = f"{self.rest_url}/fapi/v1/depth?symbol={self.symbol}&limit=1000"
        while True:
            async with session.get(url) as response:
                body = await response.read()
                if response.status == 503:
                    await asyncio.sleep(0.01)
                    continue
                assert response.status == 200, body
            data = orjson.loads(body)
            self.bids = {Decimal(p): Decimal(q) for p, q in data["bids"]}
            self.asks = {Decimal(p): Decimal(q) for p, q in data["asks"]}
            self.result.snapshots += 1
            return int(data["lastUpdateId"])

    def apply(self, diff: dict[str, Any]) -> None:
        for side, levels in ((self.bids, diff["b"]), (self.asks, diff["a"])):
            for price, qty in levels:
                p, q = Decimal(price), Decimal(qty)
                if q:
                    side[p] = q
                else:
                    side.pop(p, None)
        self.last_u = diff["u"]
        self.result.applied += 1
        if self.bids and self.asks:
            bid, ask = max(self.bids), min(self.asks)
            self.result.tops[diff["u"]] = (bid, self.bids[bid], ask, self.asks[ask])

    async def run(self, session: aiohttp.ClientSession, url: str) -> SyncedBook:
        """Read the stream at ``url`` until the venue closes it, keeping the book synced."""
        async with session.ws_connect(url, max_msg_size=0) as ws:
            buffer: list[dict[str, Any]] = []
            reader = asyncio.create_task(self._read(ws, buffer))
            while not buffer and not reader.done():
                await asyncio.sleep(0.005)
            synced = False
            last_update_id: int | None = None
            while not reader.done() or buffer:
                if not synced:
                    if last_update_id is None:
                        last_update_id = await self.snapshot(session)
                    state = self._start(buffer, last_update_id)
                    if state is None:  # no diff reaches the snapshot yet: wait for one
                        if reader.done():
                            break
                        await asyncio.sleep(0.001)
                        continue
                    synced = state
                    last_update_id = None
                    continue
                pending, buffer[:] = list(buffer), []
                for i, diff in enumerate(pending):
                    if diff["pu"] != self.last_u:
                        self.result.resyncs += 1
                        synced = False
                        buffer[:0] = pending[i:]
                        break
                    self.apply(diff)
                if synced and not reader.done():
                    await asyncio.sleep(0.001)
            await reader
        return self.result

    def _start(self, buffer: list[dict[str, Any]], last_update_id: int) -> bool | None:
        """Apply the first diff after a snapshot: drop ``u < lastUpdateId``; the first kept
        one must straddle it (False: the snapshot is too old, fetch again; None: no diff
        has reached it yet, wait)."""
        buffer[:] = [d for d in buffer if d["u"] >= last_update_id]
        if not buffer:
            return None
        first = buffer.pop(0)
        if not first["U"] <= last_update_id <= first["u"]:
            return False
        self.last_u = None
        self.apply(first)
        return True

    async def _read(
        self, ws: aiohttp.ClientWebSocketResponse, buffer: list[dict[str, Any]]
    ) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            envelope = orjson.loads(message.data)
            data = envelope["data"]
            if data["e"] == "depthUpdate":
                buffer.append(data)
            elif data["e"] == "bookTicker":
                self.result.tickers.append(
                    (
                        data["u"],
                        Decimal(data["b"]),
                        Decimal(data["B"]),
                        Decimal(data["a"]),
                        Decimal(data["A"]),
                    )
                )


async def sync_against_venue(
    sources: Sequence[ss.Source], instrument: ss.Instrument, depth_stream: str, **settings: Any
) -> SyncedBook:
    """Replay ``sources`` through a venue and run the minimal client to the end of the data."""
    async with LoopbackVenue(sources, [instrument], **settings) as venue:
        client = MinimalClient(venue.rest_url, SYMBOL)
        names = [f"btcusdt@{depth_stream}", "btcusdt@bookTicker"]
        async with aiohttp.ClientSession() as session:
            run = asyncio.create_task(client.run(session, venue.ws_url("public", names)))
            await venue.wait_done()
            await venue.close()
            return await run


def assert_every_ticker_matches(result: SyncedBook, least: int) -> None:
    compared = [t for t in result.tickers if t[0] in result.tops]
    mismatched = [t for t in compared if result.tops[t[0]] != t[1:]]
    assert len(compared) >= least, f"only {len(compared)} bookTickers shared an applied u"
    assert mismatched == [], f"{len(mismatched)} of {len(compared)} differ, first {mismatched[0]}"


@cache
def capture() -> Capture:
    return read_capture(CAPTURE)


def synth_data(
    minutes: int, kinds: Sequence[str] = ("depth",)
) -> tuple[list[ss.Source], ss.Instrument]:
    """The first ``minutes`` of the synthetic hour's streams ``kinds``, and its instrument."""
    data = CryptoHFTData(LocalStore(SYNTH))
    end = SYNTH_START + minutes * ss.MINUTE - 1
    return data.sources([SYMBOL], list(kinds), SYNTH_START, end), data.instrument(SYMBOL)


def test_a_client_synced_from_a_real_capture_matches_every_book_ticker_the_venue_recorded() -> None:
    recorded = capture()
    data = recorded[SYMBOL]
    sources = sources_from_capture(recorded, ("depth",))
    # Paced (345 s of data in about 3.5 s) so that the client syncs near the start; at full
    # speed the venue is well ahead by the time the snapshot arrives.
    result = asyncio.run(sync_against_venue(sources, data.instrument, "depth@0ms", speed=100.0))
    assert result.resyncs == 0
    # The capture's own bookTickers (recorded live from the venue) at the same update ids.
    instrument = data.instrument
    tickers = data.book_tickers
    recorded_tops = {
        u: (
            instrument.ticks_to_decimal(b),
            instrument.lots_to_decimal(bq),
            instrument.ticks_to_decimal(a),
            instrument.lots_to_decimal(aq),
        )
        for u, b, bq, a, aq in zip(
            tickers.update_id.tolist(),
            tickers.bid_price.tolist(),
            tickers.bid_qty.tolist(),
            tickers.ask_price.tolist(),
            tickers.ask_qty.tolist(),
            strict=True,
        )
    }
    shared = [u for u in recorded_tops if u in result.tops]
    assert len(shared) >= 500
    assert [u for u in shared if result.tops[u] != recorded_tops[u]] == []
    # And the venue's own bookTicker frames, built from its replayed book.
    assert_every_ticker_matches(result, 1000)


def test_a_client_synced_from_synthetic_data_without_a_snapshot_matches_every_book_ticker() -> None:
    sources, instrument = synth_data(minutes=3)
    result = asyncio.run(sync_against_venue(sources, instrument, "depth@100ms", speed=None))
    assert result.resyncs == 0
    assert_every_ticker_matches(result, 1000)


def test_a_client_synced_from_the_500ms_stream_keeps_the_pu_chain_and_the_book() -> None:
    sources, instrument = synth_data(minutes=2)
    result = asyncio.run(sync_against_venue(sources, instrument, "depth@500ms", speed=None))
    assert result.resyncs == 0
    # Half a second of 100 ms diffs merge into one: about a fifth as many diffs applied.
    assert 150 <= result.applied <= 260
    assert_every_ticker_matches(result, 100)


def test_a_paced_replay_syncs_the_same_way() -> None:
    sources, instrument = synth_data(minutes=1)
    result = asyncio.run(sync_against_venue(sources, instrument, "depth@100ms", speed=120.0))
    assert result.resyncs == 0
    assert_every_ticker_matches(result, 100)


def test_a_client_syncs_from_data_without_update_ids_by_the_venue_assigned_ids() -> None:
    # The synthetic diffs with their ids removed, as Tardis data comes.
    sources, instrument = synth_data(minutes=2)

    async def without_ids() -> list[ss.Source]:
        batches = [batch async for batch in sources[0]]
        none = [replace(b, first=-1 + 0 * b.first, final=-1 + 0 * b.final) for b in batches]
        return [MemorySource([replace(b, prev_final=b.final) for b in none])]

    stripped = asyncio.run(without_ids())
    result = asyncio.run(sync_against_venue(stripped, instrument, "depth@100ms", speed=None))
    assert result.resyncs == 0
    assert_every_ticker_matches(result, 500)
