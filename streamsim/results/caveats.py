"""What a reader must know before trusting a run's ratios: sample-length caveats.

A Sharpe ratio annualised from minutes of 1 s returns (the bundled sample gives -799)
is a number, not evidence, and a DSR of one trial deflates nothing. The metrics stay
computed (``metrics.json`` keeps every value); :func:`sample_caveats` says, from the
summary itself, when they are not meaningful, for the CLI summary, ``RunResult.summary()``
and ``report.html``. The thresholds are in ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Fewer returns than this give no usable estimate of a Sharpe ratio's sampling error.
MIN_RETURNS = 30
#: A run shorter than this (7 days, in seconds) is extrapolated more than 52-fold to a year
#: by the annualised figures, and covers too few market regimes to test a strategy.
MIN_SPAN_S = 7 * 86_400.0
#: The figures the sample-length caveat is about (annualised or built on the Sharpe ratio).
CAVEATED_KEYS: tuple[str, ...] = (
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "sharpe_per_period",
    "psr",
    "dsr",
)


def span_text(seconds: float) -> str:
    """A duration in the largest unit that keeps it above 1 (``8.6 min``, ``3.0 d``)."""
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:,.1f} s"


def is_short(metrics: Mapping[str, Any]) -> bool:
    """Whether the run's sample is too short for its annualised and Sharpe-based figures."""
    periods = metrics.get("periods")
    duration = metrics.get("duration_s")
    if not isinstance(periods, int) or not isinstance(duration, int | float):
        return False
    return periods < MIN_RETURNS or duration < MIN_SPAN_S


def sample_caveats(metrics: Mapping[str, Any]) -> list[str]:
    """The caveats of a :func:`~streamsim.results.metrics.summary` (or ``metrics.json``):
    a short sample (fewer than :data:`MIN_RETURNS` returns or shorter than
    :data:`MIN_SPAN_S`) and a DSR of one trial; ``[]`` for a run without metrics."""
    if not metrics:
        return []
    lines = []
    if is_short(metrics):
        periods = int(metrics["periods"])
        span = span_text(float(metrics["duration_s"]))
        step = span_text(float(metrics.get("step_s") or 0.0))
        short = []
        if float(metrics["duration_s"]) < MIN_SPAN_S:
            short.append(f"shorter than {MIN_SPAN_S / 86_400:g} days")
        if periods < MIN_RETURNS:
            short.append(f"fewer than {MIN_RETURNS} returns")
        lines.append(
            f"short sample: {span} ({periods:,} returns on a {step} grid; "
            f"{' and '.join(short)}): the annualised Sharpe, "
            "Sortino, CAGR, volatility and Calmar extrapolate it to a year, and PSR and DSR "
            "rest on too short a sample: they are not meaningful"
        )
    trials = metrics.get("dsr_trials")
    if trials == 1 and metrics.get("dsr") is not None:
        lines.append(
            "DSR with one trial (dsr_trials = 1) is the PSR against zero: it deflates "
            "nothing for the strategies or parameters tried; give them in [metrics] trials "
            "and trial_sharpe_variance (or Trials(...) to the run) to deflate"
        )
    return lines
