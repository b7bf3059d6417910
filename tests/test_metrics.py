"""Performance metrics: hand-computed cases, published PSR/DSR numbers, properties."""

from __future__ import annotations

import json
import math
import statistics
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import streamsim as ss
from streamsim.results import metrics as m
from streamsim.sim.portfolio import LIQUIDATION_REF, Fill, LedgerEntry, Portfolio

S = 1_000_000_000  # one second in ns
DAY = 86_400 * S
YEAR_S = 365 * 86_400


def fill(
    ts_s: float,
    side: int,
    lots: int,
    price: float,
    fee: float = 0.0,
    symbol: str = "BTCUSDT",
    ref: str = "",
) -> Fill:
    """A fill with one base unit per lot, so qty == lots and notional == lots * price."""
    return Fill(
        int(ts_s * S), symbol, side, lots, None, price, float(lots), lots * price, fee, 0.0, ref
    )


# ------------------------------------------------------------------ sampling and returns


def test_resample_takes_the_last_value_at_or_before_each_grid_point() -> None:
    times = [0, 3 * S // 2, 3 * S, 3 * S, 42 * S // 10]
    equity = [100.0, 101.0, 99.0, 98.0, 102.0]
    grid, values = m.resample_equity(times, equity, S)
    # grid 0..4 s; 1 s is before the 1.5 s change; of the two samples at 3 s the last (98)
    # wins; the tail after 4 s (102 at 4.2 s) is shorter than a step and not sampled.
    assert grid.tolist() == [0, S, 2 * S, 3 * S, 4 * S]
    assert values.tolist() == [100.0, 100.0, 101.0, 98.0, 98.0]
    grid, values = m.resample_equity(times, equity, 2 * S, start_ns=S, end_ns=6 * S)
    assert grid.tolist() == [S, 3 * S, 5 * S]
    assert values.tolist() == [100.0, 98.0, 102.0]


def test_resample_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="precedes the first"):
        m.resample_equity([S, 2 * S], [1.0, 2.0], S, start_ns=0)
    with pytest.raises(ValueError, match="non-decreasing"):
        m.resample_equity([2 * S, S], [1.0, 2.0], S)
    with pytest.raises(ValueError, match="step_ns"):
        m.resample_equity([0, S], [1.0, 2.0], 0)
    with pytest.raises(ValueError, match="equal length"):
        m.resample_equity([0, S], [1.0], S)


@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=30),
    st.integers(1, 7),
    st.integers(0, 10),
)
def test_resample_matches_a_brute_force_lookup(gaps: list[int], step: int, offset: int) -> None:
    times = np.cumsum(gaps)
    equity = np.arange(len(gaps), dtype=float) + 1.0
    start = int(times[0]) + offset
    assume(start <= times[-1])
    grid, values = m.resample_equity(times, equity, step, start_ns=start)
    for t, v in zip(grid, values, strict=True):
        assert v == equity[max(i for i, ti in enumerate(times) if ti <= t)]
    assert grid[0] == start and grid[-1] <= times[-1] < grid[-1] + step


def test_returns_and_annualisation() -> None:
    # 110 / 100 - 1 = 0.1; 99 / 110 - 1 = -0.1
    assert m.returns([100.0, 110.0, 99.0]) == pytest.approx([0.1, -0.1])
    assert m.returns([100.0]).size == 0
    with pytest.raises(ValueError, match="positive equity"):
        m.returns([100.0, 0.0, 10.0])
    # 365 days a year: 365 * 86400 = 31,536,000 one-second periods, 365 daily ones and
    # 365 * 96 = 35,040 fifteen-minute bars
    assert m.annualisation(S) == 31_536_000
    assert m.annualisation(DAY) == 365
    assert m.annualisation(15 * 60 * S) == 35_040


# ------------------------------------------------------------------ return statistics

RETS = [0.01, -0.02, 0.03, 0.02]
# mean = 0.04 / 4 = 0.01; deviations 0, -0.03, 0.02, 0.01; squares sum to 0.0014
# sample variance = 0.0014 / 3; sd = 0.0216025


