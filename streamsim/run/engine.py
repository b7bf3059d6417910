"""Run API: ``await backtest(...)`` and the sync ``run_backtest(...)`` for scripts."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio

from ..book import BookPolicy, Sequencing
from ..errors import ConfigError
from ..feed.merge import FeedConfig, Merge, OutOfOrderPolicy
from ..feed.quality import DataQuality, note_book_health
from ..feed.quarantine import QuarantineCounts
from ..feed.sources import Source
from ..results.caveats import sample_caveats
from ..results.metrics import Trials, from_record
from ..results.record import RunRecord
from ..sim.broker import SimBroker
from ..sim.exchange import Exchange, NullExchange
from ..sim.latency import ConstantLatency, OrderLatency
from ..sim.venue_report import account_lines
from ..strategy import Strategy
from ..units import SECOND, utc_text
from .clock import VirtualClock, WallClock
from .halt import Halt
from .kernel import Kernel
from .watchdog import DEFAULT_CALLBACK_TIMEOUT, check_timeout

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a run returns: event counts, timing, the run's record (orders, fills, ledger,
    equity, account updates, data quality), its metrics, and the exchange's own report
    (fill counts, costs by reason, the account, guard and book counts)."""

    quality: DataQuality
    events: dict[str, int]
    start_time: int
    end_time: int
    wall_seconds: float
    orders_submitted: int = 0
    responses: int = 0
    strategies: list[str] = field(default_factory=list)
    exchange: dict[str, Any] = field(default_factory=dict)
    record: RunRecord = field(default_factory=RunRecord)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: A run stopped early (a live run by SIGINT / SIGTERM, a simulated one by a
    #: :class:`~streamsim.run.halt.Halt`): the results are those so far.
    interrupted: bool = False
    #: The :class:`~streamsim.config.RunConfig` the run was built from
    #: (``streamsim.run_config``); ``write_artifacts`` records it in the manifest.
    config: Any = None

    @property
    def total_events(self) -> int:
        """Market events delivered to the strategy timeline (each counted once)."""
        return sum(self.events.values())

    @property
    def events_per_second(self) -> float:
        return self.total_events / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def summary(self) -> str:
        """A few lines for a terminal: span, speed, per stream what the feed changed, the
        account, the notes and the metrics' sample-length caveats."""
        span = (self.end_time - self.start_time) / 1e9
        lines = [
            f"simulated {span:,.1f} s in {self.wall_seconds:.2f} s wall, "
            f"{self.total_events:,} events ({self.events_per_second:,.0f} events/s), "
            f"{self.orders_submitted} orders, {self.responses} responses"
        ]
        for name, q in sorted(self.quality.streams.items()):
            changes = [
                f"{label} {value:,}"
                for label, value in (
                    ("offset-corrected", q.offset_corrected),
                    ("monotone-clamped", q.monotone_clamped),
                    ("clamped-to-exchange", q.clamped_to_exchange),
                    ("exchange-backwards", q.exchange_backwards),
                    ("shown-before-recv", q.shown_before_recv),
                    ("raised-to-recv", q.raised_to_recv),
                )
                if value
            ]
            lines.append(
                f"  {name}: {q.delivered:,}/{q.rows:,} delivered, {q.feed_model}"
                + (f"; {', '.join(changes)}" if changes else "")
            )
        lines.extend(f"  account: {line}" for line in account_lines(self.exchange))
        lines.extend(f"  note: {note}" for note in self.quality.notes)
        lines.extend(f"  caveat: {line}" for line in sample_caveats(self.metrics))
        return "\n".join(lines)


@contextmanager
def _young_gc_relaxed() -> Iterator[None]:
    """Collect young objects less often during a run.

    Replay allocates millions of short-lived acyclic event objects; CPython's default
    threshold (700) would trigger a young collection every few hundred of them and
    triple their cost. The previous thresholds are restored afterwards.
    """
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 100_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to show for a failed run: its first leaf exception."""
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def _collect_source_reports(sources: Sequence[Source], quality: DataQuality) -> None:
    """Sources may carry a ``quarantine`` (:class:`QuarantineCounts`) and ``notes``."""
    seen: set[int] = set()
    for source in sources:
        quarantine = getattr(source, "quarantine", None)
        if isinstance(quarantine, QuarantineCounts) and id(quarantine) not in seen:
            seen.add(id(quarantine))
            for stream, reasons in quarantine.summary().items():
                merged = quality.quarantined.setdefault(stream, {})
                for reason, count in reasons.items():
                    merged[reason] = merged.get(reason, 0) + count
        quality.notes.extend(note for note in getattr(source, "notes", ()) if isinstance(note, str))


async def backtest(
    sources: Sequence[Source],
    strategies: Strategy | Sequence[Strategy],
    *,
    feed: FeedConfig = None,
    latency: OrderLatency | None = None,
    exchange: Exchange | None = None,
    clock: VirtualClock | None = None,
    end: int | None = None,
    linger: int = 60 * SECOND,
    out_of_order: OutOfOrderPolicy = "fail",
    prefetch: int = 4,
    sequencing: Sequencing = "futures",
    book_policy: BookPolicy | None = None,
    callback_timeout: float | None = DEFAULT_CALLBACK_TIMEOUT,
    halt: Halt | None = None,
    trials: Trials | None = None,
) -> RunResult:
    """Replay ``sources`` through the feed, the kernel and ``strategies``.

    ``feed`` is one feed model for every stream or a dict keyed by stream name
    (``"BTCUSDT.trades"``), kind (``"trades"``) or ``"*"``; unconfigured streams use
    ``recorded`` where the data has ``ts_recv``. ``latency`` is the order latency model
    (default: 0 ns). ``clock`` is a :class:`VirtualClock` (default) or a
    :class:`PacedClock` for paper replay. ``end`` stops the run at that simulated time
    (inclusive); without it, or when the data ends first, the run ends at the last event,
    after giving callbacks still running up to ``linger`` ns of simulated time to finish
    (with ``end``, the span then reaches ``linger`` past the last event, at most ``end``).
    ``sequencing`` is the update-id rule of the strategy-side books (``"futures"``,
    ``"spot"`` or ``None``), ``book_policy`` what they do when they break
    (:class:`~streamsim.book.BookPolicy`; give the exchange the same one). Book health
    (gaps, crossings, resyncs, time invalid, orders the guard rejected or cancelled) is
    added to ``quality.exchange_books`` and to the notes.
    ``callback_timeout`` is the watchdog's budget: wall-clock seconds a callback may run
    without awaiting before the run ends with a :class:`StrategyError` naming it (``None``
    or 0 disables it). ``halt`` (a :class:`Halt`) ends the run early when requested: it
    stops at the simulated time reached, as if the data ended there, and the result is
    marked ``interrupted`` with a note saying when. ``trials``
    (:class:`~streamsim.results.metrics.Trials`) are the strategies and parameter sets tried
    before this run, which the DSR deflates for (default: this run alone).
    An error in a source, the kernel or a strategy cancels the run and is raised here.
    """
    if isinstance(strategies, Strategy):
        strategies = [strategies]
    if not sources:
        raise ConfigError("backtest needs at least one source")
    if out_of_order not in ("fail", "clamp"):
        raise ConfigError(f"out_of_order must be 'fail' or 'clamp', got {out_of_order!r}")
    if isinstance(clock, WallClock) or (clock is not None and not isinstance(clock, VirtualClock)):
        raise ConfigError(
            f"backtest runs on simulated time (VirtualClock or PacedClock), got {clock!r}; "
            "to run strategies on the wall clock use the live runtime: "
            "streamsim.run_paper_live(sources, strategies, exchange=..., speed=...) "
            "(or await streamsim.paper_live(...))"
        )
    budget = check_timeout(callback_timeout)
    clock = clock or VirtualClock()
    exchange = exchange or NullExchange()
    quality = DataQuality()
    quality.notes.extend(exchange.check_streams([str(source.stream) for source in sources]))
    record = RunRecord(quality=quality)
    merge = Merge(
        list(sources),
        feed,
        quality,
        out_of_order=out_of_order,
        prefetch=prefetch,
        exchange_timeline=exchange.wants_market,
    )
    broker = SimBroker(clock, exchange, latency or ConstantLatency(0), record)
    kernel = Kernel(
        clock,
        merge,
        list(strategies),
        exchange,
        broker,
        quality,
        {},
        end,
        linger,
        sequencing,
        book_policy,
        callback_timeout=budget,
        halt=halt,
    )
    wall = time.perf_counter()
    with _young_gc_relaxed():
        try:
            async with anyio.create_task_group() as group:
                merge.start(group)
                await kernel.run()
                group.cancel_scope.cancel()
        except BaseExceptionGroup as group_error:
            leaf = _first_leaf(group_error)
            raise leaf from leaf.__cause__
        finally:
            merge.close()
    wall = time.perf_counter() - wall
    for name, count in zip(merge.streams, kernel.delivered.tolist(), strict=True):
        if name in quality.streams:
            quality.streams[name].delivered = count
    _collect_source_reports(sources, quality)
    venue = exchange.report()
    note_book_health(quality, venue.get("book_health", {}))
    halted = halt is not None and halt.requested
    if halted:
        quality.notes.append(f"stopped by the user at {utc_text(clock.now())}: results so far")
    firsts = [q.first_ts_exchange for q in quality.streams.values() if q.first_ts_exchange]
    result = RunResult(
        quality=quality,
        events=dict(zip(merge.streams, kernel.delivered.tolist(), strict=True)),
        start_time=min(firsts) if firsts else clock.now(),
        end_time=clock.now(),
        wall_seconds=wall,
        orders_submitted=broker.submitted,
        responses=broker.responses,
        strategies=[ctx.name for ctx in kernel.contexts],
        exchange=venue,
        record=record,
        metrics=from_record(record, trials=trials),
        interrupted=halted,
    )
    log.info(
        "run done: %d events in %.3f s (%.0f events/s)",
        result.total_events,
        wall,
        result.events_per_second,
    )
    return result


def run_backtest(
    sources: Sequence[Source], strategies: Strategy | Sequence[Strategy], **options: Any
) -> RunResult:
    """Synchronous :func:`backtest` for scripts (starts its own event loop)."""
    return anyio.run(partial(backtest, sources, strategies, **options))
