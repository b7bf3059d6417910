"""One strategy, every world: the same class under the kernel and on the live runtime."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import orjson
import pytest

import streamsim as ss
from streamsim.feed import synthetic
from streamsim.sim.broker import SimBroker

SYMBOL = "BTCUSDT"
BTC = ss.Instrument(SYMBOL, tick_size="0.1", lot_size="0.001", min_notional="0.05")
START = 1_700_000_000 * ss.SECOND
#: Events every 300 ms (depth on even steps, trades on odd ones); order latency 20 ms
#: each way, so every exchange between the worlds ends well before the next event.
GAP = 300 * ss.MS
LATENCY = 20 * ss.MS
SPEED = 2.0  # events 150 ms of wall time apart: room for a loaded machine
ONE = np.ones(1)
ROOT = Path(__file__).resolve().parent.parent
#: Seconds the interrupted example may take to write its artifacts after it stopped.
WRITE_ALLOWANCE = 2.0


class Roundabout(ss.Strategy):
    """Takes and makes liquidity, awaits its orders, sleeps, spawns a quoting task, reads
    its position and open orders and reacts to account updates."""

    name = "roundabout"

    def __init__(self) -> None:
        self.trades = 0
        self.positions: list[int] = []
        self.account: list[tuple[str, int]] = []
        self.open_seen: list[int] = []
        self.quotes: list[ss.OrderStatus] = []

    async def on_start(self, ctx: ss.Context) -> None:
        self.ctx = ctx
        self.quoter = ctx.spawn(self.quote(ctx.now()), "quoter")

    async def quote(self, start: int) -> None:
        """Every 900 ms, between two events: one limit buy inside the spread, cancelled if
        it has not filled by the next round."""
        ctx = self.ctx
        for k in range(1, 8):
            await ctx.sleep_until(start + k * 900 * ss.MS + 75 * ss.MS)
            for stale in ctx.broker.cancel_all(SYMBOL):
                self.quotes.append(stale.status)
            book = ctx.books[SYMBOL]
            bid, ask = book.best_bid, book.best_ask
            if bid is None or ask is None or ask - bid < 2:
                continue
            handle = ctx.broker.submit(ss.Order(SYMBOL, ss.BUY, 2, price=bid + 1))
            await handle.acked()
            self.open_seen.append(len(ctx.broker.open_orders(SYMBOL)))

    async def on_trade(self, trade: ss.Trade) -> None:
        self.trades += 1
        if self.trades % 4:
            return
        side = ss.SELL if self.positions and self.positions[-1] > 0 else ss.BUY
        handle = self.ctx.broker.submit(ss.Order(SYMBOL, side, 3, type=ss.OrderType.MARKET))
        await handle.done()
        self.positions.append(self.ctx.broker.position(SYMBOL).lots)
        await self.ctx.sleep(20 * ss.MS)

    async def on_account_update(self, update: ss.AccountUpdate) -> None:
        self.account.append((update.reason.value, self.ctx.broker.position(SYMBOL).lots))


def _market() -> list[ss.MemorySource]:
    return synthetic.spaced_market(SYMBOL, START, 40, gap=GAP, seed=3)


def _options() -> dict[str, Any]:
    return {
        "exchange": ss.SimExchange([BTC], initial_balance=1_000_000.0, mark_fallback="mid"),
        "latency": ss.ConstantLatency(LATENCY),
        "feed": ss.Constant(0),
    }


def _trail(result: ss.RunResult) -> dict[str, list[Any]]:
    record = result.record
    return {
        "orders": [
            (o.strategy, o.handle.order.side, o.handle.order.price, o.handle.order.qty)
            for o in record.orders
        ],
        "statuses": [o.handle.status for o in record.orders],
        "fills": [
            (f.fill.side, f.fill.price_ticks, f.fill.lots, f.liquidity) for f in record.fills
        ],
        "account": [u.reason for u in record.account_updates],
    }


def test_one_strategy_gives_the_same_orders_and_fills_in_backtest_and_paper_live() -> None:
    simulated, live = Roundabout(), Roundabout()
    backtest = ss.run_backtest(_market(), simulated, **_options())
    paper = ss.run_paper_live(_market(), live, speed=SPEED, **_options())
    expected = _trail(backtest)
    assert len(expected["orders"]) >= 12
    liquidity = {f[3] for f in expected["fills"]}
    assert liquidity == {"maker", "taker"}, liquidity
    assert _trail(paper) == expected
    assert live.positions == simulated.positions and len(simulated.positions) >= 8
    assert live.account == simulated.account and simulated.account
    assert live.open_seen == simulated.open_seen and simulated.open_seen
    assert live.quotes == simulated.quotes
    assert paper.events == backtest.events
    assert paper.metrics["fills"] == backtest.metrics["fills"]


def test_the_same_strategy_runs_from_a_plain_asyncio_task_group() -> None:
    strategy = Roundabout()

    async def main() -> ss.RunResult:
        async with asyncio.TaskGroup() as group:
            run = group.create_task(
                ss.paper_live(
                    synthetic.spaced_market(SYMBOL, START, 20, gap=GAP, seed=3),
                    strategy,
                    speed=SPEED,
                    **_options(),
                )
            )
        return run.result()

    result = asyncio.run(main())
    assert len(result.record.orders) >= 5 and result.record.fills
    assert strategy.positions and strategy.account and strategy.open_seen


def test_paper_live_delivers_each_event_at_its_arrival_on_the_wall_clock() -> None:
    class Times(ss.Strategy):
        def __init__(self) -> None:
            self.lags: list[int] = []

        async def on_start(self, ctx: ss.Context) -> None:
            self.ctx = ctx

        async def on_trade(self, trade: ss.Trade) -> None:
            assert trade.ts_local >= trade.ts_exchange
            self.lags.append(self.ctx.now() - trade.ts_exchange)

    strategy = Times()
    result = ss.run_paper_live(_market()[1:], strategy, speed=10.0)
    assert len(strategy.lags) == 40
    assert min(strategy.lags) >= 0
    assert result.start_time == START + GAP // 2
    assert result.record.orders == []


def test_a_quiet_stream_does_not_hold_back_the_others() -> None:
    seen: list[str] = []

    class Watch(ss.Strategy):
        async def on_trade(self, trade: ss.Trade) -> None:
            seen.append("trade")

        async def on_open_interest(self, oi: ss.OpenInterest) -> None:
            seen.append("oi")

    trades = synthetic.spaced_market(SYMBOL, START, 10, gap=100 * ss.MS)[1]
    # One open-interest row far after the trades: a backtest would wait for nothing, but
    # a live run must deliver the trades as they come, long before it.
    quiet = ss.MemorySource(
        [ss.OpenInterestBatch(SYMBOL, np.array([START + 60 * ss.SECOND]), None, ONE, ONE)],
        ss.Stream(SYMBOL, "open_interest"),
    )
    result = ss.run_paper_live([trades, quiet], Watch(), speed=100.0, end=START + 2 * ss.SECOND)
    assert seen == ["trade"] * 10
    assert result.events == {f"{SYMBOL}.trades": 10, f"{SYMBOL}.open_interest": 0}


def test_a_failing_strategy_cancels_the_live_run_with_its_context() -> None:
    class Broken(ss.Strategy):
        name = "broken"

        async def on_trade(self, trade: ss.Trade) -> None:
            raise ValueError("boom")

    with pytest.raises(ss.StrategyError, match=r"broken.*on_trade.*boom"):
        ss.run_paper_live(_market()[1:], Broken(), speed=100.0)


def test_timers_fire_on_the_wall_clock() -> None:
    class Ticks(ss.Strategy):
        def __init__(self) -> None:
            self.fired: list[int] = []

        async def on_start(self, ctx: ss.Context) -> None:
            self.start = ctx.now()
            ctx.set_timer("tick", 500 * ss.MS)

        async def on_timer(self, name: str, now: int) -> None:
            self.fired.append(now - self.start)

    strategy = Ticks()
    ss.run_paper_live(_market()[1:], strategy, speed=10.0, end=START + 2_400 * ss.MS)
    fired = strategy.fired
    assert len(fired) >= 4 and 500 * ss.MS <= fired[0] < 600 * ss.MS
    assert [b - a for a, b in itertools.pairwise(fired)] == [500 * ss.MS] * (len(fired) - 1)


def test_a_backtest_on_the_wall_clock_is_a_config_error_pointing_to_paper_live() -> None:
    with pytest.raises(ss.ConfigError, match="run_paper_live"):
        ss.run_backtest(_market(), ss.Strategy(), clock=ss.WallClock())  # type: ignore[arg-type]


def test_ctrl_c_stops_paper_live_within_a_second_with_the_results_so_far(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    example = str(ROOT / "examples" / "paper_live.py")
    process = subprocess.Popen(
        [sys.executable, example, "--speed", "2", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    assert "Ctrl-C stops it" in process.stderr.readline()  # started
    time.sleep(3.0)  # trading on the wall clock
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    stopped = time.monotonic() - sent
    assert process.returncode == 130, stderr
    assert stopped < 1.0 + WRITE_ALLOWANCE, stopped
    assert "SIGINT: stopping the run" in stderr
    assert "the run was interrupted" in stdout
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["run"]["end_time"] - manifest["run"]["start_time"] < 20 * ss.SECOND
    assert (out / "fills.parquet").exists() and (out / "equity.parquet").exists()


def test_a_failing_source_cancels_the_live_run_naming_the_stream() -> None:
    class Broken:
        stream = ss.Stream(SYMBOL, "trades")

        async def __aiter__(self) -> Any:
            async for batch in _market()[1]:
                yield batch
            raise OSError("connection reset")

    with pytest.raises(ss.SourceError, match=r"BTCUSDT\.trades.*connection reset"):
        ss.run_paper_live([Broken(), _market()[0]], ss.Strategy(), speed=100.0)


def test_a_live_run_starts_and_delivers_before_a_quiet_source_sends_anything() -> None:
    class Silent:
        stream = ss.Stream(SYMBOL, "open_interest")

        async def __aiter__(self) -> Any:
            await anyio.sleep(3600)  # open interest, polled every few minutes
            yield  # pragma: no cover

    class Count(ss.Strategy):
        def __init__(self) -> None:
            self.trades = 0
            self.started = False

        async def on_start(self, ctx: ss.Context) -> None:
            self.started = True

        async def on_trade(self, trade: ss.Trade) -> None:
            assert self.started
            self.trades += 1
            if self.trades == 40:
                runtime.stop()

    clock = ss.WallClock()
    strategy = Count()
    broker = SimBroker(clock, ss.NullExchange(), ss.ConstantLatency(0), ss.RunRecord())
    runtime = ss.LiveRuntime(clock, [_market()[1], Silent()], [strategy], broker)

    async def main() -> None:
        with anyio.fail_after(10):
            await runtime.run()

    anyio.run(main)
    assert strategy.trades == 40
    assert runtime.delivered == [40, 0]


def test_paper_live_stops_at_end_like_the_backtest_even_with_a_late_arrival_pending() -> None:
    from adapters.binance import sample_sources

    start, end = 1_680_652_740 * ss.SECOND, 1_680_652_800 * ss.SECOND  # 23:59 to 00:00
    kinds = ["trades", "open_interest"]  # the 00:00 bucket is received 38.8 s after it

    class Count(ss.Strategy):
        uses_books = False

    backtest = ss.run_backtest(sample_sources(kinds, start, end), Count(), end=end)
    live = ss.run_paper_live(sample_sources(kinds, start, end), Count(), speed=200.0, end=end)
    assert live.events == backtest.events
    assert live.events["BTCUSDT.open_interest"] == 0
    assert live.end_time == backtest.end_time == end


def test_equity_samples_never_go_back_when_a_live_venue_sees_a_late_event() -> None:
    from streamsim.results.metrics import from_record
    from streamsim.results.record import RunRecord

    record = RunRecord()
    for ts, equity in ((1_000, 10.0), (2_009, 10.5), (2_000, 10.2), (3_000, 10.1)):
        record.sample_equity(START + ts * ss.MS, equity)
    assert record.equity_times == sorted(record.equity_times) and record.late_samples == 1
    assert from_record(record)["equity_end"] == 10.1  # metrics compute (they raised before)
