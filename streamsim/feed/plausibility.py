"""Value rules every adapter applies: vectorised checks that return bad-row masks with a reason.

A value can be well-formed and still wrong: a timestamp in milliseconds where nanoseconds
are expected, a receive time years from the venue's time, a funding rate no venue allows,
one trade at ten times the market. These checks find such rows, a whole column at a time
(NumPy masks, no per-row Python), and say why in words a user can act on. Adapters add the
flags to their own row checks and report them through their
:class:`~streamsim.feed.quarantine.Ingest`, so ``fail`` names file, row and column and
``quarantine`` skips, writes and counts the row. :class:`Limits` holds the bounds; each is
configurable and ``None`` turns its check off.

One check spans streams and runs during the run, not when reading:
:func:`check_mark_against_mid` counts mark prices far from the simulated book's mid in the
run's data-quality report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from ..book import MAX_WIDTH
from ..errors import ConfigError
from ..units import DAY, HOUR, MS, SECOND, US

if TYPE_CHECKING:
    from ..book import L2Book
    from ..events import MarkPrice
    from ..instruments import Instrument
    from .quality import DataQuality

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

Unit = Literal["s", "ms", "us", "ns"]
#: Nanoseconds per unit.
UNIT_NS: dict[Unit, int] = {"s": SECOND, "ms": MS, "us": US, "ns": 1}
UNIT_NAMES: dict[Unit, str] = {
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
}
#: Plausible times: 2000-01-01 to 2100-01-01 UTC, in ns. Market data outside is a unit error
#: or garbage; a value inside the range of another unit names that unit.
TIME_LOW = 946_684_800 * SECOND
TIME_HIGH = 4_102_444_800 * SECOND

#: Default bounds (see :class:`Limits`).
MAX_CLOCK_OFFSET = HOUR
MAX_PRICE_JUMP = 0.5
MAX_LEVEL_RATIO: float | None = None
#: Depth levels further than this many ticks from their block's median are beyond what the
#: simulated book can hold (a fraction of its window, which must also span the spread).
BOOK_REACH = MAX_WIDTH // 3
FUNDING_CAP = 0.03
DATE_SLACK = DAY
MARK_MID_DEVIATION = 0.1
#: Rows per block whose median is the reference of the price-jump checks.
JUMP_BLOCK = 4096
#: A block with fewer valid prices uses the previous block's median (if any).
JUMP_MIN_ROWS = 5


@dataclass(frozen=True)
class Flag:
    """Rows (``mask``) that break one rule, the column they break it in, and why."""

    mask: BoolArray
    column: str
    reason: str


@dataclass(frozen=True)
class Limits:
    """Bounds of plausible values; ``None`` turns a check off.

    ``time_range`` (ns, ``[low, high)``): plausible times, 2000 to 2100; a time outside,
    read in the unit its column is documented in, is a unit error (the reason names the
    unit it looks like) or garbage.
    ``max_clock_offset`` (ns): largest ``|ts_recv - ts_exchange|`` (a receive time hours
    from the venue's time is a broken recorder clock or a unit error; open interest, which
    is published long after its bucket, is exempt). ``max_price_jump``: largest relative
    distance of a trade or mark price from the median of its block of rows (0.5: a price
    below half or above 1.5 times its neighbours is a fat finger). ``max_level_ratio``: for
    depth levels, the largest ratio of a level price to its block's median; off by
    default, because real books hold orders absurdly far from the market (the 2023 BTCUSDT
    recording has a bid at 1,113.6 with the market at 28,100; a SUSHIUSDT snapshot asks
    10.0 with the market at 0.0173). Depth levels are always checked against what the
    simulated book can hold instead (:func:`beyond_book`). ``funding_cap``:
    largest ``|funding rate|`` (Binance's adjusted caps, ``GET /fapi/v1/fundingInfo``, reach
    0.03; most symbols are capped far lower). ``date_slack`` (ns): how far a row's time may
    lie outside the date its file is named for. ``mark_mid_deviation``: relative distance
    of a mark price from the simulated book's mid above which the run counts and notes it.
    """

    time_range: tuple[int, int] | None = (TIME_LOW, TIME_HIGH)
    max_clock_offset: int | None = MAX_CLOCK_OFFSET
    max_price_jump: float | None = MAX_PRICE_JUMP
    max_level_ratio: float | None = MAX_LEVEL_RATIO
    funding_cap: float | None = FUNDING_CAP
    date_slack: int | None = DATE_SLACK
    mark_mid_deviation: float | None = MARK_MID_DEVIATION

    def __post_init__(self) -> None:
        span = self.time_range
        if span is not None and (
            len(span) != 2
            or not all(type(v) is int for v in span)
            or not 0 <= span[0] < span[1] <= 2**63 - 1
        ):
            raise ConfigError(
                f"plausibility.time_range: expected [low, high] ints of ns, low < high, or None; "
                f"got {span!r}"
            )
        rules: Sequence[tuple[str, float | None, float, str]] = (
            ("max_clock_offset", self.max_clock_offset, 0, "an int of ns > 0"),
            ("max_price_jump", self.max_price_jump, 0, "a number > 0"),
            ("max_level_ratio", self.max_level_ratio, 1, "a number > 1"),
            ("funding_cap", self.funding_cap, 0, "a number > 0"),
            ("date_slack", self.date_slack, -1, "an int of ns >= 0"),
            ("mark_mid_deviation", self.mark_mid_deviation, 0, "a number > 0"),
        )
        for name, value, low, allowed in rules:
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"plausibility.{name}: expected {allowed} or None, got {value!r}")
            if not np.isfinite(value) or value <= low:
                raise ConfigError(f"plausibility.{name}: expected {allowed} or None, got {value!r}")

    # -- the checks, with these bounds ------------------------------------------------------

    def times(
        self, values: npt.ArrayLike, column: str, unit: Unit, day: tuple[int, int] | None = None
    ) -> list[Flag]:
        """Times in the wrong unit, and (given the file's ``day`` in ns) far from that day."""
        flags = [] if self.time_range is None else wrong_unit(values, column, unit, self.time_range)
        if day is not None and self.date_slack is not None:
            bad = np.zeros(len(flags[0].mask) if flags else np.size(values), dtype=np.bool_)
            for flag in flags:
                bad |= flag.mask
            far = off_date(values, column, unit, day, self.date_slack)
            flags.append(Flag(far.mask & ~bad, far.column, far.reason))
        return [flag for flag in flags if flag.mask.any()]

    def clock(
        self, ts_exchange: IntArray, ts_recv: IntArray, column: str = "ts_recv"
    ) -> list[Flag]:
        """Receive times further than ``max_clock_offset`` from the venue's time (both ns)."""
        if self.max_clock_offset is None:
            return []
        flag = clock_offset(ts_exchange, ts_recv, column, self.max_clock_offset)
        return [flag] if flag.mask.any() else []

    def funding(self, rates: npt.ArrayLike, column: str = "funding_rate") -> list[Flag]:
        """Funding rates beyond ``funding_cap`` either way."""
        if self.funding_cap is None:
            return []
        flag = funding_out_of_cap(rates, column, self.funding_cap)
        return [flag] if flag.mask.any() else []

    def prices(
        self, values: npt.ArrayLike, column: str, reference: float | None = None
    ) -> tuple[list[Flag], float | None]:
        """Trade or mark prices far from their block's median (see :func:`price_jumps`)."""
        if self.max_price_jump is None:
            return [], reference
        flag, reference = price_jumps(values, column, self.max_price_jump, reference)
        return ([flag] if flag.mask.any() else []), reference

    def levels(
        self, values: npt.ArrayLike, column: str, reference: float | None = None
    ) -> tuple[list[Flag], float | None]:
        """Depth level prices far from their block's median (see :func:`level_jumps`)."""
        if self.max_level_ratio is None:
            return [], reference
        flag, reference = level_jumps(values, column, self.max_level_ratio, reference)
        return ([flag] if flag.mask.any() else []), reference


DEFAULT_LIMITS = Limits()


def limits_from(options: Any) -> Limits:
    """``options`` as :class:`Limits`: None (the defaults), Limits, or a mapping of fields."""
    if options is None:
        return DEFAULT_LIMITS
    if isinstance(options, Limits):
        return options
    if isinstance(options, dict):
        unknown = sorted(set(options) - set(Limits.__dataclass_fields__))
        if unknown:
            raise ConfigError(
                f"plausibility: unknown key(s) {', '.join(unknown)}; known: "
                + ", ".join(Limits.__dataclass_fields__)
            )
        return Limits(**options)
    raise ConfigError(f"plausibility: expected Limits, a dict or None, got {options!r}")


# -- single checks ------------------------------------------------------------------------


def _floats(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def non_finite(values: npt.ArrayLike, column: str) -> Flag:
    """NaN or infinite values."""
    return Flag(~np.isfinite(_floats(values)), column, "not a finite number")


def not_positive(values: npt.ArrayLike, column: str) -> Flag:
    """Values at or below 0 (prices; trade sizes). NaN is not flagged here: see non_finite."""
    with np.errstate(invalid="ignore"):
        return Flag(_floats(values) <= 0, column, "not positive")


def negative(values: npt.ArrayLike, column: str) -> Flag:
    """Values below 0 (sizes where 0 means delete, such as depth levels)."""
    with np.errstate(invalid="ignore"):
        return Flag(_floats(values) < 0, column, "negative")


def wrong_unit(
    values: npt.ArrayLike,
    column: str,
    unit: Unit,
    span: tuple[int, int] = (TIME_LOW, TIME_HIGH),
) -> list[Flag]:
    """Times, meant to be in ``unit``, outside ``span`` (ns; 2000-2100 by default): one flag
    per unit they look like.

    A value that is a plausible time in seconds, milliseconds or microseconds where, say,
    nanoseconds are expected gets a reason naming that unit; any other value outside the
    range is "not a time in ... (outside the range)". Empty flags are left out.
    """
    low, high = span
    scale = UNIT_NS[unit]
    ints = np.asarray(values)
    ns = ints.astype(np.float64) * scale  # float: an overflow must not wrap into range
    with np.errstate(invalid="ignore"):
        outside = ~((ns >= low) & (ns < high))
    if not outside.any():
        return []
    flags: list[Flag] = []
    named = np.zeros(len(ns), dtype=np.bool_)
    for other, per in UNIT_NS.items():
        if other == unit:
            continue
        as_other = ns / scale * per
        with np.errstate(invalid="ignore"):
            looks = outside & (as_other >= low) & (as_other < high) & ~named
        if looks.any():
            named |= looks
            flags.append(
                Flag(
                    looks,
                    column,
                    f"looks like {UNIT_NAMES[other]}, not {UNIT_NAMES[unit]} (wrong time unit)",
                )
            )
    rest = outside & ~named
    if rest.any():
        years = "2000-2100" if span == (TIME_LOW, TIME_HIGH) else f"{low}-{high} ns"
        flags.append(Flag(rest, column, f"not a time in {UNIT_NAMES[unit]} (outside {years})"))
    return flags


def _day_text(day: tuple[int, int]) -> str:
    start = dt.datetime.fromtimestamp(day[0] // SECOND, tz=dt.UTC)
    return f"{start:%Y-%m-%d}" + (f" {start:%H}h" if day[1] - day[0] <= HOUR else "")


def off_date(
    values: npt.ArrayLike, column: str, unit: Unit, day: tuple[int, int], slack: int
) -> Flag:
    """Times further than ``slack`` ns outside ``day`` (``[start, end)`` in ns: the file's date)."""
    ns = np.asarray(values).astype(np.float64) * UNIT_NS[unit]
    low, high = day[0] - slack, day[1] + slack
    with np.errstate(invalid="ignore"):
        mask = (ns < low) | (ns >= high)
    hours = slack / HOUR
    return Flag(mask, column, f"more than {hours:g} h outside the file's date {_day_text(day)}")


def clock_offset(ts_exchange: IntArray, ts_recv: IntArray, column: str, limit: int) -> Flag:
    """Rows whose receive time is more than ``limit`` ns from the venue's time."""
    gap = np.abs(np.asarray(ts_recv, dtype=np.float64) - np.asarray(ts_exchange, dtype=np.float64))
    hours = limit / HOUR
    return Flag(
        gap > limit,
        column,
        f"received more than {hours:g} h from the venue's time (recorder clock offset?)",
    )


def funding_out_of_cap(rates: npt.ArrayLike, column: str, cap: float) -> Flag:
    """Funding rates beyond ``cap`` either way (NaN is non_finite's)."""
    with np.errstate(invalid="ignore"):
        mask = np.abs(_floats(rates)) > cap
    return Flag(mask, column, f"beyond the funding cap of +/-{cap:g}")


def _block_medians(
    prices: npt.NDArray[np.float64], reference: float | None
) -> tuple[npt.NDArray[np.float64], float | None]:
    """Per row, the median of the valid prices of its block (or the carried reference)."""
    refs = np.full(len(prices), np.nan)
    for lo in range(0, len(prices), JUMP_BLOCK):
        block = prices[lo : lo + JUMP_BLOCK]
        valid = block[np.isfinite(block) & (block > 0)]
        if len(valid) >= JUMP_MIN_ROWS:
            reference = float(np.median(valid))
        if reference is not None:
            refs[lo : lo + JUMP_BLOCK] = reference
    return refs, reference


def price_jumps(
    values: npt.ArrayLike, column: str, limit: float, reference: float | None = None
) -> tuple[Flag, float | None]:
    """Prices more than ``limit`` (relative) from the median of their block of rows.

    Blocks are :data:`JUMP_BLOCK` rows; a block with fewer than :data:`JUMP_MIN_ROWS`
    valid prices uses ``reference`` (the previous block's median, carried across calls:
    pass back the returned one). Without any reference nothing is flagged.
    """
    prices = _floats(values)
    refs, reference = _block_medians(prices, reference)
    with np.errstate(invalid="ignore", divide="ignore"):
        mask = np.abs(prices / refs - 1) > limit
    return Flag(mask, column, f"more than {limit:.0%} from the median of nearby prices"), reference


def level_jumps(
    values: npt.ArrayLike, column: str, ratio: float, reference: float | None = None
) -> tuple[Flag, float | None]:
    """Level prices more than ``ratio`` times their block's median (see :class:`Limits`)."""
    prices = _floats(values)
    refs, reference = _block_medians(prices, reference)
    with np.errstate(invalid="ignore", divide="ignore"):
        mask = prices > refs * ratio
    return (
        Flag(mask, column, f"more than {ratio:g}x the median of nearby levels"),
        reference,
    )


def beyond_book(ticks: npt.ArrayLike, column: str, reach: int = BOOK_REACH) -> Flag:
    """Level prices (ticks) further than ``reach`` ticks from their block's median: a
    level the simulated book's price window cannot hold, whatever the policy (always on)."""
    values = _floats(ticks)
    refs, _ = _block_medians(np.where(values > 0, values, np.nan), None)
    with np.errstate(invalid="ignore"):
        mask = np.abs(values - refs) > reach
    return Flag(
        mask, column, f"more than {reach:,} ticks from nearby levels (beyond what a book can hold)"
    )


def first_flag(flags: Sequence[Flag], n: int) -> tuple[BoolArray, npt.NDArray[np.int16]]:
    """Which rows are bad, and for each the index of the first flag it broke (-1 if none)."""
    which = np.full(n, -1, dtype=np.int16)
    for i in range(len(flags) - 1, -1, -1):
        which[flags[i].mask] = i
    return which >= 0, which


# -- run time: a cross-stream check -------------------------------------------------------


def check_mark_against_mid(
    quality: DataQuality,
    mark: MarkPrice,
    book: L2Book,
    instrument: Instrument,
    limits: Limits = DEFAULT_LIMITS,
) -> bool:
    """Count (and note, the first time per symbol) a mark price far from the book's mid.

    Only a valid, uncrossed book with both sides is compared. Returns True if flagged.
    The mark is still used: the book may be the wrong one, and the run says so.
    """
    deviation = limits.mark_mid_deviation
    if deviation is None or not book.valid or book.crossed:
        return False
    mid = book.mid
    if mid is None or mid <= 0:
        return False
    mid_price = mid * float(instrument.tick_size)
    price = mark.mark
    if np.isfinite(price) and abs(price / mid_price - 1) <= deviation:
        return False
    stream = f"{mark.symbol}.mark_price"
    counts = quality.implausible.setdefault(stream, {})
    reason = f"more than {deviation:.0%} from the book mid"
    counts[reason] = counts.get(reason, 0) + 1
    if counts[reason] == 1:
        quality.notes.append(
            f"{stream}: mark price {price:g} at ts_exchange {mark.ts_exchange} ns is "
            f"{reason} {mid_price:g}; such marks are used as given and counted in "
            "quality.implausible: check the data (or the book)"
        )
    return True
