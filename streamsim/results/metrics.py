"""Performance metrics of a run: equity-curve statistics, round trips, costs, PSR and DSR.

Pure functions over NumPy arrays and the portfolio's :class:`~streamsim.portfolio.Fill` and
:class:`~streamsim.portfolio.LedgerEntry` records; no I/O. The conventions, each formula and
its reference are in ``docs/metrics.md``. In short:

* times are int nanoseconds; a year is 365 days (crypto trades every day), so a grid step of
  ``step_ns`` gives ``365 * 86_400e9 / step_ns`` periods per year;
* the equity curve (marked at the mark price, given at event times) is a step function,
  sampled on a regular grid: 1 s for tick runs, the bar interval for bar runs;
* returns are simple returns of the sampled equity;
* standard deviations are sample ones (``ddof=1``); skewness and kurtosis are population
  moments, and kurtosis is *not* excess (a normal distribution has 3);
* a metric that is undefined for the data (no variance, no losing trade, ...) is ``None``.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ..sim.portfolio import LIQUIDATION_REF, Fill, LedgerEntry
from .record import RunRecord

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NS_PER_SECOND = 1_000_000_000
#: Crypto venues trade every day of the year: annualisation uses 365 days, not 252.
DAYS_PER_YEAR = 365
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86_400
NS_PER_YEAR = SECONDS_PER_YEAR * NS_PER_SECOND
#: Default sampling step of the equity curve of a tick run (bar runs pass the bar interval).
DEFAULT_TICK_STEP_NS = NS_PER_SECOND
EULER_MASCHERONI = 0.5772156649015329

_NORMAL = statistics.NormalDist()
#: A spread below this fraction of the largest value is float noise, not variance.
_NOISE = 1e-12


def _as_1d(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _no_spread(spread: float, values: FloatArray) -> bool:
    """True when ``spread`` is zero up to float rounding of ``values``."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    return not spread > _NOISE * scale


