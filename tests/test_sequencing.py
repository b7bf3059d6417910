"""One update-id chain rule: the scalar check the books apply and the vectorised check the
adapters run over whole files agree on every sequence of diffs."""

from __future__ import annotations

import numpy as np
from helpers import book_levels
from hypothesis import given
from hypothesis import strategies as st

from adapters.binance.capture import chain_breaks
from streamsim.book import BookPolicy, L2Book
from streamsim.events import DepthUpdate
from streamsim.feed.batches import DepthBatch
from streamsim.sequencing import follows, links

IDS = st.integers(-1, 40)


@st.composite
def diffs(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    """Diffs that mostly chain (futures by ``pu``, spot by ``U``), with random breaks;
    final ids and ``pu`` are never -1 (a Binance futures diff always has ``pu``)."""
    n = draw(st.integers(1, 30))
    first, final, prev = [], [], []
    last = draw(st.integers(0, 10))
    for _ in range(n):
        start = last + 1 if draw(st.booleans()) else draw(IDS)
        link = last if draw(st.booleans()) else draw(st.integers(0, 40))
        end = max(start, 0) + draw(st.integers(0, 3))
        first.append(start)
        prev.append(link)
        final.append(end)
        last = end
    return first, final, prev


def arrays(*columns: list[int]) -> list[np.ndarray]:
    return [np.array(c, dtype=np.int64) for c in columns]


@given(diffs(), st.lists(st.booleans(), min_size=30, max_size=30), st.none() | IDS)
def test_the_vectorised_chain_check_agrees_with_the_scalar_one(
    chain: tuple[list[int], list[int], list[int]], modes: list[bool], before: int | None
) -> None:
    first, final, prev = chain
    futures = modes[: len(final)]
    ok, expected = links(*arrays(first, final, prev), np.array(futures), before)
    last = [before, *final[:-1]]
    for i in range(len(final)):
        if last[i] is None:
            assert ok[i] and expected[i] == -1
            continue
        assert ok[i] == follows(futures[i], first[i], prev[i], last[i]), i
        assert expected[i] == (last[i] if futures[i] else last[i] + 1)
    one_mode, _ = links(*arrays(first, final, prev), True, before)
    assert (
        one_mode.tolist()
        == links(*arrays(first, final, prev), np.ones(len(final), bool), before)[0].tolist()
    )


@given(diffs(), st.sampled_from(["futures", "spot"]))
def test_a_book_counts_a_gap_exactly_where_the_file_check_finds_a_break(
    chain: tuple[list[int], list[int], list[int]], mode: str
) -> None:
    first, final, prev = chain
    is_futures = mode == "futures"
    if not is_futures:
        prev = [-1] * len(final)  # spot diffs carry no pu
    ok, _ = links(*arrays(first, final, prev), is_futures)
    # A rebuilding book applies a diff that breaks the chain and continues from it, so
    # every diff is checked against the one before, as in a file.
    book = L2Book("BTCUSDT", mode, BookPolicy(rebuild_window=0))  # type: ignore[arg-type]
    levels = book_levels([(1000, 1)], [(1001, 1)])
    for t, (u_first, u_final, u_prev) in enumerate(zip(first, final, prev, strict=True)):
        book.apply(DepthUpdate("BTCUSDT", t, None, t, u_first, u_final, u_prev, False, levels, 0))
    assert book.stats.gaps == int((~ok).sum())

    batch = DepthBatch(
        "BTCUSDT",
        np.arange(len(final), dtype=np.int64),
        None,
        *arrays(first, final, prev),
        np.zeros(len(final), dtype=np.bool_),
        np.zeros(len(final) + 1, dtype=np.int64),
        np.zeros(len(final), dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
    )
    index, _, _ = chain_breaks(batch)
    assert index.tolist() == np.flatnonzero(~ok).tolist()
