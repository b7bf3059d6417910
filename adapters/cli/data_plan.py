"""What a ``[data]`` section gives a run: :class:`DataPlan`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamsim as ss
from streamsim.feed.quarantine import Quarantine
from streamsim.feed.sources import Source


@dataclass
class DataPlan:
    """Sources of a run with the instruments, input files and symbols behind them."""

    sources: list[Source]
    instruments: list[ss.Instrument]
    inputs: list[Path] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    #: The last simulated time the data can reach (ns), when known: for the progress ETA.
    until: int | None = None
    #: Where skipped rows go under ``data.policy = "quarantine"`` (closed after the run).
    quarantine: Quarantine | None = None
    #: Where the run ends when the config sets no end: the end of the data's window (a
    #: compiled store's last venue time), so rows received after it (late open interest)
    #: do not carry the run on over a book that no longer moves. None: the data's own end.
    end: int | None = None
