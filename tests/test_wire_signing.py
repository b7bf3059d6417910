"""Request signing (HMAC-SHA256, Ed25519) and the venue-side check of it."""

from __future__ import annotations

import logging
import pickle

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from adapters.binance.wire import (
    API_KEY_HEADER,
    Credentials,
    Secret,
    SignatureError,
    signed_request,
    verify,
)
from adapters.binance.wire.signing import AHEAD_MESSAGE, hmac_signature

#: The venue documentation's HMAC example (not a real key).
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"

NOW = 1_700_000_000_000
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
HMAC = Credentials(KEY, Secret("test-secret-not-real"))
PARAMS = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001"}


def _ed25519_pair() -> tuple[Credentials, Credentials]:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return (
        Credentials("ed25519key", Secret(pem), "ed25519"),
        Credentials("ed25519key", Secret(public), "ed25519"),
    )


def _code(query: str, body: str = "", headers: dict[str, str] | None = None, **kw: int) -> int:
    with pytest.raises(SignatureError) as caught:
        verify(
            query,
            body,
            {API_KEY_HEADER: KEY} if headers is None else headers,
            {KEY: HMAC},
            kw.get("now", NOW),
        )
    return int(caught.value.body["code"])


def test_hmac_signature_matches_the_venue_documentation_example() -> None:
    assert hmac_signature(Secret(DOC_SECRET), DOC_QUERY) == DOC_SIGNATURE


def test_a_signed_query_has_params_in_order_then_timestamp_recv_window_and_signature_last() -> None:
    request = signed_request(HMAC, PARAMS, NOW, recv_window_ms=5000)
    names = [part.split("=", 1)[0] for part in request.query.split("&")]
    assert names == ["symbol", "side", "type", "quantity", "timestamp", "recvWindow", "signature"]
    unsigned = request.query.rsplit("&signature=", 1)[0]
    assert request.query.endswith("&signature=" + hmac_signature(HMAC.secret, unsigned))
    assert request.headers == {API_KEY_HEADER: KEY}


def test_a_correctly_signed_request_is_verified_with_its_parameters() -> None:
    request = signed_request(HMAC, PARAMS, NOW - 10)
    verified = verify(request.query, "", request.headers, {KEY: HMAC}, NOW)
    assert verified.params == {**PARAMS, "timestamp": str(NOW - 10)}
    assert (verified.api_key, verified.recv_window_ms) == (KEY, 5000)


def test_the_signature_covers_query_and_body_concatenated() -> None:
    body = "price=61000.10&timeInForce=GTX"
    request = signed_request(HMAC, PARAMS, NOW, body=body)
    unsigned = request.query.rsplit("&signature=", 1)[0]
    assert request.query.endswith(hmac_signature(HMAC.secret, unsigned + body))
    verified = verify(request.query, request.body, request.headers, {KEY: HMAC}, NOW)
    assert verified.params["price"] == "61000.10"
    assert _code(request.query, "price=61000.20&timeInForce=GTX") == -1022


def test_a_request_signed_entirely_in_its_body_is_verified() -> None:
    request = signed_request(HMAC, PARAMS, NOW)
    verified = verify("", request.query, request.headers, {KEY: HMAC}, NOW)
    assert verified.params["symbol"] == "BTCUSDT"


def test_a_wrong_signature_is_rejected_with_1022() -> None:
    request = signed_request(Credentials(KEY, Secret("another-secret")), PARAMS, NOW)
    assert _code(request.query) == -1022


def test_a_tampered_parameter_is_rejected_with_1022() -> None:
    request = signed_request(HMAC, PARAMS, NOW)
    assert _code(request.query.replace("quantity=0.001", "quantity=1.000")) == -1022


def test_a_signature_that_is_not_hex_is_rejected_with_1022_not_an_exception() -> None:
    unsigned = signed_request(HMAC, PARAMS, NOW).query.rsplit("&signature=", 1)[0]
    assert _code(unsigned + "&signature=\u00e9t\u00e9") == -1022