def normal_cdf(z: float) -> float:
    """Standard normal CDF Φ, from ``math.erfc`` (accurate in both tails)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def normal_ppf(p: float) -> float:
    """Inverse standard normal CDF Φ⁻¹ (``statistics.NormalDist().inv_cdf``), 0 < p < 1."""
    return _NORMAL.inv_cdf(p)


# --------------------------------------------------------------------------- equity curve


def resample_equity(
    times_ns: npt.ArrayLike,
    equity: npt.ArrayLike,
    step_ns: int,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> tuple[IntArray, FloatArray]:
    """Sample a step-function equity curve on the grid ``start + k * step <= end``.

    Each grid point takes the last equity at or before it (of equal times, the last one), as
    the curve only changes at events. ``start_ns`` defaults to the first time and may not
    precede it (the equity before the first sample is unknown); ``end_ns`` defaults to the
    last time. A tail shorter than one step after the last grid point is not sampled.
    """
    times = np.asarray(times_ns, dtype=np.int64)
    values = _as_1d(equity, "equity")
    if times.ndim != 1 or times.shape != values.shape or times.size == 0:
        raise ValueError("times_ns and equity must be non-empty 1-D arrays of equal length")
    if step_ns <= 0:
        raise ValueError(f"step_ns must be > 0, got {step_ns}")
    if np.any(np.diff(times) < 0):
        raise ValueError("times_ns must be non-decreasing")
    start = int(times[0]) if start_ns is None else int(start_ns)
    end = int(times[-1]) if end_ns is None else int(end_ns)
    if start < times[0]:
        raise ValueError(f"start_ns {start} precedes the first equity sample {int(times[0])}")
    if end < start:
        raise ValueError(f"end_ns {end} precedes start_ns {start}")
    grid = start + step_ns * np.arange((end - start) // step_ns + 1, dtype=np.int64)
    index = np.searchsorted(times, grid, side="right") - 1
    return grid, values[index]


def returns(grid_equity: npt.ArrayLike) -> FloatArray:
    """Simple returns ``e[i] / e[i-1] - 1`` of a sampled equity curve.

    A period that starts at non-positive equity has no return: it raises ``ValueError``
    (:func:`summary` stops the returns at the first non-positive sample instead).
    """
    values = _as_1d(grid_equity, "grid_equity")
    if values.size < 2:
        return np.empty(0, dtype=np.float64)
    base = values[:-1]
    if not np.all(base > 0):
        raise ValueError("returns need positive equity at the start of every period")
    result: FloatArray = values[1:] / base - 1.0
    return result


def annualisation(step_ns: int) -> float:
    """Periods per year of a grid step, with 365-day years: ``365 * 86_400e9 / step_ns``."""
    if step_ns <= 0:
        raise ValueError(f"step_ns must be > 0, got {step_ns}")
    return NS_PER_YEAR / step_ns


def total_return(equity: npt.ArrayLike) -> float:
    """``e[-1] / e[0] - 1``; the first value must be positive."""
    values = _as_1d(equity, "equity")
    if values.size == 0 or not values[0] > 0:
        raise ValueError("total_return needs a non-empty curve starting at positive equity")
    return float(values[-1] / values[0] - 1.0)


def cagr(equity0: float, equity1: float, seconds: float) -> float:
    """Compound annual growth rate ``(e1 / e0) ** (year / seconds) - 1`` (365-day year).

    Equity ending at or below zero gives -1 (everything lost); growth too large for a float
    gives ``inf``.
    """
    if not equity0 > 0 or not seconds > 0:
        raise ValueError(f"cagr needs equity0 > 0 and seconds > 0, got {equity0}, {seconds}")
    if equity1 <= 0:
        return -1.0
    exponent = math.log(equity1 / equity0) * SECONDS_PER_YEAR / seconds
    try:
        return math.expm1(exponent)
    except OverflowError:
        return math.inf


def annual_volatility(rets: npt.ArrayLike, periods_per_year: float) -> float | None:
    """Sample standard deviation of per-period returns times ``sqrt(periods_per_year)``."""
    values = _as_1d(rets, "returns")
    if values.size < 2:
        return None
    return float(np.std(values, ddof=1)) * math.sqrt(periods_per_year)


def sharpe(rets: npt.ArrayLike, periods_per_year: float, risk_free: float = 0.0) -> float | None:
    """Annualised Sharpe ratio: ``mean(x) / std(x, ddof=1) * sqrt(periods_per_year)``.

    ``x = r - risk_free / periods_per_year``: ``risk_free`` is an annual rate, spread
    evenly over the periods. With ``periods_per_year=1`` this is the per-period Sharpe ratio
    that PSR and DSR take. ``None`` with fewer than two returns or no variance.
    """
    excess = _as_1d(rets, "returns") - risk_free / periods_per_year
    if excess.size < 2:
        return None
    sd = float(np.std(excess, ddof=1))
    if _no_spread(sd, excess):
        return None
    return float(np.mean(excess)) / sd * math.sqrt(periods_per_year)


def sortino(rets: npt.ArrayLike, periods_per_year: float, target: float = 0.0) -> float | None:
    """Annualised Sortino ratio: ``mean(r - t) / DD * sqrt(periods_per_year)``.

    ``DD = sqrt(mean(min(r - t, 0) ** 2))`` is the downside deviation below the per-period
    target ``t`` (default 0), averaged over *all* periods, not only the losing ones.
    ``None`` with fewer than two returns or no return below the target.
    """
    excess = _as_1d(rets, "returns") - target
    if excess.size < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if _no_spread(downside, excess):
        return None
    return float(np.mean(excess)) / downside * math.sqrt(periods_per_year)


class Drawdown(NamedTuple):
    """The deepest drawdown of a curve; indices are positions in the curve.

    ``depth`` is ``(peak - trough) / peak``; ``start`` is the last sample at the peak before
    the trough; ``recovery`` is the first sample after the trough back at or above the
    peak, ``None`` if the curve never gets there; ``duration`` is ``recovery - start``, or
    ``last index - start`` while the drawdown lasts. A curve with no drawdown gives
    ``Drawdown(0.0, 0, 0, 0, 0)``.
    """

    depth: float
    start: int
    trough: int
    recovery: int | None
    duration: int


def max_drawdown(equity: npt.ArrayLike) -> Drawdown:
    """The deepest peak-to-trough fall, as a fraction of the peak (ties: the first one).

    The depth is in [0, 1] while equity stays positive; equity below zero makes it exceed 1.
    """
    values = _as_1d(equity, "equity")
    if values.size == 0 or not values[0] > 0:
        raise ValueError("max_drawdown needs a non-empty curve starting at positive equity")
    peak = np.maximum.accumulate(values)
    depths = (peak - values) / peak
    trough = int(np.argmax(depths))
    depth = float(depths[trough])
    if depth <= 0:
        return Drawdown(0.0, 0, 0, 0, 0)
    level = peak[trough]
    start = int(np.flatnonzero(values[: trough + 1] == level)[-1])
    after = np.flatnonzero(values[trough + 1 :] >= level)
    recovery = trough + 1 + int(after[0]) if after.size else None
    end = recovery if recovery is not None else values.size - 1
    return Drawdown(depth, start, trough, recovery, end - start)


def longest_drawdown(equity: npt.ArrayLike) -> int:
    """Longest time under water, in samples: from leaving a peak to regaining it (or the end)."""
    values = _as_1d(equity, "equity")
    if values.size == 0:
        return 0
    at_peak = np.flatnonzero(values >= np.maximum.accumulate(values))
    gaps = np.diff(at_peak)
    recovered = int(gaps.max()) if gaps.size and gaps.max() > 1 else 0
    return max(recovered, values.size - 1 - int(at_peak[-1]))


def calmar(cagr_value: float | None, max_drawdown_depth: float) -> float | None:
    """Calmar ratio ``CAGR / max drawdown`` over the whole run; ``None`` without a drawdown."""
    if cagr_value is None or not max_drawdown_depth > 0:
        return None
    return cagr_value / max_drawdown_depth


def skew_kurtosis(rets: npt.ArrayLike) -> tuple[float, float] | None:
    """Population skewness ``m3 / m2**1.5`` and kurtosis ``m4 / m2**2`` (not excess: normal = 3).

    ``mk`` is the k-th central moment with divisor n. ``None`` with fewer than two returns
    or no variance.
    """
    values = _as_1d(rets, "returns")
    if values.size < 2:
        return None
    centred = values - np.mean(values)
    if _no_spread(float(np.std(centred)), values):
        return None
    centred /= np.max(np.abs(centred))  # both ratios are scale-free; this avoids underflow
    m2 = float(np.mean(centred**2))
    m3 = float(np.mean(centred**3))
    m4 = float(np.mean(centred**4))
    return m3 / m2**1.5, m4 / m2**2


# --------------------------------------------------------------------------- PSR and DSR


def probabilistic_sharpe_ratio(
    sr: float, n: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0
) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark`` (Bailey & López de Prado).

    ``PSR = Φ((SR - SR*) * sqrt(n - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR²))`` (2012) with
    ``SR`` the observed *per-period* (not annualised) Sharpe ratio over ``n`` returns,
    ``g3`` their skewness and ``g4`` their kurtosis, *not* excess (normal = 3).
    """
    if n < 2:
        raise ValueError(f"PSR needs n >= 2 returns, got {n}")
    radicand = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not radicand > 0:
        raise ValueError(
            f"PSR variance term 1 - skew*SR + (kurtosis-1)/4*SR^2 = {radicand} is not > 0: "
            "the moments are inconsistent (population moments have kurtosis >= 1 + skew^2)"
        )
    return normal_cdf((sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(radicand))


def expected_max_sharpe(trials: int, trial_sr_variance: float) -> float:
    """Expected maximum Sharpe ratio of ``trials`` zero-skill trials (Bailey & López de Prado 2014).

    ``SR0 = sqrt(V) * ((1 - g) * Φ⁻¹(1 - 1/N) + g * Φ⁻¹(1 - 1/(N e)))`` with ``g`` the
    Euler-Mascheroni constant and ``V`` the variance of the trials' per-period Sharpe
    ratios. One trial involves no selection: ``SR0 = 0``.
    """
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if not trial_sr_variance >= 0:
        raise ValueError(f"trial_sr_variance must be >= 0, got {trial_sr_variance}")
    if trials == 1:
        return 0.0
    z = (1.0 - EULER_MASCHERONI) * normal_ppf(1.0 - 1.0 / trials) + EULER_MASCHERONI * normal_ppf(
        1.0 - 1.0 / (trials * math.e)
    )
    return math.sqrt(trial_sr_variance) * z


def deflated_sharpe_ratio(
    sr: float, n: int, skew: float, kurtosis: float, trials: int, trial_sr_variance: float
) -> float:
    """PSR against the expected maximum Sharpe ratio of the trials (Bailey & López de Prado 2014).

    ``DSR = PSR(SR* = SR0)``, see :func:`expected_max_sharpe`; all Sharpe ratios and their
    variance are per period, kurtosis is not excess.
    """
    benchmark = expected_max_sharpe(trials, trial_sr_variance)
    return probabilistic_sharpe_ratio(sr, n, skew, kurtosis, benchmark)


# --------------------------------------------------------------------------- round trips


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """An opening fill's lots matched with a closing fill's (FIFO per symbol).

    ``side`` is +1 for a long trip, -1 for a short one; ``qty`` is in base units. ``pnl`` is
    the price PnL before fees; ``fees`` is the lots' pro-rata share of both fills' fees
    (negative for rebates). Liquidation fees are ledger entries, not part of a trip.
    """

    symbol: str
    side: int
    lots: int
    qty: float
    entry_ts: int
    exit_ts: int
    entry_price: float
    exit_price: float
    pnl: float
    fees: float

    @property
    def net_pnl(self) -> float:
        """PnL net of the trip's fees."""
        return self.pnl - self.fees

    @property
    def holding_ns(self) -> int:
        """Time from the entry fill to the exit fill."""
        return self.exit_ts - self.entry_ts


@dataclass(slots=True)
class _OpenLots:
    ts: int
    price: float
    lots: int
    side: int
    fee_per_lot: float


def round_trips(fills: Iterable[Fill]) -> list[RoundTrip]:
    """Match fills into round trips, FIFO per symbol, in time order (stable for equal times).

    A fill against the open side closes the oldest open lots first; each (entry fill, exit
    fill) pair closed gives one trip, so a partial close splits the entry and a close across
    several entries gives several trips. A fill larger than the open position flips it: the
    rest opens a new position on the other side. Lots still open at the end make no trip.
    """
    opened: dict[str, deque[_OpenLots]] = {}
    trips: list[RoundTrip] = []
    for fill in sorted(fills, key=lambda f: f.ts):
        if fill.side not in (1, -1) or fill.lots <= 0:
            raise ValueError(f"fill needs side +1/-1 and lots > 0: {fill}")
        units = fill.qty / fill.lots
        fee_per_lot = fill.fee / fill.lots
        book = opened.setdefault(fill.symbol, deque())
        remaining = fill.lots
        while remaining and book and book[0].side != fill.side:
            entry = book[0]
            lots = min(remaining, entry.lots)
            qty = lots * units
            trips.append(
                RoundTrip(
                    symbol=fill.symbol,
                    side=entry.side,
                    lots=lots,
                    qty=qty,
                    entry_ts=entry.ts,
                    exit_ts=fill.ts,
                    entry_price=entry.price,
                    exit_price=fill.price,
                    pnl=entry.side * (fill.price - entry.price) * qty,
                    fees=lots * (entry.fee_per_lot + fee_per_lot),
                )
            )
            entry.lots -= lots
            remaining -= lots
            if entry.lots == 0:
                book.popleft()
        if remaining:
            book.append(_OpenLots(fill.ts, fill.price, remaining, fill.side, fee_per_lot))
    return trips


def _net(trips: Sequence[RoundTrip]) -> FloatArray:
    return np.array([t.net_pnl for t in trips], dtype=np.float64)


def win_rate(trips: Sequence[RoundTrip]) -> float | None:
    """Fraction of trips with net PnL > 0 (a zero-PnL trip is not a win)."""
    if not trips:
        return None
    return float(np.mean(_net(trips) > 0))


def profit_factor(trips: Sequence[RoundTrip]) -> float | None:
    """Gross profit / gross loss of net trip PnLs; ``None`` without a losing trip."""
    pnl = _net(trips)
    loss = -float(pnl[pnl < 0].sum())
    if not loss > 0:
        return None
    return float(pnl[pnl > 0].sum()) / loss


def expectancy(trips: Sequence[RoundTrip]) -> float | None:
    """Mean net PnL per trip, in the quote currency."""
    return float(np.mean(_net(trips))) if trips else None


def average_win(trips: Sequence[RoundTrip]) -> float | None:
    """Mean net PnL of the winning trips (> 0)."""
    pnl = _net(trips)
    wins = pnl[pnl > 0]
    return float(wins.mean()) if wins.size else None


def average_loss(trips: Sequence[RoundTrip]) -> float | None:
    """Mean net PnL of the losing trips (< 0), a negative number."""
    pnl = _net(trips)
    losses = pnl[pnl < 0]
    return float(losses.mean()) if losses.size else None


def holding_times_s(trips: Sequence[RoundTrip]) -> FloatArray:
    """Each trip's holding time in seconds."""
    return np.array([t.holding_ns / NS_PER_SECOND for t in trips], dtype=np.float64)


# --------------------------------------------------------------------------- activity


def traded_notional(fills: Iterable[Fill]) -> float:
    """Sum of the fills' notionals (both sides, liquidations included)."""
    return math.fsum(f.notional for f in fills)


def turnover(fills: Iterable[Fill], average_equity: float) -> float | None:
    """Traded notional / average equity over the run (not annualised)."""
    if not average_equity > 0:
        return None
    return traded_notional(fills) / average_equity


def exposure(fills: Iterable[Fill], start_ns: int, end_ns: int) -> float | None:
    """Fraction of ``[start_ns, end_ns]`` with a non-zero position in any symbol.

    Positions are rebuilt from the fills, flat before the first one; fill times are clipped
    to the span. ``None`` for an empty span.
    """
    if end_ns < start_ns:
        raise ValueError(f"end_ns {end_ns} precedes start_ns {start_ns}")
    if end_ns == start_ns:
        return None
    lots: dict[str, int] = {}
    open_symbols = 0
    since = start_ns
    exposed = 0
    for fill in sorted(fills, key=lambda f: f.ts):
        ts = min(max(fill.ts, start_ns), end_ns)
        before = lots.get(fill.symbol, 0)
        after = before + fill.side * fill.lots
        lots[fill.symbol] = after
        was_open = open_symbols > 0
        open_symbols += (after != 0) - (before != 0)
        if not was_open and open_symbols > 0:
            since = ts
        elif was_open and open_symbols == 0:
            exposed += ts - since
    if open_symbols > 0:
        exposed += end_ns - since
    return exposed / (end_ns - start_ns)


@dataclass(frozen=True, slots=True)
class FillStats:
    """Per-fill facts the :class:`Fill` record lacks, aligned with the fills (same order).

    ``is_maker`` flags the fills that rested on the book (a fee's sign cannot tell, since a
    maker fee may be positive); ``mid_prices`` is the book's mid price at each fill's time,
    NaN where unknown.
    """

    is_maker: Sequence[bool] | npt.NDArray[np.bool_] | None = None
    mid_prices: Sequence[float] | FloatArray | None = None


@dataclass(frozen=True, slots=True)
class OrderStats:
    """Limit-order outcomes of a run, as the exchange counted them.

    ``limit_orders`` is the number of limit orders that rested on the book,
    ``limit_orders_filled`` those filled in full, and ``queue_waits_ns`` the time each of
    those waited from joining the queue to its last fill (``RunRecord.queue_waits``).
    """

    limit_orders: int
    limit_orders_filled: int
    queue_waits_ns: Sequence[int] | IntArray = ()


class MakerShare(NamedTuple):
    """Maker fraction of the non-liquidation fills, by count and by notional."""

    fills: float | None
    notional: float | None


def maker_share(fills: Sequence[Fill], is_maker: Sequence[bool] | npt.ArrayLike) -> MakerShare:
    """Share of maker fills; liquidation fills are neither maker nor taker and are left out.

    The taker share is ``1 - maker share``.
    """
    flags = np.asarray(is_maker, dtype=bool)
    if flags.shape != (len(fills),):
        raise ValueError(f"is_maker needs one flag per fill ({len(fills)}), got {flags.shape}")
    keep = np.array([f.ref != LIQUIDATION_REF for f in fills], dtype=bool)
    if not keep.any():
        return MakerShare(None, None)
    notional = np.array([f.notional for f in fills], dtype=np.float64)[keep]
    makers = flags[keep]
    total = float(notional.sum())
    by_notional = float(notional[makers].sum()) / total if total > 0 else None
    return MakerShare(float(makers.mean()), by_notional)


class Slippage(NamedTuple):
    """Cost of filling away from the mid: quote currency and basis points of notional."""

    cost: float
    bps: float | None


def slippage_vs_mid(fills: Sequence[Fill], mid_prices: npt.ArrayLike) -> Slippage | None:
    """``sum(side * (price - mid) * qty)`` over fills with a known mid: > 0 is a cost.

    ``bps`` divides it by those fills' notional. ``None`` when no fill has a finite mid.
    """
    mids = _as_1d(mid_prices, "mid_prices")
    if mids.shape != (len(fills),):
        raise ValueError(f"mid_prices needs one price per fill ({len(fills)}), got {mids.shape}")
    known = np.isfinite(mids)
    if not known.any():
        return None
    side = np.array([f.side for f in fills], dtype=np.float64)[known]
    price = np.array([f.price for f in fills], dtype=np.float64)[known]
    qty = np.array([f.qty for f in fills], dtype=np.float64)[known]
    notional = float(np.array([f.notional for f in fills], dtype=np.float64)[known].sum())
    cost = math.fsum(side * (price - mids[known]) * qty) + 0.0
    return Slippage(cost, cost / notional * 1e4 if notional > 0 else None)


class CostBreakdown(NamedTuple):
    """Ledger totals; the costs are positive when paid (a negative fee total is net rebates).

    ``realized_pnl`` is the fills' price PnL before fees and ``deposits`` the money paid in.
    """

    fees: float
    funding: float
    liquidation_fees: float
    realized_pnl: float
    deposits: float


def cost_breakdown(ledger: Iterable[LedgerEntry]) -> CostBreakdown:
    """Sum the ledger by reason: fees, funding and liquidation fees paid, PnL, deposits."""
    sums: dict[str, list[float]] = {}
    for entry in ledger:
        sums.setdefault(entry.reason, []).append(entry.amount)

    def total(reason: str) -> float:
        return math.fsum(sums.get(reason, ())) + 0.0

    return CostBreakdown(
        fees=-total("fee") + 0.0,
        funding=-total("funding") + 0.0,
        liquidation_fees=-total("liquidation_fee") + 0.0,
        realized_pnl=total("fill_pnl"),
        deposits=total("deposit"),
    )


def limit_fill_rate(stats: OrderStats) -> float | None:
    """Fraction of the resting limit orders filled in full."""
    if stats.limit_orders <= 0:
        return None
    return stats.limit_orders_filled / stats.limit_orders


def mean_queue_wait_s(stats: OrderStats) -> float | None:
    """Mean queue wait of the filled limit orders, in seconds."""
    waits = np.asarray(stats.queue_waits_ns, dtype=np.float64)
    return float(waits.mean()) / NS_PER_SECOND if waits.size else None


# --------------------------------------------------------------------------- summary

#: Keys of :func:`summary`, in order. Times are ns, durations seconds, money quote currency.
SUMMARY_KEYS: tuple[str, ...] = (
    "start_ns",
    "end_ns",
    "duration_s",
    "step_s",
    "periods",
    "periods_per_year",
    "equity_start",
    "equity_end",
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_start_ns",
    "max_drawdown_trough_ns",
    "max_drawdown_recovery_ns",
    "max_drawdown_duration_s",
    "longest_drawdown_s",
    "sharpe_per_period",
    "skewness",
    "kurtosis",
    "psr",
    "dsr",
    "dsr_trials",
    "dsr_trial_sr_variance",
    "dsr_expected_max_sharpe",
    "fills",
    "round_trips",
    "win_rate",
    "profit_factor",
    "expectancy",
    "average_win",
    "average_loss",
    "mean_holding_s",
    "median_holding_s",
    "traded_notional",
    "turnover",
    "exposure",
    "maker_share",
    "maker_notional_share",
    "fees",
    "funding",
    "liquidation_fees",
    "realized_pnl",
    "slippage",
    "slippage_bps",
    "limit_orders",
    "limit_fill_rate",
    "mean_queue_wait_s",
)


def _finite(value: float | None) -> float | None:
    """A JSON-safe float: ``None`` for missing, NaN or infinite values."""
    return float(value) if value is not None and math.isfinite(value) else None


def summary(
    times_ns: npt.ArrayLike,
    equity: npt.ArrayLike,
    fills: Sequence[Fill] = (),
    ledger: Iterable[LedgerEntry] = (),
    *,
    step_ns: int = DEFAULT_TICK_STEP_NS,
    start_ns: int | None = None,
    end_ns: int | None = None,
    risk_free: float = 0.0,
    fill_stats: FillStats | None = None,
    order_stats: OrderStats | None = None,
    trials: int = 1,
    trial_sr_variance: float = 0.0,
) -> dict[str, float | int | None]:
    """Every metric of a run as a JSON-ready dict with the keys :data:`SUMMARY_KEYS`.

    The equity curve (at event times, marked at the mark price) is sampled every
    ``step_ns`` (see :func:`resample_equity`); the curve statistics use that grid, with
    365-day annualisation. Returns stop at the first sample at or below zero equity (a
    ruined account has no further returns). ``trials`` and ``trial_sr_variance`` (of the
    trials' per-period Sharpe ratios) feed the DSR; with one trial it equals the PSR against
    zero. Undefined, NaN or infinite values are ``None``.
    """
    grid_t, grid_e = resample_equity(times_ns, equity, step_ns, start_ns, end_ns)
    if not grid_e[0] > 0:
        raise ValueError(f"summary needs positive equity at the start, got {grid_e[0]}")
    ruined = np.flatnonzero(grid_e <= 0)
    alive = grid_e if not ruined.size else grid_e[: int(ruined[0]) + 1]
    rets = returns(alive)
    ppy = annualisation(step_ns)
    step_s = step_ns / NS_PER_SECOND
    seconds = float(grid_t[-1] - grid_t[0]) / NS_PER_SECOND

    growth = cagr(float(grid_e[0]), float(grid_e[-1]), seconds) if seconds > 0 else None
    drawdown = max_drawdown(grid_e)
    sr_period = sharpe(rets, 1.0, risk_free / ppy)
    moments = skew_kurtosis(rets)
    psr = dsr = None
    sr0 = expected_max_sharpe(trials, trial_sr_variance)
    if sr_period is not None and moments is not None:
        try:
            psr = probabilistic_sharpe_ratio(sr_period, rets.size, *moments)
            dsr = deflated_sharpe_ratio(
                sr_period, rets.size, *moments, trials=trials, trial_sr_variance=trial_sr_variance
            )
        except ValueError:
            psr = dsr = None

    fills = list(fills)
    trips = round_trips(fills)
    holding = holding_times_s(trips)
    costs = cost_breakdown(ledger)
    shares = MakerShare(None, None)
    slip: Slippage | None = None
    if fill_stats is not None and fill_stats.is_maker is not None:
        shares = maker_share(fills, fill_stats.is_maker)
    if fill_stats is not None and fill_stats.mid_prices is not None:
        slip = slippage_vs_mid(fills, fill_stats.mid_prices)

    recovery = drawdown.recovery
    values: dict[str, float | int | None] = {
        "start_ns": int(grid_t[0]),
        "end_ns": int(grid_t[-1]),
        "duration_s": seconds,
        "step_s": step_s,
        "periods": int(rets.size),
        "periods_per_year": ppy,
        "equity_start": float(grid_e[0]),
        "equity_end": float(grid_e[-1]),
        "total_return": total_return(grid_e),
        "cagr": growth,
        "annual_volatility": annual_volatility(rets, ppy),
        "sharpe": sharpe(rets, ppy, risk_free),
        "sortino": sortino(rets, ppy, risk_free / ppy),
        "calmar": calmar(growth, drawdown.depth),
        "max_drawdown": drawdown.depth,
        "max_drawdown_start_ns": int(grid_t[drawdown.start]),
        "max_drawdown_trough_ns": int(grid_t[drawdown.trough]),
        "max_drawdown_recovery_ns": None if recovery is None else int(grid_t[recovery]),
        "max_drawdown_duration_s": drawdown.duration * step_s,
        "longest_drawdown_s": longest_drawdown(grid_e) * step_s,
        "sharpe_per_period": sr_period,
        "skewness": None if moments is None else moments[0],
        "kurtosis": None if moments is None else moments[1],
        "psr": psr,
        "dsr": dsr,
        "dsr_trials": trials,
        "dsr_trial_sr_variance": trial_sr_variance,
        "dsr_expected_max_sharpe": sr0,
        "fills": len(fills),
        "round_trips": len(trips),
        "win_rate": win_rate(trips),
        "profit_factor": profit_factor(trips),
        "expectancy": expectancy(trips),
        "average_win": average_win(trips),
        "average_loss": average_loss(trips),
        "mean_holding_s": float(holding.mean()) if holding.size else None,
        "median_holding_s": float(np.median(holding)) if holding.size else None,
        "traded_notional": traded_notional(fills),
        "turnover": turnover(fills, float(np.mean(grid_e))),
        "exposure": exposure(fills, int(grid_t[0]), int(grid_t[-1])),
        "maker_share": shares.fills,
        "maker_notional_share": shares.notional,
        "fees": costs.fees,
        "funding": costs.funding,
        "liquidation_fees": costs.liquidation_fees,
        "realized_pnl": costs.realized_pnl,
        "slippage": None if slip is None else slip.cost,
        "slippage_bps": None if slip is None else slip.bps,
        "limit_orders": None if order_stats is None else order_stats.limit_orders,
        "limit_fill_rate": None if order_stats is None else limit_fill_rate(order_stats),
        "mean_queue_wait_s": None if order_stats is None else mean_queue_wait_s(order_stats),
    }
    return {
        key: value if value is None or isinstance(value, int) else _finite(value)
        for key, value in ((k, values[k]) for k in SUMMARY_KEYS)
    }


@dataclass(frozen=True, slots=True)
class Trials:
    """The strategies and parameter sets tried before this run, which the DSR deflates for.

    ``count`` trials whose annualised Sharpe ratios had variance ``sharpe_variance`` (as
    the summary shows them; a sweep measures both). One trial deflates nothing: the DSR
    is then the PSR against zero.
    """

    count: int = 1
    sharpe_variance: float = 0.0

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"Trials.count must be >= 1, got {self.count}")
        if not (math.isfinite(self.sharpe_variance) and self.sharpe_variance >= 0):
            raise ValueError(
                f"Trials.sharpe_variance must be a finite number >= 0, got {self.sharpe_variance}"
            )
        if self.count > 1 and self.sharpe_variance == 0:
            raise ValueError(
                f"{self.count} trials need their Sharpe ratios' variance (sharpe_variance > 0): "
                "with none the DSR would deflate nothing"
            )


def from_record(
    record: RunRecord, step_ns: int = DEFAULT_TICK_STEP_NS, trials: Trials | None = None
) -> dict[str, Any]:
    """Every metric of a run (:func:`summary`) from its record, the DSR deflated for
    ``trials``; ``{}`` when the equity was sampled fewer than twice or over no time."""
    times = record.equity_times
    if len(times) < 2 or times[-1] <= times[0]:
        return {}
    waits = record.queue_waits
    tried = trials or Trials()
    return summary(
        times,
        record.equity_values,
        [r.fill for r in record.fills],
        record.ledger,
        step_ns=step_ns,
        trials=tried.count,
        trial_sr_variance=tried.sharpe_variance / annualisation(step_ns),
        fill_stats=FillStats(
            [r.is_maker for r in record.fills], [r.mid_price for r in record.fills]
        ),
        order_stats=OrderStats(record.rested_orders, len(waits), waits),
    )
