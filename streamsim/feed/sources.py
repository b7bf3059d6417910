"""The ``Source`` protocol: an async iterator of batches of one stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .batches import Batch


@dataclass(frozen=True, order=True)
class Stream:
    """Identity of a stream: one kind of data of one symbol."""

    symbol: str
    kind: str

    def __str__(self) -> str:
        return f"{self.symbol}.{self.kind}"


@runtime_checkable
class Source(Protocol):
    """Batches of one stream, ordered by ``ts_exchange`` within and across batches.

    A source is iterated once per run. It may await I/O between batches; the merge pulls
    from it only when its next event could be the next to happen. Optionally a source
    has ``quarantine`` (a :class:`~streamsim.quarantine.Quarantine` whose counts go into
    the run's data-quality report) and ``notes`` (strings added to the report, e.g. that
    a stream is synthetic).
    """

    @property
    def stream(self) -> Stream: ...

    def __aiter__(self) -> AsyncIterator[Batch]: ...


class MemorySource:
    """A source over batches already in memory (tests, benchmarks, generated data)."""

    def __init__(self, batches: Iterable[Batch], stream: Stream | None = None) -> None:
        self._batches = list(batches)
        if stream is None:
            if not self._batches:
                raise ValueError("MemorySource needs a stream when it has no batches")
            first = self._batches[0]
            stream = Stream(first.symbol, first.kind)
        self._stream = stream

    @property
    def stream(self) -> Stream:
        return self._stream

    async def __aiter__(self) -> AsyncIterator[Batch]:
        for batch in self._batches:
            yield batch
