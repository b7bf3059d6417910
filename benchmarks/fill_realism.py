"""Fill realism: stop and taker fills on liquidity a trade had already printed through.

Runs the stop-entry breakout (``strategies.StopBreakout``: a buy and a sell stop around
the last trade, market exit after a hold) over the bundled sample and a real Binance
USD-M capture, with trade depletion on and off, and prints per run how many stop fills
and other taker fills took a level a trade had printed through since the symbol's last
depth message (``SimExchange.report()["fill_audit"]``), and where the stops filled
against their stop price. The last line sums the on / off figures.

    python benchmarks/fill_realism.py
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, capture_sources, sample_sources
from strategies import StopBreakout

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001")
DATASETS: dict[str, tuple[Callable[[], list[Any]], ss.Instrument]] = {
    "sample (2023-04-04 BTCUSDT, 8.6 min)": (sample_sources, SAMPLE_INSTRUMENT),
    "binance-usdm-capture btcusdt_20240808 (5.7 min)": (
        lambda: capture_sources(
            [DATA / "binance-usdm-capture" / "btcusdt_20240808.gz"], {"BTCUSDT": BTC}
        ),
        BTC,
    ),
}


def run(sources: list[Any], instrument: ss.Instrument, trade_depletion: bool) -> dict[str, Any]:
    """The venue's report of one breakout run, and the stops' slippage in ticks."""
    exchange = ss.SimExchange(  # mark_fallback: the 2024 capture has no mark price stream
        [instrument],
        initial_balance=1_000_000.0,
        trade_depletion=trade_depletion,
        mark_fallback="mid",
    )
    strategy = StopBreakout(instrument.symbol, distance=20, lots=5, hold=2 * ss.SECOND)
    result = ss.run_backtest(
        sources,
        strategy,
        exchange=exchange,
        latency=ss.LognormalLatency(entry_median=20 * ss.MS, floor=5 * ss.MS, seed=7),
    )
    report = dict(result.exchange)
    slips = []
    for record in exchange.record.fills:
        stop = strategy.stop_prices.get(record.client_id)
        if stop is None or record.fill.price_ticks is None:
            continue
        slips.append((record.fill.price_ticks - stop) * record.fill.side)
    report["stop_slippage_ticks"] = slips
    return report


def main() -> None:
    totals = {True: [0, 0, 0, 0], False: [0, 0, 0, 0]}
    for name, (make, instrument) in DATASETS.items():
        for depletion in (False, True):
            report = run(make(), instrument, depletion)
            audit = report["fill_audit"]
            slips = report["stop_slippage_ticks"]
            better = sum(1 for s in slips if s < 0)
            print(
                f"{name}, trade depletion {'on ' if depletion else 'off'}: "
                f"stop fills on printed-through levels {audit['stop_fills_printed_through']} "
                f"of {audit['stop_fills']}, other taker fills "
                f"{audit['taker_fills_printed_through']} of {audit['taker_fills']}; "
                f"stop fills better than the stop price: {better} of {len(slips)}"
                f"{f' (by up to {-min(slips)} ticks)' if better else ''}"
            )
            row = totals[depletion]
            row[0] += audit["stop_fills_printed_through"]
            row[1] += audit["stop_fills"]
            row[2] += audit["taker_fills_printed_through"]
            row[3] += audit["taker_fills"]
    on, off = totals[True], totals[False]
    print(
        f"printed-through fills, trade depletion on: stops {on[0]}/{on[1]}, takers "
        f"{on[2]}/{on[3]}; off: stops {off[0]}/{off[1]}, takers {off[2]}/{off[3]}"
    )


if __name__ == "__main__":
    main()
