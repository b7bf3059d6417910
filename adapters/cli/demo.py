"""``streamsim demo``: the bundled sample through the reference market maker."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

import streamsim as ss
from adapters.cli.config import OK
from adapters.cli.data import plan_data
from adapters.cli.outputs import _write_outputs, check_out
from adapters.cli.progress import run_with_progress, summary_table
from strategies import MarketMaker
from streamsim.config import ConstantLatencyModel, Nanos, RunConfig, StrategyConfig

#: The demo's run, as a config: its manifest replays with ``streamsim run``.
DEMO = RunConfig(
    strategy=StrategyConfig(cls="strategies.market_maker:MarketMaker"),
    latency=ConstantLatencyModel(entry=Nanos(20 * ss.MS)),
)


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """The bundled sample through the reference market maker and SimExchange."""
    plan = plan_data(DEMO.data)
    check_out(Path(args.out), args.force, plan.inputs)
    strategy = MarketMaker(plan.symbols[0])
    result = run_with_progress(
        console, plan.sources, strategy, plan.until, **DEMO.run_options(plan.instruments)
    )
    console.print(summary_table(result, "streamsim demo: MarketMaker on the bundled sample"))
    _write_outputs(
        console, result, Path(args.out), DEMO.to_dict(), None, plan.inputs, force=args.force
    )
    return OK
