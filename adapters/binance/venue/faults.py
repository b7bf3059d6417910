"""Fault injection: the loopback venue misbehaving on command, as the real one does.

A fault is scheduled at a replay time (:meth:`Faults.at`) or armed for the n-th request
matching a method and path (:meth:`Faults.on_request`). Market faults act on the stream
connections, request faults answer one REST request the way the venue does when it is
overloaded, banning or unsure, and user-stream faults act on the listen keys. The CLI
reads the same faults from ``--fault`` (:func:`parse_fault`). See ``docs/venue.md``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from streamsim.errors import ConfigError
from streamsim.run.clock import PHASE_TIMER
from streamsim.units import SECOND, utc_ns

from ..wire import ERRORS
from ..wire.errors import (
    BACKEND_TIMEOUT,
    BANNED_MESSAGE,
    MESSAGE_BUS,
    TOO_MANY_REQUESTS,
    UNKNOWN_ERROR,
    UNKNOWN_STATUS_MESSAGE,
)
from .streams import DEPTH_INTERVALS
from .weights import error, json_response

#: The HTTP status of a banned IP's requests.
BANNED = 418

if TYPE_CHECKING:
    from .server import LoopbackVenue


# -- the faults --------------------------------------------------------------------------


@dataclass(frozen=True)
class DropConnections:
    """Close every market connection (of ``route``, or all) without a close handshake."""

    route: str | None = None


@dataclass(frozen=True)
class SkipUpdateId:
    """Leave out the next depth frame of ``symbol`` on every stream: the client's ``pu``
    chain breaks without a disconnect, and it must resync from a snapshot."""

    symbol: str


@dataclass(frozen=True)
class DelayFrames:
    """Hold every market frame for ``seconds`` of wall time, then send them all."""

    seconds: float


@dataclass(frozen=True)
class DuplicateFrames:
    """Send each of the next ``count`` market frames twice."""

    count: int = 1


@dataclass(frozen=True)
class RateLimited:
    """Answer a request 429 (-1003) with ``Retry-After``; the request is not served."""

    retry_after: int = 5


@dataclass(frozen=True)
class Banned:
    """Answer every request 418 (-1003, "banned until <ms>") for ``seconds`` of wall time."""

    seconds: float = 120.0


@dataclass(frozen=True)
class UnknownStatus:
    """Answer an order request 503 "Unknown error" (``code`` -1006 / -1007 for those
    answers); ``placed`` says whether the venue took the order anyway."""

    placed: bool = True
    code: int | None = None


@dataclass(frozen=True)
class ClockJump:
    """Move the venue's clock by ``ms`` (signed requests then fail with -1021)."""

    ms: int


@dataclass(frozen=True)
class ExpireListenKey:
    """Expire the account's listen key now; the expiry event is sent ``times`` times."""

    times: int = 2


@dataclass(frozen=True)
class DuplicateUserEvents:
    """Send each of the next ``count`` user events twice."""

    count: int = 1


@dataclass(frozen=True)
class DropUserEvents:
    """Drop every user event for ``duration`` ns of replay time."""

    duration: int


MarketFault = DropConnections | SkipUpdateId | DelayFrames | DuplicateFrames
RequestFault = RateLimited | Banned | UnknownStatus
Fault = (
    MarketFault | RequestFault | ClockJump | ExpireListenKey | DuplicateUserEvents | DropUserEvents
)


@dataclass
class _Armed:
    method: str
    path: str
    nth: int
    fault: Fault
    seen: int = 0


