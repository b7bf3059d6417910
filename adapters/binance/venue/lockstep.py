"""Lockstep: the venue as the time authority, for exact backtest = replay-as-live parity.

Conservative synchronisation, as in parallel discrete-event simulation. Each lockstep
client reports the replay time up to which it has finished processing (and how many
orders it has sent); the venue never publishes market events past the smallest reported
progress plus the minimum entry latency, and matches each order at its send time plus
the entry latency, in replay time, however late it arrives in wall time. An order sent at
``s >= progress`` matches at ``m = s + entry >= progress + min_entry``: the venue cannot
have gone past it. The count of orders closes the race between the progress message (on
a websocket) and the order (on HTTP): progress that announces orders the venue has not
received yet does not move the horizon.

The protocol extension (``docs/venue.md``), invisible to clients that do not use it:

* frames carry ``"ss_t": <replay ns>`` beside ``stream`` / ``data`` (user events beside
  their own keys);
* when the venue waits for progress it sends each lockstep connection an idle frame
  ``{"ss_next": <replay ns>}``: every event before that time has been sent on it, and
  the next one is at that time;
* ``{"method": "STREAMSIM_PROGRESS", "params": [<replay ns>, <order requests sent>,
  <client name>?], "id": n}`` on any market connection registers the connection as a
  lockstep client and reports;
* an order request (new, amend, cancel) may carry ``X-SS-Sent-At: <replay ns>`` and
  ``X-SS-Seq: <n>`` (its order among requests sent at one time); its answer carries
  ``X-SS-Replay-Time: <replay ns>``, the time it was matched at.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Hashable

from streamsim.run.clock import VirtualClock
from streamsim.run.halt import Halt

PROGRESS_METHOD = "STREAMSIM_PROGRESS"
SENT_AT_HEADER = "X-SS-Sent-At"
SEQ_HEADER = "X-SS-Seq"
REPLAY_TIME_HEADER = "X-SS-Replay-Time"
STAMP_KEY = "ss_t"
IDLE_KEY = "ss_next"


class Progress:
    """What the lockstep clients reported, and the horizon it allows.

    Every connection that sent a progress report takes part; connections that report the
    same client name (the third parameter) are one client: its orders are counted once
    (the largest count any of its connections reported), its progress is the smallest.
    Before the first report the venue waits. A client whose connections all closed holds
    the venue for ``grace`` wall seconds, so that it can reconnect (under the same name)
    without the replay running past it; once every client is gone, the replay runs free.
    """

    def __init__(self, min_entry_latency: int, grace: float = 10.0) -> None:
        if min_entry_latency < 0:
            raise ValueError(f"min_entry_latency must be >= 0, got {min_entry_latency}")
        self.min_entry_latency = min_entry_latency
        self.grace = grace
        #: connection -> (client name, progress, orders sent)
        self._reported: dict[Hashable, tuple[Hashable, int, int]] = {}
        self._gone: dict[Hashable, float] = {}  # connection -> wall time its hold ends
        self._ever = False
        self.orders_received = 0
        self._horizon: int | None = None
        self._changed = asyncio.Event()

    @property
    def clients(self) -> int:
        """Connections taking part (those that left within the grace included)."""
        self._purge()
        return len(self._reported)

    @property
    def running_free(self) -> bool:
        """True once every lockstep client has left (and its grace has passed)."""
        self._purge()
        return self._ever and not self._reported

    def lowest(self) -> int | None:
        """The smallest progress reported (None before any): no order may be sent before it."""
        return min((p for _, p, _ in self._reported.values()), default=None)

    def report(
        self, client: Hashable, progress: int, orders_sent: int, name: Hashable | None = None
    ) -> None:
        """``client`` (a connection, of the client ``name``) promises no order sent before
        ``progress`` (it has processed every frame up to there) and its client has sent
        ``orders_sent`` order requests so far."""
        name = client if name is None else name
        for gone in [c for c, (n, _, _) in self._reported.items() if n == name and c in self._gone]:
            self._reported.pop(gone)  # the client is back: its old connection no longer holds
            self._gone.pop(gone)
        old = self._reported.get(client, (name, progress, orders_sent))
        self._reported[client] = (name, max(old[1], progress), max(old[2], orders_sent))
        self._ever = True
        self._update()

    def leave(self, client: Hashable) -> None:
        """A lockstep connection closed: it holds the venue for the grace, then no more."""
        if client in self._reported:
            self._gone[client] = time.monotonic() + self.grace
            self._update()

    def _purge(self) -> None:
        now = time.monotonic()
        expired = [c for c, until in self._gone.items() if until <= now]
        for client in expired:
            self._gone.pop(client)
            self._reported.pop(client, None)
        if expired:
            self._update()

    def order_received(self) -> None:
        self.orders_received += 1
        self._update()

    def horizon(self) -> int | None:
        """The latest replay time the venue may reach now (None: no client has reported)."""
        return self._horizon

    def _update(self) -> None:
        lowest = self.lowest()
        if lowest is not None:
            per_client: dict[Hashable, int] = {}
            for name, _, orders in self._reported.values():
                per_client[name] = max(per_client.get(name, 0), orders)
            if self.orders_received >= sum(per_client.values()):  # else one is in flight
                horizon = lowest + self.min_entry_latency
                self._horizon = horizon if self._horizon is None else max(self._horizon, horizon)
        self._changed.set()

    def allows(self, when: int) -> bool:
        if self.running_free:
            return True
        return self._horizon is not None and self._horizon >= when

    async def changed(self, timeout: float) -> None:
        """Wait for the next report (or ``timeout`` seconds)."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)


#: Called when the replay must wait for progress: the time of the next event.
Blocked = Callable[[int], Awaitable[None]]

#: How often a waiting replay looks at a halt request (wall seconds).
HALT_CHECK_S = 0.1


class LockstepClock(VirtualClock):
    """Replay time released as the lockstep clients allow (no wall-clock pacing).

    When the next event lies past the horizon, ``blocked`` sends the lockstep clients an
    idle frame naming that event's time (everything before it is published) each time the
    set of clients or the horizon changes, and the clock waits for their progress.
    """

    paced = True

    def __init__(self, progress: Progress, start: int = 0) -> None:
        super().__init__(start)
        self.progress = progress
        self.blocked: Blocked | None = None

    def _target(self, when: int) -> int:
        """``when``, or an order scheduled meanwhile for earlier."""
        due = self.next_due()
        return when if due is None else min(when, due)

    async def pace(self, when: int, halt: Halt | None = None) -> bool:
        """Wait until the clients allow ``when``, or an earlier action scheduled meanwhile
        (the caller then looks again at what is next)."""
        progress = self.progress
        told: tuple[int | None, int] | None = None
        while not progress.allows(when := self._target(when)):
            if halt is not None and halt.requested:
                return False
            state = (progress.horizon(), progress.clients)
            if self.blocked is not None and state != told and progress.clients:
                told = state
                await self.blocked(when)
            await progress.changed(HALT_CHECK_S)
        return True
