"""The venue's error table and the classifier of failed requests."""

from __future__ import annotations

import re

import pytest

from adapters.binance.wire import ERRORS, ErrorKind, classify
from adapters.binance.wire.errors import BANNED_MESSAGE, UNKNOWN_STATUS_MESSAGE
from streamsim.order_checks import REJECT_CODES


def _matches(template: str, message: str) -> bool:
    pattern = ".+".join(re.escape(part) for part in template.split("{}"))
    return re.fullmatch(pattern, message.replace("{}", "X")) is not None


def test_every_reject_code_the_simulator_emits_is_in_the_table_with_a_matching_message() -> None:
    for code, messages in REJECT_CODES.items():
        assert code in ERRORS, code
        for message in messages:
            assert _matches(ERRORS[code].message, message), (code, message)


def test_the_brief_codes_are_all_in_the_table() -> None:
    wanted = {-1003, -1006, -1007, -1021, -1022, -1102, -1111, -1116, -1121, -2011, -2013}
    wanted |= {-2014, -2015, -2019, -2021, -2022, -4003, -4116, -4120, -4164, -5022}
    assert wanted <= set(ERRORS)


def test_an_error_body_fills_the_message_template() -> None:
    assert ERRORS[-4164].body("5") == {
        "code": -4164,
        "msg": "Order's notional must be no smaller than 5 (unless you choose reduce only).",
    }
    assert ERRORS[-5022].http_status == 400


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, -5022, ErrorKind.REJECT),
        (400, -2019, ErrorKind.REJECT),
        (400, -4120, ErrorKind.REJECT),
        (400, -9999, ErrorKind.REJECT),  # an unknown code on a 4xx is still a reject
        (400, -1021, ErrorKind.CLOCK),
        (400, -1022, ErrorKind.AUTH),
        (401, -2014, ErrorKind.AUTH),
        (401, -2015, ErrorKind.AUTH),
        (500, -1006, ErrorKind.AMBIGUOUS),
        (408, -1007, ErrorKind.AMBIGUOUS),
        (502, None, ErrorKind.AMBIGUOUS),
    ],
)
def test_a_response_is_classified_by_its_code_and_status(
    status: int, code: int | None, kind: ErrorKind
) -> None:
    body = {"code": code, "msg": "x"} if code is not None else "Bad Gateway"
    verdict = classify(status, body)
    assert verdict is not None
    assert (verdict.kind, verdict.code) == (kind, code)


def test_a_success_is_not_an_error() -> None:
    assert classify(200, {"orderId": 1}) is None
    assert classify(200, {"algoId": 1, "code": "200", "msg": "success"}) is None


def test_503_unknown_error_is_ambiguous_but_service_unavailable_is_not() -> None:
    unknown = classify(503, {"code": -1000, "msg": UNKNOWN_STATUS_MESSAGE})
    assert unknown is not None and unknown.kind is ErrorKind.AMBIGUOUS
    plain = classify(503, "Service Unavailable.")
    assert plain is not None and plain.kind is ErrorKind.RATE_LIMIT


def test_a_timeout_or_dropped_connection_is_ambiguous() -> None:
    for exc in (TimeoutError("read timed out"), ConnectionResetError("reset by peer")):
        verdict = classify(None, None, exc)
        assert verdict is not None and verdict.kind is ErrorKind.AMBIGUOUS
        assert type(exc).__name__ in verdict.message


def test_429_is_a_rate_limit_with_its_retry_after() -> None:
    body = {"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."}
    verdict = classify(429, body, headers={"Retry-After": "7"})
    assert verdict is not None
    assert (verdict.kind, verdict.retry_after_s, verdict.banned_until_ms) == (
        ErrorKind.RATE_LIMIT,
        7.0,
        None,
    )


def test_418_is_a_ban_until_the_time_in_the_1003_message() -> None:
    body = {"code": -1003, "msg": BANNED_MESSAGE.format(1700000123456)}
    verdict = classify(418, body, headers={"retry-after": "120"})
    assert verdict is not None
    assert (verdict.kind, verdict.banned_until_ms, verdict.retry_after_s) == (
        ErrorKind.BAN,
        1700000123456,
        120.0,
    )
