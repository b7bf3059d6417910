"""Feed models: causality, the open-interest preset, and the recorder clock-offset correction."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Recorder, oi_source, trade_source
from hypothesis import given
from hypothesis import strategies as st

import streamsim as ss
from streamsim.feed.feed_models import rolling_min
from streamsim.feed.quality import StreamQuality

S = ss.SECOND


def local_times(
    model: ss.FeedModel, ex: np.ndarray, recv: np.ndarray, sizes: list[int]
) -> np.ndarray:
    """Run ``model`` over the rows cut into batches of ``sizes``."""
    quality = StreamQuality("X.trades", model.describe())
    out, lo = [], 0
    for size in sizes:
        out.append(model.local_times(ex[lo : lo + size], recv[lo : lo + size], quality))
        lo += size
    return np.concatenate(out)


@given(
    st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=60),
    st.integers(1, 12),
)
def test_rolling_min_matches_naive(values: list[int], window: int) -> None:
    array = np.asarray(values, dtype=np.int64)
    naive = [min(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))]
    assert rolling_min(array, window).tolist() == naive


@given(
    st.lists(st.integers(0, 500), min_size=2, max_size=40),
    st.integers(1, 39),
    st.floats(0, 1),
    st.integers(1, 8),
    st.integers(1, 10),
    st.data(),
)
def test_causal_quantile_never_uses_future_rows(
    delays: list[int], cut: int, q: float, window: int, batch: int, data: st.DataObject
) -> None:
    cut = min(cut, len(delays) - 1)
    ex = np.arange(len(delays), dtype=np.int64) * 1000
    recv = ex + np.asarray(delays, dtype=np.int64)
    changed = recv.copy()
    future = data.draw(
        st.lists(st.integers(0, 10_000), min_size=len(delays) - cut, max_size=len(delays) - cut)
    )
    changed[cut:] = ex[cut:] + np.asarray(future, dtype=np.int64)
    sizes = [batch] * len(delays)

    def model() -> ss.CausalQuantile:
        return ss.CausalQuantile(q=q, window=window, min_delay=0, max_delay=10**9)

    original = local_times(model(), ex, recv, sizes)
    altered = local_times(model(), ex, changed, sizes)
    # Row `cut` itself is a future row too: its own delay must not shape its ts_local.
    assert original[: cut + 1].tolist() == altered[: cut + 1].tolist()
    # Batch boundaries change nothing.
    assert original.tolist() == local_times(model(), ex, recv, [len(delays)]).tolist()


def test_causal_quantile_values_by_hand() -> None:
    ex = np.array([0, 100, 200, 300], dtype=np.int64) * S
    recv = ex + np.array([20, 60, 40, 100], dtype=np.int64) * S
    model = ss.CausalQuantile(q=0.5, window=2, min_delay=5 * S, max_delay=300 * S)
    delays = (local_times(model, ex, recv, [1, 3]) - ex) // S
    # no past -> max; then median of [20]; of [20, 60]; of [60, 40].
    assert delays.tolist() == [300, 20, 40, 50]


def test_open_interest_preset_on_chosen_publication_delays() -> None:
    bucket = 5 * ss.MINUTE
    t0 = 1_751_371_200 * S
    buckets = [t0 + i * bucket for i in range(6)]
    publish = [30, 90, 60, 2, 400, 45]  # seconds after the bucket
    recv = [b + d * S for b, d in zip(buckets, publish, strict=True)]
    strategy = Recorder()
    result = ss.run_backtest(
        [oi_source("BTCUSDT", buckets, recv, sizes=(2, 1, 3))],
        strategy,
        feed={"open_interest": ss.open_interest_preset()},
    )
    shown = [(event.ts_local - event.bucket_time) // S for event, _ in strategy.seen]
    # First row: no past -> 300 s. Then the median of the past publication delays,
    # clamped to [5 s, 300 s].
    assert shown == [300, 30, 60, 60, 45, 60]
    q = result.quality.streams["BTCUSDT.open_interest"]
    # Rows 1 (30 s < 90 s) and 4 (45 s < 400 s) are shown before the recorder had them.
    assert q.shown_before_recv == 2
    assert q.shown_before_recv_max_ns == (400 - 45) * S
    assert q.feed_model.startswith("causal_quantile(q=0.5")


def test_not_before_recv_holds_rows_back_and_counts_them() -> None:
    bucket = 5 * ss.MINUTE
    buckets = [i * bucket for i in range(1, 5)]
    recv = [b + d * S for b, d in zip(buckets, [30, 90, 60, 400], strict=True)]
    strategy = Recorder()
    model = ss.CausalQuantile(q=0.5, min_delay=5 * S, max_delay=300 * S, not_before_recv=True)
    result = ss.run_backtest([oi_source("BTCUSDT", buckets, recv)], strategy, feed=model)
    for event, now in strategy.seen:
        assert now >= event.ts_recv
    q = result.quality.streams["BTCUSDT.open_interest"]
    assert q.shown_before_recv == 0
    assert q.raised_to_recv == 2


def test_clock_offset_correction_keeps_jitter_and_a_positive_floor() -> None:
    rng = np.random.default_rng(5)
    n = 5000
    ex = 1_723_161_255 * S + np.cumsum(rng.integers(1, 5_000_000, n)).astype(np.int64)
    jitter = rng.integers(0, 40 * ss.MS, n).astype(np.int64)
    recv = ex - 1_270 * ss.MS + jitter  # the recorder's clock runs 1.27 s behind the venue
    base = 2 * ss.MS
    strategy = Recorder()
    result = ss.run_backtest(
        [trade_source("BTCUSDT", ex, recv, sizes=(700,))],
        strategy,
        feed={"trades": ss.Recorded(base_latency=base, window=1000)},
    )
    latency = np.array([event.ts_local - event.ts_exchange for event, _ in strategy.seen])
    assert len(latency) == n
    assert latency.min() >= base  # never negative, never zero
    assert len(np.unique(latency)) > n // 2  # the jitter survives, not one constant
    # Where the window's minimum is steady the shift is constant, so latency differences
    # equal the recorded ones: the jitter is kept exactly.
    steady = slice(1000, 1200)
    shifts = (np.array([e.ts_local for e, _ in strategy.seen]) - recv)[steady]
    if len(np.unique(shifts)) == 1:
        assert np.array_equal(np.diff(latency[steady]), np.diff(jitter[steady]))
    q = result.quality.streams["BTCUSDT.trades"]
    assert q.offset_corrected == n
    assert q.offset_shift_min_ns is not None and q.offset_shift_max_ns is not None
    # shift = base - min(recorded delay in the window) = base + 1.27 s - min(jitter).
    assert 1_270 * ss.MS + base - 40 * ss.MS < q.offset_shift_min_ns
    assert q.offset_shift_min_ns <= q.offset_shift_max_ns <= 1_270 * ss.MS + base
    assert q.clamped_to_exchange == 0


def test_recorded_leaves_plausible_latencies_alone() -> None:
    ex = np.arange(100, dtype=np.int64) * 10 * ss.MS
    recv = ex + 5 * ss.MS + (np.arange(100) % 7) * ss.MS
    strategy = Recorder()
    result = ss.run_backtest([trade_source("X", ex, recv)], strategy)
    assert [e.ts_local for e, _ in strategy.seen] == recv.tolist()
    q = result.quality.streams["X.trades"]
    assert q.offset_corrected == 0 and q.feed_model.startswith("recorded")


def test_plain_recorded_falls_back_to_a_counted_clamp() -> None:
    ex = np.arange(10, dtype=np.int64) * ss.MS
    recv = ex - 3 * ss.MS
    strategy = Recorder()
    result = ss.run_backtest(
        [trade_source("X", ex, recv)], strategy, feed=ss.Recorded(correct_offset=False)
    )
    assert [e.ts_local for e, _ in strategy.seen] == ex.tolist()
    assert result.quality.streams["X.trades"].clamped_to_exchange == 10


def test_monotone_clamp_is_counted() -> None:
    ex = np.array([0, 10, 20, 30], dtype=np.int64) * ss.MS
    recv = np.array([5, 40, 25, 45], dtype=np.int64) * ss.MS
    strategy = Recorder()
    result = ss.run_backtest([trade_source("X", ex, recv, sizes=(1, 3))], strategy)
    assert [e.ts_local // ss.MS for e, _ in strategy.seen] == [5, 40, 40, 45]
    q = result.quality.streams["X.trades"]
    assert q.monotone_clamped == 1
    assert q.monotone_max_shift_ns == 15 * ss.MS


def test_stream_without_recv_defaults_to_constant_zero_and_says_so() -> None:
    strategy = Recorder()
    result = ss.run_backtest([trade_source("X", [1, 2, 3])], strategy)
    assert [e.ts_local for e, _ in strategy.seen] == [1, 2, 3]
    assert result.quality.streams["X.trades"].feed_model == "constant(0)"
    assert any("no ts_recv" in note for note in result.quality.notes)


def test_models_that_need_recv_say_so() -> None:
    with pytest.raises(ss.ConfigError, match=r"X\.trades.*has no ts_recv"):
        ss.run_backtest([trade_source("X", [1, 2])], Recorder(), feed=ss.Recorded())


@pytest.mark.parametrize(
    "make",
    [
        lambda: ss.Constant(-1),
        lambda: ss.Recorded(base_latency=0),
        lambda: ss.CausalQuantile(q=1.5),
        lambda: ss.CausalQuantile(q=0.5, min_delay=10, max_delay=5),
    ],
)
def test_bad_model_settings_are_rejected(make: object) -> None:
    with pytest.raises(ss.ConfigError):
        make()  # type: ignore[operator]


def test_feed_config_lookup_by_name_then_kind_then_star() -> None:
    a, b = Recorder(), None
    del b
    sources = [
        trade_source("A", [0, 10], [1, 11]),
        trade_source("B", [0, 10], [1, 11]),
        oi_source("A", [0, 10], [5, 15]),
    ]
    result = ss.run_backtest(
        sources,
        a,
        feed={"A.trades": ss.Constant(7), "trades": ss.Constant(3), "*": ss.fixed(2)},
    )
    models = {name: q.feed_model for name, q in result.quality.streams.items()}
    assert models == {
        "A.trades": "constant(7)",
        "B.trades": "constant(3)",
        "A.open_interest": "fixed(2)",
    }
