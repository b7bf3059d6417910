"""One routed WebSocket connection: connect, subscribe paced, route frames, reconnect."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp

from ..messages import decode
from ..wire.codec import dumps
from .markers import Item, Marker

log = logging.getLogger(__name__)

#: Finds the queue of a payload (by its event type and symbol), or ``None`` to drop it.
Router = Callable[[Mapping[str, Any]], "asyncio.Queue[Item] | None"]


class Backoff:
    """Exponential back-off with jitter: ``initial`` doubling up to ``maximum``, each
    wait scaled by a random factor in ``[1 - jitter, 1]``."""

    def __init__(
        self, initial: float, maximum: float, jitter: float, rng: random.Random | None = None
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        wait = min(self.maximum, self.initial * 2**self.attempt)
        self.attempt += 1
        return float(wait * (1.0 - self.jitter * self._rng.random()))

    def reset(self) -> None:
        self.attempt = 0


class RoutedConnection:
    """Keeps one connection to ``url`` subscribed to ``streams``, putting each frame's
    payload (decoded once) and receive time into the queue ``route`` picks.

    A dropped connection puts :attr:`Marker.DISCONNECTED` in every queue and reconnects
    after a back-off; :meth:`close` puts :attr:`Marker.CLOSED` in every queue.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        streams: Sequence[str],
        route: Router,
        queues: Sequence[asyncio.Queue[Item]],
        *,
        subscribe_rate: float,
        streams_per_message: int,
        backoff: Backoff,
    ) -> None:
        self.session = session
        self.url = url
        self.streams = list(streams)
        self.route = route
        self.queues = list(queues)
        self.subscribe_rate = subscribe_rate
        self.streams_per_message = streams_per_message
        self.backoff = backoff
        self.connects = 0
        self.disconnects = 0
        self.frames = 0
        #: Streams named in ``SUBSCRIBE`` messages sent on the current connection.
        self.subscribed = 0
        self._closing = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def run(self) -> None:
        """Connect and read until :meth:`close`, reconnecting after every drop."""
        try:
            while not self._closing:
                try:
                    await self._session_once()
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    log.warning("%s: connection failed: %s", self.url, exc)
                if self.stopped():
                    break
                self.disconnects += 1
                self._tell(Marker.DISCONNECTED)
                await asyncio.sleep(self.backoff.next())
        finally:
            self._tell(Marker.CLOSED)

    async def _session_once(self) -> None:
        async with self.session.ws_connect(self.url, max_msg_size=0, heartbeat=None) as ws:
            self._ws = ws
            self.connects += 1
            try:
                reader = asyncio.create_task(self._read(ws))
                await self._subscribe(ws)
                await reader
            finally:
                self._ws = None

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """``SUBSCRIBE`` the streams, ``streams_per_message`` at a time, paced."""
        step = self.streams_per_message
        gap = 1.0 / self.subscribe_rate
        self.subscribed = 0
        for n, start in enumerate(range(0, len(self.streams), step)):
            if n:
                await asyncio.sleep(gap)
            params = self.streams[start : start + step]
            request = {"method": "SUBSCRIBE", "params": params, "id": n + 1}
            await ws.send_str(dumps(request).decode())
            self.subscribed += len(params)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        clock = time.time_ns
        route = self.route
        async for message in ws:
            recv = clock()
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            data = decode(message.data)
            if not isinstance(data, dict) or "e" not in data:
                continue  # a control answer
            queue = route(data)
            if queue is not None:
                self.frames += 1
                self.backoff.reset()
                queue.put_nowait((recv, data))

    def stopped(self) -> bool:
        """:meth:`close` was called: no more reconnects."""
        return self._closing

    def _tell(self, marker: Marker) -> None:
        for queue in self.queues:
            queue.put_nowait(marker)

    async def close(self) -> None:
        """Stop reconnecting and close the socket."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
