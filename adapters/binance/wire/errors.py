"""The venue's error codes as one table, and what a failed request means for its order.

:data:`ERRORS` holds per code the HTTP status the venue answers with, its message (``{}``
where the venue fills in a value) and its :class:`ErrorKind`. The simulated exchange in
``streamsim.sim`` emits a subset of these codes, defined in ``streamsim.order_checks``
(their one home; the core may not import adapters): the table takes those from there,
adds the protocol's own (transport, auth, clock), and a test holds the two in agreement.

:func:`classify` reads a response (or the exception that replaced it) into an
:class:`ErrorClass`: above all, whether the order is surely not placed (a definitive
reject) or may have been placed (ambiguous: query before retrying).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streamsim import order_checks as oc


class ErrorKind(enum.Enum):
    """What a failed request means for the caller."""

    REJECT = "reject"  # definitive: nothing was done; fix the request
    AMBIGUOUS = "ambiguous"  # the order may or may not exist: query it, never blindly resend
    RATE_LIMIT = "rate_limit"  # 429 (or server busy): back off, then retry
    BAN = "ban"  # 418: the IP is banned until a time
    AUTH = "auth"  # key, permission or signature
    CLOCK = "clock"  # -1021: timestamp outside recvWindow or ahead of the server


@dataclass(frozen=True, slots=True)
class VenueError:
    """One row of the table."""

    code: int
    http_status: int
    message: str
    kind: ErrorKind

    def body(self, *values: object) -> dict[str, Any]:
        """The response body, the message's ``{}`` filled with ``values``."""
        return {"code": self.code, "msg": self.message.format(*values)}


_R, _A, _L, _B, _U, _C = (
    ErrorKind.REJECT,
    ErrorKind.AMBIGUOUS,
    ErrorKind.RATE_LIMIT,
    ErrorKind.BAN,
    ErrorKind.AUTH,
    ErrorKind.CLOCK,
)

#: The codes the signature check and the classifier name.
TOO_MANY_REQUESTS = -1003
TIMESTAMP_OUTSIDE_WINDOW = -1021
INVALID_SIGNATURE = -1022
MANDATORY_PARAMETER = oc.NO_PRICE[0]
INVALID_PARAMETER = -1130
BAD_API_KEY_FORMAT = -2014
REJECTED_API_KEY = -2015
#: The protocol's codes the loopback venue answers with.
UNKNOWN_ERROR = -1000
MESSAGE_BUS = -1006
BACKEND_TIMEOUT = -1007
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
NO_LISTEN_KEY = -1125
ALGO_ENDPOINT = -4120

#: The protocol's codes that the simulated exchange never emits.
_PROTOCOL: tuple[tuple[int, int, str, ErrorKind], ...] = (
    (UNKNOWN_ERROR, 500, "An unknown error occured while processing the request.", _A),
    (-1001, 500, "Internal error; unable to process your request. Please try again.", _A),
    (-1002, 401, "You are not authorized to execute this request.", _U),
    (TOO_MANY_REQUESTS, 429, "Too many requests; current limit is {} requests per minute.", _L),
    (MESSAGE_BUS, 500, "An unexpected response was received from the message bus. "
     "Execution status unknown.", _A),
    (BACKEND_TIMEOUT, 408, "Timeout waiting for response from backend server. Send status unknown; "
     "execution status unknown.", _A),
    (-1008, 503, "Server is currently overloaded with other requests. "
     "Please try again in a few minutes.", _L),
    (-1014, 400, "Unsupported order combination.", _R),
    (-1015, 429, "Too many new orders; current limit is {} orders per {}.", _L),
    (TIMESTAMP_OUTSIDE_WINDOW, 400, "Timestamp for this request is outside of the recvWindow.",
     _C),
    (INVALID_SIGNATURE, 400, "Signature for this request is not valid.", _U),
    (-1100, 400, "Illegal characters found in parameter '{}'; legal range is '{}'.", _R),
    (-1101, 400, "Too many parameters sent for this endpoint.", _R),
    (-1103, 400, "An unknown parameter was sent.", _R),
    (INVALID_TIF, 400, "Invalid timeInForce.", _R),
    (INVALID_ORDER_TYPE, 400, "Invalid orderType.", _R),
    (INVALID_SIDE, 400, "Invalid side.", _R),
    (NO_LISTEN_KEY, 400, "This listenKey does not exist.", _R),
    (INVALID_PARAMETER, 400, "Data sent for parameter '{}' is not valid.", _R),
    (BAD_API_KEY_FORMAT, 401, "API-key format invalid.", _U),
    (REJECTED_API_KEY, 401, "Invalid API-key, IP, or permissions for action.", _U),
    (ALGO_ENDPOINT, 400, "Order type not supported for this endpoint. Please use the Algo "
     "Order API endpoints instead.", _R),
)  # fmt: skip


