"""``streamsim venue``: serve recorded data as a loopback Binance USD-M venue.

The data comes from a config's ``[data]`` section (``--config RUN.toml``) or from
``--data`` as ``streamsim compile`` takes it; the venue prints its URLs and runs until the
data ends or Ctrl-C. See ``docs/venue.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

import streamsim as ss
from adapters.binance.venue import LoopbackVenue, parse_speed
from adapters.binance.venue.faults import parse_fault
from adapters.binance.wire import Credentials, Secret
from adapters.cli.compile import _data_config, _data_section
from adapters.cli.config import INTERRUPTED, OK, CliError, stage
from adapters.cli.data import plan_data
from streamsim.units import parse_duration


def add_venue_parser(sub: Any) -> None:
    """Register ``streamsim venue`` on the CLI's subparsers."""
    venue = sub.add_parser("venue", help="serve recorded data as a loopback Binance USD-M venue")
    source = venue.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="a run config .toml (its [data] section)")
    source.add_argument("--data", help="'sample', a CryptoHFTData root, or a config .toml")
    venue.add_argument("--symbol", help="symbols, comma-separated")
    venue.add_argument("--kinds", help="kinds, comma-separated")
    venue.add_argument("--start", help="ISO-8601 UTC, inclusive")
    venue.add_argument("--end", help="ISO-8601 UTC, inclusive")
    venue.add_argument("--exchange", default="binance_futures")
    venue.add_argument(
        "--speed", default="1", help="replay speed: wall clock x N, or 'max' (default 1)"
    )
    venue.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    venue.add_argument("--port", type=int, default=0, help="port (default: an ephemeral one)")
    venue.add_argument(
        "--allow-remote", action="store_true", help="allow a bind address beyond loopback"
    )
    venue.add_argument(
        "--start-on",
        choices=("subscribe", "now"),
        default="subscribe",
        help="start the replay at the first subscription (default) or at once",
    )
    venue.add_argument(
        "--trade",
        action="store_true",
        help=f"also trade: signed order endpoints and the user stream for the API key in "
        f"${KEY_ENV} (its HMAC secret in ${SECRET_ENV}), orders matched by SimExchange",
    )
    venue.add_argument(
        "--lockstep",
        action="store_true",
        help="the venue is the time authority: replay as lockstep clients report progress",
    )
    venue.add_argument(
        "--min-entry-latency",
        default="0ms",
        help="lockstep: the order entry latency (constant), e.g. 5ms (default 0ms)",
    )
    venue.add_argument(
        "--fault",
        action="append",
        default=[],
        help="a fault, e.g. 'drop at=2024-08-08T23:56:00Z' or "
        "'503 placed=no request=POST/fapi/v1/order#2' (repeatable; docs/venue.md lists them)",
    )
    venue.set_defaults(handler=cmd_venue)


#: Environment variables of the venue's API key and HMAC secret (never printed).
KEY_ENV = "STREAMSIM_VENUE_API_KEY"
SECRET_ENV = "STREAMSIM_VENUE_API_SECRET"


def _credentials() -> Credentials:
    key, secret = os.environ.get(KEY_ENV), os.environ.get(SECRET_ENV)
    if not key or not secret:
        raise CliError(
            f"--trade needs the venue's API key in ${KEY_ENV} and its HMAC secret in "
            f"${SECRET_ENV} (any values you choose; your client signs with the same)"
        )
    return Credentials(key, Secret(secret))


def _data(args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """The ``[data]`` table the flags describe, and the directory its paths start from."""
    path = args.config or (args.data if args.data.endswith(".toml") else None)
    if path is not None:
        return _data_section(Path(path)), Path(path).resolve().parent
    if args.data == "sample":
        data: dict[str, Any] = {"adapter": "sample"}
    else:
        data = {"adapter": "cryptohftdata", "root": args.data, "exchange": args.exchange}
    return data, Path()


def cmd_venue(args: argparse.Namespace, console: Console) -> int:
    """Start the venue over the data, print its URLs, serve until the data ends."""
    data, base = _data(args)
    for key, value in (("symbols", args.symbol), ("kinds", args.kinds)):
        if value:
            data[key] = value.split(",")
    for key in ("start", "end"):
        if getattr(args, key):
            data[key] = getattr(args, key)
    config = _data_config(data)
    speed = parse_speed(args.speed)
    faults = [parse_fault(text) for text in args.fault]
    try:
        latency = parse_duration(args.min_entry_latency)
    except ValueError as error:
        raise CliError(f"--min-entry-latency: {error}") from None
    keys = [_credentials()] if args.trade else []
    with stage("opening the data"):
        plan = plan_data(config, base)
    exchange = ss.SimExchange(plan.instruments, mark_fallback="mid") if args.trade else None
    venue = LoopbackVenue(
        plan.sources,
        plan.instruments,
        speed=speed,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
        start_on=args.start_on,
        lockstep=args.lockstep,
        min_entry_latency=latency,
        exchange=exchange,
        keys=keys,
    )
    for when, request, fault in faults:
        if request is not None:
            method, path, nth = request
            venue.faults.on_request(method, path, fault, nth)  # type: ignore[arg-type]
        else:
            assert when is not None
            venue.faults.at(when, fault)
    try:
        asyncio.run(_serve(venue, console, plan.symbols))
    except KeyboardInterrupt:
        console.print("[yellow]stopped by Ctrl-C")
        return INTERRUPTED
    return OK


async def _serve(venue: LoopbackVenue, console: Console, symbols: list[str]) -> None:
    async with venue:
        symbol = (symbols[0] if symbols else "btcusdt").lower()
        speed = venue.config.speed
        pace = f"{speed:g}x" if isinstance(speed, float | int) else "max"
        if venue.progress is not None:
            pace = "the lockstep clients' pace"
        console.print(f"loopback Binance USD-M venue at {pace}, Ctrl-C stops it")
        console.print(f"  REST    {escape(venue.rest_url)}/fapi/v1/depth?symbol={symbol.upper()}")
        public = venue.ws_url("public", [f"{symbol}@depth@100ms", f"{symbol}@bookTicker"])
        market = venue.ws_url("market", [f"{symbol}@aggTrade", f"{symbol}@markPrice@1s"])
        console.print(f"  public  {escape(public)}")
        console.print(f"  market  {escape(market)}")
        if venue.trading is not None:
            private = f"ws://127.0.0.1:{venue.port}{venue.config.private_route}/ws"
            console.print(f"  trading {escape(venue.rest_url)}/fapi/v1/order (key from ${KEY_ENV})")
            console.print(f"  user    {escape(private)}?listenKey=<POST /fapi/v1/listenKey>")
        if venue.progress is not None:
            console.print("lockstep: the replay waits for the clients' progress (docs/venue.md)")
        if venue.config.start_on == "subscribe":
            console.print("the replay starts when a client subscribes")
        await venue.wait_done()
        replay = venue.replay
        console.print(
            f"the data ended: {replay.rows:,} rows replayed, {replay.frames:,} frames sent"
        )
