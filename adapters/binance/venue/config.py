"""The loopback venue's settings: where it listens, its paths, and the venue's limits.

The venue changes its URLs and limits often (``formats.md``), so every one of them is a
field here. Times of the connection rules (server ping, pong deadline, the 24 h
disconnect) are in replay time, so a fast replay keeps them in proportion; the incoming
message rate and the REST weight window are in wall time, the client's own time.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from streamsim.errors import ConfigError
from streamsim.units import DAY, MINUTE, SECOND

from .streams import MARKET, PUBLIC

LOOPBACK_HOSTS = frozenset(("127.0.0.1", "::1", "localhost"))
START_ON = ("subscribe", "now", "manual")


@dataclass(frozen=True)
class VenueConfig:
    """Settings of a :class:`~adapters.binance.venue.LoopbackVenue` (all have the venue's
    defaults)."""

    host: str = "127.0.0.1"
    #: 0: an ephemeral port, read back from ``LoopbackVenue.port``.
    port: int = 0
    allow_remote: bool = False
    #: Replay speed: ``None`` (or ``"max"``) replays as fast as the clients read
    #: (back-pressure, no frame ever dropped); a number is wall clock x speed.
    speed: float | str | None = 1.0
    #: ``"subscribe"``: the replay starts when a client first subscribes to a stream;
    #: ``"now"``: when the venue starts; ``"manual"``: at ``LoopbackVenue.start_replay()``.
    start_on: str = "subscribe"
    #: REST prefix of the market endpoints (``/fapi/v1/depth`` ...).
    rest_prefix: str = "/fapi/v1"
    #: WebSocket route prefixes; each serves ``<prefix>/ws[/<stream>]`` and
    #: ``<prefix>/stream?streams=``. Unrouted ``/ws`` and ``/stream`` get ``/public``.
    ws_routes: dict[str, str] = field(
        default_factory=lambda: {PUBLIC: "/public", MARKET: "/market"}
    )
    max_streams: int = 200
    max_incoming_per_second: int = 10
    ping_interval: int = 3 * MINUTE
    pong_timeout: int = 10 * MINUTE
    max_lifetime: int = DAY
    #: Replay time a book without a snapshot in the data fills before depth is served.
    warmup: int = 5 * SECOND
    #: REQUEST_WEIGHT per wall minute, as ``exchangeInfo.rateLimits`` reports it.
    weight_limit: int = 2400
    #: Prefixes of ``positionRisk`` and ``account`` (the venue serves both versions).
    account_prefixes: tuple[str, ...] = ("/fapi/v2", "/fapi/v3")
    #: Route of the user data stream: ``<route>/ws?listenKey=`` and ``<route>/ws/<key>``.
    private_route: str = "/private"
    #: Replay time a listen key lives without a keep-alive.
    listen_key_validity: int = 60 * MINUTE
    #: Lockstep: the venue releases replay time as its clients report progress.
    lockstep: bool = False
    #: The smallest order entry latency (ns of replay time): how far past the clients'
    #: progress the lockstep venue may publish.
    min_entry_latency: int = 0
    #: Wall seconds a lockstep client whose connections dropped holds the venue.
    lockstep_grace: float = 10.0

    def __post_init__(self) -> None:
        speed = parse_speed(self.speed) if isinstance(self.speed, str) else self.speed
        if speed is not None and speed <= 0:
            raise ConfigError(f"venue speed must be > 0 or None (max), got {speed}")
        object.__setattr__(self, "speed", speed)
        if self.start_on not in START_ON:
            raise ConfigError(
                f"start_on must be one of {', '.join(START_ON)}, got {self.start_on!r}"
            )
        if set(self.ws_routes) != {PUBLIC, MARKET}:
            raise ConfigError(f"ws_routes needs exactly {PUBLIC!r} and {MARKET!r}")
        for name in ("ping_interval", "pong_timeout", "max_lifetime", "max_streams"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        check_bind(self.host, self.allow_remote)


def check_bind(host: str, allow_remote: bool) -> None:
    """Refuse to listen beyond this machine unless ``allow_remote``: the venue has no
    authentication and replays data that may not be the user's to publish."""
    if allow_remote or host in LOOPBACK_HOSTS:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"the loopback venue binds only to 127.0.0.1, ::1 or localhost, not {host!r}; "
            "pass allow_remote=True (CLI --allow-remote) to listen on other addresses"
        )


def parse_speed(text: str) -> float | None:
    """A speed from the command line: a number > 0, or ``max`` (None)."""
    if text.strip().lower() in ("max", "none"):
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise ConfigError(f"speed must be a number > 0 or 'max', got {text!r}") from exc
    if value <= 0:
        raise ConfigError(f"speed must be > 0 or 'max', got {text!r}")
    return value