def _parameter_slot(message: str, parameter: str) -> str:
    """A one-parameter message with the parameter's name as the slot ``{}``."""
    return message.replace(f"'{parameter}'", "'{}'")


#: The codes the simulated exchange emits, taken from ``streamsim.order_checks`` (their
#: one home): definitive rejects, HTTP 400. -1102 and -1106 name their parameter.
_SIMULATED: tuple[tuple[int, str], ...] = (
    oc.PRECISION,
    oc.BAD_QTY,
    oc.QTY_TOO_LARGE,
    oc.PRICE_TOO_SMALL,
    oc.PRICE_TOO_LARGE,
    oc.STOP_TOO_SMALL,
    oc.STOP_TOO_LARGE,
    (oc.NO_PRICE[0], _parameter_slot(oc.NO_PRICE[1], "price")),
    (oc.PRICE_NOT_REQUIRED[0], _parameter_slot(oc.PRICE_NOT_REQUIRED[1], "price")),
    oc.BAD_CLIENT_ID,
    oc.INVALID_SYMBOL,
    oc.MARGIN,
    oc.REDUCE_ONLY,
    oc.MIN_NOTIONAL,
    oc.IMMEDIATE_TRIGGER,
    oc.POST_ONLY,
    oc.DUPLICATE_ID,
    oc.NO_SUCH_ORDER,
    (oc.UNKNOWN_ORDER, oc.UNKNOWN_ORDER_MESSAGE),
    (oc.GUARD_REJECT, oc.GUARD_MESSAGE),  # streamsim's own: the book guard
    oc.BANKRUPT,  # streamsim's own: a bankrupt account
)

#: Every known code: its HTTP status, message and kind.
ERRORS: dict[int, VenueError] = {
    **{row[0]: VenueError(*row) for row in _PROTOCOL},
    **{code: VenueError(code, 400, message, _R) for code, message in _SIMULATED},
}

#: The body of an HTTP 503 whose order status is unknown (others mean "not executed").
UNKNOWN_STATUS_MESSAGE = "Unknown error, please check your request or try again later."
#: The message of -1003 when the IP is banned, with the ban's end in ms.
BANNED_MESSAGE = (
    "Way too many requests; IP banned until {}. Please use the websocket for live updates to "
    "avoid bans."
)
_BANNED_UNTIL = re.compile(r"banned until (\d+)")


@dataclass(frozen=True, slots=True)
class ErrorClass:
    """A failed request, classified: its kind, the venue's code and message when it sent
    one, and for rate limits and bans when to try again."""

    kind: ErrorKind
    code: int | None = None
    message: str = ""
    retry_after_s: float | None = None
    banned_until_ms: int | None = None


def _body(body: Any) -> tuple[int | None, str]:
    if isinstance(body, Mapping):
        code, msg = body.get("code"), body.get("msg")
        number = code if type(code) is int else None
        if type(code) is str and code.lstrip("-").isdigit():
            number = int(code)
        return number, msg if isinstance(msg, str) else ""
    if isinstance(body, bytes | str):
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        return None, text
    return None, ""


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value)
            except ValueError:
                return None
    return None


def classify(
    http_status: int | None,
    body: Any,
    exc: BaseException | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> ErrorClass | None:
    """What a response means for its request; None for a success.

    ``body`` is the decoded JSON (or the raw text); ``exc`` the exception raised instead
    of a response (a timeout, a dropped connection): then the request may have reached
    the venue, so the order's status is ambiguous. 418 is a ban (its end read from the
    -1003 message), 429 a rate limit (``Retry-After`` in seconds), 503 "Unknown error" and
    -1006 / -1007 ambiguous, -1021 the clock, key and signature errors auth; any other
    4xx is a definitive reject and any other 5xx ambiguous.
    """
    if exc is not None:
        return ErrorClass(ErrorKind.AMBIGUOUS, message=f"{type(exc).__name__}: {exc}")
    code, message = _body(body)
    if http_status is not None and 200 <= http_status < 300 and (code is None or code >= 0):
        return None
    banned = _BANNED_UNTIL.search(message)
    if http_status == 418 or (code == TOO_MANY_REQUESTS and banned):
        until = int(banned.group(1)) if banned else None
        return ErrorClass(ErrorKind.BAN, code, message, _retry_after(headers), until)
    if http_status == 429:
        return ErrorClass(ErrorKind.RATE_LIMIT, code, message, _retry_after(headers))
    known = ERRORS.get(code) if code is not None else None
    if known is not None:
        return ErrorClass(known.kind, code, message, _retry_after(headers))
    if http_status == 503 and not message.startswith("Unknown error"):
        return ErrorClass(ErrorKind.RATE_LIMIT, code, message, _retry_after(headers))
    if http_status in (401, 403):
        return ErrorClass(ErrorKind.AUTH, code, message)
    if http_status is not None and 400 <= http_status < 500:
        return ErrorClass(ErrorKind.REJECT, code, message)
    return ErrorClass(ErrorKind.AMBIGUOUS, code, message)
