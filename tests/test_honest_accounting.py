"""Honest accounting: no silent run without marks, a named bankrupt state, visible
liquidations."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import Venue, book_levels
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, sample_sources
from adapters.cli import main
from adapters.cli.progress import summary_table
from strategies.market_maker import MarketMaker
from streamsim.config import RunConfig
from streamsim.events import DepthUpdate
from streamsim.feed import synthetic
from streamsim.orders import OrderRequest, OrderType
from streamsim.results.artifacts import write_artifacts
from streamsim.results.report import render_report
from streamsim.sim.bankruptcy import Bankruptcy
from streamsim.sim.marking import FALLBACK_INTERVAL, FallbackMarks, plan_marks

SYMBOL = "BTCUSDT"
BTC = ss.Instrument(SYMBOL, tick_size="0.1", lot_size="0.001", min_notional="0.05")
START = 10**18
S = ss.SECOND
I64 = np.int64
OPTIONS: dict[str, Any] = {"feed": ss.Constant(0), "latency": ss.ConstantLatency(0)}


def _depth(rows: list[tuple[int, int, int]]) -> ss.DepthBatch:
    """One snapshot per (offset from START, best bid, best ask) in ticks, 500 lots a side."""
    n = len(rows)
    prices = [p for _, bid, ask in rows for p in (bid, ask)]
    return ss.DepthBatch(
        SYMBOL,
        np.array([START + dt for dt, _, _ in rows], dtype=I64),
        None,
        np.arange(1, n + 1, dtype=I64),
        np.arange(1, n + 1, dtype=I64),
        np.arange(0, n, dtype=I64),
        np.ones(n, dtype=bool),
        np.arange(0, 2 * n + 1, 2, dtype=I64),
        np.ones(n, dtype=I64),
        np.array(prices, dtype=I64),
        np.full(2 * n, 500, dtype=I64),
    )


def _books(rows: list[tuple[int, int, int]]) -> ss.MemorySource:
    return ss.MemorySource([_depth(rows)], ss.Stream(SYMBOL, "depth"))


def _trades(rows: list[tuple[int, int]]) -> ss.MemorySource:
    """One 1-lot sell trade per (offset from START, price ticks)."""
    n = len(rows)
    return ss.MemorySource(
        [
            ss.TradeBatch(
                SYMBOL,
                np.array([START + dt for dt, _ in rows], dtype=I64),
                None,
                np.array([p for _, p in rows], dtype=I64),
                np.ones(n, dtype=I64),
                np.full(n, -1, dtype=np.int8),
                np.arange(n, dtype=I64),
            )
        ],
        ss.Stream(SYMBOL, "trades"),
    )


def _marks(rows: list[tuple[int, float]]) -> ss.MemorySource:
    """Mark prices per (offset from START, price); no funding time within the run."""
    ts = np.array([START + dt for dt, _ in rows], dtype=I64)
    mark = np.array([p for _, p in rows])
    batch = ss.MarkPriceBatch(SYMBOL, ts, None, mark, mark, mark, np.zeros(len(ts)), ts + ss.HOUR)
    return ss.MemorySource([batch], ss.Stream(SYMBOL, "mark_price"))


class Trader(ss.Strategy):
    """Buys ``lots`` at the first depth message; at the bid ``sell_at`` (ticks) sells them
    all; at every later message tries a 1-lot limit buy. Keeps what it is told."""

    name = "trader"

    def __init__(self, lots: int = 100, sell_at: int | None = None) -> None:
        self.lots = lots
        self.sell_at = sell_at
        self.started = False
        self.sold = False
        self.orders: list[ss.OrderUpdate] = []
        self.account: list[ss.AccountUpdate] = []
        self.handles: list[ss.OrderHandle] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.started = True
        self.ctx = ctx

    async def on_depth(self, update: ss.DepthUpdate, book: Any) -> None:
        broker = self.ctx.broker
        if not self.handles:
            order = ss.Order(SYMBOL, ss.BUY, self.lots, type=ss.OrderType.MARKET)
        elif self.sell_at is not None and not self.sold and book.best_bid == self.sell_at:
            self.sold = True
            order = ss.Order(SYMBOL, ss.SELL, self.lots, type=ss.OrderType.MARKET)
        elif self.sold:
            order = ss.Order(SYMBOL, ss.BUY, 1, price=book.best_bid)
        else:
            return
        self.handles.append(broker.submit(order))

    async def on_order_update(self, update: ss.OrderUpdate) -> None:
        self.orders.append(update)

    async def on_account_update(self, update: ss.AccountUpdate) -> None:
        self.account.append(update)


# -- no mark stream ----------------------------------------------------------------------------


def test_a_backtest_without_a_mark_stream_fails_at_start_naming_the_symbol_and_the_fixes() -> None:
    strategy = Trader()
    with pytest.raises(ss.ConfigError) as caught:
        ss.run_backtest(
            [_books([(0, 1000, 1001)]), _trades([(0, 1000)])],
            strategy,
            exchange=ss.SimExchange([BTC]),
        )
    message = str(caught.value)
    assert "no mark_price stream for BTCUSDT" in message
    assert "mark_fallback" in message and "[exchange]" in message
    assert not strategy.started


def test_paper_live_without_a_mark_stream_fails_at_start_too() -> None:
    strategy = Trader()
    with pytest.raises(ss.ConfigError, match="no mark_price stream for BTCUSDT"):
        ss.run_paper_live([_books([(0, 1000, 1001)])], strategy, exchange=ss.SimExchange([BTC]))
    assert not strategy.started


def test_the_null_exchange_needs_no_mark_stream() -> None:
    result = ss.run_backtest([_trades([(0, 1000), (S, 1001)])], ss.Strategy(), **OPTIONS)
    assert result.quality.notes == []


def test_only_the_symbols_without_a_mark_stream_are_marked_from_the_fallback() -> None:
    streams = ["BTCUSDT.depth", "BTCUSDT.mark_price", "ETHUSDT.trades", "SOLUSDT.depth"]
    marks = plan_marks(["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"], streams, "last")
    assert marks is not None and marks.symbols == {"ETHUSDT", "SOLUSDT"}
    notes = marks.notes()
    assert [note.split(":")[0] for note in notes] == ["ETHUSDT", "SOLUSDT"]
    assert all("funding was not charged" in note for note in notes)
    assert plan_marks(["BTCUSDT"], streams, None) is None  # every traded symbol has marks
    with pytest.raises(ss.ConfigError, match="ETHUSDT, SOLUSDT"):
        plan_marks(["BTCUSDT", "ETHUSDT", "SOLUSDT"], streams, None)


def test_an_unknown_mark_fallback_is_a_config_error_in_the_api_and_the_config() -> None:
    with pytest.raises(ss.ConfigError, match="mark_fallback must be None, 'mid' or 'last'"):
        ss.SimExchange([BTC], mark_fallback="bid")  # type: ignore[arg-type]
    data = {"strategy": {"class": "m:S"}, "exchange": {"mark_fallback": "bid"}}
    with pytest.raises(ss.ConfigError, match="mark_fallback"):
        RunConfig.from_dict(data)


CONFIG = """
[data]
adapter = "sample"
kinds = ["depth", "trades"]