@dataclass
class Faults:
    """The faults armed on one venue, and the log of those that fired."""

    venue: LoopbackVenue
    fired: list[tuple[int, Fault]] = field(default_factory=list)
    _armed: list[_Armed] = field(default_factory=list)
    _banned_until: float = 0.0  # wall time (monotonic) a 418 ban ends

    def at(self, when: int, fault: Fault) -> None:
        """Apply ``fault`` when the replay reaches ``when`` (ns)."""
        if isinstance(fault, RateLimited | Banned | UnknownStatus):
            raise ConfigError(f"{type(fault).__name__} answers a request: use on_request")
        self.venue.clock.schedule(when, PHASE_TIMER, self._fire, fault)

    def on_request(self, method: str, path: str, fault: Fault, nth: int = 1) -> None:
        """Answer the ``nth`` request of ``method`` ``path`` (counted from now, any REST
        endpoint) with a request ``fault`` (a :class:`Banned` fault bans every REST request
        from that one on), or fire any other fault when that request comes."""
        if nth < 1:
            raise ConfigError(f"nth must be >= 1, got {nth}")
        self._armed.append(_Armed(method.upper(), path, nth, fault))

    def now(self, fault: Fault) -> None:
        """Apply a market, clock or user-stream fault at once."""
        self._fire(fault)

    def request_fault(self, method: str, path: str) -> RequestFault | None:
        """The request fault armed for this request, if it is the one (consumed when it
        fires); a market, clock or user-stream fault armed on it fires now instead."""
        for armed in self._armed:
            if armed.method == method and armed.path == path:
                armed.seen += 1
                if armed.seen == armed.nth:
                    self._armed.remove(armed)
                    fault = armed.fault
                    if isinstance(fault, RateLimited | Banned | UnknownStatus):
                        self.fired.append((self.venue.now(), fault))
                        return fault
                    self._fire(fault)
                    return None
        return None

    def answer(self, method: str, path: str) -> web.Response | UnknownStatus | None:
        """How a REST request is answered now: a ban's 418 or an armed fault's response;
        an :class:`UnknownStatus` whose order is placed (serve it, then answer that); or
        None (serve it as usual)."""
        now = time.monotonic()
        if now < self._banned_until:
            return _banned(int((time.time() + self._banned_until - now) * 1000))
        fault = self.request_fault(method, path)
        if isinstance(fault, RateLimited):
            retry = {"Retry-After": str(fault.retry_after)}
            return error(ERRORS[TOO_MANY_REQUESTS], 2400, headers=retry)
        if isinstance(fault, Banned):
            self._banned_until = now + fault.seconds
            return _banned(int((time.time() + fault.seconds) * 1000))
        if isinstance(fault, UnknownStatus):
            return fault if fault.placed else unknown_status(fault)
        return None

    def _fire(self, fault: Fault) -> None:
        venue = self.venue
        self.fired.append((venue.now(), fault))
        actions: dict[type, Callable[[Any], object]] = {
            DropConnections: lambda f: venue.hub.drop_all(f.route),
            SkipUpdateId: lambda f: venue.replay.skip_depth.update(
                {f.symbol: set(DEPTH_INTERVALS)}
            ),
            DelayFrames: lambda f: venue.hub.delay(f.seconds),
            DuplicateFrames: lambda f: venue.hub.duplicate(f.count),
            ClockJump: lambda f: venue.shift_clock(f.ms),
            ExpireListenKey: lambda f: venue.listen_keys.expire_all(f.times),
            DuplicateUserEvents: lambda f: venue.listen_keys.duplicate_next(f.count),
            DropUserEvents: lambda f: venue.listen_keys.drop_until(venue.now() + f.duration),
        }
        actions[type(fault)](fault)


def _banned(until_ms: int) -> web.Response:
    """The answer to every request of a banned IP: 418, -1003 naming the ban's end."""
    body = {"code": TOO_MANY_REQUESTS, "msg": BANNED_MESSAGE.format(until_ms)}
    return json_response(body, BANNED)


def unknown_status(fault: UnknownStatus) -> web.Response:
    """The venue's answer when it cannot tell whether the order was placed."""
    if fault.code is None:
        return json_response({"code": UNKNOWN_ERROR, "msg": UNKNOWN_STATUS_MESSAGE}, 503)
    return error(ERRORS[fault.code])


# -- the command line ---------------------------------------------------------------------

_DURATION = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)(ms|s|m)?$")


