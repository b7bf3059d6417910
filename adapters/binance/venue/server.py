"""The loopback Binance USD-M venue: an aiohttp server replaying recorded market data.

::

    async with LoopbackVenue(sources, instruments, speed=None) as venue:
        url = venue.ws_url("public", ["btcusdt@depth@100ms"])   # and venue.rest_url

It listens on 127.0.0.1 (an ephemeral port unless given) and refuses other addresses
unless ``allow_remote``. The replay starts when a client first subscribes (or at once with
``start_on="now"``) and runs to the end of the data; :meth:`LoopbackVenue.wait_done`
waits for that. See ``docs/venue.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from streamsim.errors import ConfigError
from streamsim.feed.sources import Source
from streamsim.instruments import Instrument
from streamsim.run.clock import PacedClock, VirtualClock
from streamsim.run.halt import Halt
from streamsim.sim.latency import ConstantLatency, OrderLatency
from streamsim.sim.matching import SimExchange
from streamsim.units import MS

from ..wire import Credentials
from .config import VenueConfig
from .connections import Hub
from .desk import Desk
from .faults import Faults, unknown_status
from .listen_keys import ListenKeys
from .lockstep import LockstepClock, Progress
from .market import SymbolMarket
from .replay import Replay
from .rest import MarketApi
from .streams import PUBLIC, ROUTES
from .trading_api import Lockstep, TradingApi
from .weights import Endpoint, Handler, WeightCounter, weight_middleware

log = logging.getLogger(__name__)


class LoopbackVenue:
    """Binance USD-M market streams and REST market endpoints over replayed ``sources``.

    ``instruments``: one per symbol of the sources (a mapping by symbol or an iterable).
    ``speed``: wall clock x speed, or ``None`` for as fast as the clients read. Other
    settings (paths, limits, host, port) come from ``config`` or keyword overrides of
    :class:`VenueConfig`'s fields. ``clock`` replaces the clock ``speed`` would choose
    (a ``VirtualClock`` or a subclass: it owns replay time and runs the venue's timers).
    With an ``exchange`` (a ``SimExchange`` over the same instruments) the venue also
    trades: signed order endpoints for the API ``keys``
    (:class:`~adapters.binance.wire.Credentials`) and the user data stream. With
    ``config.lockstep`` the venue is the time authority (:mod:`.lockstep`): it replays as
    its lockstep clients allow and matches each order at its send time plus the entry
    ``latency`` (default: ``config.min_entry_latency``, constant) in replay time.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        instruments: Mapping[str, Instrument] | Iterable[Instrument],
        *,
        config: VenueConfig | None = None,
        clock: VirtualClock | None = None,
        exchange: SimExchange | None = None,
        keys: Mapping[str, Credentials] | Iterable[Credentials] = (),
        latency: OrderLatency | None = None,
        **settings: Any,
    ) -> None:
        self.config = replace(config or VenueConfig(), **settings)
        if isinstance(instruments, Mapping):
            instruments = instruments.values()
        self.markets = {i.symbol: SymbolMarket(i) for i in instruments}
        speed = self.config.speed
        assert not isinstance(speed, str)  # VenueConfig parses "max"
        #: The lockstep clients' progress (None unless ``config.lockstep``).
        self.progress: Progress | None = None
        if self.config.lockstep:
            self.progress = Progress(self.config.min_entry_latency, self.config.lockstep_grace)
            clock = LockstepClock(self.progress)
        elif clock is None:
            clock = VirtualClock() if speed is None else PacedClock(speed)
        #: The one owner of replay time.
        self.clock = clock
        self.halt = Halt()
        self.hub = Hub(self.config, self.clock)
        if isinstance(clock, LockstepClock):
            self.hub.progress = self.progress
            clock.blocked = self.hub.idle
        if self.config.start_on == "subscribe":
            self.hub.on_subscribe = self.start_replay
        self.replay = Replay(sources, self.markets, self.clock, self.hub, self.halt)
        #: Added to the replay time to give the venue's clock (``GET /time``, the
        #: timestamp checks); a clock-jump fault moves it.
        self.clock_offset_ms = 0
        self._api = MarketApi(self.markets, self.now, self.config, self.server_time_ms)
        #: The trading side (None: market data only): orders matched by ``exchange``.
        self.desk: Desk | None = None
        self.trading: TradingApi | None = None
        self.listen_keys = ListenKeys(self.clock, self.config.listen_key_validity)
        self.listen_keys.stamp = self.progress is not None
        if exchange is not None:
            if not isinstance(keys, Mapping):
                keys = {k.api_key: k for k in keys}
            if not keys:
                raise ConfigError("a venue that trades needs at least one API key (keys=...)")
            self.desk = Desk(exchange, {s: m.instrument for s, m in self.markets.items()}, self.now)
            self.desk.listeners.append(self.listen_keys.deliver)
            self.replay.exchange = self.desk.on_event
            self.trading = TradingApi(
                self.desk,
                keys,
                self.listen_keys,
                self.server_time_ms,
                self.config.rest_prefix,
                self.config.account_prefixes,
            )
            if self.progress is not None:
                entry = latency or ConstantLatency(self.config.min_entry_latency)
                if (
                    isinstance(entry, ConstantLatency)
                    and entry.entry(0) < self.config.min_entry_latency
                ):
                    raise ConfigError(
                        f"lockstep: the entry latency ({entry.entry(0)} ns) is below "
                        f"min_entry_latency ({self.config.min_entry_latency} ns)"
                    )
                self.trading.lockstep = Lockstep(
                    self.progress, self.clock, entry, lambda: self.done
                )
        #: Faults armed on this venue (:mod:`.faults`).
        self.faults = Faults(self)
        self._runner: web.AppRunner | None = None
        self._go = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Read the first batches, bind the server and start the replay task."""
        first = await self.replay.prime()
        if first is not None:  # in lockstep even the first event waits for the clients
            self.clock.advance(first - 1 if self.progress is not None else first)
        app = web.Application(middlewares=[self._fault_middleware(), self._middleware()])
        for endpoint in self._endpoints():
            app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)
        if self.trading is not None:
            private = self.config.private_route
            app.router.add_get(f"{private}/ws", self.listen_keys.serve)
            app.router.add_get(f"{private}/ws/{{key}}", self.listen_keys.serve)
        for route in ROUTES:
            prefix = self.config.ws_routes[route]
            self._add_ws_routes(app, prefix, route)
        self._add_ws_routes(app, "", PUBLIC)  # unrouted: public streams only
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._task = asyncio.create_task(self._run(), name="loopback venue replay")
        if self.config.start_on == "now":
            self.start_replay()
        log.info("loopback venue on %s", self.rest_url)

    def _endpoints(self) -> list[Endpoint]:
        trading = [] if self.trading is None else self.trading.endpoints()
        return self._api.endpoints() + trading

    def _fault_middleware(self) -> Any:
        """Outermost: a lockstep order request is counted, then request faults answer."""

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self.trading is not None:
                self.trading.count_stepped(request)
            if (
                request.method == "GET"
                and request.headers.get("Upgrade", "").lower() == "websocket"
            ):
                return await handler(request)  # streams are not REST
            answer = self.faults.answer(request.method, request.path)
            if isinstance(answer, web.Response):
                return answer
            response = await handler(request)
            return unknown_status(answer) if answer is not None else response

        return middleware

    def _middleware(self) -> Any:
        routes = {(e.method, e.path): e for e in self._endpoints()}
        counter = WeightCounter(self.config.weight_limit)
        return weight_middleware(self.config.rest_prefix, routes, counter)

    def _add_ws_routes(self, app: web.Application, prefix: str, route: str) -> None:
        async def raw(request: web.Request) -> web.StreamResponse:
            name = request.match_info.get("stream", "")
            streams = [s for s in name.split("/") if s]
            return await self.hub.serve(request, route, streams, combined=False)

        async def combined(request: web.Request) -> web.StreamResponse:
            streams = [s for s in request.query.get("streams", "").split("/") if s]
            return await self.hub.serve(request, route, streams, combined=True)

        app.router.add_get(f"{prefix}/ws", raw)
        app.router.add_get(f"{prefix}/ws/{{stream:.+}}", raw)
        app.router.add_get(f"{prefix}/stream", combined)

    def start_replay(self) -> None:
        """Let the replay run (it waits for this when ``start_on`` is ``"subscribe"``)."""
        self._go.set()

    async def _run(self) -> None:
        await self._go.wait()
        try:
            await self.replay.run()
        except Exception:
            log.exception("the loopback venue's replay failed")
            raise

    async def wait_done(self) -> None:
        """Wait until the replay has reached the end of the data (or was stopped)."""
        if self._task is None:
            raise ConfigError("the venue is not started")
        await asyncio.shield(self._task)

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def close(self) -> None:
        """Stop the replay, close every connection and the server."""
        self.halt.request()
        self._go.set()
        if self._task is not None:
            self._task.cancel()
            # A failed replay was logged and is raised by wait_done; closing goes on.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        closing = [
            self.hub.close(connection, 1001, "venue shutting down")
            for connection in list(self.hub.connections)
        ]
        await asyncio.gather(*closing, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- addresses and time ---------------------------------------------------------------

    @property
    def _authority(self) -> str:
        host = self.config.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """Base URL of the REST endpoints (``+ "/fapi/v1/depth"``...)."""
        return f"http://{self._authority}"

    def ws_url(
        self, route: str = PUBLIC, streams: Sequence[str] = (), combined: bool = True
    ) -> str:
        """URL of a stream connection on ``route``: combined (``/stream?streams=a/b``) or
        raw (``/ws/<a>/<b>``, bare payloads)."""
        if route not in ROUTES:
            raise ConfigError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
        base = f"ws://{self._authority}{self.config.ws_routes[route]}"
        names = "/".join(streams)
        if combined:
            return f"{base}/stream?streams={names}" if names else f"{base}/stream"
        return f"{base}/ws/{names}" if names else f"{base}/ws"

    def shift_clock(self, ms: int) -> None:
        """Move the venue's clock (``GET /fapi/v1/time`` and what signed requests are
        checked against) by ``ms``."""
        self.clock_offset_ms += ms

    def server_time_ms(self) -> int:
        """The venue's clock: the replay time (ms) plus the offset a fault may have set."""
        return self.now() // MS + self.clock_offset_ms

    def now(self) -> int:
        """Replay time reached (ns)."""
        return self.clock.now()
