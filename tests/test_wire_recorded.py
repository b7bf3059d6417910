"""Every recorded venue payload decodes to a typed message and encodes back unchanged."""

from __future__ import annotations

import collections
import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.binance.wire import (
    AggTrade,
    BookTicker,
    DepthSnapshot,
    DepthUpdate,
    Envelope,
    ExchangeInfo,
    MarkPriceUpdate,
    OtherEvent,
    Trade,
    WireMessage,
    decode_frame,
    dumps,
    loads,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FUTURES_WS = SHARED / "binance-futures-ws"
USDM = SHARED / "binance-usdm-capture"

pytestmark = pytest.mark.skipif(not FUTURES_WS.is_dir(), reason="shared data not present")


def _recorder_frames(path: Path) -> Iterator[tuple[str | None, bytes]]:
    """``(REST url or None, raw JSON)`` of every venue payload in a cryptofeed recording
    (the first line names the subscription; ``configuration:`` is the recorder's own)."""
    for line in path.read_bytes().splitlines():
        url = None
        if b" -> " in line:
            head, line = line.split(b" -> ", 1)
            url = head.decode()
        stamp, sep, raw = line.partition(b": ")
        if sep and raw.startswith(b"{") and stamp != b"configuration":
            yield url, raw


def _capture_frames(path: Path) -> Iterator[bytes]:
    with gzip.open(path) as lines:
        for line in lines:
            yield line.split(b" ", 1)[1].rstrip(b"\n")


def _decode(url: str | None, raw: bytes) -> WireMessage | OtherEvent:
    data = loads(raw)
    if url is not None and "/exchangeInfo" in url:
        return ExchangeInfo.from_wire(data)
    return decode_frame(data)


def _kind(message: WireMessage | OtherEvent) -> str:
    inner = message.data if isinstance(message, Envelope) else message
    return type(inner).__name__


def _round_trip(frames: Iterator[tuple[str | None, bytes]]) -> collections.Counter[str]:
    """Decode and re-encode every frame; the kinds seen. The encoding must equal the
    payload and, but for exchangeInfo (whose filters list their keys in no fixed order),
    its compact JSON the payload's byte for byte (same keys, same order, same strings)."""
    kinds: collections.Counter[str] = collections.Counter()
    for url, raw in frames:
        message = _decode(url, raw)
        wire = message.to_wire()
        original = loads(raw)
        assert wire == original, raw[:120]
        if not isinstance(message, ExchangeInfo):
            assert dumps(wire) == dumps(original), raw[:120]
        kinds[_kind(message)] += 1
    return kinds


def test_every_payload_of_the_2021_futures_recording_round_trips_typed_but_klines() -> None:
    kinds: collections.Counter[str] = collections.Counter()
    for name in ("BINANCE_FUTURES.ws.1.0", "BINANCE_FUTURES.http.0.0", "BINANCE_FUTURES.0"):
        kinds += _round_trip(_recorder_frames(FUTURES_WS / name))
    assert kinds == {
        DepthUpdate.__name__: 764,
        BookTicker.__name__: 613,
        AggTrade.__name__: 91,
        OtherEvent.__name__: 67,  # kline_1m, kept as it came
        DepthSnapshot.__name__: 4,
        ExchangeInfo.__name__: 1,
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "btcusdt_20240808.gz",
            {"BookTicker": 66089, "Trade": 21313, "DepthUpdate": 6551, "DepthSnapshot": 1},
        ),
        (
            "btcusdt_20230404.dat.gz",
            {
                "BookTicker": 6765,
                "DepthUpdate": 4322,
                "Trade": 2197,
                "MarkPriceUpdate": 99,
                "DepthSnapshot": 1,
            },
        ),
        (
            "btcusdt_20230405.dat.gz",
            {"BookTicker": 37440, "DepthUpdate": 11788, "Trade": 10738, "MarkPriceUpdate": 415},
        ),
    ],
)
def test_every_payload_of_a_usdm_capture_round_trips_as_a_typed_message(
    name: str, expected: dict[str, int]
) -> None:
    kinds = _round_trip((None, raw) for raw in _capture_frames(USDM / name))
    assert kinds == expected


def test_a_recorded_depth_diff_reads_with_readable_names_and_its_decimal_strings() -> None:
    url, raw = next(
        frame
        for frame in _recorder_frames(FUTURES_WS / "BINANCE_FUTURES.ws.1.0")
        if b"depthUpdate" in frame[1]
    )
    envelope = decode_frame(loads(raw))
    assert isinstance(envelope, Envelope)
    diff = envelope.data
    assert isinstance(diff, DepthUpdate)
    assert url is None
    assert envelope.stream == "sushiusdt@depth@100ms"
    assert (diff.first_update_id, diff.final_update_id, diff.prev_final_update_id) == (
        600859599090,
        600859600917,
        600859598061,
    )
    assert diff.bids[0] == ("7.5040", "813")  # the venue's string, trailing zero kept


def test_a_recorded_mark_price_carries_its_funding_fields() -> None:
    raw = next(r for r in _capture_frames(USDM / "btcusdt_20230404.dat.gz") if b"markPrice" in r)
    envelope = decode_frame(loads(raw))
    assert isinstance(envelope, Envelope)
    mark = envelope.data
    assert isinstance(mark, MarkPriceUpdate)
    assert mark.funding_rate == "0.00002754"
    assert mark.next_funding_time == 1680652800000


def test_a_recorded_trade_keeps_its_order_type() -> None:
    raw = next(r for r in _capture_frames(USDM / "btcusdt_20240808.gz") if b'"trade"' in r)
    envelope = decode_frame(loads(raw))
    assert isinstance(envelope, Envelope)
    assert isinstance(envelope.data, Trade)
    assert envelope.data.order_type == "MARKET"
