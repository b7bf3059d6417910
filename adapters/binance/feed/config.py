"""The feed client's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamsim.errors import ConfigError
from streamsim.feed.plausibility import DEFAULT_LIMITS, Limits

#: Depth stream speeds the feed subscribes to (``<symbol>@depth@<speed>``).
DEPTH_SPEEDS = ("100ms", "0ms")


@dataclass(frozen=True)
class FeedConfig:
    """Where the feed connects and what it subscribes to.

    ``rest_url`` (``https://fapi.binance.com`` live) and ``ws_url``
    (``wss://fstream.binance.com``) are the base URLs; ``routes`` the path of each routed
    connection. ``subscribe_rate`` is the control messages sent per second on a
    connection (the venue closes one past 10/s); ``streams_per_message`` the streams
    named in each ``SUBSCRIBE``. Reconnects wait ``backoff_initial`` seconds, doubling
    up to ``backoff_max``, each wait scaled by a random factor in ``[1 - jitter, 1]``.
    ``limits`` are the decoders' plausibility rules (a replay of a past day needs
    ``max_clock_offset=None``: its receive times are far from its venue times).
    ``stale_after``: seconds without a frame after which a stream counts a stale period
    (the watchdog; ``None``: off); markPrice@1s should never be quiet that long.
    ``open_interest_every``: seconds between REST polls of open interest (``None``: off).
    """

    symbols: tuple[str, ...]
    rest_url: str = "https://fapi.binance.com"
    ws_url: str = "wss://fstream.binance.com"
    routes: dict[str, str] = field(
        default_factory=lambda: {"public": "/public", "market": "/market"}
    )
    depth_speed: str = "100ms"
    trades: bool = True
    mark_price: bool = True
    snapshot_limit: int = 1000
    subscribe_rate: float = 5.0
    streams_per_message: int = 50
    max_batch: int = 1000
    backoff_initial: float = 0.1
    backoff_max: float = 30.0
    jitter: float = 0.5
    snapshot_retries: int = 20
    limits: Limits = DEFAULT_LIMITS
    stale_after: float | None = 10.0
    open_interest_every: float | None = None

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ConfigError("FeedConfig needs at least one symbol")
        if self.depth_speed not in DEPTH_SPEEDS:
            raise ConfigError(
                f"depth_speed must be one of {', '.join(DEPTH_SPEEDS)}, got {self.depth_speed!r}"
            )
        if not 0 < self.subscribe_rate <= 10:
            raise ConfigError("subscribe_rate must be in (0, 10] messages per second")
        if self.stale_after is not None and self.stale_after <= 0:
            raise ConfigError("stale_after must be positive seconds (or None)")
        if self.open_interest_every is not None and self.open_interest_every <= 0:
            raise ConfigError("open_interest_every must be positive seconds (or None)")
        if not 0 <= self.jitter <= 1:
            raise ConfigError("jitter must be in [0, 1]")
        for route in ("public", "market"):
            if route not in self.routes:
                raise ConfigError(f"routes needs a path for {route!r}")

    def depth_stream(self, symbol: str) -> str:
        return f"{symbol.lower()}@depth@{self.depth_speed}"

    def streams(self, route: str) -> list[str]:
        """The stream names subscribed on ``route``."""
        names: list[str] = []
        for symbol in self.symbols:
            s = symbol.lower()
            if route == "public":
                names.append(self.depth_stream(symbol))
            elif route == "market":
                if self.trades:
                    names.append(f"{s}@aggTrade")
                if self.mark_price:
                    names.append(f"{s}@markPrice@1s")
        return names
