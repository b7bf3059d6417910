"""S3Store against moto in server mode on 127.0.0.1 (and a fault-injecting loopback proxy)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socket
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from s3_server import (
    DUMMY_CREDENTIALS,
    FaultProxy,
    create_bucket,
    fault_proxy,
    loopback_s3,
    upload_tree,
)

import streamsim as ss
from adapters.cryptohftdata.s3 import S3Error, S3NotFoundError, S3Store, S3TimeoutError
from adapters.cryptohftdata.store import LocalStore
from streamsim.errors import ConfigError, DataError

SYNTH = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
PAYLOAD = random.Random(7).randbytes(200_000)
KEY = "trades/binance_futures/BTCUSDT/2025/07/01/trades.parquet"
SECRET = DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server for the module, with dummy credentials and loopback-only sockets."""
    with loopback_s3(tmp_path_factory.mktemp("aws")) as url:
        yield url


@pytest.fixture
def bucket(endpoint: str) -> str:
    """A fresh bucket holding PAYLOAD at ``data/KEY``."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    create_bucket(endpoint, name, {f"data/{KEY}": PAYLOAD})
    return name


@pytest.fixture
def proxy(endpoint: str) -> Iterator[FaultProxy]:
    with fault_proxy(endpoint) as running:
        yield running


def store(bucket: str, endpoint: str, **options: Any) -> S3Store:
    options.setdefault("backoff", 0.005)
    return S3Store(bucket, "data", region="us-east-1", endpoint_url=endpoint, **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_describe_names_the_s3_url() -> None:
    assert S3Store("bkt", "/a/b/").describe(KEY) == f"s3://bkt/a/b/{KEY}"
    assert S3Store("bkt").describe(KEY) == f"s3://bkt/{KEY}"
    with pytest.raises(ConfigError):
        S3Store("bkt/with/prefix")
    with pytest.raises(ConfigError, match="coalesce_gap"):
        S3Store("bkt", coalesce_gap=-1)


@pytest.mark.asyncio
async def test_size_of_present_and_missing_objects(bucket: str, endpoint: str) -> None:
    async with store(bucket, endpoint) as s3:
        assert await s3.size(KEY) == len(PAYLOAD)
        assert await s3.size("trades/binance_futures/BTCUSDT/2025/07/02/trades.parquet") is None


@pytest.mark.asyncio
async def test_read_range_returns_exact_bytes(bucket: str, endpoint: str) -> None:
    async with store(bucket, endpoint) as s3:
        assert await s3.read_range(KEY, 0, 10) == PAYLOAD[:10]
        assert await s3.read_range(KEY, 5, 5) == b""
        size = len(PAYLOAD)
        assert await s3.read_range(KEY, size - 8, size) == PAYLOAD[-8:]  # a Parquet footer
        assert await s3.read_range(KEY, 0, size) == PAYLOAD
        with pytest.raises(ValueError):
            await s3.read_range(KEY, 10, 5)


@pytest.mark.asyncio
async def test_read_tail_returns_size_and_last_bytes_in_one_get(
    bucket: str, proxy: FaultProxy
) -> None:
    create_bucket(proxy.url, bucket, {"data/empty": b"", "data/ten": b"0123456789"})
    async with store(bucket, proxy.url) as s3:
        before = proxy.count("GET")
        assert await s3.read_tail(KEY, 64) == (len(PAYLOAD), PAYLOAD[-64:])
        assert (proxy.count("GET"), proxy.count("HEAD")) == (before + 1, 0)
        assert await s3.read_tail("ten", 4) == (10, b"6789")
        assert await s3.read_tail("ten", 1000) == (10, b"0123456789")  # shorter than asked
        assert await s3.read_tail("empty", 8) == (0, b"")
        assert await s3.read_tail("absent", 8) is None
        with pytest.raises(ValueError):
            await s3.read_tail(KEY, 0)
        # S3 refuses any range of an empty object with 416 (moto answers 200 instead).
        proxy.fail_gets(1, status=416, code="InvalidRange")
        assert await s3.read_tail("empty", 8) == (0, b"")
        proxy.fail_gets(1, status=416, code="InvalidRange")
        with pytest.raises(DataError, match=r"unsatisfiable \(HTTP 416\) although the object"):
            await s3.read_tail("ten", 4)


@pytest.mark.asyncio
async def test_local_read_tail_matches_s3(tmp_path: Path) -> None:
    (tmp_path / "ten").write_bytes(b"0123456789")
    (tmp_path / "empty").write_bytes(b"")
    local = LocalStore(tmp_path)
    assert await local.read_tail("ten", 4) == (10, b"6789")
    assert await local.read_tail("ten", 1000) == (10, b"0123456789")
    assert await local.read_tail("empty", 8) == (0, b"")
    assert await local.read_tail("absent", 8) is None


@pytest.mark.asyncio
async def test_concurrent_reads_respect_max_in_flight(bucket: str, proxy: FaultProxy) -> None:
    rng = random.Random(1)
    ranges = [(a, a + rng.randrange(1, 20_000)) for a in rng.sample(range(180_000), 24)]
    proxy.slow_gets(0.03)
    async with store(bucket, proxy.url, max_in_flight=4) as s3:
        chunks = await asyncio.gather(*(s3.read_range(KEY, a, b) for a, b in ranges))
    assert chunks == [PAYLOAD[a:b] for a, b in ranges]
    assert proxy.count("GET") == 24
    assert 2 <= proxy.max_in_flight <= 4


@pytest.mark.asyncio
async def test_reading_a_missing_object_names_its_url(bucket: str, endpoint: str) -> None:
    missing = "orderbook/binance_futures/BTCUSDT/2025/07/01/orderbook_13.parquet"
    async with store(bucket, endpoint) as s3:
        with pytest.raises(S3NotFoundError, match=f"s3://{bucket}/data/{missing}: no such"):
            await s3.read_range(missing, 0, 100)
        with pytest.raises(FileNotFoundError):  # as LocalStore raises for a missing file
            await s3.read_range(missing, 0, 100)


@pytest.mark.asyncio
async def test_missing_bucket_is_a_clear_error(endpoint: str) -> None:
    async with store("no-such-bucket-here", endpoint) as s3:
        with pytest.raises(S3Error, match="bucket 'no-such-bucket-here' does not exist"):
            await s3.read_range(KEY, 0, 10)


@pytest.mark.asyncio
async def test_503_slowdown_succeeds_on_retry(bucket: str, proxy: FaultProxy) -> None:
    proxy.fail_gets(2)
    async with store(bucket, proxy.url, retries=2) as s3:
        assert await s3.read_range(KEY, 100, 300) == PAYLOAD[100:300]
    assert proxy.count("GET", "failed") == 2
    assert proxy.count("GET", "forwarded") == 1


@pytest.mark.asyncio
async def test_503_after_every_retry_is_a_clear_error(bucket: str, proxy: FaultProxy) -> None:
    proxy.fail_gets(100)
    async with store(bucket, proxy.url, retries=3) as s3:
        with pytest.raises(S3Error) as caught:
            await s3.read_range(KEY, 0, 10)
    message = str(caught.value)
    assert f"s3://{bucket}/data/{KEY}" in message
    assert "GET bytes=0-9 still failing after 4 attempt(s)" in message
    assert "503 SlowDown" in message
    assert proxy.count("GET") == 4


@pytest.mark.asyncio
async def test_connection_errors_are_retried_then_reported(bucket: str) -> None:
    async with store(bucket, f"http://127.0.0.1:{free_port()}", retries=1) as s3:
        with pytest.raises(S3Error, match=r"still failing after 2 attempt\(s\)"):
            await s3.size(KEY)


@pytest.mark.asyncio
async def test_range_past_the_end_is_a_truncated_object(bucket: str, endpoint: str) -> None:
    size = len(PAYLOAD)
    async with store(bucket, endpoint) as s3:
        with pytest.raises(DataError) as caught:
            await s3.read_range(KEY, size - 100, size + 50)
        message = str(caught.value)
        assert f"s3://{bucket}/data/{KEY}: truncated object" in message
        assert f"bytes {size - 100}-{size + 49} (150 bytes), got 100 bytes" in message
        assert f"the object is {size} bytes long" in message
        with pytest.raises(DataError, match=f"s3://{bucket}/data/{KEY}: truncated object.*416"):
            await s3.read_range(KEY, size + 10, size + 20)


@pytest.mark.asyncio
async def test_body_cut_short_is_retried(bucket: str, proxy: FaultProxy) -> None:
    proxy.truncate_gets(1, keep=1000)
    async with store(bucket, proxy.url) as s3:
        assert await s3.read_range(KEY, 0, 50_000) == PAYLOAD[:50_000]
    assert proxy.count("GET", "truncated") == 1
    assert proxy.count("GET", "forwarded") == 1


@pytest.mark.asyncio
async def test_body_always_cut_short_is_a_data_error(bucket: str, proxy: FaultProxy) -> None:
    proxy.truncate_gets(100, keep=1000)
    async with store(bucket, proxy.url, retries=2) as s3:
        with pytest.raises(DataError) as caught:
            await s3.read_range(KEY, 0, 50_000)
    message = str(caught.value)
    assert f"s3://{bucket}/data/{KEY}: truncated transfer (GET bytes=0-49999" in message
    assert "50000 bytes asked" in message
    assert "3 attempt(s); the last one ended after 1000 bytes" in message
    assert proxy.count("GET", "truncated") == 3


@pytest.mark.asyncio
async def test_a_trickling_server_fails_the_request_at_its_deadline(
    bucket: str, proxy: FaultProxy
) -> None:
    proxy.trickle_gets(100, every=0.02)  # a byte at a time, each well within the read timeout
    async with store(bucket, proxy.url, deadline=0.5, timeout=5.0) as s3:
        with pytest.raises(S3TimeoutError) as caught:
            await s3.read_range(KEY, 0, 50_000)
    message = str(caught.value)
    assert f"s3://{bucket}/data/{KEY}: GET bytes=0-49999 did not complete within" in message
    assert "deadline" in message
    assert proxy.count("GET", "trickled") == 1  # a deadline is not retried


@pytest.mark.asyncio
async def test_a_black_hole_server_fails_the_request_at_its_deadline(
    bucket: str, proxy: FaultProxy
) -> None:
    proxy.hang_gets(100)
    async with store(bucket, proxy.url, deadline=0.5, timeout=5.0, min_rate=1e9) as s3:
        with pytest.raises(S3TimeoutError, match=f"s3://{bucket}/data/{KEY}: GET bytes=-"):
            await s3.read_tail(KEY, 1000)
    assert proxy.count("GET", "hung") == 1


@pytest.mark.asyncio
async def test_read_timeouts_are_retried_a_bounded_number_of_times(
    bucket: str, proxy: FaultProxy
) -> None:
    proxy.hang_gets(100)
    async with store(bucket, proxy.url, deadline=30.0, timeout=0.2, retries=2) as s3:
        with pytest.raises(S3Error, match=f"s3://{bucket}/data/{KEY}: .*3 attempt"):
            await s3.read_range(KEY, 0, 10)
    assert proxy.count("GET", "hung") == 3


@pytest.mark.asyncio
async def test_a_request_that_recovers_within_its_deadline_succeeds(
    bucket: str, proxy: FaultProxy
) -> None:
    proxy.hang_gets(1)
    async with store(bucket, proxy.url, deadline=30.0, timeout=0.3) as s3:
        assert await s3.read_range(KEY, 0, 10) == PAYLOAD[:10]
    assert proxy.count("GET", "hung") == 1


@pytest.mark.parametrize("option", ["deadline", "timeout", "min_rate"])
@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf")])
def test_bad_deadlines_are_config_errors(option: str, value: float) -> None:
    with pytest.raises(ConfigError, match=option):
        S3Store("bucket", **{option: value})


def test_a_large_read_gets_a_longer_deadline() -> None:
    s3 = S3Store("bucket", deadline=10.0, min_rate=1 << 20)
    assert s3.request_deadline(0) == 10.0
    assert s3.request_deadline(100 << 20) == 110.0


@pytest.mark.asyncio
async def test_from_env(bucket: str, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_BUCKET", bucket)
    monkeypatch.setenv("S3_PREFIX", "/data/")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")  # overridden below
    s3 = S3Store.from_env(endpoint_url=endpoint, max_in_flight=2)
    assert (s3.bucket, s3.prefix, s3.region, s3.max_in_flight) == (bucket, "data", "eu-west-1", 2)
    assert s3.describe(KEY) == f"s3://{bucket}/data/{KEY}"
    async with s3:
        assert await s3.read_range(KEY, 7, 9) == PAYLOAD[7:9]
    monkeypatch.setenv("S3_ENDPOINT_URL", endpoint)
    assert S3Store.from_env().endpoint_url == endpoint
    monkeypatch.delenv("S3_BUCKET")
    with pytest.raises(ConfigError, match="S3_BUCKET is not set"):
        S3Store.from_env()


@pytest.mark.asyncio
async def test_missing_credentials_are_explained_without_secrets(
    bucket: str, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in DUMMY_CREDENTIALS:
        monkeypatch.delenv(name)
    async with store(bucket, endpoint) as s3:
        with pytest.raises(S3Error, match=r"no usable AWS credentials.*AWS_ACCESS_KEY_ID"):
            await s3.size(KEY)
    assert SECRET not in repr(s3)


@pytest.mark.asyncio
async def test_nested_async_with_keeps_the_client_open(bucket: str, endpoint: str) -> None:
    s3 = store(bucket, endpoint)
    async with s3:
        async with s3:
            assert await s3.read_range(KEY, 0, 3) == PAYLOAD[:3]
        assert await s3.read_range(KEY, 3, 6) == PAYLOAD[3:6]  # the same client, still open
        assert len(s3._connections) == 1
    assert not s3._connections


def test_store_without_async_with_opens_per_loop_and_closes(bucket: str, endpoint: str) -> None:
    """A store handed to synchronous code opens a client per event loop and closes it."""
    s3 = store(bucket, endpoint)

    async def read() -> bytes:
        return await s3.read_range(KEY, 1, 4)

    for _ in range(2):  # two event loops, as two run_backtest calls would use
        assert anyio.run(read) == PAYLOAD[1:4]
        assert not s3._connections  # closed when the loop shut down


# -- replaying the synthetic hour from S3 ---------------------------------------------------


class Recording(ss.Strategy):
    """Counts events per stream and digests every event in the order it arrives."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.digest = hashlib.sha256()

    def _add(self, kind: str, event: Any, *fields: object) -> None:
        self.counts[(event.symbol, kind)] += 1
        record = (kind, event.symbol, event.ts_exchange, event.ts_recv, event.ts_local, *fields)
        self.digest.update(repr(record).encode())

    async def on_trade(self, trade: ss.Trade) -> None:
        self._add("trade", trade, trade.price, trade.qty, trade.side, trade.trade_id)

    async def on_depth(self, update: ss.DepthUpdate, book: Any) -> None:
        levels = (update.bid_prices, update.bid_qtys, update.ask_prices, update.ask_qtys)
        self._add(
            "depth",
            update,
            update.first,
            update.final,
            update.prev_final,
            update.is_snapshot,
            *(array.tobytes() for array in levels),
        )

    async def on_mark_price(self, mark: ss.MarkPrice) -> None:
        self._add("mark_price", mark, mark.mark, mark.index, mark.funding_rate)

    async def on_open_interest(self, oi: ss.OpenInterest) -> None:
        self._add("open_interest", oi, oi.value, oi.notional, oi.bucket_time)

    async def on_ticker(self, ticker: ss.Ticker) -> None:
        self._add("ticker", ticker, ticker.last_price)

    async def on_liquidation(self, liquidation: ss.Liquidation) -> None:
        self._add("liquidation", liquidation)


