"""A Binance capture as streamsim sources: depth, trades and mark price of each symbol.

Each stream becomes a :class:`CaptureSource` (a :class:`~streamsim.feed.sources.MemorySource`
with ``notes``) over batches of at most ``batch_size`` rows; a depth batch holds at most
``batch_size`` messages and ``batch_size`` levels, except that a depth message is never
split (a message larger than the bound, such as a 2,000-level REST snapshot, gets a
batch of its own).

Depth keeps the capture's receive order, REST snapshot included, so the strategy-side
book applies the venue's own sync procedure (diffs buffered before the snapshot are
replayed after it; stale ones skipped). A snapshot's ``E`` comes from the REST server and
can be earlier than the ``E`` of the diff received just before it (59 ms in
``btcusdt_20240808.gz``), or after diffs received after it (``binance-futures-ws``); a
source must be ordered by ``ts_exchange``, so such a snapshot's ``ts_exchange`` is moved
within its neighbours' (``max(latest before, min(E, earliest after))``). Every snapshot so
moved is counted and described in the depth source's ``notes`` (which the run's
data-quality report includes); diffs are never altered (a diff whose ``E`` went backwards
is left to the run's ``out_of_order`` policy).

Not turned into sources, and said so in the notes: ``bookTicker`` messages (the core has
no event type for them; they stay in :attr:`SymbolCapture.book_tickers` as an independent
check of the rebuilt book), messages of other kinds the capture skipped
(:attr:`Capture.ignored`) and depth levels dropped for being off the grid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from streamsim.errors import ConfigError, DataError
from streamsim.feed.batches import Batch, DepthBatch, MarkPriceBatch, TradeBatch
from streamsim.feed.plausibility import Limits
from streamsim.feed.quarantine import Policy, Quarantine
from streamsim.feed.snapshot_times import shift_text, snapshots_within_neighbours
from streamsim.feed.sources import MemorySource, Source, Stream
from streamsim.instruments import Instrument

from .capture import Capture, OffGrid, SymbolCapture, read_capture

PathLike = str | os.PathLike[str]

#: Stream kinds a capture provides, in the default order (which is also the tie-break rank).
CAPTURE_KINDS = ("depth", "trades", "mark_price")
DEFAULT_BATCH_SIZE = 10_000


class CaptureSource(MemorySource):
    """Batches of one stream of a capture, with ``notes`` for the data-quality report."""

    def __init__(
        self,
        batches: Iterable[Batch],
        stream: Stream,
        notes: Sequence[str] = (),
        quarantine: Quarantine | None = None,
    ) -> None:
        super().__init__(batches, stream)
        self.notes: list[str] = list(notes)
        #: The capture's quarantine (its counts reach the run's data-quality report).
        self.quarantine = quarantine

    @property
    def batches(self) -> list[Batch]:
        """The batches, in order (for inspection; the run iterates the source)."""
        return list(self._batches)


def capture_sources(
    paths: PathLike | Iterable[PathLike],
    instruments: Mapping[str, Instrument] | None = None,
    kinds: Sequence[str] = CAPTURE_KINDS,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    off_grid: OffGrid = "auto",
    policy: Policy = "fail",
    quarantine: Quarantine | None = None,
    plausibility: Limits | Mapping[str, Any] | None = None,
) -> list[Source]:
    """Read one recording (its files in order, chained) and return its sources.

    See :func:`~adapters.binance.capture.read_capture` for ``instruments``, ``off_grid``,
    ``policy``, ``quarantine`` and ``plausibility``, and :func:`sources_from_capture` for
    the rest.
    """
    capture = read_capture(
        paths,
        instruments,
        off_grid=off_grid,
        policy=policy,
        quarantine=quarantine,
        plausibility=plausibility,
    )
    return sources_from_capture(capture, kinds, batch_size=batch_size)


def sources_from_capture(
    capture: Capture,
    kinds: Sequence[str] = CAPTURE_KINDS,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[Source]:
    """Sources of every symbol of ``capture`` (symbols sorted, ``kinds`` in the given order).

    ``kinds`` is a subset of ``("depth", "trades", "mark_price")``. A symbol without a
    mark price stream (spot, or a recording that did not subscribe to it) gets no
    ``mark_price`` source, and a note says so. Symbol-level notes (bookTickers left out,
    off-grid levels dropped, missing streams) go to the symbol's first source, the depth
    snapshot-time note to its depth source, capture-level notes (ignored messages, and
    those of a symbol left without a source) to the first source. :class:`DataError` if
    no source is left at all.
    """
    kinds = tuple(kinds)
    unknown = [kind for kind in kinds if kind not in CAPTURE_KINDS]
    if unknown:
        hint = (
            " (bookTicker has no event type in streamsim: read SymbolCapture.book_tickers)"
            if any("ticker" in kind.lower() for kind in unknown)
            else ""
        )
        raise ConfigError(
            f"unknown capture kind(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(CAPTURE_KINDS)}{hint}"
        )
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"kinds repeat a kind: {kinds}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    sources: list[CaptureSource] = []
    general: list[str] = []
    if capture.ignored:
        counts = ", ".join(f"{count:,} {name}" for name, count in sorted(capture.ignored.items()))
        general.append(f"capture: messages of kinds not converted, skipped: {counts}")
    for symbol, data in sorted(capture.symbols.items()):
        notes = _symbol_notes(symbol, data, kinds)
        first = len(sources)
        for kind in kinds:
            if kind == "mark_price" and data.mark_price is None:
                notes.append(f"{symbol}: the capture has no mark price stream; no source for it")
                continue
            sources.append(_source(symbol, data, kind, batch_size))
            sources[-1].quarantine = capture.quarantine
        if len(sources) > first:
            sources[first].notes[:0] = notes
        else:
            general += notes
    if not sources:
        raise DataError(f"the capture has no data of kinds {', '.join(kinds)}")
    sources[0].notes[:0] = general
    return list(sources)


def _symbol_notes(symbol: str, data: SymbolCapture, kinds: Sequence[str]) -> list[str]:
    notes = []
    if len(data.book_tickers):
        notes.append(
            f"{symbol}: {len(data.book_tickers):,} bookTicker messages are not a source "
            "(no event type for them); see SymbolCapture.book_tickers"
        )
    notes += data.reading_notes(symbol)
    if data.mark_price is not None and "mark_price" not in kinds:
        notes.append(f"{symbol}: {len(data.mark_price):,} mark prices not requested (kinds)")
    return notes


def _source(symbol: str, data: SymbolCapture, kind: str, batch_size: int) -> CaptureSource:
    stream = Stream(symbol, kind)
    if kind == "depth":
        depth, notes = snapshot_times_in_order(data.depth)
        return CaptureSource(split_depth(depth, batch_size), stream, notes)
    if kind == "trades":
        return CaptureSource(_split_rows(data.trades, batch_size), stream)
    if data.mark_price is None:
        raise DataError(f"the capture has no mark price stream for {symbol}")
    return CaptureSource(_split_rows(data.mark_price, batch_size), stream)


def snapshot_times_in_order(depth: DepthBatch) -> tuple[DepthBatch, list[str]]:
    """``depth`` with each REST snapshot's ``ts_exchange`` moved within the times of the
    diffs received around it (``max(latest before, min(E, earliest after))``): a snapshot's
    ``E`` comes from another server and may lie before a diff received before it or after
    one received after it. A note describes what was moved (no note, same batch, when
    nothing is)."""
    ts = depth.ts_exchange
    if len(ts) < 2:
        return depth, []
    fixed = snapshots_within_neighbours(ts, depth.is_snapshot)
    moved = fixed != ts
    if not moved.any():
        return depth, []
    where = np.flatnonzero(moved)
    ids = ", ".join(str(int(depth.final[i])) for i in where[:5])
    more = f" and {len(where) - 5} more" if len(where) > 5 else ""
    by = shift_text(np.abs(fixed[moved] - ts[moved]))
    note = (
        f"{depth.symbol}.depth: {len(where)} REST snapshot(s) (lastUpdateId {ids}{more}) "
        "had an E outside the times of the depth messages received around them; "
        f"ts_exchange moved to the nearest of those, by {by}, keeping receive order "
        "(update ids, receive times and levels unchanged)"
    )
    return replace(depth, ts_exchange=fixed), [note]


def split_depth(depth: DepthBatch, batch_size: int) -> list[DepthBatch]:
    """``depth`` cut into batches of at most ``batch_size`` messages and levels, never
    splitting a message (one larger than ``batch_size`` levels goes alone)."""
    n = len(depth)
    offsets = depth.level_offsets
    batches = []
    start = 0
    while start < n:
        limit = offsets[start] + batch_size
        stop = int(np.searchsorted(offsets, limit, side="right")) - 1
        stop = min(max(stop, start + 1), start + batch_size, n)
        batches.append(depth.slice(start, stop))
        start = stop
    return batches


def _split_rows(batch: TradeBatch | MarkPriceBatch, batch_size: int) -> list[Batch]:
    """Row slices of at most ``batch_size`` rows (views, no copies)."""
    return [batch.slice(lo, lo + batch_size) for lo in range(0, len(batch), batch_size)]
