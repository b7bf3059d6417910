"""``streamsim demo``: the bundled sample through the reference market maker."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

import streamsim as ss
from adapters.cli.config import OK
from adapters.cli.data import plan_data
from adapters.cli.outputs import _write_outputs
from adapters.cli.progress import run_with_progress, summary_table
from strategies import MarketMaker


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """The bundled sample through the reference market maker and SimExchange."""
    plan = plan_data({"adapter": "sample"})
    exchange = ss.SimExchange(plan.instruments, initial_balance=10_000.0)
    strategy = MarketMaker(plan.symbols[0])
    result = run_with_progress(
        console,
        plan.sources,
        strategy,
        plan.until,
        exchange=exchange,
        latency=ss.ConstantLatency(20 * ss.MS),
    )
    console.print(summary_table(result, "streamsim demo: MarketMaker on the bundled sample"))
    config = {
        "data": {"adapter": "sample"},
        "strategy": {"class": "strategies.market_maker:MarketMaker", "params": {}},
        "broker": {"latency_ms": 20, "initial_balance": 10_000.0},
        "run": {"mode": "backtest"},
    }
    _write_outputs(console, result, Path(args.out), config, None, plan.inputs)
    return OK