def test_sharpe_hand_computed() -> None:
    sd = math.sqrt(0.0014 / 3)
    assert sd == pytest.approx(0.0216025, abs=1e-7)
    # per period: 0.01 / 0.0216025 = 0.462910
    assert m.sharpe(RETS, 1.0) == pytest.approx(0.462910, abs=1e-6)
    # daily, annualised with 365 days: 0.462910 * sqrt(365) = 8.843884
    assert m.sharpe(RETS, 365) == pytest.approx(8.843884, abs=1e-5)
    # annual risk-free 36.5% -> 0.001 a day: mean excess 0.009, same sd
    assert m.sharpe(RETS, 365, risk_free=0.365) == pytest.approx(0.009 / sd * math.sqrt(365))
    assert m.sharpe([0.01, 0.01, 0.01], 365) is None  # no variance
    assert m.sharpe([0.01], 365) is None


def test_sortino_hand_computed() -> None:
    # below target 0: only -0.02; DD = sqrt((0 + 0.0004 + 0 + 0) / 4) = 0.01 (all periods)
    # per period: mean 0.01 / 0.01 = 1.0; annualised: sqrt(365) = 19.104973
    assert m.sortino(RETS, 1.0) == pytest.approx(1.0)
    assert m.sortino(RETS, 365) == pytest.approx(19.104973, abs=1e-6)
    # target 0.02: excess -0.01, -0.04, 0.01, 0; DD = sqrt((1e-4 + 16e-4) / 4) = 0.0206155
    # mean excess -0.01 -> -0.01 / 0.0206155 = -0.485071
    assert m.sortino(RETS, 1.0, target=0.02) == pytest.approx(-0.485071, abs=1e-6)
    assert m.sortino([0.01, 0.02], 365) is None  # nothing below the target


def test_annual_volatility_hand_computed() -> None:
    # 0.0216025 * sqrt(365) = 0.412715
    assert m.annual_volatility(RETS, 365) == pytest.approx(0.412715, abs=1e-6)
    assert m.annual_volatility([0.1], 365) is None


def test_total_return_cagr_calmar() -> None:
    assert m.total_return([100.0, 90.0, 121.0]) == pytest.approx(0.21)
    # 100 -> 121 over two years: sqrt(1.21) - 1 = 0.1
    assert m.cagr(100.0, 121.0, 2 * YEAR_S) == pytest.approx(0.1)
    # 100 -> 110 over half a year: 1.1 ** 2 - 1 = 0.21
    assert m.cagr(100.0, 110.0, YEAR_S / 2) == pytest.approx(0.21)
    assert m.cagr(100.0, 0.0, YEAR_S) == -1.0  # ruined
    assert m.cagr(100.0, 200.0, 1.0) == math.inf  # 2 ** 31,536,000 overflows
    # Calmar = CAGR / max drawdown = 0.21 / 0.3 = 0.7
    assert m.calmar(0.21, 0.3) == pytest.approx(0.7)
    assert m.calmar(0.21, 0.0) is None
    assert m.calmar(None, 0.3) is None


def test_skew_kurtosis_population_moments() -> None:
    # x = 0, 0, 0, 4: mean 1, deviations -1, -1, -1, 3 (divisor n = 4)
    # m2 = (1 + 1 + 1 + 9) / 4 = 3; m3 = (-1 - 1 - 1 + 27) / 4 = 6; m4 = (1 + 1 + 1 + 81) / 4 = 21
    # skew = 6 / 3 ** 1.5 = 2 / sqrt(3) = 1.154701; kurtosis = 21 / 9 = 7 / 3 (not excess)
    result = m.skew_kurtosis([0.0, 0.0, 0.0, 4.0])
    assert result is not None
    assert result == pytest.approx((2 / math.sqrt(3), 7 / 3))
    # a symmetric two-point distribution: skew 0, kurtosis 1
    assert m.skew_kurtosis([-1.0, 1.0, -1.0, 1.0]) == pytest.approx((0.0, 1.0))
    assert m.skew_kurtosis([0.5, 0.5]) is None


