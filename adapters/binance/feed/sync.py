"""Binance's local order book procedure over the diff stream, as a state machine.

Buffer diffs while unsynced; given a REST snapshot, drop diffs with ``u <
lastUpdateId``; the first kept one must straddle it (``U <= lastUpdateId <= u``), else the
snapshot is too old and a new one is needed; after that each diff's ``pu`` must be the
previous ``u``. A break (a gap) unsyncs the book without a disconnect: the breaking diff
is passed on (so the strategy's book sees the gap and goes invalid), the following ones
are buffered until the next snapshot. The machine never does I/O: it says when it
wants a snapshot and what to emit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Frame = tuple[int, dict[str, Any]]


@dataclass
class SyncCounts:
    """What the sync saw: snapshots applied, gaps, resyncs after a gap or a disconnect,
    snapshots too old to straddle, diffs dropped as older than a snapshot."""

    snapshots: int = 0
    gaps: int = 0
    resyncs: int = 0
    stale_snapshots: int = 0
    dropped: int = 0
    disconnects: int = 0


class DepthSync:
    """The sync state of one symbol's diff stream."""

    def __init__(self) -> None:
        self.synced = False
        self.last_u: int | None = None
        self.counts = SyncCounts()
        self._buffer: list[Frame] = []
        self._snapshot: Frame | None = None
        self._out: list[Frame] = []
        self._ever_synced = False

    @property
    def wants_snapshot(self) -> bool:
        """Unsynced, with a buffered diff and no snapshot waiting for one to reach it."""
        return not self.synced and self._snapshot is None and bool(self._buffer)

    def push(self, frame: Frame) -> None:
        """A diff arrived."""
        if not self.synced:
            self._buffer.append(frame)
            if self._snapshot is not None:
                self._start()
            return
        data = frame[1]
        if data["pu"] != self.last_u:
            self.counts.gaps += 1
            self.synced = False
            self._out.append(frame)  # the strategy's book sees the break itself
            self._buffer = [frame]
            return
        self.last_u = data["u"]
        self._out.append(frame)

    def disconnected(self) -> None:
        """The connection dropped: what is buffered can never be chained; wait for new diffs."""
        self.counts.disconnects += 1
        self.synced = False
        self._buffer = []
        self._snapshot = None

    def snapshot(self, frame: Frame) -> None:
        """A REST snapshot arrived."""
        self._snapshot = frame
        self._start()

    def take(self) -> list[Frame]:
        """What to emit now: snapshot rows and diffs, in order."""
        out, self._out = self._out, []
        return out

    def _start(self) -> None:
        assert self._snapshot is not None
        recv, snap = self._snapshot
        last_id = snap["lastUpdateId"]
        kept = [f for f in self._buffer if f[1]["u"] >= last_id]
        self.counts.dropped += len(self._buffer) - len(kept)
        self._buffer = kept
        if not kept:
            return  # no diff has reached the snapshot yet
        first = kept[0][1]
        if not first["U"] <= last_id <= first["u"]:
            self.counts.stale_snapshots += 1
            self._snapshot = None  # too old: a new one is needed
            return
        # The snapshot row goes first; its venue time is clamped to the first diff's so
        # that the stream stays in time order.
        row = {"lastUpdateId": last_id, "E": min(_time(snap, first), first["E"])}
        row["bids"] = snap["bids"]
        row["asks"] = snap["asks"]
        self._out.append((recv, row))
        self.counts.snapshots += 1
        if self._ever_synced:
            self.counts.resyncs += 1
        self._ever_synced = True
        self._snapshot = None
        self._buffer = []
        self.synced = True
        self.last_u = first["pu"]  # the straddling diff starts the chain
        for frame in kept:
            self.push(frame)


def _time(snap: dict[str, Any], first: dict[str, Any]) -> int:
    value = snap.get("E", snap.get("T", first["E"]))
    return int(value)
