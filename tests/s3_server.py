"""A local S3 for tests: moto in server mode on 127.0.0.1, plus a fault-injecting proxy.

* :func:`moto_server` starts ``moto.server.ThreadedMotoServer`` on a free loopback port in
  a background thread and yields its endpoint URL.
* :func:`use_dummy_aws_env` gives a test dummy credentials and a region, hides every real
  AWS profile, proxy and endpoint setting, and refuses any connection that is not to the
  loopback interface (so nothing can leave 127.0.0.1).
* :func:`fault_proxy` puts a small threaded HTTP proxy in front of an endpoint: it
  forwards every request, but can answer ``503 SlowDown`` to the next N GETs, cut the
  body of the next N GETs short, trickle their bodies a byte at a time or never answer
  them at all (a real HTTP exchange over loopback, not a patch).
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "not-a-real-secret-7f3a",
    "AWS_SESSION_TOKEN": "testing",
}
_HIDDEN_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "S3_BUCKET",
    "S3_PREFIX",
    "S3_ENDPOINT_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}
)


@contextmanager
def moto_server() -> Iterator[str]:
    """Moto in server mode on a free port of 127.0.0.1; yields ``http://127.0.0.1:PORT``."""
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug_log.setLevel(level)


@contextmanager
def loopback_s3(config_dir: Path) -> Iterator[str]:
    """A moto S3 server with dummy credentials and loopback-only sockets (for a fixture
    wider than one test, where ``monkeypatch`` is not at hand); yields its URL."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_dummy_aws_env(monkeypatch, config_dir)
        with moto_server() as url:
            yield url


def use_dummy_aws_env(monkeypatch: pytest.MonkeyPatch, config_dir: Path) -> None:
    """Dummy credentials and region; no real AWS setting or proxy; loopback connections only.

    Everything is undone with ``monkeypatch``. AWS config and credential files point to
    (absent) files in ``config_dir``; instance metadata lookups are disabled.
    """
    for name in _HIDDEN_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_dir / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config_dir / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    original = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise ConnectionRefusedError(f"test tried to reach {host}: loopback only")
        original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def s3_client(endpoint: str) -> Any:
    """A plain boto3 client for setting up fixtures (uploads, buckets)."""
    return boto3.client("s3", region_name=REGION, endpoint_url=endpoint)


def create_bucket(endpoint: str, bucket: str, objects: Mapping[str, bytes] | None = None) -> None:
    """Create ``bucket`` and put ``objects`` (full key -> content) into it."""
    client = s3_client(endpoint)
    client.create_bucket(Bucket=bucket)
    for key, body in (objects or {}).items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


def upload_tree(endpoint: str, bucket: str, root: Path, prefix: str = "") -> list[str]:
    """Upload every file under ``root`` as ``prefix/relative/path``; returns the keys."""
    client = s3_client(endpoint)
    keys = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        key = f"{prefix.strip('/')}/{relative}" if prefix.strip("/") else relative
        client.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


@dataclass
class Exchange:
    """One request the proxy saw and what it did with it."""

    method: str
    path: str
    status: int
    action: str  # "forwarded", "failed", "truncated", "trickled" or "hung"


class FaultProxy:
    """A loopback HTTP proxy in front of ``upstream`` that can fail or cut GETs.

    Only ``Content-Length`` request bodies are forwarded (enough for a reader; upload
    straight to the upstream endpoint).
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname is not None and parts.port is not None
        self.upstream = (parts.hostname, parts.port)
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._fail = 0
        self._fail_status = 503
        self._fail_code = "SlowDown"
        self._truncate = 0
        self._keep = 0
        self._delay = 0.0
        self._trickle = 0
        self._trickle_every = 0.0
        self._hang = 0
        self._stopping = threading.Event()
        self._in_flight = 0
        self.max_in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_gets(self, count: int, status: int = 503, code: str = "SlowDown") -> None:
        """Answer the next ``count`` GETs with an S3 error (default ``503 SlowDown``)."""
        with self._lock:
            self._fail, self._fail_status, self._fail_code = count, status, code

    def truncate_gets(self, count: int, keep: int) -> None:
        """Send only ``keep`` bytes of the next ``count`` GET bodies, then hang up.

        The headers still announce the full length, as when a connection breaks mid-body.
        """
        with self._lock:
            self._truncate, self._keep = count, keep

    def trickle_gets(self, count: int, every: float) -> None:
        """Send the next ``count`` GET bodies one byte every ``every`` seconds."""
        with self._lock:
            self._trickle, self._trickle_every = count, every

    def hang_gets(self, count: int) -> None:
        """Read the next ``count`` GETs and never answer them (a black hole)."""
        with self._lock:
            self._hang = count

    def slow_gets(self, seconds: float) -> None:
        """Hold every GET ``seconds`` before answering (to observe concurrency)."""
        with self._lock:
            self._delay = seconds

    def count(self, method: str, action: str | None = None) -> int:
        """How many ``method`` requests the proxy saw (with that ``action``, if given)."""
        with self._lock:
            return sum(
                1
                for e in self.exchanges
                if e.method == method and (action is None or e.action == action)
            )

    def _plan(self, method: str) -> tuple[str, int, str, int]:
        with self._lock:
            if method == "GET":
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if method == "GET" and self._fail > 0:
                self._fail -= 1
                return "failed", self._fail_status, self._fail_code, 0
            if method == "GET" and self._truncate > 0:
                self._truncate -= 1
                return "truncated", 0, "", self._keep
            if method == "GET" and self._hang > 0:
                self._hang -= 1
                return "hung", 0, "", 0
            if method == "GET" and self._trickle > 0:
                self._trickle -= 1
                return "trickled", 0, "", 0
            return "forwarded", 0, "", 0

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)
            if exchange.method == "GET":
                self._in_flight -= 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _make_handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            method = self.command
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            action, fail_status, fail_code, keep = proxy._plan(method)
            if method == "GET" and proxy._delay:
                time.sleep(proxy._delay)
            if action == "hung":
                proxy._record(Exchange(method, self.path, 0, action))
                proxy._stopping.wait()
                self.close_connection = True
                return
            if action == "failed":
                payload = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{fail_code}</Code><Message>injected fault</Message>"
                    "<RequestId>fault-proxy</RequestId></Error>"
                ).encode()
                proxy._record(Exchange(method, self.path, fail_status, action))
                self.send_response_only(fail_status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=10)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                upstream.request(method, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                status, reason = response.status, response.reason
                response_headers = response.getheaders()
            finally:
                upstream.close()
            # Recorded before answering: once the client has its answer, counts include it,
            # and its next request can never overlap this one in ``max_in_flight``.
            proxy._record(Exchange(method, self.path, status, action))
            self.send_response_only(status, reason)
            announced = str(len(data))
            for name, value in response_headers:
                if name.lower() == "content-length" and method == "HEAD":
                    announced = value
                elif name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", announced)
            if action == "truncated":
                self.send_header("Connection", "close")
            self.end_headers()
            if action == "trickled":
                self._trickle(data)
            elif method != "HEAD":
                self.wfile.write(data[:keep] if action == "truncated" else data)
            self.wfile.flush()
            if action == "truncated":
                self.close_connection = True

        def _trickle(self, data: bytes) -> None:
            for i in range(len(data)):
                if proxy._stopping.wait(proxy._trickle_every):
                    break
                try:
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                except OSError:  # the client gave up
                    break
            self.close_connection = True

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

    return Handler


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """A running :class:`FaultProxy` in front of ``upstream``, stopped on exit."""
    proxy = FaultProxy(upstream)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