def test_replay_from_s3_matches_local(endpoint: str, proxy: FaultProxy) -> None:
    try:
        from adapters.cryptohftdata.dataset import CryptoHFTData
    except ImportError as exc:
        pytest.skip(f"adapters.cryptohftdata.dataset.CryptoHFTData is not available yet: {exc}")
    if not SYNTH.is_dir():
        pytest.skip(f"synthetic CryptoHFTData tree not found at {SYNTH}")
    name = f"synth-{uuid.uuid4().hex[:12]}"
    create_bucket(endpoint, name)
    keys = upload_tree(endpoint, name, SYNTH, prefix="cryptohftdata/v1")
    assert any(key.endswith("orderbook_12.parquet") for key in keys)

    start = 1_751_371_200 * ss.SECOND  # 2025-07-01 12:00 UTC
    end = start + ss.HOUR - 1  # the whole hour, both bounds inclusive
    kinds = ["depth", "trades", "mark_price", "open_interest"]

    def replay(source_store: Any) -> Recording:
        data = CryptoHFTData(source_store, exchange="binance_futures")
        recording = Recording()
        ss.run_backtest(data.sources(["BTCUSDT"], kinds, start, end), recording, end=end)
        return recording

    local = replay(LocalStore(SYNTH))
    # not entered: the store opens its client inside run_backtest's own event loop
    remote = replay(S3Store(name, "cryptohftdata/v1", endpoint_url=proxy.url))
    assert proxy.count("GET") > 0
    assert proxy.count("HEAD") == 0  # each footer and its object's size in one GET
    assert sum(local.counts.values()) > 0
    assert remote.counts == local.counts
    assert remote.digest.hexdigest() == local.digest.hexdigest()


def test_no_real_aws_settings_leak_into_tests(endpoint: str) -> None:
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "AWS_PROFILE" not in os.environ
    with pytest.raises(ConnectionRefusedError, match="loopback only"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)  # TEST-NET-1, never routed