# ------------------------------------------------------------------ drawdown


def test_max_drawdown_on_a_crafted_curve() -> None:
    # index:    0    1    2    3   4    5    6    7    8    9   10   11   12
    curve = [100, 120, 120, 60, 90, 119, 120, 130, 125, 126, 127, 128, 129]
    # peak 120 (reached at 1, left at 2) falls to 60 at 3: depth (120 - 60) / 120 = 0.5;
    # back to 120 at 6: duration 6 - 2 = 4 samples
    dd = m.max_drawdown(curve)
    assert dd == m.Drawdown(0.5, 2, 3, 6, 4)
    # the shallow drawdown from 130 at 7 never recovers: 12 - 7 = 5 samples under water
    assert m.longest_drawdown(curve) == 5


def test_max_drawdown_edge_cases() -> None:
    # unrecovered: 100 -> 80 is 20%, still under water at the end (index 2): duration 2
    assert m.max_drawdown([100.0, 80.0, 90.0]) == m.Drawdown(0.2, 0, 1, None, 2)
    assert m.max_drawdown([1.0, 2.0, 3.0]) == m.Drawdown(0.0, 0, 0, 0, 0)
    assert m.longest_drawdown([1.0, 2.0, 3.0]) == 0
    # equity below zero: (100 - (-50)) / 100 = 1.5
    assert m.max_drawdown([100.0, -50.0]).depth == pytest.approx(1.5)
    with pytest.raises(ValueError):
        m.max_drawdown([0.0, 1.0])


@given(st.lists(st.floats(1.0, 1e6), min_size=1, max_size=40))
def test_max_drawdown_properties(curve: list[float]) -> None:
    dd = m.max_drawdown(curve)
    brute = max((max(curve[: j + 1]) - curve[j]) / max(curve[: j + 1]) for j in range(len(curve)))
    assert 0.0 <= dd.depth <= 1.0
    assert dd.depth == pytest.approx(brute)
    assert dd.start <= dd.trough
    if dd.depth > 0:
        assert curve[dd.start] == max(curve[: dd.trough + 1])
        assert dd.recovery is None or curve[dd.recovery] >= curve[dd.start]
    assert 0 <= dd.duration <= m.longest_drawdown(curve) < len(curve)


# ------------------------------------------------------------------ PSR and DSR


def test_dsr_reproduces_the_published_example() -> None:
    # Bailey & López de Prado (2014), numerical example: N = 100 trials whose annualised
    # Sharpe ratios have variance 1/2; the selected strategy has annualised SR 2.5 over
    # T = 1250 daily observations (250 a year), skewness -3, kurtosis 10. The paper gives
    # SR0 = 0.1132 (per day; 1.79 annualised) and DSR = 0.9004.
    sr = 2.5 / math.sqrt(250)  # 0.1581 per day
    variance = 0.5 / 250  # variances scale with the periods, not their square root
    sr0 = m.expected_max_sharpe(100, variance)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    assert sr0 * math.sqrt(250) == pytest.approx(1.79, abs=5e-3)
    assert m.deflated_sharpe_ratio(sr, 1250, -3.0, 10.0, 100, variance) == pytest.approx(
        0.9004, abs=5e-5
    )
    # The same paper's follow-ups, as reported from it: the strategy would reach 0.9505
    # after 46 trials, and with normal returns (skew 0, kurtosis 3) after 88 trials.
    assert m.deflated_sharpe_ratio(sr, 1250, -3.0, 10.0, 46, variance) == pytest.approx(
        0.9505, abs=5e-5
    )
    assert m.deflated_sharpe_ratio(sr, 1250, 0.0, 3.0, 88, variance) == pytest.approx(
        0.9505, abs=5e-5
    )


