"""Paper replay: the first 20 s of the bundled sample at 10x wall clock.

The same strategy and exchange as a backtest, but ``PacedClock(speed=10)`` releases each
simulated action at wall clock x 10, so 20 simulated seconds take about 2 real ones.
``end=`` (int ns) cuts the run.

    python examples/paper_replay.py
"""

from __future__ import annotations

import time

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, SAMPLE_START, sample_sources
from strategies import MarketMaker

SPEED = 10
SPAN = 20 * ss.SECOND


def main() -> None:
    strategy = MarketMaker(SAMPLE_INSTRUMENT.symbol, 5, half_spread=0.5, max_position=20)
    wall = time.perf_counter()
    result = ss.run_backtest(
        sample_sources(("depth", "trades", "mark_price")),
        strategy,
        exchange=ss.SimExchange([SAMPLE_INSTRUMENT]),
        clock=ss.PacedClock(speed=SPEED),
        end=SAMPLE_START + SPAN,
        latency=ss.ConstantLatency(10 * ss.MS),
    )
    wall = time.perf_counter() - wall
    simulated = (result.end_time - result.start_time) / ss.SECOND
    print(result.summary())
    print(f"paced replay: {simulated:.1f} simulated s in {wall:.1f} wall s (speed {SPEED}x)")
    venue = result.exchange
    print(
        f"orders: {result.orders_submitted}, fills: {venue['fills']} "
        f"({venue['maker_fills']} maker), position: {strategy.position} lots, "
        f"equity: {venue['equity']:,.2f} USDT"
    )


if __name__ == "__main__":
    main()
