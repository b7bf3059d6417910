"""Paper live: the quickstart's strategy, unchanged, on the wall clock.

The same class that ``quickstart.py`` backtests runs here on the live runtime: real
event-loop tasks, the wall clock (sped up by ``--speed``), the bundled sample released
as if it arrived now, and the simulated exchange with the same order latency. Ctrl-C
stops it cleanly: it prints and writes the results so far and exits with code 130.

    python examples/paper_live.py --speed 20 --out runs/paper-live
"""

from __future__ import annotations

import argparse
import logging
import sys

from quickstart import Quickstart

import streamsim as ss
from adapters.binance import SAMPLE_INSTRUMENT, sample_sources
from streamsim.results.artifacts import check_out_dir, write_artifacts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=20.0, help="clock speed (1 = real time)")
    parser.add_argument("--out", default="runs/paper-live", help="artifacts directory")
    parser.add_argument("--force", action="store_true", help="replace an earlier run's --out")
    args = parser.parse_args()
    check_out_dir(args.out, force=args.force)  # refuse before the run, not after it
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    strategy = Quickstart()
    logging.info("paper live at %gx; Ctrl-C stops it with the results so far", args.speed)
    result = ss.run_paper_live(
        sample_sources(),
        strategy,
        exchange=ss.SimExchange([SAMPLE_INSTRUMENT], initial_balance=10_000.0),
        feed={"open_interest": ss.open_interest_preset(), "*": ss.Recorded()},
        latency=ss.LognormalLatency(entry_median=20 * ss.MS, floor=5 * ss.MS, seed=7),
        speed=args.speed,
    )
    print(result.summary())
    print(f"orders: {result.orders_submitted}, fills: {len(result.record.fills)}")
    paths = write_artifacts(result, args.out, config={"speed": args.speed}, force=args.force)
    print(f"artifacts: {paths['manifest.json'].parent}")
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