def test_psr_reproduces_the_published_example() -> None:
    # Bailey & López de Prado (2012), hedge-fund example: monthly SR 0.458 over 24 months,
    # benchmark 0. Normal returns give PSR 0.982; skew -2.448 and kurtosis 10.164 give
    # 0.913; the same moments over 36 months give 0.953.
    assert m.probabilistic_sharpe_ratio(0.458, 24, 0.0, 3.0) == pytest.approx(0.982, abs=5e-4)
    assert m.probabilistic_sharpe_ratio(0.458, 24, -2.448, 10.164) == pytest.approx(0.913, abs=5e-4)
    assert m.probabilistic_sharpe_ratio(0.458, 36, -2.448, 10.164) == pytest.approx(0.953, abs=1e-3)


def test_psr_hand_computed_and_against_statistics() -> None:
    # SR 0.1 over 101 returns, normal: radicand 1 - 0 + (3 - 1) / 4 * 0.01 = 1.005
    # z = 0.1 * sqrt(100) / sqrt(1.005) = 0.997509; Φ(z) = 0.840741
    z = 0.1 * 10 / math.sqrt(1.005)
    psr = m.probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0)
    assert psr == pytest.approx(statistics.NormalDist().cdf(z), abs=1e-12)
    assert psr == pytest.approx(0.840741, abs=1e-6)
    assert m.probabilistic_sharpe_ratio(0.1, 101, 0.0, 3.0, sr_benchmark=0.1) == 0.5
    with pytest.raises(ValueError, match="not > 0"):
        m.probabilistic_sharpe_ratio(1.0, 100, 5.0, 3.0)  # 1 - 5 + 0.5 < 0
    with pytest.raises(ValueError):
        m.probabilistic_sharpe_ratio(0.1, 1, 0.0, 3.0)


def test_expected_max_sharpe_edge_cases() -> None:
    assert m.expected_max_sharpe(1, 0.5) == 0.0  # one trial: no selection
    assert m.expected_max_sharpe(100, 0.0) == 0.0
    # V = 1, N = 10: (1 - g) * Φ⁻¹(0.9) + g * Φ⁻¹(1 - 1/(10e)) = 0.4228 * 1.2816 + 0.5772 * 1.7891
    assert m.expected_max_sharpe(10, 1.0) == pytest.approx(1.5745, abs=1e-4)
    with pytest.raises(ValueError):
        m.expected_max_sharpe(0, 1.0)


sharpes = st.floats(-0.5, 0.5)
moments = st.tuples(st.floats(-2.0, 2.0), st.floats(0.0, 20.0)).map(
    lambda sk: (sk[0], 1.0 + sk[0] ** 2 + sk[1])  # population moments: kurtosis >= 1 + skew²
)


@given(sharpes, sharpes, st.integers(2, 5_000), moments)
def test_psr_properties(sr: float, bench: float, n: int, mom: tuple[float, float]) -> None:
    skew, kurt = mom
    assume(1 - skew * sr + (kurt - 1) / 4 * sr * sr > 1e-9)
    psr = m.probabilistic_sharpe_ratio(sr, n, skew, kurt, bench)
    assert 0.0 <= psr <= 1.0
    assert m.probabilistic_sharpe_ratio(sr, n, skew, kurt, sr) == 0.5
    more = m.probabilistic_sharpe_ratio(sr, n + 10, skew, kurt, bench)
    if sr > bench:
        assert more >= psr
    elif sr < bench:
        assert more <= psr


@given(sharpes, st.integers(2, 5_000), moments, st.integers(2, 10_000), st.floats(0.0, 0.1))
def test_dsr_is_at_most_psr(
    sr: float, n: int, mom: tuple[float, float], trials: int, variance: float
) -> None:
    skew, kurt = mom
    assume(1 - skew * sr + (kurt - 1) / 4 * sr * sr > 1e-9)
    dsr = m.deflated_sharpe_ratio(sr, n, skew, kurt, trials, variance)
    assert dsr <= m.probabilistic_sharpe_ratio(sr, n, skew, kurt)
    assert m.deflated_sharpe_ratio(sr, n, skew, kurt, trials + 10, variance) <= dsr
    assert m.deflated_sharpe_ratio(sr, n, skew, kurt, 1, variance) == (
        m.probabilistic_sharpe_ratio(sr, n, skew, kurt)
    )


