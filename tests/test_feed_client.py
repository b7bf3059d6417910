"""The live feed client against the loopback venue replaying a real capture: its depth
source keeps a strategy-side book equal to the venue's bookTicker at every shared update
id, through a skipped update id (resynced without a reconnect) and a dropped connection
(reconnected and resynced). Every socket is loopback (``loopback_only``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from test_venue_sync import SYMBOL, capture, loopback_only, synth_data  # noqa: F401

import streamsim as ss
from adapters.binance import sources_from_capture
from adapters.binance.feed import Backoff, BinanceFeed, FeedConfig, RoutedConnection
from adapters.binance.messages import decode
from adapters.binance.venue import LoopbackVenue
from adapters.binance.venue.faults import DropConnections, SkipUpdateId
from streamsim.feed.batches import MarkPriceBatch, OpenInterestBatch
from streamsim.feed.feed_models import Constant
from streamsim.feed.plausibility import DEFAULT_LIMITS

pytestmark = pytest.mark.usefixtures("loopback_only")

Top = tuple[Decimal, Decimal, Decimal, Decimal]
SPEED = 50.0
#: A replay of 2024 received now: receive times are years from the venue times.
REPLAY_LIMITS = replace(DEFAULT_LIMITS, max_clock_offset=None)


@dataclass
class Seen:
    """The strategy side's book after each applied diff, the venue's bookTickers, and the
    book's validity changes."""

    tops: dict[int, Top] = field(default_factory=dict)
    tickers: dict[int, Top] = field(default_factory=dict)
    applied: int = 0
    invalid_spells: int = 0
    batches: int = 0
    fault_u: int = -1


async def consume(source: ss.Source, instrument: ss.Instrument, seen: Seen) -> None:
    """Apply the source's depth batches to an ``L2Book`` as a strategy's book would."""
    book = ss.L2Book(instrument.symbol, "futures")
    was_valid = True
    async for batch in source:
        seen.batches += 1
        for event in batch.events(batch.ts_exchange, batch.ts_exchange):
            applied = book.apply(event)
            if was_valid and not book.valid:
                seen.invalid_spells += 1
            was_valid = book.valid
            if applied and book.valid and not event.is_snapshot:
                seen.applied += 1
                assert book.best_bid is not None and book.best_ask is not None
                seen.tops[event.final] = (
                    instrument.ticks_to_decimal(book.best_bid),
                    instrument.lots_to_decimal(book.best_bid_qty),
                    instrument.ticks_to_decimal(book.best_ask),
                    instrument.lots_to_decimal(book.best_ask_qty),
                )


async def watch_tickers(url: str, seen: Seen, stop: asyncio.Event) -> None:
    """A plain client of the venue's bookTicker, reconnecting until ``stop``."""
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            async with session.ws_connect(url) as ws:
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    data = decode(message.data)["data"]
                    if data.get("e") == "bookTicker":
                        seen.tickers[data["u"]] = (
                            Decimal(data["b"]),
                            Decimal(data["B"]),
                            Decimal(data["a"]),
                            Decimal(data["A"]),
                        )
            await asyncio.sleep(0.05)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def run_feed(
    during: Callable[[LoopbackVenue, BinanceFeed, Seen], Any] | None = None, **settings: Any
) -> tuple[Seen, BinanceFeed]:
    """Replay the capture's depth through a venue at ``SPEED`` and consume the feed's
    depth source; ``during`` (a coroutine function) runs while it plays."""
    recorded = capture()
    instrument = recorded[SYMBOL].instrument
    sources = sources_from_capture(recorded, ("depth",))
    seen = Seen()
    stop = asyncio.Event()
    async with LoopbackVenue(sources, [instrument], speed=SPEED) as venue:
        options: dict[str, Any] = {
            "depth_speed": "0ms",
            "trades": False,
            "mark_price": False,
            "backoff_initial": 0.05,
            "limits": REPLAY_LIMITS,
        }
        options.update(settings)
        config = FeedConfig(
            (SYMBOL,), rest_url=venue.rest_url, ws_url=f"ws://127.0.0.1:{venue.port}", **options
        )
        feed = BinanceFeed(config, {SYMBOL: instrument})
        depth = feed.depth[SYMBOL]
        others = [asyncio.create_task(drain(s)) for s in feed.sources() if s is not depth]
        tickers = asyncio.create_task(
            watch_tickers(venue.ws_url("public", ["btcusdt@bookTicker"]), seen, stop)
        )
        consumer = asyncio.create_task(consume(depth, instrument, seen))
        if during is not None:
            await during(venue, feed, seen)
        else:
            await venue.wait_done()
        stop.set()
        await feed.close()
        await consumer
        await asyncio.gather(*others)
        await venue.close()
        tickers.cancel()
        await asyncio.gather(tickers, return_exceptions=True)
    return seen, feed


