"""``streamsim compile``: raw data (sample, CryptoHFTData or a config's ``[data]``) into an
event store."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from adapters.cli.config import OK, CliError
from adapters.cli.data import plan_data
from adapters.store import compile_store
from streamsim.config import DataConfig, RunConfig


def cmd_compile(args: argparse.Namespace, console: Console) -> int:
    """Compile sample, CryptoHFTData or a config's ``[data]`` into an event store."""
    data: dict[str, Any]
    base = Path()
    if args.data == "sample":
        data = {"adapter": "sample"}
    elif args.data.endswith(".toml"):
        data, base = _data_section(Path(args.data)), Path(args.data).resolve().parent
    else:
        data = {"adapter": "cryptohftdata", "root": args.data, "exchange": args.exchange}
    for key, value in (("symbols", args.symbol), ("kinds", args.kinds)):
        if value:
            data[key] = value.split(",") if isinstance(value, str) else value
    for key in ("start", "end"):
        if getattr(args, key):
            data[key] = getattr(args, key)
    config = _data_config(data)
    if config.adapter == "store":
        raise CliError("compile reads raw data; data.adapter 'store' is already compiled")
    plan = plan_data(config, base)
    manifest = compile_store(
        plan.sources,
        args.out,
        inputs=plan.inputs,
        instruments={i.symbol: i for i in plan.instruments},
        overwrite=args.overwrite,
        end=None if config.end is None else int(config.end),
    )
    table = Table(title=f"compiled store {args.out}")
    for column in ("stream", "rows"):
        table.add_column(column)
    for stream in manifest.streams:
        table.add_row(stream.name, f"{stream.rows:,}")
    console.print(table)
    return OK


def _data_config(data: dict[str, Any]) -> DataConfig:
    """A ``[data]`` table checked as the run config checks it (errors name ``data.key``)."""
    return RunConfig.from_dict({"data": data, "strategy": {"class": "unused:Strategy"}}).data


def _data_section(path: Path) -> dict[str, Any]:
    """The ``[data]`` table of a config file (the rest is not checked)."""
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CliError(f"cannot read {path}: {error}") from error
    data = config.get("data", {})
    if not isinstance(data, dict):
        raise CliError(f"{path}: [data] must be a table")
    return data