@given(st.lists(st.floats(-0.5, 0.5), min_size=2, max_size=50))
def test_sample_moments_keep_the_psr_defined(rets: list[float]) -> None:
    result = m.skew_kurtosis(rets)
    assume(result is not None)
    assert result is not None
    skew, kurt = result
    assert kurt >= 1 + skew**2 - 1e-6  # Pearson's inequality
    sr = m.sharpe(rets, 1.0)
    if sr is not None:
        assert 0.0 <= m.probabilistic_sharpe_ratio(sr, len(rets), skew, kurt) <= 1.0


@given(
    st.lists(st.floats(1.0, 1e6), min_size=3, max_size=40),
    st.floats(1e-3, 1e3),
)
def test_sharpe_and_drawdown_are_scale_invariant(curve: list[float], scale: float) -> None:
    base = m.returns(curve)
    assume(np.std(base) > 1e-6 * np.max(np.abs(base)))
    scaled = m.returns([scale * e for e in curve])
    assert m.sharpe(scaled, 365) == pytest.approx(m.sharpe(base, 365), rel=1e-6)
    assert m.max_drawdown([scale * e for e in curve]).depth == pytest.approx(
        m.max_drawdown(curve).depth, rel=1e-9, abs=1e-12
    )


# ------------------------------------------------------------------ round trips


def scenario() -> list[Fill]:
    return [
        fill(10, 1, 2, 100.0, fee=0.2),  # BTC long 2 @ 100 (fee 0.1 a lot)
        fill(15, -1, 5, 10.0, symbol="ETHUSDT"),  # ETH short 5 @ 10
        fill(20, 1, 1, 110.0, fee=0.3),  # BTC long 1 more @ 110
        fill(25, 1, 5, 11.0, symbol="ETHUSDT"),  # ETH closed @ 11
        fill(30, -1, 1, 120.0, fee=0.12),  # BTC partial close of the first entry
        fill(40, -1, 4, 90.0, fee=0.4),  # BTC closes 2 (two entries), flips short 2 @ 90
        fill(70, 1, 2, 80.0, fee=0.2),  # BTC short closed @ 80
    ]


