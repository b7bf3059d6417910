"""Running a backtest with a live progress line, and the run summary table."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

import streamsim as ss
from adapters.cli.config import format_time
from streamsim.feed.batches import Batch
from streamsim.feed.quality import DataQuality, health_lines, skipped_lines
from streamsim.feed.sources import Source, Stream
from streamsim.results.caveats import is_short, sample_caveats
from streamsim.sim.venue_report import account_lines


class _Progress:
    """Events read (a depth message is one event, whatever its levels) and the first
    ``ts_exchange`` seen, shared by the sources."""

    def __init__(self) -> None:
        self.events = 0
        self.first = 0


class _CountingSource:
    """A source that counts what it yields into a :class:`_Progress` (other attributes of
    the wrapped source, such as ``quarantine`` and ``notes``, pass through)."""

    def __init__(self, inner: Source, progress: _Progress) -> None:
        self._inner = inner
        self._progress = progress

    @property
    def stream(self) -> Stream:
        return self._inner.stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aiter__(self) -> AsyncIterator[Batch]:
        progress = self._progress
        async for batch in self._inner:
            if len(batch):
                progress.events += len(batch)
                first = int(batch.ts_exchange[0])
                progress.first = min(progress.first, first) if progress.first else first
            yield batch


def eta_seconds(start: int, delivered: int, until: int | None, wall: float) -> float | None:
    """Wall seconds left at the rate simulated time was *delivered* so far (``start`` to
    ``delivered``, ns, in ``wall`` seconds) to reach ``until``; ``None`` while unknown
    (no end, no simulated time delivered yet)."""
    covered = delivered - start
    if until is None or covered <= 0 or wall <= 0:
        return None
    return max(until - delivered, 0) / (covered / wall)


class ProgressLine:
    """The live progress text: simulated time delivered (the run's clock, not the events the
    merge has read ahead), its share of the data's span and an ETA from its rate, and the
    events read. The rate is measured from the first redraw that saw simulated time, so the
    wall time spent opening the data does not inflate the ETA. ``timer`` (wall seconds)
    is injectable for tests."""

    def __init__(
        self,
        progress: _Progress,
        clock: ss.Clock,
        until: int | None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.progress = progress
        self.clock = clock
        self.until = until
        self.timer = timer
        #: (wall, simulated) at the first redraw that saw delivered simulated time.
        self.mark: tuple[float, int] | None = None

    def text(self) -> str:
        """One redraw of the line."""
        now = self.timer()
        events = self.progress.events
        start = self.progress.first
        delivered = self.clock.now()
        started = bool(start) and delivered >= start
        sim = format_time(delivered) if started else "-"
        text = f"[cyan]sim {sim}"
        if started and self.until is not None and self.until > start:
            share = min((delivered - start) / (self.until - start), 1.0)
            text += f" ({share:.0%})"
        eta = None
        if started:
            if self.mark is None:
                self.mark = (now, delivered)
            eta = eta_seconds(self.mark[1], delivered, self.until, now - self.mark[0])
        if eta is not None:
            done = self.until is not None and delivered >= self.until
            text += ", ETA <1 s" if 0 < eta < 0.5 and not done else f", ETA {eta:,.0f} s"
        text += f", {events:,} events read"
        if getattr(self.clock, "paused", False):
            text += " [yellow]paused (space resumes)[/]"
        return text

    def __rich__(self) -> str:
        return self.text()


def run_with_progress(
    console: Console,
    sources: Sequence[Source],
    strategy: ss.Strategy,
    until: int | None = None,
    **options: Any,
) -> ss.RunResult:
    """``run_backtest`` with a live progress line when ``console`` is a terminal.

    The line reads the run's simulated clock (given in ``options`` or made here), so it
    shows the simulated time delivered to the strategy and, when ``until`` (the data's
    last time) is known, an ETA from the delivered simulated-time rate so far. The engine
    is untouched.
    """
    if not console.is_terminal:
        return ss.run_backtest(sources, strategy, **options)
    progress = _Progress()
    wrapped: list[Source] = [_CountingSource(s, progress) for s in sources]
    clock = options.get("clock") or ss.VirtualClock()
    line = ProgressLine(progress, clock, until)
    with Live(line, console=console, refresh_per_second=4, transient=True):
        return ss.run_backtest(wrapped, strategy, **{**options, "clock": clock})


def book_health_text(quality: DataQuality) -> str:
    """The summary's book-health cell: red per damaged book, else which books stayed whole."""
    lines = health_lines(quality.exchange_books, quality.books)
    if lines:
        return "[bold red]" + escape("\n".join(lines)) + "[/]"
    books = sorted({*quality.exchange_books, *quality.books})
    if not books:
        return "no order book in this run"
    return f"[green]whole: {', '.join(books)} (no gap, no crossed book)[/]"


def summary_table(result: ss.RunResult, title: str) -> Table:
    """The run summary: events, fills, equity, the account's liquidations and bankrupt
    state, return, drawdown, maker share, notes."""
    venue = result.exchange
    stats: Mapping[str, Any] = result.metrics
    table = Table(title=title, show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    span = (result.end_time - result.start_time) / 1e9
    table.add_row("events", f"{result.total_events:,} over {span:,.1f} s simulated")
    table.add_row("wall", f"{result.wall_seconds:.2f} s ({result.events_per_second:,.0f} events/s)")
    table.add_row("orders", f"{result.orders_submitted:,}")
    if "fills" in venue:
        table.add_row("fills", f"{venue['fills']:,} ({venue.get('maker_fills', 0):,} maker)")
    if "equity" in venue:
        table.add_row("equity", f"{venue['equity']:,.2f}")
    account = account_lines(venue)
    if account:
        style = "bold red" if venue.get("bankrupt") else None
        table.add_row("account", escape("\n".join(account)), style=style)

    def pct(key: str) -> str:
        value = stats.get(key)
        return "-" if value is None else f"{value:.4%}"

    table.add_row("total return", pct("total_return"))
    table.add_row("max drawdown", pct("max_drawdown"))
    table.add_row("maker share", pct("maker_share"))
    table.add_row("sharpe / PSR / DSR", ratios_text(stats))
    table.add_row("book health", book_health_text(result.quality))
    shown = set(health_lines(result.quality.exchange_books, result.quality.books))
    notes = skipped_lines(result.quality.to_dict()) + [
        note
        for note in result.quality.notes
        if note not in shown  # in "book health"
    ]
    empty = "no other notes (book health above)" if shown else "no notes"
    table.add_row("data quality", "\n".join(notes) if notes else empty)
    caveats = sample_caveats(stats)
    if caveats:
        table.add_row("caveats", escape("\n".join(caveats)), style="yellow")
    return table


def ratios_text(metrics: Mapping[str, Any]) -> str:
    """The annualised Sharpe, PSR and DSR, marked when the sample is too short for them."""

    def num(key: str) -> str:
        value = metrics.get(key)
        return "-" if value is None else f"{value:,.3f}"

    text = f"{num('sharpe')} / {num('psr')} / {num('dsr')}"
    if is_short(metrics):
        text += " [yellow](not meaningful: short sample, see caveats)[/]"
    return text
