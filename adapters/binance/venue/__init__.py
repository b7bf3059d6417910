"""A loopback Binance USD-M venue that replays recorded market data through the venue's
own protocol (market streams and REST market endpoints). See ``docs/venue.md``."""

from .config import VenueConfig, check_bind, parse_speed
from .server import LoopbackVenue

__all__ = ["LoopbackVenue", "VenueConfig", "check_bind", "parse_speed"]