def test_round_trips_fifo_partial_closes_and_flips() -> None:
    trips = m.round_trips(scenario())
    expected = [
        # ETH short 5: (10 - 11) * 5 = -5, no fees, held 15 -> 25 s
        ("ETHUSDT", -1, 5, 15, 25, 10.0, 11.0, -5.0, 0.0),
        # 1 of the first entry: (120 - 100) * 1 = 20; fees 0.1 + 0.12 = 0.22
        ("BTCUSDT", 1, 1, 10, 30, 100.0, 120.0, 20.0, 0.22),
        # rest of the first entry: (90 - 100) * 1 = -10; fees 0.1 + 0.1 (0.4 / 4 lots)
        ("BTCUSDT", 1, 1, 10, 40, 100.0, 90.0, -10.0, 0.2),
        # second entry: (90 - 110) * 1 = -20; fees 0.3 + 0.1
        ("BTCUSDT", 1, 1, 20, 40, 110.0, 90.0, -20.0, 0.4),
        # the flip's short 2: -(80 - 90) * 2 = 20; fees 2 * 0.1 + 0.2
        ("BTCUSDT", -1, 2, 40, 70, 90.0, 80.0, 20.0, 0.4),
    ]
    got = [
        (t.symbol, t.side, t.lots, t.entry_ts // S, t.exit_ts // S, t.entry_price, t.exit_price)
        for t in trips
    ]
    assert got == [e[:7] for e in expected]
    assert [t.pnl for t in trips] == pytest.approx([e[7] for e in expected])
    assert [t.fees for t in trips] == pytest.approx([e[8] for e in expected])
    assert [t.holding_ns // S for t in trips] == [10, 20, 30, 20, 30]
    assert [t.qty for t in trips] == [5.0, 1.0, 1.0, 1.0, 2.0]
    # conservation: price PnL = sells - buys = (120 + 360 + 50) - (200 + 110 + 160 + 55) = 5;
    # fees 0.2 + 0.3 + 0.12 + 0.4 + 0.2 = 1.22
    assert sum(t.pnl for t in trips) == pytest.approx(5.0)
    assert sum(t.fees for t in trips) == pytest.approx(1.22)


def test_trade_statistics_hand_computed() -> None:
    trips = m.round_trips(scenario())
    # net PnLs: -5, 19.78, -10.2, -20.4, 19.6
    assert [t.net_pnl for t in trips] == pytest.approx([-5.0, 19.78, -10.2, -20.4, 19.6])
    assert m.win_rate(trips) == pytest.approx(2 / 5)
    # (19.78 + 19.6) / (5 + 10.2 + 20.4) = 39.38 / 35.6
    assert m.profit_factor(trips) == pytest.approx(39.38 / 35.6)
    assert m.expectancy(trips) == pytest.approx(3.78 / 5)  # sum 3.78 over 5 trips
    assert m.average_win(trips) == pytest.approx(39.38 / 2)
    assert m.average_loss(trips) == pytest.approx(-35.6 / 3)
    assert m.holding_times_s(trips).tolist() == [10.0, 20.0, 30.0, 20.0, 30.0]
    assert m.win_rate([]) is None and m.expectancy([]) is None
    assert m.profit_factor(trips[1:2]) is None  # no losing trip
    assert m.average_loss(trips[1:2]) is None and m.average_win(trips[:1]) is None


def test_open_lots_make_no_trip() -> None:
    # long 3, sell 1: one trip of 1 lot, 2 lots stay open
    trips = m.round_trips([fill(1, 1, 3, 100.0), fill(2, -1, 1, 101.0)])
    assert len(trips) == 1
    assert trips[0].lots == 1
    assert trips[0].pnl == pytest.approx(1.0)


@given(
    st.lists(
        st.tuples(st.sampled_from([1, -1]), st.integers(1, 5_000), st.integers(500_000, 700_000)),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from([0.0, 0.0004, -0.0001]),
)
def test_round_trips_agree_with_the_portfolio(
    orders: list[tuple[int, int, int]], fee_rate: float
) -> None:
    # Fills booked by the real Portfolio, then flattened: FIFO and average-cost accounting
    # realize the same total once flat, and every fee lands in exactly one trip.
    instrument = ss.Instrument("BTCUSDT", tick_size=Decimal("0.1"), lot_size=Decimal("0.001"))
    book = Portfolio({"BTCUSDT": instrument}, 1e12, leverage=1)
    for i, (side, lots, ticks) in enumerate(orders):
        book.apply_fill(i, "BTCUSDT", side, lots, ticks, fee_rate)
    open_lots = book.position("BTCUSDT").lots
    if open_lots:
        side = -1 if open_lots > 0 else 1
        book.apply_fill(len(orders), "BTCUSDT", side, abs(open_lots), 600_000, 0.0)
    trips = m.round_trips(book.fills)
    assert sum(t.pnl for t in trips) == pytest.approx(
        sum(f.realized_pnl for f in book.fills), abs=1e-6
    )
    assert sum(t.fees for t in trips) == pytest.approx(sum(f.fee for f in book.fills), abs=1e-9)
    bought = sum(f.lots for f in book.fills if f.side == 1)
    assert sum(t.lots for t in trips) <= bought
    assert all(t.lots > 0 and t.holding_ns >= 0 for t in trips)


# ------------------------------------------------------------------ activity and costs


def test_turnover_and_exposure() -> None:
    fills = scenario()
    # notional: BTC 200 + 110 + 120 + 360 + 160 = 950, ETH 50 + 55 = 105 -> 1055
    assert m.traded_notional(fills) == pytest.approx(1055.0)
    assert m.turnover(fills, 1000.0) == pytest.approx(1.055)
    assert m.turnover(fills, 0.0) is None
    # BTC open 10 -> 70 s (the flip at 40 s keeps it open), ETH 15 -> 25 s inside it:
    # 60 s of 100 s
    assert m.exposure(fills, 0, 100 * S) == pytest.approx(0.6)
    # clipped to 20..50 s: open throughout
    assert m.exposure(fills, 20 * S, 50 * S) == pytest.approx(1.0)
    # two disjoint holdings, 10 -> 20 and 30 -> 60 s, and one still open from 90 s to 100 s
    apart = [
        fill(10, 1, 1, 1.0),
        fill(20, -1, 1, 1.0),
        fill(30, -1, 1, 1.0, symbol="ETHUSDT"),
        fill(60, 1, 1, 1.0, symbol="ETHUSDT"),
        fill(90, 1, 1, 1.0),
    ]
    assert m.exposure(apart, 0, 100 * S) == pytest.approx((10 + 30 + 10) / 100)
    assert m.exposure([], 0, 100 * S) == 0.0
    assert m.exposure(apart, 5, 5) is None


def test_maker_share_leaves_liquidations_out() -> None:
    fills = [
        fill(1, 1, 1, 100.0),  # maker, notional 100
        fill(2, -1, 3, 100.0),  # taker, 300
        fill(3, 1, 1, 100.0),  # maker, 100
        fill(4, 1, 5, 100.0, ref=LIQUIDATION_REF),  # 500, neither
    ]
    share = m.maker_share(fills, [True, False, True, True])
    # by count 2 of 3; by notional 200 / 500
    assert share == pytest.approx((2 / 3, 0.4))
    assert m.maker_share(fills[3:], [True]) == m.MakerShare(None, None)
    with pytest.raises(ValueError, match="one flag per fill"):
        m.maker_share(fills, [True])


def test_slippage_vs_mid() -> None:
    fills = [fill(1, 1, 2, 101.0), fill(2, -1, 1, 99.0), fill(3, 1, 1, 50.0)]
    # buy 2 @ 101 vs mid 100.5: +1.0; sell 1 @ 99 vs mid 100: -(99 - 100) * 1 = +1.0;
    # the third fill has no mid. Cost 2.0 on notional 202 + 99 = 301: 66.445 bps
    result = m.slippage_vs_mid(fills, [100.5, 100.0, math.nan])
    assert result is not None
    assert result.cost == pytest.approx(2.0)
    assert result.bps == pytest.approx(2.0 / 301 * 1e4)
    assert m.slippage_vs_mid(fills, [math.nan] * 3) is None


def test_cost_breakdown_from_the_ledger() -> None:
    ledger = [
        LedgerEntry(0, "", "deposit", 1000.0),
        LedgerEntry(1, "BTCUSDT", "fee", -0.5),
        LedgerEntry(2, "BTCUSDT", "fee", 0.1),  # maker rebate
        LedgerEntry(3, "BTCUSDT", "funding", -0.3),
        LedgerEntry(4, "BTCUSDT", "funding", 0.1),
        LedgerEntry(5, "BTCUSDT", "liquidation_fee", -2.0),
        LedgerEntry(5, "BTCUSDT", "fill_pnl", 5.0),
        LedgerEntry(6, "BTCUSDT", "fill_pnl", -3.0),
    ]
    # paid: fees 0.5 - 0.1 = 0.4, funding 0.3 - 0.1 = 0.2, liquidation 2; PnL 5 - 3 = 2
    costs = m.cost_breakdown(ledger)
    assert costs == pytest.approx(m.CostBreakdown(0.4, 0.2, 2.0, 2.0, 1000.0))
    assert m.cost_breakdown([]) == m.CostBreakdown(0.0, 0.0, 0.0, 0.0, 0.0)


def test_limit_order_statistics() -> None:
    stats = m.OrderStats(10, 4, [S, 2 * S, 3 * S, 6 * S])
    assert m.limit_fill_rate(stats) == pytest.approx(0.4)  # 4 of 10
    assert m.mean_queue_wait_s(stats) == pytest.approx(3.0)  # (1 + 2 + 3 + 6) / 4
    assert m.limit_fill_rate(m.OrderStats(0, 0)) is None
    assert m.mean_queue_wait_s(m.OrderStats(3, 0)) is None


# ------------------------------------------------------------------ summary


def test_summary_of_a_daily_bar_run() -> None:
    times = [0, DAY, 2 * DAY, 3 * DAY]
    equity = [100.0, 110.0, 99.0, 121.0]
    fills = scenario()
    ledger = [LedgerEntry(0, "", "deposit", 100.0), LedgerEntry(1, "BTCUSDT", "fee", -1.22)]
    result = m.summary(
        times,
        equity,
        fills,
        ledger,
        step_ns=DAY,
        fill_stats=m.FillStats(is_maker=[True] * 7, mid_prices=[math.nan] * 7),
        order_stats=m.OrderStats(5, 1, [2 * S]),
        trials=100,
        trial_sr_variance=0.01,
    )
    assert tuple(result) == m.SUMMARY_KEYS
    json.dumps(result, allow_nan=False)  # JSON-ready
    rets = [0.1, -0.1, 22 / 99]  # 110/100 - 1, 99/110 - 1, 121/99 - 1
    assert result["periods"] == 3 and result["periods_per_year"] == 365
    assert result["duration_s"] == 3 * 86_400 and result["step_s"] == 86_400
    assert result["total_return"] == pytest.approx(0.21)
    assert result["cagr"] == pytest.approx(1.21 ** (365 / 3) - 1)
    assert result["sharpe"] == pytest.approx(m.sharpe(rets, 365))
    assert result["sortino"] == pytest.approx(m.sortino(rets, 365))
    # 110 -> 99 is the only drawdown: 10%, from day 1 to its recovery on day 3
    assert result["max_drawdown"] == pytest.approx(0.1)
    assert result["max_drawdown_start_ns"] == DAY
    assert result["max_drawdown_trough_ns"] == 2 * DAY
    assert result["max_drawdown_recovery_ns"] == 3 * DAY
    assert result["max_drawdown_duration_s"] == 2 * 86_400
    assert result["calmar"] == pytest.approx(result["cagr"] / 0.1)  # type: ignore[operator]
    assert result["psr"] is not None and result["dsr"] is not None
    assert result["dsr"] <= result["psr"]
    assert result["dsr_expected_max_sharpe"] == pytest.approx(m.expected_max_sharpe(100, 0.01))
    assert result["round_trips"] == 5 and result["fills"] == 7
    assert result["win_rate"] == pytest.approx(0.4)
    assert result["mean_holding_s"] == pytest.approx(22.0)
    assert result["median_holding_s"] == pytest.approx(20.0)
    assert result["turnover"] == pytest.approx(1055 / np.mean(equity))
    assert result["exposure"] == pytest.approx(60 / (3 * 86_400))
    assert result["maker_share"] == 1.0 and result["maker_notional_share"] == 1.0
    assert result["slippage"] is None and result["slippage_bps"] is None
    assert result["fees"] == pytest.approx(1.22) and result["funding"] == 0.0
    assert result["limit_orders"] == 5
    assert result["limit_fill_rate"] == pytest.approx(0.2)
    assert result["mean_queue_wait_s"] == pytest.approx(2.0)


def test_summary_of_a_ruined_account_stays_defined() -> None:
    # equity hits -10 at 2 s: returns stop there, the later samples do not count
    times = [0, S, 2 * S, 3 * S]
    result = m.summary(times, [100.0, 50.0, -10.0, -10.0])
    json.dumps(result, allow_nan=False)
    assert result["periods"] == 2  # 50/100 - 1 and -10/50 - 1
    assert result["cagr"] == -1.0
    assert result["max_drawdown"] == pytest.approx(1.1)
    assert result["max_drawdown_recovery_ns"] is None
    # CAGR over 3 s of a growing account overflows: reported as None, not inf
    grown = m.summary(times, [100.0, 150.0, 200.0, 250.0])
    assert grown["cagr"] is None
    assert grown["sharpe"] is not None and grown["calmar"] is None
    assert grown["round_trips"] == 0 and grown["win_rate"] is None
    assert grown["dsr"] == grown["psr"]  # one trial by default: DSR = PSR against 0