def assert_book_matches_tickers(seen: Seen, least: int, after: int = -1) -> None:
    """The book equals the venue's bookTicker at every shared update id (at least
    ``least`` of them above ``after``)."""
    shared = [u for u in seen.tickers if u in seen.tops and u > after]
    assert len(shared) >= least, f"only {len(shared)} bookTickers shared an applied u"
    assert [u for u in shared if seen.tops[u] != seen.tickers[u]] == []


def test_the_feed_keeps_a_book_equal_to_every_venue_book_ticker_over_a_real_capture() -> None:
    async def play(venue: LoopbackVenue, feed: BinanceFeed, seen: Seen) -> None:
        await until(lambda: seen.applied >= 3000)

    seen, feed = asyncio.run(run_feed(play))
    counts = feed.depth[SYMBOL].sync.counts
    assert counts.snapshots == 1 and counts.gaps == 0 and counts.disconnects == 0
    assert seen.invalid_spells == 0
    assert_book_matches_tickers(seen, 1000)


def test_a_skipped_update_id_is_resynced_from_a_snapshot_without_a_reconnect() -> None:
    async def play(venue: LoopbackVenue, feed: BinanceFeed, seen: Seen) -> None:
        await until(lambda: seen.applied >= 500)
        seen.fault_u = max(seen.tops)
        venue.faults.now(SkipUpdateId(SYMBOL))
        counts = feed.depth[SYMBOL].sync.counts
        await until(lambda: counts.resyncs >= 1)
        after = seen.applied
        await until(lambda: seen.applied >= after + 500)

    seen, feed = asyncio.run(run_feed(play))
    source = feed.depth[SYMBOL]
    counts = source.sync.counts
    assert counts.gaps == 1 and counts.resyncs == 1 and counts.disconnects == 0
    assert feed.connections["public"].connects == 1
    assert seen.invalid_spells == 1  # the strategy's book saw the gap, then the snapshot
    assert "1 gaps in the pu chain" in source.notes[0]
    assert_book_matches_tickers(seen, 500)
    assert_book_matches_tickers(seen, 300, after=seen.fault_u)


def test_a_dropped_connection_is_reconnected_and_the_book_resynced() -> None:
    async def play(venue: LoopbackVenue, feed: BinanceFeed, seen: Seen) -> None:
        await until(lambda: seen.applied >= 500)
        seen.fault_u = max(seen.tops)
        venue.faults.now(DropConnections("public"))
        counts = feed.depth[SYMBOL].sync.counts
        await until(lambda: counts.resyncs >= 1)
        after = seen.applied
        await until(lambda: seen.applied >= after + 500)

    seen, feed = asyncio.run(run_feed(play))
    counts = feed.depth[SYMBOL].sync.counts
    assert counts.disconnects == 1 and counts.resyncs == 1 and counts.gaps == 0
    assert feed.connections["public"].connects == 2
    assert seen.invalid_spells == 0  # the next snapshot simply resyncs the book
    assert_book_matches_tickers(seen, 300, after=seen.fault_u)


class BookWatcher(ss.Strategy):
    """Keeps the top of its book after each depth message it is given, and counts trades."""

    def __init__(self, instrument: ss.Instrument, seen: Seen) -> None:
        self.instrument = instrument
        self.seen = seen
        self.trades = 0

    async def on_depth(self, update: Any, book: Any) -> None:
        if not book.valid or update.is_snapshot:
            return
        # Callbacks run after arrival: the book may be past ``update`` by now, so the top
        # is keyed by the update id the book is at.
        i = self.instrument
        self.seen.applied += 1
        self.seen.tops[book.last_update_id] = (
            i.ticks_to_decimal(book.best_bid),
            i.lots_to_decimal(book.best_bid_qty),
            i.ticks_to_decimal(book.best_ask),
            i.lots_to_decimal(book.best_ask_qty),
        )

    async def on_trade(self, trade: Any) -> None:
        self.trades += 1


def test_the_feed_sources_run_under_paper_live_and_the_strategy_book_matches_the_venue() -> None:
    recorded = capture()
    instrument = recorded[SYMBOL].instrument

    async def main() -> tuple[Seen, BookWatcher, BinanceFeed, ss.RunResult]:
        seen = Seen()
        stop = asyncio.Event()
        sources = sources_from_capture(recorded, ("depth", "trades"))
        async with LoopbackVenue(sources, [instrument], speed=SPEED) as venue:
            config = FeedConfig(
                (SYMBOL,),
                rest_url=venue.rest_url,
                ws_url=f"ws://127.0.0.1:{venue.port}",
                depth_speed="0ms",
                mark_price=False,
                limits=REPLAY_LIMITS,
            )
            feed = BinanceFeed(config, {SYMBOL: instrument})
            tickers = asyncio.create_task(
                watch_tickers(venue.ws_url("public", ["btcusdt@bookTicker"]), seen, stop)
            )
            watcher = BookWatcher(instrument, seen)
            run = asyncio.create_task(
                ss.paper_live(
                    feed.sources(),
                    watcher,
                    # The replayed day's receive times are now, years after its venue
                    # times: arrival is modelled from the venue time instead.
                    feed=Constant(0),
                    speed=SPEED,
                    linger=0,
                    callback_timeout=None,
                )
            )
            await until(lambda: seen.applied >= 2000 and watcher.trades >= 100)
            stop.set()
            await feed.close()
            result = await run
            await venue.close()
            tickers.cancel()
            await asyncio.gather(tickers, return_exceptions=True)
        return seen, watcher, feed, result

    seen, watcher, feed, result = asyncio.run(main())
    assert watcher.trades >= 100
    assert result.events["BTCUSDT.depth"] >= 2000
    assert result.events["BTCUSDT.trades"] >= 100
    assert feed.depth[SYMBOL].sync.counts.snapshots == 1
    assert_book_matches_tickers(seen, 500)


