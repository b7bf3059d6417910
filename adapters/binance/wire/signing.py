"""Signed requests: the client's signature and the server's check of it.

The venue signs ``query string + body`` (concatenated as sent, no separator) with
HMAC-SHA256 (hex) or Ed25519 (base64, URL-encoded in the query); ``signature`` is the last
parameter, the API key travels in the ``X-MBX-APIKEY`` header. The server (the loopback
venue) checks, in order: the key (-2014 absent or malformed, -2015 unknown), the mandatory
``timestamp`` and ``signature`` (-1102), ``recvWindow`` (at most 60000, -1130), the
signature (-1022), then the time: 1000 ms or more ahead of the server, or older than
``recvWindow`` (default 5000), is -1021 (the venue's rule: accept only
``timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow``).

Secrets are held in :class:`Secret`, whose ``repr`` and ``str`` are masked, so that a
logged request, key or exception never shows one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from .errors import (
    BAD_API_KEY_FORMAT,
    ERRORS,
    INVALID_PARAMETER,
    INVALID_SIGNATURE,
    MANDATORY_PARAMETER,
    REJECTED_API_KEY,
    TIMESTAMP_OUTSIDE_WINDOW,
    VenueError,
)

API_KEY_HEADER = "X-MBX-APIKEY"
DEFAULT_RECV_WINDOW_MS = 5_000
MAX_RECV_WINDOW_MS = 60_000
#: A request's timestamp must be less than this far ahead of the server's clock.
MAX_AHEAD_MS = 1_000
#: The -1021 message for a request ahead of the server's clock.
AHEAD_MESSAGE = "Timestamp for this request was 1000ms ahead of the server's time."
_API_KEY = re.compile(r"^[A-Za-z0-9]{1,128}$")

Algorithm = Literal["hmac", "ed25519"]


class Secret:
    """A secret value whose ``repr``/``str`` never show it; :meth:`reveal` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes) -> None:
        self._value = value.encode() if isinstance(value, str) else bytes(value)

    def reveal(self) -> bytes:
        """The secret itself (to sign with; never log it)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(Secret)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled")


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key and what signs its requests: an HMAC secret or an Ed25519 private key
    (PEM). On the server side, ``secret`` is the HMAC secret or the Ed25519 public key
    (PEM) registered for the key."""

    api_key: str
    secret: Secret = field(repr=False)
    algorithm: Algorithm = "hmac"


def hmac_signature(secret: Secret, payload: str) -> str:
    """HMAC-SHA256 of ``payload``, lower-case hex."""
    return hmac.new(secret.reveal(), payload.encode(), hashlib.sha256).hexdigest()


