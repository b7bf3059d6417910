"""WebSocket connections: subscriptions, control messages and the venue's connection rules.

A connection lives on one route (``/public`` or ``/market``); the streams it subscribes to
that are served elsewhere are listed but stay silent. Control messages are the venue's
JSON ``{"method", "params", "id"}`` (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS,
SET_PROPERTY / GET_PROPERTY ``combined``), answered ``{"result": ..., "id": ...}`` or with
the venue's error objects. Beyond ``max_incoming_per_second`` messages in a second of wall
time, or ``max_streams`` streams, the venue disconnects (close code 1008). The server pings
every ``ping_interval`` of replay time, disconnects a connection whose pong has not come
within ``pong_timeout``, and closes every connection at ``max_lifetime``.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import struct
import termios
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from adapters.binance.wire.codec import dumps, loads
from streamsim.errors import DataError
from streamsim.run.clock import PHASE_TIMER, VirtualClock

from .config import VenueConfig
from .lockstep import IDLE_KEY, PROGRESS_METHOD, STAMP_KEY, Progress
from .streams import served_on

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
#: Longest wait for a connection's frames in flight to reach the client before it closes.
CLOSE_FLUSH_SECONDS = 10.0
#: The replay-time key a lockstep connection's frames end with.
_STAMP = b',"' + STAMP_KEY.encode() + b'":%d}'
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_EXPECTED = ", ".join(f"`{m}`" for m in METHODS)


class Connection:
    """One client connection: its route, envelopes and streams."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        route: str,
        combined: bool,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.route = route
        self.combined = combined
        self.streams: list[str] = []
        self.last_pong = 0
        self.pings_sent = 0
        #: Set once a close the venue started has finished its handshake.
        self.closing: asyncio.Event | None = None
        #: True once the client reported lockstep progress on it: its frames carry the
        #: replay time (``ss_t``) and it gets idle frames (:mod:`.lockstep`).
        self.lockstep = False
        self._incoming: deque[float] = deque()

    async def flushed(self, timeout: float) -> None:
        """Wait (up to ``timeout`` wall seconds) until every byte written has left the
        process and been acknowledged by the client's kernel, so that closing cannot cut
        off frames in flight."""
        transport = self.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            unsent = transport.get_write_buffer_size()
            if not unsent and sock is not None:
                try:
                    unsent = struct.unpack(
                        "i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4)
                    )[0]
                except OSError:
                    unsent = 0
            if not unsent:
                return
            await asyncio.sleep(0.005)

    async def send(self, name: bytes, payload: bytes, stamp: int | None = None) -> None:
        """One frame of stream ``name`` (enveloped on combined connections); a lockstep
        connection's frames carry ``stamp``, the replay time, beside the envelope's keys
        (inside the payload on a raw connection)."""
        if self.combined:
            data = b'{"stream":"' + name + b'","data":' + payload
            data += _STAMP % stamp if self.lockstep and stamp is not None else b"}"
        elif self.lockstep and stamp is not None:
            data = payload[:-1] + _STAMP % stamp
        else:
            data = payload
        await self.ws.send_frame(data, WSMsgType.TEXT)

    def abort(self) -> None:
        """Cut the connection without a close handshake (a dropped connection)."""
        if self.transport is not None:
            self.transport.abort()

    def over_rate(self, limit: int) -> bool:
        """Count one incoming message; True past ``limit`` in the last wall second."""
        now = time.monotonic()
        incoming = self._incoming
        incoming.append(now)
        while incoming and incoming[0] <= now - 1.0:
            incoming.popleft()
        return len(incoming) > limit


