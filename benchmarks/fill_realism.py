"""Fill realism: stop and taker fills on liquidity a trade had already printed through.

Runs the stop-entry breakout (``strategies.StopBreakout``: a buy and a sell stop around
the last trade, market exit after a hold) and a sweep chaser (a market order after each
large trade, in its direction) over the bundled sample and the real Binance
USD-M captures, with trade depletion on and off, and prints per run how many stop fills
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
from strategies import StopBreakout, SweepChaser, Tracked

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BTC = ss.Instrument("BTCUSDT", tick_size="0.1", lot_size="0.001")
DATASETS: dict[str, tuple[Callable[[], list[Any]], ss.Instrument]] = {
    "sample (2023-04-04 BTCUSDT, 8.6 min)": (sample_sources, SAMPLE_INSTRUMENT),
    "binance-usdm-capture btcusdt_20230404-05 (8.6 min, raw)": (
        lambda: capture_sources(
            [
                DATA / "binance-usdm-capture" / "btcusdt_20230404.dat.gz",
                DATA / "binance-usdm-capture" / "btcusdt_20230405.dat.gz",
            ],
            {"BTCUSDT": BTC},
        ),
        BTC,
    ),
    "binance-usdm-capture btcusdt_20240808 (5.7 min)": (
        lambda: capture_sources(
            [DATA / "binance-usdm-capture" / "btcusdt_20240808.gz"], {"BTCUSDT": BTC}
        ),
        BTC,
    ),
}


def run(
    sources: list[Any],
    instrument: ss.Instrument,
    trade_depletion: bool,
    strategy: Tracked | None = None,
) -> dict[str, Any]:
    """The venue's report of one run (the breakout by default), and the stops' slippage in
    ticks."""
    exchange = ss.SimExchange(  # mark_fallback: the 2024 capture has no mark price stream
        [instrument],
        initial_balance=1_000_000.0,
        trade_depletion=trade_depletion,
        mark_fallback="mid",
    )
    if strategy is None:
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
        stop = getattr(strategy, "stop_prices", {}).get(record.client_id)
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
    chased = {True: [0, 0], False: [0, 0]}
    for name, (make, instrument) in DATASETS.items():
        for depletion in (False, True):
            audit = run(make(), instrument, depletion, SweepChaser(instrument.symbol))["fill_audit"]
            print(
                f"{name}, sweep chaser, trade depletion {'on ' if depletion else 'off'}: "
                f"taker fills on printed-through levels {audit['taker_fills_printed_through']} "
                f"of {audit['taker_fills']}"
            )
            chased[depletion][0] += audit["taker_fills_printed_through"]
            chased[depletion][1] += audit["taker_fills"]
    on, off = totals[True], totals[False]
    on[2], on[3] = on[2] + chased[True][0], on[3] + chased[True][1]
    off[2], off[3] = off[2] + chased[False][0], off[3] + chased[False][1]
    print(
        f"printed-through fills, trade depletion on: stops {on[0]}/{on[1]}, takers "
        f"{on[2]}/{on[3]}; off: stops {off[0]}/{off[1]}, takers {off[2]}/{off[3]}"
    )


if __name__ == "__main__":
    main()