def _seconds(text: str, signed: bool = False) -> float:
    """A duration of the flag (``500ms``, ``2s``, ``1m``); negative only where ``signed``."""
    match = _DURATION.match(text)
    if match is None or (text.startswith("-") and not signed):
        raise ConfigError(f"not a duration: {text!r} (e.g. 500ms, 2s, 1m)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]


def _placed(args: dict[str, str]) -> bool:
    value = args.get("placed", "yes").lower()
    if value not in ("yes", "no", "true", "false"):
        raise ConfigError(f"placed={value!r}: expected yes or no")
    return value in ("yes", "true")


def _fault(name: str, args: dict[str, str]) -> Fault:
    makers: dict[str, Callable[[], Fault]] = {
        "drop": lambda: DropConnections(args.get("route")),
        "skip-id": lambda: SkipUpdateId(args["symbol"].upper()),
        "delay": lambda: DelayFrames(_seconds(args.get("for", "1s"))),
        "duplicate": lambda: DuplicateFrames(int(args.get("count", "1"))),
        "429": lambda: RateLimited(int(args.get("retry-after", "5"))),
        "418": lambda: Banned(_seconds(args.get("for", "2m"))),
        "503": lambda: UnknownStatus(_placed(args)),
        "-1006": lambda: UnknownStatus(_placed(args), MESSAGE_BUS),
        "-1007": lambda: UnknownStatus(_placed(args), BACKEND_TIMEOUT),
        "clock": lambda: ClockJump(int(_seconds(args["by"], signed=True) * 1000)),
        "expire-key": lambda: ExpireListenKey(int(args.get("times", "2"))),
        "duplicate-user": lambda: DuplicateUserEvents(int(args.get("count", "1"))),
        "drop-user": lambda: DropUserEvents(int(_seconds(args.get("for", "5s")) * SECOND)),
    }
    if name not in makers:
        raise ConfigError(f"unknown fault {name!r}; one of {', '.join(makers)}")
    try:
        return makers[name]()
    except KeyError as missing:
        raise ConfigError(f"fault {name!r} needs {missing.args[0]}=...") from None


def parse_fault(text: str) -> tuple[int | None, tuple[str, str, int] | None, Fault]:
    """One ``--fault``: ``NAME [key=value ...] (at=TIME | request=METHOD/PATH[#N])``, as
    (replay time, None, fault) or (None, (method, path, n), fault).

    ``at`` is a time with its zone (``2024-08-08T23:56:00Z``). Examples: ``drop
    at=2024-08-08T23:56:00Z``, ``skip-id symbol=BTCUSDT at=2024-08-08T23:57:00Z``,
    ``503 placed=no request=POST/fapi/v1/order#2``.
    """
    words = text.split()
    if not words:
        raise ConfigError("--fault: empty")
    name, args = words[0], {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            raise ConfigError(f"--fault {text!r}: expected key=value, got {word!r}")
        args[key] = value
    fault = _fault(name, args)
    when = args.get("at")
    request = args.get("request")
    if (when is None) == (request is None):
        raise ConfigError(f"--fault {text!r}: give exactly one of at=TIME or request=METHOD/PATH")
    if request is not None:
        target, _, nth = request.partition("#")
        method, _, path = target.partition("/")
        if not method or not path:
            raise ConfigError(f"--fault {text!r}: request=METHOD/PATH, e.g. POST/fapi/v1/order")
        return None, (method.upper(), "/" + path, int(nth or "1")), fault
    assert when is not None
    try:
        return utc_ns(dt.datetime.fromisoformat(when.replace("Z", "+00:00"))), None, fault
    except ValueError as error:
        raise ConfigError(f"--fault {text!r}: at={when!r}: {error}") from None


__all__ = [
    "Banned",
    "ClockJump",
    "DelayFrames",
    "DropConnections",
    "DropUserEvents",
    "DuplicateFrames",
    "DuplicateUserEvents",
    "ExpireListenKey",
    "Fault",
    "Faults",
    "RateLimited",
    "SkipUpdateId",
    "UnknownStatus",
    "parse_fault",
]