def ed25519_signature(private_key_pem: Secret, payload: str) -> str:
    """Ed25519 signature of ``payload``, base64 (URL-encode it for a query string)."""
    key = load_pem_private_key(private_key_pem.reveal(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the private key is not an Ed25519 key")
    return base64.b64encode(key.sign(payload.encode())).decode()


def sign(credentials: Credentials, payload: str) -> str:
    """The ``signature`` parameter's value for ``payload`` (already URL-encoded)."""
    if credentials.algorithm == "hmac":
        return hmac_signature(credentials.secret, payload)
    return quote(ed25519_signature(credentials.secret, payload), safe="")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What to send: the query string (``signature`` last), the body, the key header."""

    query: str
    body: str
    headers: dict[str, str]


def signed_request(
    credentials: Credentials,
    params: Mapping[str, object],
    timestamp_ms: int,
    *,
    recv_window_ms: int | None = None,
    body: str = "",
) -> SignedRequest:
    """``params`` in insertion order, then ``timestamp``, the optional ``recvWindow`` and
    the ``signature`` over the query string and ``body``."""
    items = [(k, _text(v)) for k, v in params.items()]
    items.append(("timestamp", str(timestamp_ms)))
    if recv_window_ms is not None:
        items.append(("recvWindow", str(recv_window_ms)))
    query = urlencode(items)
    signature = sign(credentials, query + body)
    return SignedRequest(
        f"{query}&signature={signature}", body, {API_KEY_HEADER: credentials.api_key}
    )


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- server side ----------------------------------------------------------------------------


class SignatureError(Exception):
    """A signed request the venue refuses, with the venue's error row and message."""

    def __init__(self, error: VenueError, *values: object, message: str | None = None) -> None:
        self.error = error
        self.body = error.body(*values)
        if message is not None:
            self.body["msg"] = message
        super().__init__(f"{error.code}: {self.body['msg']}")

    @property
    def http_status(self) -> int:
        return self.error.http_status


@dataclass(frozen=True, slots=True)
class Verified:
    """A request that passed :func:`verify`: its key and its parameters (query then body,
    without ``signature``)."""

    api_key: str
    params: dict[str, str]
    timestamp_ms: int
    recv_window_ms: int


def _split_signature(text: str) -> tuple[str, str | None]:
    """``text`` without its trailing ``signature`` parameter, and that parameter's value."""
    head, sep, value = text.rpartition("signature=")
    if not sep or (head and not head.endswith("&")) or "&" in value:
        return text, None
    return head.removesuffix("&"), value


def _ed25519_valid(public_key_pem: Secret, payload: str, signature: str) -> bool:
    try:
        key = load_pem_public_key(public_key_pem.reveal())
        if not isinstance(key, Ed25519PublicKey):
            return False
        key.verify(base64.b64decode(signature, validate=True), payload.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


def verify(
    query: str,
    body: str,
    headers: Mapping[str, str],
    keys: Mapping[str, Credentials],
    server_time_ms: int,
) -> Verified:
    """Check a signed request as the venue does; :class:`SignatureError` if it is refused.

    ``query`` and ``body`` are exactly as received (the signature covers their bytes);
    ``keys`` maps each API key to the credentials registered for it."""
    api_key = next((v for k, v in headers.items() if k.lower() == API_KEY_HEADER.lower()), None)
    if api_key is None or not _API_KEY.match(api_key):
        raise SignatureError(ERRORS[BAD_API_KEY_FORMAT])
    credentials = keys.get(api_key)
    if credentials is None:
        raise SignatureError(ERRORS[REJECTED_API_KEY])
    signed_query, signature = _split_signature(query)
    signed_body = body
    if signature is None and body:
        signed_body, signature = _split_signature(body)
    payload = signed_query + signed_body
    params = dict(parse_qsl(signed_query, keep_blank_values=True))
    params.update(parse_qsl(signed_body, keep_blank_values=True))
    if "timestamp" not in params or not params["timestamp"].isdigit():
        raise SignatureError(ERRORS[MANDATORY_PARAMETER], "timestamp")
    if not signature:
        raise SignatureError(ERRORS[MANDATORY_PARAMETER], "signature")
    window_text = params.get("recvWindow", str(DEFAULT_RECV_WINDOW_MS))
    if not window_text.isdigit() or not 0 < int(window_text) <= MAX_RECV_WINDOW_MS:
        raise SignatureError(ERRORS[INVALID_PARAMETER], "recvWindow")
    if credentials.algorithm == "hmac":
        expected = hmac_signature(credentials.secret, payload).encode()
        valid = hmac.compare_digest(expected, signature.lower().encode())
    else:
        valid = _ed25519_valid(credentials.secret, payload, unquote(signature))
    if not valid:
        raise SignatureError(ERRORS[INVALID_SIGNATURE])
    timestamp, window = int(params["timestamp"]), int(window_text)
    if timestamp - server_time_ms >= MAX_AHEAD_MS:
        raise SignatureError(ERRORS[TIMESTAMP_OUTSIDE_WINDOW], message=AHEAD_MESSAGE)
    if server_time_ms - timestamp > window:
        raise SignatureError(ERRORS[TIMESTAMP_OUTSIDE_WINDOW])
    return Verified(api_key, params, timestamp, window)
