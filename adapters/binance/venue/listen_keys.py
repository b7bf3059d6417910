"""The user data stream: listen keys and the private connections that carry the desk's events.

As on the venue: ``POST /listenKey`` returns the account's active key if it has one (and
extends it) or a new one; ``PUT`` extends it; a key not extended within ``validity`` of
replay time expires: its connections get ``listenKeyExpired`` and no further events.
Events are the desk's (``ORDER_TRADE_UPDATE`` ...), sent bare (no envelope) on
``/private/ws?listenKey=<key>`` (and the legacy ``/ws/<key>``).

The fault hooks of the issue's list live here: :meth:`ListenKeys.expire` (the expiry
event sent once or twice), :meth:`ListenKeys.duplicate_next` and :meth:`ListenKeys.drop_until`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
from typing import Any

from aiohttp import WSMsgType, web

from streamsim.run.clock import PHASE_TIMER, VirtualClock
from streamsim.units import MINUTE, MS

from ..wire import ERRORS
from ..wire.codec import dumps
from ..wire.errors import NO_LISTEN_KEY
from .desk import DeskError
from .lockstep import STAMP_KEY
from .weights import error

log = logging.getLogger(__name__)

#: How long a listen key lives without a keep-alive (replay time), as on the venue.
VALIDITY = 60 * MINUTE


class _Key:
    __slots__ = ("api_key", "deadline", "queues", "value")

    def __init__(self, api_key: str, value: str, deadline: int) -> None:
        self.api_key = api_key
        self.value = value
        self.deadline = deadline
        self.queues: set[asyncio.Queue[bytes | None]] = set()


class ListenKeys:
    """The listen keys of the venue's one account and the connections reading them."""

    def __init__(self, clock: VirtualClock, validity: int = VALIDITY) -> None:
        self.clock = clock
        self.validity = validity
        self._keys: dict[str, _Key] = {}  # by key value
        self._by_api_key: dict[str, _Key] = {}
        self._serial = itertools.count(1)
        self._duplicates = 0
        self._drop_until: int | None = None
        self.dropped = 0
        #: Lockstep: every event carries its replay time (``ss_t``).
        self.stamp = False

    # -- the REST side ---------------------------------------------------------------------

    def create(self, api_key: str) -> str:
        key = self._by_api_key.get(api_key)
        if key is None:
            seed = f"{api_key}:{next(self._serial)}".encode()
            value = hashlib.sha256(seed).hexdigest()
            key = _Key(api_key, value, 0)
            self._keys[value] = key
            self._by_api_key[api_key] = key
        self._extend(key)
        return key.value

    def keep_alive(self, api_key: str) -> str:
        key = self._by_api_key.get(api_key)
        if key is None:
            raise DeskError(NO_LISTEN_KEY)
        self._extend(key)
        return key.value

    def close(self, api_key: str) -> None:
        key = self._by_api_key.pop(api_key, None)
        if key is not None:
            self._keys.pop(key.value, None)
            for queue in key.queues:
                queue.put_nowait(None)

    def _extend(self, key: _Key) -> None:
        key.deadline = self.clock.now() + self.validity
        self.clock.schedule(key.deadline, PHASE_TIMER, self._due, key)

    def _due(self, key: _Key) -> None:
        if self._keys.get(key.value) is key and self.clock.now() >= key.deadline:
            self.expire(key.api_key)

    # -- events and faults -----------------------------------------------------------------

    def deliver(self, event: dict[str, Any]) -> None:
        """Send one desk event to every connection of every active key."""
        now = self.clock.now()
        if self._drop_until is not None:
            if now < self._drop_until:
                self.dropped += 1
                return
            self._drop_until = None
        payload = dumps({**event, STAMP_KEY: now} if self.stamp else event)
        copies = 2 if self._duplicates else 1
        if self._duplicates:
            self._duplicates -= 1
        for key in self._keys.values():
            for queue in key.queues:
                for _ in range(copies):
                    queue.put_nowait(payload)

    def expire(self, api_key: str, times: int = 1) -> bool:
        """Expire the account's key now: ``listenKeyExpired`` ``times`` times on each of its
        connections (the venue has been seen to send it twice); False if it has none."""
        key = self._by_api_key.pop(api_key, None)
        if key is None:
            return False
        self._keys.pop(key.value, None)
        now_ms = self.clock.now() // MS
        event = dumps({"e": "listenKeyExpired", "E": str(now_ms), "listenKey": key.value})
        for queue in key.queues:
            for _ in range(times):
                queue.put_nowait(event)
        return True

    def expire_all(self, times: int = 1) -> int:
        """Expire every active key now (:meth:`expire`); how many there were."""
        return sum(self.expire(api_key, times) for api_key in list(self._by_api_key))

    def duplicate_next(self, count: int = 1) -> None:
        """Send each of the next ``count`` user events twice."""
        self._duplicates += count

    def drop_until(self, when: int) -> None:
        """Drop every user event until replay time ``when`` (a stream outage)."""
        self._drop_until = when

    # -- the connections -------------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """One private connection: ``?listenKey=`` or ``/ws/<key>``."""
        value = request.query.get("listenKey") or request.match_info.get("key", "")
        key = self._keys.get(value)
        if key is None:
            return error(ERRORS[NO_LISTEN_KEY])
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        key.queues.add(queue)
        reader = asyncio.create_task(self._read(ws, queue), name="user stream reader")
        try:
            while True:
                payload = await queue.get()
                if payload is None or ws.closed:
                    break
                await ws.send_frame(payload, WSMsgType.TEXT)
        finally:
            key.queues.discard(queue)
            reader.cancel()
            await ws.close()
        return ws

    @staticmethod
    async def _read(ws: web.WebSocketResponse, queue: asyncio.Queue[bytes | None]) -> None:
        """Drain what the client sends (pongs, close); a close ends the connection."""
        async for message in ws:
            if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
        queue.put_nowait(None)
