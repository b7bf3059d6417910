"""Time units: every timestamp and duration inside streamsim is an ``int`` of nanoseconds."""

from __future__ import annotations

import datetime as dt
import math
import re

NS = 1
US = 1_000
MS = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def utc_ns(value: dt.datetime) -> int:
    """``value`` as int ns since the epoch; a time without a zone (``Z`` or an offset) is a
    :class:`ValueError`, since it could be UTC or the reader's local time."""
    if value.tzinfo is None:
        raise ValueError(
            f"a time without a time zone is ambiguous: write {value.isoformat()}Z (UTC) "
            "or give an offset such as +02:00"
        )
    return int(value.timestamp()) * SECOND + value.microsecond * US


def seconds(value: float) -> int:
    """Convert seconds to integer nanoseconds (rounded to the nearest ns)."""
    return round(value * SECOND)


def millis(value: float) -> int:
    """Convert milliseconds to integer nanoseconds (rounded to the nearest ns)."""
    return round(value * MS)


def utc_text(ns: int) -> str:
    """``ns`` since the epoch as ``YYYY-MM-DD HH:MM:SS.mmm UTC`` (for people, not parsing)."""
    whole, rest = divmod(int(ns), SECOND)
    stamp = dt.datetime.fromtimestamp(whole, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp}.{rest // MS:03d} UTC"


#: The units a duration may be written in.
DURATION_UNITS = {"ns": NS, "us": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h)\s*$")


def parse_duration(text: str) -> int:
    """A duration written with its unit (``"20ms"``, ``"1.5s"``; units ns, us, ms, s, m,
    h) as int ns; :class:`ValueError` for anything else."""
    match = _DURATION.match(text)
    if match is not None:
        ns = float(match.group(1)) * DURATION_UNITS[match.group(2)]
        if math.isfinite(ns):
            return round(ns)
    raise ValueError(
        f"expected a duration: a number with a unit ({', '.join(DURATION_UNITS)}), e.g. 20ms; "
        f"got {text!r}"
    )