[strategy]
class = "strategies.market_maker:MarketMaker"

[run]
end = "2023-04-04T23:59:20Z"
"""


def test_a_config_without_a_mark_stream_fails_at_start_and_mark_fallback_lets_it_run() -> None:
    config = RunConfig.from_toml(CONFIG)
    with pytest.raises(ss.ConfigError, match="no mark_price stream for BTCUSDT"):
        ss.run_config(
            config, sample_sources(["depth", "trades"]), MarketMaker(SYMBOL), [SAMPLE_INSTRUMENT]
        )
    marked = RunConfig.from_toml(CONFIG + '[exchange]\nmark_fallback = "mid"\n')
    result = ss.run_config(
        marked, sample_sources(["depth", "trades"]), MarketMaker(SYMBOL), [SAMPLE_INSTRUMENT]
    )
    assert result.exchange["mark_fallback"]["source"] == "mid"
    assert result.exchange["mark_fallback"]["marks"]["BTCUSDT"] > 0
    assert any("mark_fallback='mid'" in note for note in result.quality.notes)


def test_the_cli_refuses_a_config_without_a_mark_stream_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nomarks.toml"
    path.write_text(CONFIG, encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    output = " ".join(capsys.readouterr().out.split())
    assert "no mark_price stream for BTCUSDT" in output and "mark_fallback" in output
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_mark_fallback_mid_marks_positions_as_the_book_moves_and_says_so() -> None:
    exchange = ss.SimExchange([BTC], mark_fallback="mid")
    strategy = Trader(lots=100)  # 0.1 BTC bought at 100.1
    result = ss.run_backtest(
        [_books([(0, 1000, 1001), (S, 1100, 1101), (2 * S, 1200, 1201)])],
        strategy,
        exchange=exchange,
        **OPTIONS,
    )
    portfolio = exchange.portfolio
    assert portfolio.position(SYMBOL).lots == 100
    assert portfolio.mark_price(SYMBOL) == pytest.approx(120.05)
    assert result.exchange["equity"] == pytest.approx(portfolio.wallet + 0.1 * (120.05 - 100.1))
    # Equity sampled at each fallback mark follows the book: up 1.0 USDT per 10 USDT move.
    assert result.record.equity_values[-1] - result.record.equity_values[-2] == pytest.approx(1.0)
    assert result.exchange["mark_fallback"] == {"source": "mid", "marks": {SYMBOL: 3}}
    assert [e.reason for e in portfolio.ledger if e.reason == "funding"] == []
    (note,) = result.quality.notes
    assert "exchange-side book's mid" in note and "funding was not charged" in note
    assert f"note: {note}" in result.summary()
    # The strategy's account updates carry the fallback mark of their moment.
    assert strategy.account[0].positions[0].mark_price == pytest.approx(100.05)


def test_mark_fallback_last_marks_from_trades_at_most_once_a_second() -> None:
    exchange = ss.SimExchange([BTC], mark_fallback="last")
    trades = [(0, 1000), (S // 2, 1010), (S, 1020), (1_700 * ss.MS, 1030), (2_200 * ss.MS, 1040)]
    ss.run_backtest(
        [_books([(0, 1000, 1001)]), _trades(trades)], Trader(lots=100), exchange=exchange, **OPTIONS
    )
    assert exchange.report()["mark_fallback"] == {"source": "last", "marks": {SYMBOL: 3}}
    assert exchange.portfolio.mark_price(SYMBOL) == pytest.approx(104.0)  # the 2.2 s trade
    assert exchange.portfolio.unrealized() == pytest.approx(0.1 * (104.0 - 100.1))


@given(st.lists(st.integers(0, 10 * S), min_size=1, max_size=60))
def test_a_fallback_mark_is_due_first_at_each_second_after_the_last(offsets: list[int]) -> None:
    marks = FallbackMarks("last", [SYMBOL])
    book = ss.L2Book(SYMBOL)
    marked = []
    for ts in sorted(offsets):
        trade = ss.Trade(SYMBOL, ts, None, ts, 1000, 1, -1, 0)
        if marks.price(trade, book, BTC) is not None:
            marked.append(ts)
        else:  # skipped only within an interval of the last mark
            assert marked and ts < marked[-1] + FALLBACK_INTERVAL
    assert marked[0] == min(offsets)
    assert all(b - a >= FALLBACK_INTERVAL for a, b in itertools.pairwise(marked))
    assert marks.marks[SYMBOL] == len(marked)


def test_a_fallback_mid_is_never_read_from_an_invalid_or_one_sided_book() -> None:
    marks = FallbackMarks("mid", [SYMBOL])
    book = ss.L2Book(SYMBOL)
    batch = _depth([(0, 1000, 1001)])
    (update,) = batch.events(batch.ts_exchange, batch.ts_exchange)
    assert marks.price(update, book, BTC) is None  # empty book: no mid
    book.apply(update)
    book.valid = False
    assert marks.price(update, book, BTC) is None
    book.valid = True
    assert marks.price(update, book, BTC) == pytest.approx(100.05)


# -- bankrupt -----------------------------------------------------------------------------------


def _bankrupt_run() -> tuple[ss.RunResult, ss.SimExchange, Trader]:
    """Buy 0.3 BTC at 100.1 with 2 USDT, sell at 90.0: the wallet ends near -1.06. The mark
    stream stays at 100.05, so no liquidation steps in first."""
    exchange = ss.SimExchange([BTC], initial_balance=2.0, leverage=20)
    strategy = Trader(lots=300, sell_at=900)
    books = _books([(0, 1000, 1001), (S, 900, 901), (2 * S, 900, 901), (3 * S, 900, 901)])
    marks = _marks([(S // 2, 100.05), (3 * S // 2, 100.05), (5 * S // 2, 100.05)])
    result = ss.run_backtest([books, marks], strategy, exchange=exchange, **OPTIONS)
    return result, exchange, strategy


def test_a_wallet_below_zero_makes_the_account_bankrupt_and_later_orders_are_rejected() -> None:
    result, exchange, strategy = _bankrupt_run()
    wallet = 2.0 - 0.3 * (100.1 - 90.0) - 0.0005 * (0.3 * 100.1 + 0.3 * 90.0)
    assert exchange.portfolio.wallet == pytest.approx(wallet) and wallet < 0
    report = result.exchange
    assert report["bankrupt"] is True
    assert report["bankrupt_at_ns"] == START + S  # the losing fill
    assert report["bankrupt_balance"] == pytest.approx(wallet)
    assert report["bankrupt_rejected"] == 2  # the limit buys at 2 s and 3 s
    rejected = [u for u in strategy.orders if u.status is ss.OrderStatus.REJECTED]
    assert [u.code for u in rejected] == [ss.BANKRUPT_REJECT] * 2
    assert rejected[0].reason == ss.REJECT_CODES[ss.BANKRUPT_REJECT][0]
    # The strategy learns it from the account update of the fill that did it.
    assert [u.account.bankrupt for u in strategy.account] == [False, True]
    assert strategy.ctx.broker.account().bankrupt
    assert "BANKRUPT at" in result.summary() and "2 later orders rejected" in result.summary()


def test_a_zero_wallet_is_not_bankrupt_and_bankrupt_is_for_good() -> None:
    state = Bankruptcy()
    assert not state.check(1, 0.0)  # zero is not below zero
    assert state.check(2, -0.5) and state.check(3, 4.0)  # once bankrupt, always bankrupt
    assert state.report() == {
        "bankrupt": True,
        "bankrupt_at_ns": 2,
        "bankrupt_balance": -0.5,
        "bankrupt_rejected": 0,
    }


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30))
def test_the_bankrupt_state_records_the_first_negative_wallet_once(wallets: list[float]) -> None:
    state = Bankruptcy()
    for ts, wallet in enumerate(wallets):
        state.check(ts, wallet)
    first = next((i for i, w in enumerate(wallets) if w < 0), None)
    assert state.at == first
    assert state.balance == (None if first is None else wallets[first])


def test_the_report_shows_a_bankrupt_account_prominently(tmp_path: Path) -> None:
    result, _, _ = _bankrupt_run()
    write_artifacts(result, tmp_path / "out")
    text = render_report(tmp_path / "out")
    account = text.split('<section id="account"', 1)[1].split("</section>", 1)[0]
    assert 'class="health warn"' in account
    assert "went bankrupt" in account and "-9002" in account
    assert text.index('id="account"') < text.index('id="equity"')  # above the plots


# -- liquidations ---------------------------------------------------------------------------------


def test_a_liquidation_reaches_the_strategy_and_the_report_lists_it(tmp_path: Path) -> None:
    exchange = ss.SimExchange([BTC], initial_balance=2.0, leverage=20)
    strategy = Trader(lots=300)
    books = _books([(0, 1000, 1001), (3 * S, 800, 801)])
    marks = _marks([(S, 100.05), (2 * S, 80.0)])
    result = ss.run_backtest([books, marks], strategy, exchange=exchange, **OPTIONS)
    (liquidation,) = [u for u in strategy.account if u.reason is ss.AccountReason.LIQUIDATION]
    assert liquidation.ts_exchange == START + 2 * S
    assert liquidation.positions[0].lots == 0 and liquidation.account.bankrupt
    (closing,) = [u for u in strategy.orders if u.is_liquidation]
    assert closing.status is ss.OrderStatus.FILLED and closing.filled_qty == 300
    assert result.exchange["liquidation_fills"] == 1
    assert "liquidations: 1" in result.summary()
    write_artifacts(result, tmp_path / "out")
    text = render_report(tmp_path / "out")
    account = text.split('<section id="account"', 1)[1].split("</section>", 1)[0]
    assert "1 liquidation fill</strong>" in account
    row = account.split("<tbody>", 1)[1]
    assert "2001-09-09 01:46:42.000 UTC" in row  # START + 2 s
    assert ">BTCUSDT<" in row and ">sell<" in row and ">80<" in row and ">0.3<" in row


def test_a_solvent_run_says_the_account_stayed_whole(tmp_path: Path) -> None:
    exchange = ss.SimExchange([BTC], mark_fallback="mid")
    result = ss.run_backtest(
        synthetic.market(SYMBOL, START, n_depth=50, n_trades=10), ss.Strategy(), exchange=exchange
    )
    write_artifacts(result, tmp_path / "out")
    account = render_report(tmp_path / "out").split('<section id="account"', 1)[1]
    assert account.startswith(' class="health">')
    assert "No liquidation; the wallet never went below zero." in account
    assert "liquidations: 0" in result.summary() and "BANKRUPT" not in result.summary()


def test_the_cli_summary_shows_the_bankrupt_state_and_the_liquidations() -> None:
    result, _, _ = _bankrupt_run()
    console = Console(record=True, width=200)
    console.print(summary_table(result, "run"))
    text = console.export_text()
    assert "liquidations: 0" in text
    assert "BANKRUPT at 2001-09-09 01:46:41.000 UTC" in text
    assert "2 later orders rejected (code -9002)" in text


class Canceller(Trader):
    """A :class:`Trader` that also rests a far sell at the start and cancels it once it
    has sold."""

    resting: ss.OrderHandle | None = None

    async def on_depth(self, update: ss.DepthUpdate, book: Any) -> None:
        broker = self.ctx.broker
        if self.resting is None:
            self.resting = broker.submit(ss.Order(SYMBOL, ss.SELL, 1, price=2000))
        elif self.sold and self.resting.is_open:
            broker.cancel(self.resting)
        await super().on_depth(update, book)


def test_a_bankrupt_account_can_still_cancel_its_open_orders() -> None:
    exchange = ss.SimExchange([BTC], initial_balance=2.0, leverage=20)
    strategy = Canceller(lots=300, sell_at=900)
    books = _books([(0, 1000, 1001), (S, 900, 901), (2 * S, 900, 901)])
    marks = _marks([(S // 2, 100.05), (3 * S // 2, 100.05)])
    result = ss.run_backtest([books, marks], strategy, exchange=exchange, **OPTIONS)
    assert result.exchange["bankrupt"] and result.exchange["bankrupt_rejected"] == 1
    assert strategy.resting is not None
    assert strategy.resting.status is ss.OrderStatus.CANCELED
    assert result.exchange["open_orders"] == 0


def test_a_bankrupt_account_has_its_orders_cancelled_and_may_still_reduce() -> None:
    btc = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001")
    eth = ss.Instrument("ETHUSDT", tick_size="0.01", lot_size="0.001")
    exchange = ss.SimExchange(
        [btc, eth], sequencing=None, initial_balance=1000.0, fees=ss.Fees(0.0, 0.0)
    )
    venue = Venue()
    exchange.bind(venue)

    def book(symbol: str, bid: int, ask: int) -> DepthUpdate:
        levels = book_levels([(bid, 100)], [(ask, 100)])
        return DepthUpdate(symbol, 0, None, 0, -1, -1, -1, True, levels, 0)

    def mark(symbol: str, price: float, t: int, rate: float, next_funding: int) -> ss.MarkPrice:
        return ss.MarkPrice(symbol, t, None, t, price, price, price, rate, next_funding)

    def feed(*events: object) -> None:
        start = 0
        while start < len(events):
            venue.t = events[start].ts_exchange  # type: ignore[attr-defined]
            start = exchange.on_market(list(events), start, len(events))

    def send(symbol: str, side: int, qty: int, price: int | None = None, **kw: object) -> str:
        cid = f"o{len(venue.updates)}"
        kind = OrderType.LIMIT if price is not None else OrderType.MARKET
        order = ss.Order(symbol, side, qty, price, type=kind, client_id=cid, **kw)  # type: ignore[arg-type]
        exchange.on_order(OrderRequest("new", cid, order, venue.t))
        return cid

    feed(book("BTCUSDT", 600000, 600001), book("ETHUSDT", 300000, 300001))
    feed(mark("BTCUSDT", 60000.0, 0, 0.2, 10), mark("ETHUSDT", 3000.0, 0, 0.0, 10**18))
    send("BTCUSDT", ss.BUY, 100)  # 0.1 BTC, 6,000 USDT: a 20 % funding is 1,200 > 1,000
    bid = send("ETHUSDT", ss.BUY, 100, 290000)
    feed(mark("BTCUSDT", 60000.0, 20, 0.2, 10**18))
    assert exchange.bankruptcy.bankrupt and exchange.portfolio.wallet < 0
    last = [u for u in venue.updates if u.client_id == bid][-1]
    assert last.status is ss.OrderStatus.CANCELED and last.reason == "bankrupt"
    rejected = send("ETHUSDT", ss.BUY, 1, 290000)
    assert [u for u in venue.updates if u.client_id == rejected][-1].code == -9002
    # The funding mark also liquidated the BTC long; a reduce-only order passes the
    # bankrupt check and meets the venue's own (-2022: nothing left to reduce).
    assert exchange.portfolio.position("BTCUSDT").lots == 0
    close = send("BTCUSDT", ss.SELL, 100, reduce_only=True)
    assert [u for u in venue.updates if u.client_id == close][-1].code == -2022
