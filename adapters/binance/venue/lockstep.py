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
* ``{"method": "STREAMSIM_PROGRESS", "params": [<replay ns>, <orders sent>], "id": n}`` on
  any market connection registers the connection as a lockstep client and reports;
* an order request may carry ``X-SS-Sent-At: <replay ns>``; its answer carries
  ``X-SS-Replay-Time: <replay ns>``, the time it was matched at.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable

from streamsim.run.clock import VirtualClock
from streamsim.run.halt import Halt

PROGRESS_METHOD = "STREAMSIM_PROGRESS"
SENT_AT_HEADER = "X-SS-Sent-At"
REPLAY_TIME_HEADER = "X-SS-Replay-Time"
STAMP_KEY = "ss_t"
IDLE_KEY = "ss_next"


class Progress:
    """What the lockstep clients reported, and the horizon it allows.

    A client is any connection that sent a progress report (a client with several
    connections reports on each). Before the first report the venue waits; once every
    client has left, it runs free to the end.
    """

    def __init__(self, min_entry_latency: int) -> None:
        if min_entry_latency < 0:
            raise ValueError(f"min_entry_latency must be >= 0, got {min_entry_latency}")
        self.min_entry_latency = min_entry_latency
        self._reported: dict[Hashable, tuple[int, int]] = {}  # client -> (progress, orders)
        self._ever = False
        self.orders_received = 0
        self._horizon: int | None = None
        self._changed = asyncio.Event()

    @property
    def clients(self) -> int:
        return len(self._reported)

    @property
    def running_free(self) -> bool:
        """True once every lockstep client has left."""
        return self._ever and not self._reported

    def lowest(self) -> int | None:
        """The smallest progress reported (None before any): no order may be sent before it."""
        return min((p for p, _ in self._reported.values()), default=None)

    def report(self, client: Hashable, progress: int, orders_sent: int) -> None:
        """``client`` promises no order sent before ``progress`` (it has processed every
        frame up to there) and has sent ``orders_sent`` orders so far."""
        old = self._reported.get(client, (progress, orders_sent))
        self._reported[client] = (max(old[0], progress), max(old[1], orders_sent))
        self._ever = True
        self._update()

    def leave(self, client: Hashable) -> None:
        """A lockstep client disconnected: it holds the venue back no more."""
        if self._reported.pop(client, None) is not None:
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
            sent = sum(orders for _, orders in self._reported.values())
            if self.orders_received >= sent:  # else an order is still in flight: hold
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
