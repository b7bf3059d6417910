"""Read a RunResult: the summary, data quality, the exchange's report and the metrics.

python examples/read_results.py
"""

from __future__ import annotations

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, sample_sources
from strategies import MarketMaker


def main() -> None:
    exchange = ss.SimExchange([SAMPLE_INSTRUMENT], initial_balance=10_000.0)
    result = ss.run_backtest(
        sample_sources(),
        MarketMaker(SAMPLE_INSTRUMENT.symbol, 5, half_spread=0.5, max_position=20),
        exchange=exchange,
        feed={"open_interest": ss.open_interest_preset(), "*": ss.Recorded()},
        latency=ss.ConstantLatency(10 * ss.MS),
    )

    print("== summary")
    print(result.summary())

    print("== data quality")
    quality = result.quality
    for name, stream in sorted(quality.streams.items()):
        print(f"{name}: rows {stream.rows:,}, delivered {stream.delivered:,}", end=", ")
        print(f"model {stream.feed_model}")
    print(f"strategy-side books: {quality.books}")
    print(f"undelivered at end: {quality.undelivered_at_end}, notes: {len(quality.notes)}")

    print("== exchange report")
    report = result.exchange
    for key in ("fills", "maker_fills", "taker_fills", "wallet", "equity", "positions"):
        print(f"{key}: {report[key]}")
    print("ledger:", {reason: round(amount, 4) for reason, amount in report["ledger"].items()})
    ledger_total = sum(entry.amount for entry in exchange.portfolio.ledger)
    print(f"ledger sums to wallet: {abs(ledger_total - report['wallet']) < 0.005}")

    print("== metrics")
    metrics = result.metrics
    for key in ("total_return", "max_drawdown", "sharpe", "fills", "round_trips", "fees"):
        print(f"{key}: {metrics.get(key)}")


if __name__ == "__main__":
    main()
