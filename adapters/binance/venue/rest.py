"""The REST market endpoints, as a route table the signed trading endpoints extend.

Each :class:`~.weights.Endpoint` names its handler and its request weight (the venue's:
depth by ``limit``; premiumIndex 1 for a symbol, 10 for all). Answers come from the
venue's state at the replay time reached, so they agree with the streams: a depth
snapshot is the venue's own book, whose ``lastUpdateId`` is the last diff published.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from aiohttp import web

from adapters.binance.wire.errors import ERRORS, INVALID_PARAMETER, MANDATORY_PARAMETER, VenueError
from streamsim.book import ASK, BID
from streamsim.order_checks import INVALID_SYMBOL
from streamsim.units import MS

from ..wire.filters import DEFAULT_RATE_LIMITS, exchange_info
from .config import VenueConfig
from .decimals import json_lists, level_pairs
from .market import SymbolMarket
from .weights import Endpoint, error, fixed, json_response

#: The venue's "server busy, try again" error (the only one answered with HTTP 503), which
#: the loopback venue also answers while the data has not reached what was asked.
BUSY: VenueError = next(e for e in ERRORS.values() if e.http_status == 503)

#: ``GET /fapi/v1/depth`` limits and their weights.
DEPTH_WEIGHTS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
DEFAULT_DEPTH_LIMIT = 500


def _depth_weight(query: Mapping[str, str]) -> int:
    try:
        limit = int(query.get("limit", DEFAULT_DEPTH_LIMIT))
    except ValueError:
        return 1
    return DEPTH_WEIGHTS.get(limit, 1)


def _premium_weight(query: Mapping[str, str]) -> int:
    return 1 if query.get("symbol") else 10


class MarketApi:
    """Handlers of the market endpoints over the venue's per-symbol state."""

    def __init__(
        self,
        markets: Mapping[str, SymbolMarket],
        now: Callable[[], int],
        config: VenueConfig,
        server_time: Callable[[], int] | None = None,
    ) -> None:
        self.markets = markets
        self.now = now
        self.config = config
        #: The venue's clock in ms (default: the replay time).
        self.server_time = server_time

    def endpoints(self) -> list[Endpoint]:
        """The route table (paths under ``config.rest_prefix``)."""
        prefix = self.config.rest_prefix
        return [
            Endpoint("GET", f"{prefix}/ping", self.ping, fixed(1)),
            Endpoint("GET", f"{prefix}/time", self.time, fixed(1)),
            Endpoint("GET", f"{prefix}/exchangeInfo", self.exchange_info, fixed(1)),
            Endpoint("GET", f"{prefix}/depth", self.depth, _depth_weight),
            Endpoint("GET", f"{prefix}/premiumIndex", self.premium_index, _premium_weight),
            Endpoint("GET", f"{prefix}/openInterest", self.open_interest, fixed(1)),
        ]

    def _server_ms(self) -> int:
        """The venue's clock (replay time plus a fault's offset), what ``/time`` says."""
        return self.server_time() if self.server_time is not None else self._now_ms()

    def _now_ms(self) -> int:
        return self.now() // MS

    def _market(self, request: web.Request) -> SymbolMarket | web.Response:
        symbol = request.query.get("symbol", "")
        if not symbol:
            return error(ERRORS[MANDATORY_PARAMETER], "symbol")
        market = self.markets.get(symbol.upper())
        if market is None:
            return error(ERRORS[INVALID_SYMBOL[0]])
        return market

    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self._server_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        instruments = [m.instrument for m in self.markets.values()]
        limits = tuple(
            replace(limit, limit=self.config.weight_limit)
            if limit.rate_limit_type == "REQUEST_WEIGHT"
            else limit
            for limit in DEFAULT_RATE_LIMITS
        )
        return json_response(exchange_info(instruments, self._server_ms(), limits).to_wire())

    async def depth(self, request: web.Request) -> web.Response:
        market = self._market(request)
        if isinstance(market, web.Response):
            return market
        try:
            limit = int(request.query.get("limit", DEFAULT_DEPTH_LIMIT))
        except ValueError:
            limit = -1
        if limit not in DEPTH_WEIGHTS:
            return error(ERRORS[INVALID_PARAMETER], "limit")
        reason = market.depth_unavailable(self.now(), self.config.warmup)
        if reason is not None:
            return not_yet(reason)
        book = market.book
        assert book is not None
        grids = market.grids
        bid_prices, bid_qtys = book.levels(BID, limit)
        ask_prices, ask_qtys = book.levels(ASK, limit)
        pairs = level_pairs(
            grids.price,
            grids.qty,
            np.concatenate((bid_prices, ask_prices)),
            np.concatenate((bid_qtys, ask_qtys)),
        )
        bids, asks = json_lists(pairs, np.array([0, len(bid_prices), len(pairs)], dtype=np.int64))
        now = self._now_ms()
        body = (
            f'{{"lastUpdateId":{market.last_id},"E":{now},"T":{now},"bids":{bids},"asks":{asks}}}'
        )
        return web.Response(text=body, content_type="application/json")

    def _premium(self, market: SymbolMarket) -> dict[str, Any] | None:
        mark = market.mark
        if mark is None:
            return None
        return {
            "symbol": market.instrument.symbol,
            "markPrice": _plain(mark.mark),
            "indexPrice": _plain(mark.index),
            "estimatedSettlePrice": _plain(mark.settle),
            "lastFundingRate": _plain(mark.funding_rate),
            "interestRate": "0.00010000",
            "nextFundingTime": mark.next_funding_time // MS,
            "time": mark.ts // MS,
        }

    async def premium_index(self, request: web.Request) -> web.Response:
        if not request.query.get("symbol"):
            entries = [self._premium(m) for m in self.markets.values()]
            return json_response([e for e in entries if e is not None])
        market = self._market(request)
        if isinstance(market, web.Response):
            return market
        entry = self._premium(market)
        if entry is None:
            symbol = market.instrument.symbol
            return not_yet(f"no mark price of {symbol} replayed yet")
        return json_response(entry)

    async def open_interest(self, request: web.Request) -> web.Response:
        market = self._market(request)
        if isinstance(market, web.Response):
            return market
        symbol = market.instrument.symbol
        if market.open_interest is None:
            return not_yet(f"no open interest of {symbol} replayed yet")
        value, ts = market.open_interest
        return json_response({"openInterest": _plain(value), "symbol": symbol, "time": ts // MS})


def not_yet(reason: str) -> web.Response:
    """HTTP 503 "server busy" with ``reason``: the data has not reached what was asked."""
    body = BUSY.body()
    body["msg"] += f" Loopback venue: {reason}."
    return json_response(body, BUSY.http_status, {"Retry-After": "1"})


def _plain(value: float) -> str:
    return np.format_float_positional(value if np.isfinite(value) else 0.0, trim="-")
