"""The feed: one aiohttp session, a routed connection per route, a source per stream."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from streamsim.errors import ConfigError
from streamsim.feed.sources import Source
from streamsim.instruments import Instrument

from .config import FeedConfig
from .connection import Backoff, RoutedConnection
from .markers import Item
from .open_interest import OpenInterestSource
from .sources import DepthSource, MarkPriceSource, TradeSource, _QueueSource

#: The payload event each source kind reads.
_EVENTS = {"depth": "depthUpdate", "trades": "aggTrade", "mark_price": "markPriceUpdate"}


class BinanceFeed:
    """Live market data of ``config.symbols`` as streamsim ``Source``s.

    The connections open when the first source is iterated (in the running event loop)
    and close with :meth:`close` (each source then ends). ``instruments`` gives each
    symbol's grid, for converting prices and sizes to ticks and lots.
    """

    def __init__(self, config: FeedConfig, instruments: Mapping[str, Instrument]) -> None:
        missing = [s for s in config.symbols if s not in instruments]
        if missing:
            raise ConfigError(f"no instrument for {', '.join(missing)}")
        self.config = config
        self.depth = {s: DepthSource(self, instruments[s]) for s in config.symbols}
        self.trades = {s: TradeSource(self, instruments[s]) for s in config.symbols}
        self.marks = {s: MarkPriceSource(self, instruments[s]) for s in config.symbols}
        self.open_interest = {s: OpenInterestSource(self, instruments[s]) for s in config.symbols}
        self._queues: dict[tuple[str, str], asyncio.Queue[Item]] = {}
        for kind, table in (("depth", self.depth), ("trades", self.trades)):
            for symbol, source in table.items():
                self._queues[_EVENTS[kind], symbol] = source.queue
        for symbol, mark in self.marks.items():
            self._queues[_EVENTS["mark_price"], symbol] = mark.queue
        self.connections: dict[str, RoutedConnection] = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = asyncio.Lock()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "the feed has not started"
        return self._session

    def sources(self) -> list[Source]:
        """Depth, then (as configured) trades, mark price and open interest."""
        out: list[Source] = list(self.depth.values())
        if self.config.trades:
            out.extend(self.trades.values())
        if self.config.mark_price:
            out.extend(self.marks.values())
        if self.config.open_interest_every is not None:
            out.extend(self.open_interest.values())
        return out

    def _route(self, data: Mapping[str, Any]) -> asyncio.Queue[Item] | None:
        return self._queues.get((data["e"], data.get("s", "")))

    async def start(self) -> None:
        """Open the session and the connections (once; later calls return at once)."""
        async with self._started:
            if self._session is not None:
                return
            self._session = aiohttp.ClientSession()
            config = self.config
            for route, kinds in (("public", ("depth",)), ("market", ("trades", "mark_price"))):
                streams = config.streams(route)
                if not streams:
                    continue
                tables: list[dict[str, _QueueSource]] = []
                for kind in kinds:
                    table: Any = {"depth": self.depth, "trades": self.trades}.get(kind, self.marks)
                    tables.append(table)
                queues = [source.queue for table in tables for source in table.values()]
                connection = RoutedConnection(
                    self._session,
                    f"{config.ws_url}{config.routes[route]}/ws",
                    streams,
                    self._route,
                    queues,
                    subscribe_rate=config.subscribe_rate,
                    streams_per_message=config.streams_per_message,
                    backoff=Backoff(config.backoff_initial, config.backoff_max, config.jitter),
                )
                self.connections[route] = connection
                self._tasks.append(asyncio.create_task(connection.run(), name=f"feed {route}"))

    async def close(self) -> None:
        """Close the connections and the session; every source ends."""
        for poller in self.open_interest.values():
            poller.close()
        for connection in self.connections.values():
            await connection.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> BinanceFeed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
