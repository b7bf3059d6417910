"""A request to end a simulated run early, at its current simulated time, with the
results so far (a terminal's first Ctrl-C in ``streamsim run``)."""

from __future__ import annotations


class Halt:
    """Set :meth:`request` from anywhere (a signal handler included: it only sets a flag);
    the kernel checks it between steps and ends the run as if the data had ended there."""

    __slots__ = ("requested",)

    def __init__(self) -> None:
        self.requested = False

    def request(self) -> None:
        """Ask the run to end at the simulated time it has reached."""
        self.requested = True
