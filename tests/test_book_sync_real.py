"""On every real Binance capture, a strategy that reads ``on_depth``'s book only while
``book.valid`` sees exactly the venue's own best bid and ask (its bookTicker at the same
update id), 100 % of the time; and the diffs received before the snapshot reach it with
``book.valid`` False.

The captures go through a whole backtest (sources in receive order, feed model, kernel),
so this checks the delivery rule of ``streamsim.run.depth_delivery`` end to end, not just
the book (``test_book_real.py`` does that).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import streamsim as ss
from adapters.binance import Capture, instruments_from_exchange_info, read_capture
from adapters.binance.sources import sources_from_capture
from streamsim.book import AWAITING_SNAPSHOT, Sequencing

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FUTURES_WS = DATA / "binance-futures-ws"
USDM = DATA / "binance-usdm-capture"
SPOT = DATA / "binance-spot-capture"

#: Capture files, sequencing, and the fewest bookTickers each symbol must be compared with
#: (well above zero; the spot recording is cut to its first two files, 24 hours).
CAPTURES: dict[str, tuple[list[Path], Sequencing, int]] = {
    "futures-ws": (
        [FUTURES_WS / "BINANCE_FUTURES.ws.1.0", FUTURES_WS / "BINANCE_FUTURES.http.0.0"],
        "futures",
        5,
    ),
    "usdm-20240808": ([USDM / "btcusdt_20240808.gz"], "futures", 500),
    "usdm-20230404-05": (
        [USDM / "btcusdt_20230404.dat.gz", USDM / "btcusdt_20230405.dat.gz"],
        "futures",
        1000,
    ),
    "spot-20240723-24": (
        [SPOT / "nexousdt_20240723.dat.gz", SPOT / "nexousdt_20240724.dat.gz"],
        "spot",
        10_000,
    ),
}


@cache
def capture(name: str) -> Capture:
    paths = CAPTURES[name][0]
    if name == "futures-ws":
        instruments = instruments_from_exchange_info(FUTURES_WS / "BINANCE_FUTURES.0")
        return read_capture(paths, instruments, off_grid="drop")
    return read_capture(paths)


class TopWatcher(ss.Strategy):
    """In ``on_depth``: the book's best bid and ask against its update id, only while the
    book is valid; why it was not valid otherwise; and the diffs whose update id is not
    the book's (a stale diff the book skipped would be one)."""

    def __init__(self) -> None:
        self.tops: dict[str, dict[int, tuple[int | None, int | None]]] = {}
        self.unsynced: dict[str, list[str | None]] = {}
        self.calls: dict[str, int] = {}
        self.not_the_books: list[int] = []

    async def on_depth(self, update: ss.DepthUpdate, book: Any) -> None:
        self.calls[update.symbol] = self.calls.get(update.symbol, 0) + 1
        if not update.is_snapshot and update.final != book.last_update_id:
            self.not_the_books.append(update.final)
        if book.valid:
            self.tops.setdefault(update.symbol, {})[book.last_update_id] = (
                book.best_bid,
                book.best_ask,
            )
        else:
            self.unsynced.setdefault(update.symbol, []).append(book.invalid_reason)


@pytest.mark.parametrize("name", list(CAPTURES))
def test_a_strategy_reading_only_valid_books_matches_every_book_ticker(name: str) -> None:
    data = capture(name)
    _, sequencing, least = CAPTURES[name]
    watcher = TopWatcher()
    # futures-ws: REST snapshots carry the REST server's E, later than the E of diffs
    # received after them (up to 0.7 s); clamp those diffs' ts_exchange (counted).
    out_of_order = "clamp" if name == "futures-ws" else "fail"
    result = ss.run_backtest(
        sources_from_capture(data, ("depth",)),
        watcher,
        sequencing=sequencing,
        out_of_order=out_of_order,
    )
    assert watcher.not_the_books == []
    for symbol, symbol_data in data.symbols.items():
        depth = symbol_data.depth
        before = int(np.flatnonzero(depth.is_snapshot)[0])
        # The diffs received before the snapshot reached the strategy, flagged unsynced.
        assert watcher.unsynced.get(symbol, []) == [AWAITING_SNAPSHOT] * before, symbol
        tops = watcher.tops[symbol]
        tickers = symbol_data.book_tickers
        ids = tickers.update_id.tolist()
        shared = [i for i, u in enumerate(ids) if u in tops]
        matched = sum(
            tops[ids[i]] == (int(tickers.bid_price[i]), int(tickers.ask_price[i])) for i in shared
        )
        books = result.quality.books[symbol]
        report = (
            f"{name} {symbol}: {len(ids)} bookTickers, {len(shared)} share an update id the "
            f"strategy saw with a valid book, {matched} match; {len(depth)} depth messages, "
            f"{before} before the snapshot, {books['stale_skipped']} stale skipped, "
            f"{books['undelivered_skipped']} not delivered"
        )
        assert len(shared) >= least, report
        assert matched == len(shared), report
        assert watcher.calls[symbol] + books["undelivered_skipped"] == len(depth), report
        assert books["gaps"] == 0 and books["crossed"] == 0 and not books["invalid_at_end"]