def test_a_stale_timestamp_is_rejected_with_1021() -> None:
    request = signed_request(HMAC, PARAMS, NOW - 5001)
    assert _code(request.query) == -1021
    at_the_edge = signed_request(HMAC, PARAMS, NOW - 5000)
    assert verify(at_the_edge.query, "", at_the_edge.headers, {KEY: HMAC}, NOW).timestamp_ms


def test_a_stale_timestamp_inside_a_wider_recv_window_is_accepted() -> None:
    request = signed_request(HMAC, PARAMS, NOW - 50_000, recv_window_ms=60_000)
    assert verify(request.query, "", request.headers, {KEY: HMAC}, NOW).recv_window_ms == 60_000


def test_a_timestamp_one_and_a_half_seconds_ahead_is_rejected_with_1021() -> None:
    request = signed_request(HMAC, PARAMS, NOW + 1500)
    with pytest.raises(SignatureError) as caught:
        verify(request.query, "", request.headers, {KEY: HMAC}, NOW)
    assert caught.value.body == {"code": -1021, "msg": AHEAD_MESSAGE}
    assert caught.value.http_status == 400
    assert _code(signed_request(HMAC, PARAMS, NOW + 1000).query) == -1021
    just_inside = signed_request(HMAC, PARAMS, NOW + 999)
    assert verify(just_inside.query, "", {API_KEY_HEADER: KEY}, {KEY: HMAC}, NOW)


def test_a_recv_window_over_60000_is_refused() -> None:
    request = signed_request(HMAC, PARAMS, NOW, recv_window_ms=60_001)
    assert _code(request.query) == -1130


def test_a_missing_api_key_is_2014_and_an_unknown_one_2015() -> None:
    request = signed_request(HMAC, PARAMS, NOW)
    assert _code(request.query, headers={}) == -2014
    assert _code(request.query, headers={API_KEY_HEADER: "not a key!"}) == -2014
    assert _code(request.query, headers={API_KEY_HEADER: "unknownKey123"}) == -2015


def test_a_request_without_timestamp_or_signature_is_refused_with_1102() -> None:
    assert _code("symbol=BTCUSDT&signature=abc") == -1102
    assert _code(f"symbol=BTCUSDT&timestamp={NOW}") == -1102


def test_an_ed25519_signed_request_is_verified_and_a_tampered_one_rejected() -> None:
    signer, registered = _ed25519_pair()
    request = signed_request(signer, {**PARAMS, "newClientOrderId": "a/b:c"}, NOW)
    signature = request.query.rsplit("&signature=", 1)[1]
    assert "=" not in signature and "+" not in signature and "/" not in signature  # URL-encoded
    keys = {"ed25519key": registered}
    assert verify(request.query, "", request.headers, keys, NOW).params["newClientOrderId"] == (
        "a/b:c"
    )
    tampered = request.query.replace("BTCUSDT", "ETHUSDT")
    with pytest.raises(SignatureError) as caught:
        verify(tampered, "", request.headers, keys, NOW)
    assert caught.value.body["code"] == -1022


def test_a_secret_never_shows_in_repr_str_logs_or_pickles(caplog: pytest.LogCaptureFixture) -> None:
    secret_text = "s3cr3t-value-should-not-leak"
    credentials = Credentials(KEY, Secret(secret_text))
    shown = [repr(credentials.secret), str(credentials.secret), repr(credentials)]
    shown.append(f"{credentials.secret} {credentials.secret!r}")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("credentials %s %r", credentials, credentials.secret)
    shown.append(caplog.text)
    assert all(secret_text not in text for text in shown)
    assert "***" in repr(credentials.secret)
    assert credentials.secret.reveal() == secret_text.encode()
    with pytest.raises(TypeError):
        pickle.dumps(credentials.secret)
