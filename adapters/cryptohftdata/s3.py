"""A CryptoHFTData tree under an S3 prefix, read with aiobotocore.

:class:`S3Store` implements the :class:`~adapters.cryptohftdata.store.Store` protocol:
``read_tail`` is a GET with a suffix range (a Parquet footer and the object's size in one
request), ``read_range`` a ranged GET, ``size`` a HEAD request. At most
``max_in_flight`` requests run at once; transient failures (HTTP 5xx such as
``503 SlowDown``, 429, connection errors, timeouts, a body cut short) are retried with
exponential back-off and jitter. Every request has an overall deadline (its attempts
and back-off together, waiting for a free slot excluded): a server that trickles bytes or
never answers fails the request in bounded time.
Errors name the ``s3://`` URL they concern:

* a missing object: :class:`S3NotFoundError` (also a :class:`FileNotFoundError`, as a
  missing file of a :class:`~adapters.cryptohftdata.store.LocalStore` is);
* fewer bytes than asked (a truncated object, a range past its end, a body that keeps
  ending early): :class:`streamsim.errors.DataError` with the range and the byte counts;
* a request past its deadline: :class:`S3TimeoutError` (an :class:`S3Error`);
* anything else (access denied, no credentials, retries exhausted): :class:`S3Error`.

Credentials come from the standard AWS chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and the shared files,
instance roles, ...); this module never reads, logs or formats them.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import random
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
import anyio
from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import AioSession  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from streamsim.errors import ConfigError, DataError, StreamsimError
from streamsim.path_parts import check_relative_key

__all__ = ["S3Error", "S3NotFoundError", "S3Store", "S3TimeoutError"]

T = TypeVar("T")

#: S3 error codes worth retrying whatever their HTTP status.
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_MAX_BACKOFF = 20.0
_CHUNK = 1 << 20


class S3Error(StreamsimError):
    """An S3 request failed for good (or kept failing after every retry)."""


class S3NotFoundError(S3Error, FileNotFoundError):
    """The object does not exist."""


class S3TimeoutError(S3Error, TimeoutError):
    """A request did not complete within its deadline (a slow, trickling or silent server)."""


class _ShortBody(Exception):
    """The response body ended before its announced length (retried)."""

    def __init__(self, received: int, cause: BaseException) -> None:
        super().__init__(f"body ended after {received} bytes: {cause!r}")
        self.received = received
        self.cause = cause


@dataclass
class _Connection:
    """One aiobotocore client and its request limiter, bound to one event loop."""

    limiter: anyio.Semaphore
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    client: Any = None
    holder: AsyncGenerator[Any, None] | None = None
    entered: int = 0  # nesting depth of ``async with`` in this loop


@functools.cache
def _model_loader() -> Any:
    """One botocore data loader per process: it caches the parsed service models, which
    otherwise cost every new store about 0.1 s before its first request."""
    return AioSession().get_component("data_loader")


def _new_session() -> AioSession:
    """A fresh session (its own credential resolution) sharing the model cache."""
    session = AioSession()
    session.register_component("data_loader", _model_loader())
    return session


class S3Store:
    """Read access to a CryptoHFTData tree at ``s3://bucket/prefix/``.

    Use it as an async context manager (``async with S3Store(...) as store:``), which opens
    one aiobotocore client for the event loop and closes it on exit (of the outermost
    block, when they nest). A store that was not
    entered opens its client on first use and closes it with :meth:`aclose` or, at the
    latest, when the event loop shuts down (``asyncio.run``, ``anyio.run`` and
    :func:`streamsim.run_backtest` all do so), so the same store can be handed to a
    synchronous ``run_backtest``. Each event loop gets its own client. asyncio only.

    ``endpoint_url`` points to an S3-compatible server (MinIO, moto, ...) and switches to
    path-style addressing. ``retries`` is the number of retries after the first attempt
    of a transiently failing request; the n-th retry waits about ``backoff * 2**n``
    seconds (at most 20 s, with jitter). ``timeout`` bounds connecting and each read.
    ``deadline`` bounds each request as a whole, retries and back-off included: ``deadline``
    seconds plus one second per ``min_rate`` bytes asked (so a large range read gets the
    time a slow but honest link needs, and a server trickling a byte at a time does not
    keep a run alive; ``min_rate=None``: ``deadline`` alone); past it the request fails
    with :class:`S3TimeoutError`.
    ``coalesce_gap`` is how many unneeded bytes between two wanted column chunks one
    request reads through rather than paying another request (default 1 MiB: about what
    S3 transfers in the time of its first byte).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        region: str | None = None,
        endpoint_url: str | None = None,
        max_in_flight: int = 8,
        retries: int = 4,
        *,
        backoff: float = 0.2,
        timeout: float = 20.0,
        deadline: float = 60.0,
        min_rate: float | None = 256 * 1024,
        coalesce_gap: int = 1 << 20,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ConfigError(f"S3 bucket must be a bare bucket name, got {bucket!r}")
        if max_in_flight < 1:
            raise ConfigError(f"max_in_flight must be at least 1, got {max_in_flight}")
        if retries < 0:
            raise ConfigError(f"retries must be 0 or more, got {retries}")
        if coalesce_gap < 0:
            raise ConfigError(f"coalesce_gap must be 0 or more, got {coalesce_gap}")
        for name, value in (("timeout", timeout), ("deadline", deadline), ("min_rate", min_rate)):
            if value is None and name == "min_rate":
                continue
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a number of seconds > 0, got {value!r}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.region = region
        self.endpoint_url = endpoint_url
        self.max_in_flight = max_in_flight
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.deadline = deadline
        self.min_rate = min_rate
        self.coalesce_gap = coalesce_gap
        self._session = _new_session()
        self._connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Connection] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def from_env(
        cls,
        endpoint_url: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Self:
        """A store configured like CryptoHFTData's own tools.

        Reads ``S3_BUCKET`` (required), ``S3_PREFIX``, ``AWS_REGION`` (else
        ``AWS_DEFAULT_REGION``) and ``S3_ENDPOINT_URL`` (overridden by ``endpoint_url``)
        from ``environ`` (default ``os.environ``); ``options`` go to the constructor.
        Credentials are left to the standard AWS chain.
        """
        env = os.environ if environ is None else environ
        bucket = env.get("S3_BUCKET", "").strip()
        if not bucket:
            raise ConfigError(
                "S3_BUCKET is not set: set S3_BUCKET (and S3_PREFIX, AWS_REGION) in the "
                "environment, e.g. from the .env file of your CryptoHFTData account"
            )
        return cls(
            bucket,
            prefix=env.get("S3_PREFIX", ""),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            endpoint_url=endpoint_url or env.get("S3_ENDPOINT_URL") or None,
            **options,
        )

    def __repr__(self) -> str:
        where = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"S3Store('s3://{self.bucket}/{self.prefix}', region={self.region!r}{where})"

    # -- the Store protocol ------------------------------------------------------------

    def object_key(self, key: str) -> str:
        """The full S3 key of the tree-relative ``key``."""
        key = key.lstrip("/")
        return f"{self.prefix}/{key}" if self.prefix else key

    def request_key(self, key: str) -> str:
        """:meth:`object_key` of a checked key: one that would leave the prefix (``..``,
        absolute, NUL) raises ConfigError before any request."""
        return self.object_key(check_relative_key(key))

    def describe(self, key: str) -> str:
        """The object's ``s3://bucket/prefix/key`` URL."""
        return f"s3://{self.bucket}/{self.object_key(key)}"

    async def size(self, key: str) -> int | None:
        """The object's size in bytes (a HEAD request), or None if it does not exist."""

        async def head(client: Any) -> int:
            response = await client.head_object(Bucket=self.bucket, Key=self.request_key(key))
            return int(response["ContentLength"])

        try:
            return await self._request(key, "HEAD", head, 0)
        except S3NotFoundError:
            return None

    async def read_tail(self, key: str, length: int) -> tuple[int, bytes] | None:
        """The object's size and last ``min(length, size)`` bytes, or None if it does not exist.

        One GET with a suffix range (``Range: bytes=-length``): the size comes back in
        ``Content-Range``, so reading a Parquet footer needs no HEAD request first.
        """
        if length < 1:
            raise ValueError(f"{self.describe(key)}: tail length must be positive, got {length}")
        what = f"GET bytes=-{length}"

        async def get(client: Any) -> tuple[bytes, str | None] | None:
            try:
                response = await client.get_object(
                    Bucket=self.bucket, Key=self.request_key(key), Range=f"bytes=-{length}"
                )
            except ClientError as exc:
                if _status_and_code(exc)[0] == 416:  # S3 has no range of an empty object
                    return None
                raise
            return await _body(response), response.get("ContentRange")

        try:
            got = await self._request(key, what, get, length)
        except S3NotFoundError:
            return None
        except _ShortBody as exc:
            raise self._short_body_error(key, what, exc) from exc.cause
        if got is None:
            size = await self.size(key)
            if size is None or size == 0:
                return None if size is None else (0, b"")
            raise DataError(
                f"{self.describe(key)}: {what} was refused as unsatisfiable (HTTP 416) "
                f"although the object has {size:,} bytes"
            )
        data, content_range = got
        if content_range is None:  # the whole object (a server may ignore a suffix range)
            return len(data), data[-length:]
        size = _total_size(content_range)
        if size is None or len(data) != min(length, size):
            raise DataError(
                f"{self.describe(key)}: truncated transfer: {what} returned {len(data)} bytes "
                f"with Content-Range {content_range!r}"
            )
        return size, data

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the object (a GET with ``Range: bytes=start-(end-1)``).

        Raises :class:`S3NotFoundError` if the object is missing and
        :class:`~streamsim.errors.DataError` if the server has fewer bytes to give.
        """
        if start < 0 or end < start:
            raise ValueError(f"{self.describe(key)}: invalid byte range [{start}, {end})")
        if end == start:
            return b""
        wanted = end - start
        what = f"GET bytes={start}-{end - 1}"

        async def get(client: Any) -> tuple[bytes, str | None]:
            response = await client.get_object(
                Bucket=self.bucket, Key=self.request_key(key), Range=f"bytes={start}-{end - 1}"
            )
            data = await _body(response)
            content_range = response.get("ContentRange")
            if content_range is None and len(data) > wanted:
                data = data[start:end]  # the server ignored the range and sent everything
            return data, content_range

        try:
            data, content_range = await self._request(key, what, get, wanted)
        except _ShortBody as exc:
            raise self._short_body_error(key, f"{what}, {wanted} bytes asked", exc) from exc.cause
        if len(data) != wanted:
            total = content_range.rpartition("/")[2] if content_range else "?"
            raise DataError(
                f"{self.describe(key)}: truncated object: asked bytes {start}-{end - 1} "
                f"({wanted} bytes), got {len(data)} bytes (the object is {total} bytes "
                "long according to Content-Range)"
            )
        return data

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        conn = await self._connection()
        conn.entered += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._connections.get(asyncio.get_running_loop())
        if conn is not None:
            conn.entered -= 1
            if conn.entered <= 0:
                await self.aclose()

    async def aclose(self) -> None:
        """Close the running event loop's client now (a no-op if none is open).

        ``async with`` blocks may nest: the client closes when the outermost one exits.
        """
        conn = self._connections.pop(asyncio.get_running_loop(), None)
        if conn is not None and conn.holder is not None:
            await conn.holder.aclose()

    async def _connection(self) -> _Connection:
        """The running loop's client, opened on first use (once, even under concurrency)."""
        loop = asyncio.get_running_loop()
        while True:
            conn = self._connections.get(loop)
            if conn is None:
                conn = _Connection(anyio.Semaphore(self.max_in_flight))
                self._connections[loop] = conn
                try:
                    holder = self._hold_client(loop, conn)
                    conn.client = await holder.__anext__()
                    conn.holder = holder
                except BaseException:
                    if self._connections.get(loop) is conn:
                        del self._connections[loop]
                    raise
                finally:
                    conn.ready.set()
                return conn
            await conn.ready.wait()
            if conn.client is not None:
                return conn
            # the opener failed; the next pass opens again (and raises its own error)

    async def _hold_client(
        self, loop: asyncio.AbstractEventLoop, conn: _Connection
    ) -> AsyncGenerator[Any, None]:
        """Keep one client open until closed; the loop closes it at shutdown if need be.

        An async generator, so that ``loop.shutdown_asyncgens()`` closes a client that
        nobody closed explicitly.
        """
        config = AioConfig(
            retries={"total_max_attempts": 1, "mode": "standard"},  # we retry ourselves
            max_pool_connections=self.max_in_flight,
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            s3={"addressing_style": "path"} if self.endpoint_url else None,
            warm_up_loader_caches=True,
        )
        # A plain-HTTP endpoint has no certificate to check: skipping the CA bundle saves
        # every new client (one per event loop) about 50 ms before its first request.
        plain = (self.endpoint_url or "").lower().startswith("http://")
        try:
            async with self._session.create_client(
                "s3",
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=config,
                verify=False if plain else None,
            ) as client:
                yield client
        finally:
            if self._connections.get(loop) is conn:
                del self._connections[loop]

    # -- requests and retries -----------------------------------------------------------

    def request_deadline(self, size: int) -> float:
        """The deadline (seconds) of a request asking for ``size`` bytes."""
        return self.deadline + (size / self.min_rate if self.min_rate else 0.0)

    async def _request(
        self, key: str, what: str, operation: Callable[[Any], Awaitable[T]], size: int
    ) -> T:
        """Run ``operation(client)`` under the in-flight limit, retrying transient errors,
        all within the request's deadline (time spent waiting for a free slot excluded)."""
        url = self.describe(key)
        deadline = self.request_deadline(size)
        left = deadline
        attempt = 0
        last: BaseException | None = None
        while True:
            conn = await self._connection()
            async with conn.limiter:
                began = time.monotonic()
                scope = anyio.move_on_after(left)
                try:
                    with scope:
                        return await operation(conn.client)
                except _ShortBody as exc:
                    last = exc.cause
                    if attempt >= self.retries:
                        raise
                except (BotoCoreError, ClientError, aiohttp.ClientError, OSError) as exc:
                    last = exc
                    self._retry_or_raise(url, what, exc, attempt)
                if scope.cancelled_caught:
                    raise self._deadline_error(url, what, deadline, attempt, last)
                left -= time.monotonic() - began
            delay = min(_MAX_BACKOFF, self.backoff * 2**attempt)
            delay *= 0.5 + random.random() / 2
            if delay >= left:
                raise self._deadline_error(url, what, deadline, attempt, last)
            await anyio.sleep(delay)
            left -= delay
            attempt += 1

    def _retry_or_raise(self, url: str, what: str, exc: BaseException, attempt: int) -> None:
        """Raise the error for ``exc`` unless it is transient and retries are left."""
        if not self._transient(exc):
            raise self._permanent_error(url, what, exc) from exc
        if attempt >= self.retries:
            raise S3Error(
                f"{url}: {what} still failing after {attempt + 1} attempt(s): "
                f"{self._describe_error(exc)}"
            ) from exc

    def _deadline_error(
        self, url: str, what: str, deadline: float, attempt: int, last: BaseException | None
    ) -> S3TimeoutError:
        before = "" if last is None else f"; the attempt before failed with {last!r}"
        return S3TimeoutError(
            f"{url}: {what} did not complete within its {deadline:g} s deadline "
            f"({attempt + 1} attempt(s); the server answers too slowly or not at all{before}); "
            "give S3Store a larger deadline= (streamsim validate --timeout) if the link is slow"
        )

    def _short_body_error(self, key: str, what: str, exc: _ShortBody) -> DataError:
        return DataError(
            f"{self.describe(key)}: truncated transfer ({what}): the response body kept "
            f"ending early ({self.retries + 1} attempt(s); the last one ended after "
            f"{exc.received} bytes: {exc.cause!r})"
        )

    @staticmethod
    def _transient(exc: BaseException) -> bool:
        if isinstance(exc, ClientError):
            status, code = _status_and_code(exc)
            return status >= 500 or status == 429 or code in _TRANSIENT_CODES
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return False
        return isinstance(
            exc,
            (
                BotoConnectionError,
                HTTPClientError,
                IncompleteReadError,
                aiohttp.ClientError,
                TimeoutError,
                ConnectionError,
            ),
        )

    def _permanent_error(self, url: str, what: str, exc: BaseException) -> Exception:
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return S3Error(
                f"{url}: no usable AWS credentials ({type(exc).__name__}): set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or "
                "AWS_PROFILE, or use an instance role"
            )
        if not isinstance(exc, ClientError):
            return S3Error(f"{url}: {what} failed: {exc!r}")
        status, code = _status_and_code(exc)
        if code == "NoSuchBucket":
            return S3Error(f"{url}: bucket {self.bucket!r} does not exist (check S3_BUCKET)")
        if status == 404 or code in _MISSING_CODES:
            return S3NotFoundError(f"{url}: no such object ({what} answered {status} {code})")
        if status == 416 or code == "InvalidRange":
            size = exc.response.get("Error", {}).get("ActualObjectSize")
            known = f"the object is {size} bytes long" if size else "the object is shorter"
            return DataError(
                f"{url}: truncated object: {what} asks for bytes past its end ({known}; "
                f"HTTP {status} {code})"
            )
        if status == 403:
            return S3Error(
                f"{url}: access denied ({what}: HTTP 403 {code}); check the credentials and "
                "the bucket policy (S3 also answers 403 for a missing object when the "
                "credentials lack s3:ListBucket)"
            )
        return S3Error(f"{url}: {what} failed: {self._describe_error(exc)}")

    @staticmethod
    def _describe_error(exc: BaseException) -> str:
        if isinstance(exc, ClientError):
            status, code = _status_and_code(exc)
            message = exc.response.get("Error", {}).get("Message") or ""
            return f"HTTP {status} {code}" + (f": {message}" if message else "")
        return repr(exc)


async def _body(response: Mapping[str, Any]) -> bytes:
    """The whole body of a GET response; a body cut short raises :class:`_ShortBody`."""
    chunks: list[bytes] = []
    received = 0
    async with response["Body"] as body:
        try:
            while chunk := await body.read(_CHUNK):
                chunks.append(chunk)
                received += len(chunk)
        except (
            HTTPClientError,
            IncompleteReadError,
            aiohttp.ClientError,
            TimeoutError,
            OSError,
        ) as exc:
            raise _ShortBody(received, exc) from exc
    return b"".join(chunks)


def _total_size(content_range: str) -> int | None:
    """The object size of a ``Content-Range: bytes a-b/size`` header (None if unknown)."""
    total = content_range.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


def _status_and_code(exc: ClientError) -> tuple[int, str]:
    response: dict[str, Any] = exc.response
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(response.get("Error", {}).get("Code") or status)
    return status, code
