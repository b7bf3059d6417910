"""What a connection puts in a stream's queue besides frames."""

from __future__ import annotations

from enum import Enum
from typing import Any


class Marker(Enum):
    """``DISCONNECTED``: the connection dropped (the book must resync); ``CLOSED``: the
    feed was stopped, the source ends."""

    DISCONNECTED = "disconnected"
    CLOSED = "closed"


#: A queue entry: a frame's receive time (ns) and payload, or a marker.
Item = tuple[int, dict[str, Any]] | Marker
