"""REST request weight: the venue's ``X-MBX-USED-WEIGHT-1M`` accounting and its 429.

Weight is counted per wall-clock minute (the venue's window resets at each minute), the
client's time rather than replay time. A request past the limit is answered 429 with
``Retry-After`` (seconds to the next window) and the venue's "too many requests" error, and
still counts, as on the venue.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from adapters.binance.wire.codec import dumps
from adapters.binance.wire.errors import ERRORS, TOO_MANY_REQUESTS, VenueError

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Weigh = Callable[[Mapping[str, str]], int]


@dataclass(frozen=True)
class Endpoint:
    """One REST route: its handler and the weight of a request with the given query."""

    method: str
    path: str
    handler: Handler
    weight: Weigh


def fixed(weight: int) -> Weigh:
    """A weight that does not depend on the query."""
    return lambda query: weight


class WeightCounter:
    """Used weight of the current wall minute."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self._clock = clock
        self._minute = -1
        self.used = 0

    def add(self, weight: int) -> int:
        """Count ``weight`` now; the weight used this minute."""
        minute = int(self._clock() // 60)
        if minute != self._minute:
            self._minute, self.used = minute, 0
        self.used += weight
        return self.used

    def retry_after(self) -> int:
        """Whole seconds until the window resets (at least 1)."""
        return max(1, 60 - int(self._clock() % 60))


def json_response(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response encoded by the wire codec."""
    return web.Response(
        body=dumps(body), status=status, content_type="application/json", headers=headers
    )


def error(
    venue_error: VenueError, *values: object, headers: Mapping[str, str] | None = None
) -> web.Response:
    """The venue's error answer: its HTTP status and ``{"code", "msg"}`` (the message's
    ``{}`` filled with ``values``), from the wire codec's error table."""
    return json_response(venue_error.body(*values), venue_error.http_status, headers)


def weight_middleware(
    rest_prefix: str, routes: Mapping[tuple[str, str], Endpoint], counter: WeightCounter
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Counts each REST request's weight, answers 429 past the limit, and stamps the
    used weight on every REST response (an unknown path under ``rest_prefix`` too)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        endpoint = routes.get((request.method, request.path))
        if endpoint is None:
            if request.path.startswith(rest_prefix):  # an unknown REST path: weight 0
                try:
                    return await handler(request)
                except web.HTTPException as exc:
                    exc.headers[WEIGHT_HEADER] = str(counter.add(0))
                    raise
            return await handler(request)  # WebSocket routes carry no weight header
        used = counter.add(endpoint.weight(request.query))
        headers = {WEIGHT_HEADER: str(used)}
        if used > counter.limit:
            return error(
                ERRORS[TOO_MANY_REQUESTS],
                counter.limit,
                headers={**headers, "Retry-After": str(counter.retry_after())},
            )
        response = await handler(request)
        response.headers[WEIGHT_HEADER] = str(used)
        return response

    return middleware
