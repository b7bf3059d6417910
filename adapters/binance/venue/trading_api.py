"""The signed REST trading endpoints and the listen-key endpoints, over the :class:`~.desk.Desk`.

Every trading request is checked as the venue checks it (:func:`adapters.binance.wire.verify`:
the API key header, the HMAC-SHA256 or Ed25519 signature over query string + body,
``timestamp`` within ``recvWindow`` of the venue's clock and at most 1 s ahead of it),
then decoded into the wire codec's request type and handed to the desk. The venue's clock
is ``server_time_ms`` (the replay time plus the offset a clock-jump fault may have set).
Order endpoints report ``X-MBX-ORDER-COUNT-10S`` / ``-1M`` (wall time, the client's).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from streamsim.errors import DataError
from streamsim.run.clock import PHASE_EXCHANGE_ORDER, VirtualClock
from streamsim.sim.latency import OrderLatency

from ..wire import API_KEY_HEADER, ERRORS, Credentials, SignatureError, verify
from ..wire.errors import (
    BAD_API_KEY_FORMAT,
    INVALID_PARAMETER,
    MANDATORY_PARAMETER,
    REJECTED_API_KEY,
)
from ..wire.requests import AlgoOrderQuery, AmendOrder, NewAlgoOrder, NewOrder, OrderQuery
from .desk import Desk, DeskError
from .listen_keys import ListenKeys
from .lockstep import REPLAY_TIME_HEADER, SENT_AT_HEADER, SEQ_HEADER, Progress
from .weights import Endpoint, Handler, error, fixed, json_response

ORDER_COUNT_10S = "X-MBX-ORDER-COUNT-10S"
ORDER_COUNT_1M = "X-MBX-ORDER-COUNT-1M"

#: A signed call: the request's parameters (query then body) in, a JSON-ready answer out.
Call = Callable[[dict[str, str]], Any]


class OrderCounter:
    """Orders placed in the last 10 s and 1 min of wall time (the venue's order counts)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._times: deque[float] = deque()

    def add(self) -> tuple[int, int]:
        now = self._clock()
        times = self._times
        times.append(now)
        while times and times[0] <= now - 60:
            times.popleft()
        ten = sum(1 for t in times if t > now - 10)
        return ten, len(times)


def _symbol(params: Mapping[str, str]) -> str | None:
    symbol = params.get("symbol")
    return symbol.upper() if symbol else None


def _open_orders_weight(query: Mapping[str, str]) -> int:
    return 1 if query.get("symbol") else 40


@dataclass(frozen=True)
class Lockstep:
    """What the trading side needs of the lockstep mode: the clients' progress, the
    clock that orders are scheduled on, the entry latency, and whether the replay ended
    (orders then match at once)."""

    progress: Progress
    clock: VirtualClock
    latency: OrderLatency
    done: Callable[[], bool]


class TradingApi:
    """Handlers of the signed endpoints (``rest_prefix`` for orders, ``account_prefixes``
    for ``positionRisk`` / ``account``) and of the listen key."""

    def __init__(
        self,
        desk: Desk,
        keys: Mapping[str, Credentials],
        listen_keys: ListenKeys,
        server_time_ms: Callable[[], int],
        rest_prefix: str = "/fapi/v1",
        account_prefixes: tuple[str, ...] = ("/fapi/v2", "/fapi/v3"),
    ) -> None:
        self.desk = desk
        self.keys = keys
        self.listen_keys = listen_keys
        self.server_time_ms = server_time_ms
        self.rest_prefix = rest_prefix
        self.account_prefixes = account_prefixes
        self.orders = OrderCounter()
        #: (method, path) of the endpoints that place, amend or cancel orders.
        self.acting = {
            (method, f"{rest_prefix}/{name}")
            for method, name in (
                ("POST", "order"),
                ("PUT", "order"),
                ("DELETE", "order"),
                ("DELETE", "allOpenOrders"),
                ("POST", "algoOrder"),
                ("DELETE", "algoOrder"),
            )
        }
        #: Set by the venue in lockstep mode: orders match at send time + entry latency.
        self.lockstep: Lockstep | None = None
        #: Set by the venue: request faults (429, 418, 503, -1006, BACKEND_TIMEOUT) armed on it.
        #: Lockstep requests by match time: (seq, arrival, call, params, answer).
        self._due: dict[int, list[tuple[int, int, Call, dict[str, str], asyncio.Future[Any]]]]
        self._due = {}
        self._arrivals = itertools.count()

    def endpoints(self) -> list[Endpoint]:
        p = self.rest_prefix
        desk = self.desk
        routes = [
            # placing and amending weigh 0 on the IP limit (they count as orders)
            Endpoint("POST", f"{p}/order", self._order(self._new_order), fixed(0)),
            Endpoint("PUT", f"{p}/order", self._order(self._amend), fixed(0)),
            Endpoint("DELETE", f"{p}/order", self._signed(self._cancel), fixed(1)),
            Endpoint("GET", f"{p}/order", self._signed(self._query), fixed(1)),
            Endpoint("GET", f"{p}/openOrders", self._signed(self._open), _open_orders_weight),
            Endpoint("DELETE", f"{p}/allOpenOrders", self._signed(self._cancel_all), fixed(1)),
            Endpoint("POST", f"{p}/algoOrder", self._order(self._new_algo), fixed(0)),
            Endpoint("DELETE", f"{p}/algoOrder", self._signed(self._cancel_algo), fixed(1)),
            Endpoint("GET", f"{p}/algoOrder", self._signed(self._query_algo), fixed(1)),
            Endpoint(
                "GET",
                f"{p}/openAlgoOrders",
                self._signed(lambda q: desk.open_algo_orders(_symbol(q))),
                _open_orders_weight,
            ),
            Endpoint("GET", f"{p}/userTrades", self._signed(self._trades), fixed(5)),
            Endpoint("POST", f"{p}/listenKey", self._keyed(self._listen_key_new), fixed(1)),
            Endpoint("PUT", f"{p}/listenKey", self._keyed(self._listen_key_keep), fixed(1)),
            Endpoint("DELETE", f"{p}/listenKey", self._keyed(self._listen_key_close), fixed(1)),
        ]
        for prefix in self.account_prefixes:
            routes += [
                Endpoint(
                    "GET",
                    f"{prefix}/positionRisk",
                    self._signed(lambda q: desk.position_risk(_symbol(q))),
                    fixed(5),
                ),
                Endpoint(
                    "GET", f"{prefix}/account", self._signed(lambda q: desk.account()), fixed(5)
                ),
            ]
        return routes

    # -- request checks --------------------------------------------------------------------

    def _signed(self, call: Call, count_order: bool = False) -> Handler:
        """A signed endpoint; ``count_order``: it places an order (order-count headers);
        an endpoint in :attr:`acting` changes orders, so in lockstep it runs at its send
        time + latency."""

        async def handler(request: web.Request) -> web.StreamResponse:
            stepped = self._stepped(request)
            body = await request.text()
            headers: dict[str, str] = {}
            if count_order:
                ten, minute = self.orders.add()
                headers = {ORDER_COUNT_10S: str(ten), ORDER_COUNT_1M: str(minute)}
            try:
                verified = verify(
                    request.query_string, body, request.headers, self.keys, self.server_time_ms()
                )
                if stepped:
                    answer, matched = await self._in_lockstep(call, verified.params, request)
                    headers[REPLAY_TIME_HEADER] = str(matched)
                else:
                    answer = call(verified.params)
            except (SignatureError, DeskError) as refused:
                status = (
                    refused.http_status if isinstance(refused, SignatureError) else refused.status
                )
                return json_response(refused.body, status, headers)
            except DataError as bad:  # a parameter of the wrong form
                refusal = {
                    "code": INVALID_PARAMETER,
                    "msg": f"Data sent for a parameter is not valid: {bad}",
                }
                return json_response(refusal, ERRORS[INVALID_PARAMETER].http_status, headers)
            return json_response(answer, headers=headers)

        return handler

    async def _in_lockstep(
        self, call: Call, params: dict[str, str], request: web.Request
    ) -> tuple[Any, int]:
        """Match an order at its send time + entry latency in replay time (the clients'
        progress cannot have passed it); the answer and that time."""
        lockstep = self.lockstep
        assert lockstep is not None
        clock = lockstep.clock
        text = request.headers.get(SENT_AT_HEADER, "")
        seq_text = request.headers.get(SEQ_HEADER, "0")
        if lockstep.done():
            return call(params), clock.now()
        if not text.isdigit():
            raise DeskError(INVALID_PARAMETER, SENT_AT_HEADER)
        if not seq_text.isdigit():
            raise DeskError(INVALID_PARAMETER, SEQ_HEADER)
        sent = int(text)
        matched = sent + lockstep.latency.entry(sent)
        if matched < clock.now():  # the venue is past it: the client broke its promise
            raise DeskError(INVALID_PARAMETER, SENT_AT_HEADER)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        due = self._due.get(matched)
        if due is None:  # the first request matching then: one action runs them all
            due = self._due[matched] = []
            clock.schedule(matched, PHASE_EXCHANGE_ORDER, self._match_due, matched)
        due.append((int(seq_text), next(self._arrivals), call, params, answer))
        return await answer, matched

    def _match_due(self, when: int) -> None:
        """Run the requests matching at ``when`` in the client's order (``X-SS-Seq``), not
        in their order of arrival, which the wall clock decides."""
        for _, _, call, params, answer in sorted(self._due.pop(when), key=lambda d: d[:2]):
            try:
                answer.set_result(call(params))
            except Exception as exc:  # a venue reject, answered as such
                answer.set_exception(exc)

    def _order(self, call: Call) -> Handler:
        return self._signed(call, count_order=True)

    def count_stepped(self, request: web.Request) -> None:
        """In lockstep, count an order request (new, amend, cancel) the moment it arrives,
        before any check or fault: the client counted it when it sent it, refused or not."""
        if self._stepped(request):
            assert self.lockstep is not None
            self.lockstep.progress.order_received()

    def _stepped(self, request: web.Request) -> bool:
        """True for an order request a lockstep client sent with its send time."""
        return (
            self.lockstep is not None
            and (request.method, request.path) in self.acting
            and SENT_AT_HEADER in request.headers
        )

    def _keyed(self, call: Callable[[str, Mapping[str, str]], Any]) -> Handler:
        """A USER_STREAM endpoint: the API key header, no signature."""

        async def handler(request: web.Request) -> web.StreamResponse:
            api_key = request.headers.get(API_KEY_HEADER)
            if api_key is None:
                return error(ERRORS[BAD_API_KEY_FORMAT])
            if api_key not in self.keys:
                return error(ERRORS[REJECTED_API_KEY])
            params = dict(request.query)
            params.update((await request.post()).items())  # type: ignore[arg-type]
            try:
                return json_response(call(api_key, params))
            except DeskError as refused:
                return json_response(refused.body, refused.status)

        return handler

    # -- calls -----------------------------------------------------------------------------

    def _new_order(self, params: dict[str, str]) -> Any:
        return self.desk.new_order(NewOrder.from_wire(params))

    def _new_algo(self, params: dict[str, str]) -> Any:
        return self.desk.new_algo_order(NewAlgoOrder.from_wire(params))

    def _amend(self, params: dict[str, str]) -> Any:
        return self.desk.amend_order(AmendOrder.from_wire(params))

    def _cancel(self, params: dict[str, str]) -> Any:
        return self.desk.cancel_order(OrderQuery.from_wire(params))

    def _query(self, params: dict[str, str]) -> Any:
        return self.desk.query_order(OrderQuery.from_wire(params))

    def _cancel_algo(self, params: dict[str, str]) -> Any:
        return self.desk.cancel_algo_order(AlgoOrderQuery.from_wire(params))

    def _query_algo(self, params: dict[str, str]) -> Any:
        return self.desk.query_algo_order(AlgoOrderQuery.from_wire(params))

    def _open(self, params: dict[str, str]) -> Any:
        return self.desk.open_orders(_symbol(params))

    def _cancel_all(self, params: dict[str, str]) -> Any:
        symbol = _symbol(params)
        if symbol is None:
            raise DeskError(MANDATORY_PARAMETER, "symbol")
        return self.desk.cancel_all(symbol)

    def _trades(self, params: dict[str, str]) -> Any:
        symbol = _symbol(params)
        if symbol is None:
            raise DeskError(MANDATORY_PARAMETER, "symbol")
        from_id = params.get("fromId")
        if from_id is not None and not from_id.isdigit():
            raise DeskError(INVALID_PARAMETER, "fromId")
        return self.desk.user_trades(symbol, None if from_id is None else int(from_id))

    def _listen_key_new(self, api_key: str, params: Mapping[str, str]) -> Any:
        return {"listenKey": self.listen_keys.create(api_key)}

    def _listen_key_keep(self, api_key: str, params: Mapping[str, str]) -> Any:
        return {"listenKey": self.listen_keys.keep_alive(api_key)}

    def _listen_key_close(self, api_key: str, params: Mapping[str, str]) -> Any:
        self.listen_keys.close(api_key)
        return {}