def test_a_silent_stream_is_counted_as_stale_once_per_silence() -> None:
    # The capture has no mark prices: the venue accepts the subscription and stays silent.
    async def play(venue: LoopbackVenue, feed: BinanceFeed, seen: Seen) -> None:
        await until(lambda: feed.marks[SYMBOL].stale_periods >= 1 and seen.applied >= 300)
        await asyncio.sleep(0.3)  # a longer silence is still one period

    seen, feed = asyncio.run(run_feed(play, mark_price=True, stale_after=0.1))
    marks = feed.marks[SYMBOL]
    assert marks.frames == 0 and marks.stale_periods == 1
    assert "silent for more than 0.1 s 1 times" in marks.notes[0]
    assert seen.applied >= 300  # the depth stream kept coming meanwhile


async def drain(source: ss.Source) -> None:
    async for _ in source:
        pass


def test_open_interest_is_polled_by_rest_and_mark_prices_stream_with_real_receive_times() -> None:
    sources, instrument = synth_data(minutes=12, kinds=("depth", "open_interest", "mark_price"))
    rows: list[tuple[int, int, float]] = []
    marks: list[float] = []

    async def collect_marks(source: ss.Source) -> None:
        async for batch in source:
            assert isinstance(batch, MarkPriceBatch) and batch.ts_recv is not None
            marks.extend(batch.mark.tolist())

    async def collect(source: ss.Source) -> None:
        async for batch in source:
            assert isinstance(batch, OpenInterestBatch) and batch.ts_recv is not None
            rows.append((int(batch.ts_exchange[0]), int(batch.ts_recv[0]), float(batch.value[0])))

    async def main() -> BinanceFeed:
        async with LoopbackVenue(sources, [instrument], speed=100.0) as venue:
            config = FeedConfig(
                (SYMBOL,),
                rest_url=venue.rest_url,
                ws_url=f"ws://127.0.0.1:{venue.port}",
                trades=False,
                open_interest_every=0.05,
                limits=REPLAY_LIMITS,
            )
            feed = BinanceFeed(config, {SYMBOL: instrument})
            tasks = [asyncio.create_task(drain(feed.depth[SYMBOL]))]
            tasks.append(asyncio.create_task(collect(feed.open_interest[SYMBOL])))
            tasks.append(asyncio.create_task(collect_marks(feed.marks[SYMBOL])))
            started = time.time_ns()
            await until(lambda: len(rows) >= 2 and len(marks) >= 10, timeout=12.0)
            await feed.close()
            await asyncio.gather(*tasks)
            await venue.close()
        assert all(recv >= started for _, recv, _ in rows)
        return feed

    feed = asyncio.run(main())
    poller = feed.open_interest[SYMBOL]
    assert poller.rows == len(rows) >= 2 and poller.polls > poller.rows
    times = [t for t, _, _ in rows]
    assert times == sorted(set(times))  # one row per new venue time
    assert all(value > 0 for _, _, value in rows)
    assert all(mark > 0 for mark in marks)


def test_subscriptions_are_paced_within_the_venue_message_limit() -> None:
    # Twelve SUBSCRIBE messages of one stream each: unpaced, the venue would close the
    # connection (more than 10 incoming messages in a second).
    recorded = capture()
    instrument = recorded[SYMBOL].instrument
    sources = sources_from_capture(recorded, ("depth",))
    names = [f"sym{i}usdt@aggTrade" for i in range(12)]

    async def main() -> RoutedConnection:
        async with LoopbackVenue(sources, [instrument], speed=SPEED) as venue:
            queue: asyncio.Queue[Any] = asyncio.Queue()
            async with aiohttp.ClientSession() as session:
                connection = RoutedConnection(
                    session,
                    venue.ws_url("market", combined=False),
                    names,
                    lambda data: None,
                    [queue],
                    subscribe_rate=5.0,
                    streams_per_message=1,
                    backoff=Backoff(0.05, 0.1, 0.5),
                )
                run = asyncio.create_task(connection.run())
                await until(lambda: connection.subscribed == len(names))
                await asyncio.sleep(0.3)  # time for the venue to close it, were it to
                await connection.close()
                await run
            await venue.close()
        return connection

    connection = asyncio.run(main())
    assert connection.connects == 1 and connection.disconnects == 0
