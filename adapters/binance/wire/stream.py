"""Stream frames: the combined envelope, one event typed by its ``e``, any recorded frame."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .fields import WireMessage, extra_keys, key, message, read_as
from .market import MARKET_EVENTS, DepthSnapshot
from .user import USER_EVENTS


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """A payload of a kind not typed here (``kline``, spot events), kept as it came."""

    data: Any

    def to_wire(self) -> Any:
        """The payload as it came."""
        return self.data


#: A decoded stream payload: a typed event, or one kept as it came.
Event = WireMessage | OtherEvent

#: Every typed stream event (market and user data), by its ``e``.
EVENTS: dict[str, type[WireMessage]] = {
    cls.EVENT: cls for cls in (*MARKET_EVENTS, *USER_EVENTS) if cls.EVENT is not None
}


def decode_event(data: Any) -> Event:
    """The typed event for ``data``'s ``e``; a payload of any other kind as :class:`OtherEvent`.

    A payload whose ``e`` names a typed event but breaks its schema raises
    :class:`~streamsim.errors.DataError`; USD-M schemas (a spot ``depthUpdate``, which has
    no ``pu``, is refused)."""
    cls = _event_class(data)
    return OtherEvent(data) if cls is None else cls.from_wire(data)


def _event_class(data: Any) -> type[WireMessage] | None:
    event = data.get("e") if isinstance(data, Mapping) else None
    return EVENTS.get(event) if isinstance(event, str) else None


def _read_event(data: Any) -> Event:
    cls = _event_class(data)
    return OtherEvent(data) if cls is None else read_as(cls, data)


@message
class Envelope(WireMessage):
    """A combined-stream frame ``{"stream": ..., "data": ...}``, its event typed; keys beside
    them (the loopback venue's replay time) are kept in ``extra``."""

    stream: str = key("stream")
    data: Event = key("data", codec=(_read_event, lambda event: event.to_wire()))
    extra: dict[str, Any] = extra_keys()


def decode_frame(frame: Any) -> Envelope | DepthSnapshot | Event:
    """Any recorded frame: a combined envelope, a REST depth snapshot, or a bare event."""
    if isinstance(frame, Mapping):
        if "stream" in frame and "data" in frame:
            return Envelope.from_wire(frame)
        if "lastUpdateId" in frame:
            return DepthSnapshot.from_wire(frame)
    return decode_event(frame)
