"""Stream names, the route each one is served on, and the stream kind each one comes from.

Since 2026 the venue splits its market streams by URL: ``/public`` carries diff depth and
bookTicker, ``/market`` aggTrade, mark price and liquidations (``formats.md``). A name is
``<symbol lowercase>@<channel>``; a stream subscribed on the wrong route is accepted and
stays silent, as on the venue.
"""

from __future__ import annotations

from streamsim.units import MS, SECOND

PUBLIC = "public"
MARKET = "market"
ROUTES = (PUBLIC, MARKET)

#: Diff depth channels and the window (ns of replay time) their frames aggregate; 0 sends
#: every recorded message as it is.
DEPTH_INTERVALS = {
    "depth@0ms": 0,
    "depth@100ms": 100 * MS,
    "depth": 250 * MS,
    "depth@500ms": 500 * MS,
}
BOOK_TICKER = "bookTicker"

#: Channels built from the batches of each stream kind, with the window of the rows they
#: keep (the last row of each window; 0: every row).
ROW_CHANNELS: dict[str, dict[str, int]] = {
    "trades": {"aggTrade": 0},
    "mark_price": {"markPrice@1s": 0, "markPrice": 3 * SECOND},
    "liquidations": {"forceOrder": SECOND},
}

#: The route of every channel.
CHANNEL_ROUTES: dict[str, str] = {
    **dict.fromkeys(DEPTH_INTERVALS, PUBLIC),
    BOOK_TICKER: PUBLIC,
    **{channel: MARKET for channels in ROW_CHANNELS.values() for channel in channels},
}


def channel_of(name: str) -> str | None:
    """The channel of stream ``name`` (``"btcusdt@depth@100ms"`` -> ``"depth@100ms"``),
    None for a name the venue would not serve."""
    symbol, at, channel = name.partition("@")
    if not symbol or not at or channel not in CHANNEL_ROUTES:
        return None
    return channel


def stream_name(symbol: str, channel: str) -> str:
    """The stream name of ``channel`` for ``symbol`` (lower case, as the venue names it)."""
    return f"{symbol.lower()}@{channel}"


def served_on(name: str, route: str) -> bool:
    """True if stream ``name`` sends frames on ``route``."""
    channel = channel_of(name)
    return channel is not None and CHANNEL_ROUTES[channel] == route
