"""``streamsim run``: a TOML-configured run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

import streamsim as ss
from adapters.cli.config import OK, load_config
from adapters.cli.data import plan_data
from adapters.cli.outputs import _write_outputs
from adapters.cli.progress import run_with_progress, summary_table
from adapters.cli.strategy import build_strategy, load_strategy_class


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """A TOML-configured run."""
    path = Path(args.config)
    overrides = list(args.set or [])
    if args.mode is not None:
        overrides.append(f'run.mode="{args.mode}"')
    if args.speed is not None:
        overrides.append(f"run.speed={args.speed}")
    config = load_config(path, overrides)
    base = path.resolve().parent
    cls = load_strategy_class(config["strategy"]["class"], base)
    plan = plan_data(config.get("data", {}), base)
    broker = config.get("broker", {})
    run = config.get("run", {})
    seed = run.get("seed")
    strategy = build_strategy(
        cls, config["strategy"].get("params", {}), plan.symbols[0] if plan.symbols else None, seed
    )
    default_fees = ss.Fees()
    exchange = ss.SimExchange(
        plan.instruments,
        fees=ss.Fees(
            maker=float(broker.get("maker_fee", default_fees.maker)),
            taker=float(broker.get("taker_fee", default_fees.taker)),
        ),
        initial_balance=float(broker.get("initial_balance", 10_000.0)),
        leverage=broker.get("leverage", 20),
    )
    options: dict[str, Any] = {
        "exchange": exchange,
        "latency": ss.ConstantLatency(round(broker.get("latency_ms", 0) * ss.MS)),
    }
    if run.get("mode", "backtest") == "paper-replay":
        options["clock"] = ss.PacedClock(float(run.get("speed", 1.0)))
    result = run_with_progress(console, plan.sources, strategy, plan.until, **options)
    console.print(summary_table(result, f"streamsim run: {path.name}"))
    out = Path(args.out) if args.out else Path("runs") / path.stem
    _write_outputs(console, result, out, config, seed, plan.inputs)
    return OK