class Hub:
    """Subscribers of every served stream, and the sending of frames to them."""

    def __init__(self, config: VenueConfig, clock: VirtualClock) -> None:
        self.config = config
        self.clock = clock
        self.connections: set[Connection] = set()
        #: Stream name -> connections it is served to (only those on the right route).
        self.subscribers: dict[str, list[Connection]] = {}
        self._names: dict[str, bytes] = {}
        #: Called once a stream gains its first served subscriber (starts the replay).
        self.on_subscribe: Callable[[], None] | None = None
        #: Control work the clock's timers queued, awaited by the replay loop.
        self.control: list[Callable[[], Awaitable[None]]] = []
        #: The lockstep clients' progress (None: not in lockstep mode).
        self.progress: Progress | None = None
        self._duplicates = 0
        self._hold_until = 0.0

    async def publish(self, name: str, payload: bytes) -> None:
        """Send ``payload`` to every subscriber of stream ``name`` (awaiting each socket's
        drain: a slow reader slows the replay, never loses a frame)."""
        connections = self.subscribers.get(name)
        if not connections:
            return
        encoded = self._names.get(name)
        if encoded is None:
            encoded = self._names[name] = name.encode()
        if self._hold_until:  # a delay fault: every frame waits, then all go
            wait = self._hold_until - time.monotonic()
            self._hold_until = 0.0
            if wait > 0:
                await asyncio.sleep(wait)
        copies = 1
        if self._duplicates:
            self._duplicates -= 1
            copies = 2
        stamp = self.clock.now()
        for connection in tuple(connections):
            try:
                for _ in range(copies):
                    await connection.send(encoded, payload, stamp)
            except (ConnectionError, RuntimeError):
                self.drop(connection)

    # -- faults ---------------------------------------------------------------------------

    def drop_all(self, route: str | None = None) -> None:
        """Cut every connection (of ``route``) without a close handshake."""
        for connection in list(self.connections):
            if route is None or connection.route == route:
                self.drop(connection)
                connection.abort()

    def delay(self, seconds: float) -> None:
        """Hold the next frame, and so every frame after it, ``seconds`` of wall time."""
        self._hold_until = time.monotonic() + seconds

    def duplicate(self, count: int) -> None:
        """Send each of the next ``count`` frames twice."""
        self._duplicates += count

    # -- lockstep -------------------------------------------------------------------------

    async def idle(self, next_time: int) -> None:
        """Tell every lockstep connection that nothing comes before ``next_time``."""
        frame = b'{"' + IDLE_KEY.encode() + b'":%d}' % next_time
        for connection in [c for c in self.connections if c.lockstep]:
            try:
                await connection.ws.send_frame(frame, WSMsgType.TEXT)
            except (ConnectionError, RuntimeError):
                self.drop(connection)

    def subscribe(self, connection: Connection, names: list[str]) -> bool:
        """Add streams; False (the connection must close) past ``max_streams``."""
        for name in names:
            if name in connection.streams:
                continue
            connection.streams.append(name)
            if served_on(name, connection.route):
                self.subscribers.setdefault(name, []).append(connection)
                if self.on_subscribe is not None:
                    self.on_subscribe()
        return len(connection.streams) <= self.config.max_streams

    def unsubscribe(self, connection: Connection, names: list[str]) -> None:
        for name in names:
            if name in connection.streams:
                connection.streams.remove(name)
                listeners = self.subscribers.get(name, [])
                if connection in listeners:
                    listeners.remove(connection)

    def drop(self, connection: Connection) -> None:
        """Forget a closed connection."""
        self.unsubscribe(connection, list(connection.streams))
        self.connections.discard(connection)
        if self.progress is not None:
            self.progress.leave(connection)

    # -- connection rules in replay time --------------------------------------------------

    def open(self, connection: Connection) -> None:
        """Register a connection and schedule its pings and its hard disconnect."""
        config, clock = self.config, self.clock
        now = clock.now()
        connection.last_pong = now
        self.connections.add(connection)

        def ping(when: int) -> None:
            if connection in self.connections:
                self.control.append(lambda: self._ping(connection, when))
                clock.schedule(
                    when + config.ping_interval, PHASE_TIMER, ping, when + config.ping_interval
                )

        def expire(when: int) -> None:
            if connection in self.connections:
                self.control.append(lambda: self.close(connection, 1000, "24 hour limit"))

        clock.schedule(now + config.ping_interval, PHASE_TIMER, ping, now + config.ping_interval)
        clock.schedule(now + config.max_lifetime, PHASE_TIMER, expire, now + config.max_lifetime)

    async def _ping(self, connection: Connection, when: int) -> None:
        if connection not in self.connections:  # closed since the ping fell due
            return
        if connection.pings_sent and when - connection.last_pong > self.config.pong_timeout:
            await self.close(connection, POLICY_VIOLATION, "no pong")
            return
        connection.pings_sent += 1
        try:
            await connection.ws.ping()
        except (ConnectionError, RuntimeError):
            self.drop(connection)

    async def close(self, connection: Connection, code: int, reason: str) -> None:
        """Close with the handshake: the frames already written reach the client first,
        and the socket closes only after the client's close frame (or the timeout)."""
        if connection.closing is not None:
            return
        log.info("closing a %s connection: %s", connection.route, reason)
        connection.closing = asyncio.Event()
        self.drop(connection)
        try:
            await connection.flushed(CLOSE_FLUSH_SECONDS)
            await connection.ws.close(code=code, message=reason.encode())
        finally:
            connection.closing.set()

    # -- serving --------------------------------------------------------------------------

    async def serve(
        self, request: web.Request, route: str, streams: list[str], combined: bool
    ) -> web.WebSocketResponse:
        """Run one WebSocket connection until it closes."""
        ws = web.WebSocketResponse(autoping=False, compress=False)
        await ws.prepare(request)
        connection = Connection(ws, route, combined, request.transport)
        self.open(connection)
        try:
            if not self.subscribe(connection, streams):
                await self.close(connection, POLICY_VIOLATION, "too many streams")
                return ws
            async for message in ws:
                if message.type == WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.PONG:
                    connection.last_pong = self.clock.now()
                elif message.type == WSMsgType.TEXT:
                    # Lockstep progress reports are the extension's, outside the rate rule.
                    progress = self.progress is not None and PROGRESS_METHOD in message.data
                    if not progress and connection.over_rate(self.config.max_incoming_per_second):
                        await self.close(connection, POLICY_VIOLATION, "too many messages")
                        break
                    reply = self.control_message(connection, message.data)
                    if reply is not None:
                        await ws.send_frame(dumps(reply), WSMsgType.TEXT)
                    if len(connection.streams) > self.config.max_streams:
                        await self.close(connection, POLICY_VIOLATION, "too many streams")
                        break
            if connection.closing is not None:  # closed by the venue from another task
                await connection.closing.wait()
        finally:
            self.drop(connection)
        return ws

    def control_message(self, connection: Connection, text: str) -> dict[str, Any] | None:
        """The answer to one control message (the venue's shapes and error codes)."""
        try:
            request = loads(text)
        except DataError:
            return {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}
        if not isinstance(request, dict):
            return {"code": 2, "msg": "Invalid request: expected an object"}
        ident = request.get("id")
        if "method" not in request:
            return {"code": 2, "msg": "Invalid request: missing field `method`", "id": ident}
        if ident is not None and (
            not isinstance(ident, int) or isinstance(ident, bool) or ident < 0
        ):
            return {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}
        method = request["method"]
        params = request.get("params", [])
        if method == PROGRESS_METHOD and self.progress is not None:
            return self._progress(connection, params, ident)
        if method not in METHODS:
            return {
                "code": 2,
                "msg": f"Invalid request: unknown variant `{method}`, expected one of {_EXPECTED}",
                "id": ident,
            }
        if not isinstance(params, list):
            return {"code": 2, "msg": "Invalid request: params must be an array", "id": ident}
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not all(isinstance(p, str) for p in params):
                return {
                    "code": 2,
                    "msg": "Invalid request: stream names must be strings",
                    "id": ident,
                }
            if method == "SUBSCRIBE":
                self.subscribe(connection, params)
            else:
                self.unsubscribe(connection, params)
            return {"result": None, "id": ident}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(connection.streams), "id": ident}
        if not params or params[0] != "combined":
            return {"code": 0, "msg": "Unknown property", "id": ident}
        if method == "GET_PROPERTY":
            return {"result": connection.combined, "id": ident}
        if len(params) != 2 or not isinstance(params[1], bool):
            return {"code": 1, "msg": "Invalid value type: expected Boolean", "id": ident}
        connection.combined = params[1]
        return {"result": None, "id": ident}

    def _progress(self, connection: Connection, params: Any, ident: Any) -> dict[str, Any]:
        """A lockstep client's report: ``[replay ns reached, orders sent so far]``."""
        numbers = params[:2] if isinstance(params, list) else []
        name = params[2] if isinstance(params, list) and len(params) == 3 else None
        if (
            not isinstance(params, list)
            or len(params) not in (2, 3)
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in numbers)
            or (len(params) == 3 and not isinstance(name, str))
        ):
            return {
                "code": 2,
                "msg": f"Invalid request: {PROGRESS_METHOD} takes [replay ns, order requests "
                "sent, client name (optional)]",
                "id": ident,
            }
        assert self.progress is not None
        connection.lockstep = True
        self.progress.report(connection, numbers[0], numbers[1], name)
        return {"result": None, "id": ident}
