"""The venue's error codes as one table, and what a failed request means for its order.

:data:`ERRORS` holds per code the HTTP status the venue answers with, its message (``{}``
where the venue fills in a value) and its :class:`ErrorKind`. The simulated exchange in
``streamsim.sim`` emits a subset of these codes (``streamsim.order_checks.REJECT_CODES``);
it may not import adapters, so the table lives here and a test holds the two in agreement.

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

_ROWS: tuple[tuple[int, int, str, ErrorKind], ...] = (
    (-1000, 500, "An unknown error occured while processing the request.", _A),
    (-1001, 500, "Internal error; unable to process your request. Please try again.", _A),
    (-1002, 401, "You are not authorized to execute this request.", _U),
    (-1003, 429, "Too many requests; current limit is {} requests per minute.", _L),
    (-1006, 500, "An unexpected response was received from the message bus. "
     "Execution status unknown.", _A),
    (-1007, 408, "Timeout waiting for response from backend server. Send status unknown; "
     "execution status unknown.", _A),
    (-1008, 503, "Server is currently overloaded with other requests. "
     "Please try again in a few minutes.", _L),
    (-1014, 400, "Unsupported order combination.", _R),
    (-1015, 429, "Too many new orders; current limit is {} orders per {}.", _L),
    (-1021, 400, "Timestamp for this request is outside of the recvWindow.", _C),
    (-1022, 400, "Signature for this request is not valid.", _U),
    (-1100, 400, "Illegal characters found in parameter '{}'; legal range is '{}'.", _R),
    (-1101, 400, "Too many parameters sent for this endpoint.", _R),
    (-1102, 400, "Mandatory parameter '{}' was not sent, was empty/null, or malformed.", _R),
    (-1103, 400, "An unknown parameter was sent.", _R),
    (-1106, 400, "Parameter '{}' sent when not required.", _R),
    (-1111, 400, "Precision is over the maximum defined for this asset.", _R),
    (-1115, 400, "Invalid timeInForce.", _R),
    (-1116, 400, "Invalid orderType.", _R),
    (-1117, 400, "Invalid side.", _R),
    (-1121, 400, "Invalid symbol.", _R),
    (-1125, 400, "This listenKey does not exist.", _R),
    (-1130, 400, "Data sent for parameter '{}' is not valid.", _R),
    (-2011, 400, "Unknown order sent.", _R),
    (-2013, 400, "Order does not exist.", _R),
    (-2014, 401, "API-key format invalid.", _U),
    (-2015, 401, "Invalid API-key, IP, or permissions for action.", _U),
    (-2019, 400, "Margin is insufficient.", _R),
    (-2021, 400, "Order would immediately trigger.", _R),
    (-2022, 400, "ReduceOnly Order is rejected.", _R),
    (-4002, 400, "Price greater than max price.", _R),
    (-4003, 400, "Quantity less than or equal to zero.", _R),
    (-4005, 400, "Quantity greater than max quantity.", _R),
    (-4006, 400, "Stop price less than zero.", _R),
    (-4007, 400, "Stop price greater than max price.", _R),
    (-4013, 400, "Price less than min price.", _R),
    (-4015, 400, "Client order id is not valid.", _R),
    (-4116, 400, "ClientOrderId is duplicated.", _R),
    (-4120, 400, "Order type not supported for this endpoint. Please use the Algo Order API "
     "endpoints instead.", _R),
    (-4164, 400, "Order's notional must be no smaller than {} (unless you choose reduce only).",
     _R),
    (-5022, 400, "Due to the order could not be executed as maker, the Post Only order will be "
     "rejected.", _R),
    # streamsim's own codes (not the venue's): the book guard and a bankrupt account
    (-9001, 400, "Blocked by the book guard: {}.", _R),
    (-9002, 400, "Account is bankrupt: the wallet balance went below zero.", _R),
)  # fmt: skip

#: Every known code: its HTTP status, message and kind.
ERRORS: dict[int, VenueError] = {row[0]: VenueError(*row) for row in _ROWS}

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
    if http_status == 418 or (code == -1003 and banned):
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
