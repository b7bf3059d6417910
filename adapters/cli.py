"""The ``streamsim`` command line: ``demo``, ``run``, ``compile`` and ``validate``.

``main(argv)`` parses ``argv`` (default ``sys.argv[1:]``), runs one command and returns
its exit code: 0 success, 1 problems found (``validate``) or a failed run, 2 a usage or
configuration error. All output goes through a :class:`rich.console.Console`; a progress
line (events/s, simulated time) is shown only when stdout is a terminal. See
``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

import streamsim as ss
from adapters.binance.sample import (
    SAMPLE_END,
    SAMPLE_EXCHANGE,
    SAMPLE_INSTRUMENT,
    SAMPLE_START,
    SAMPLE_SYMBOL,
    sample_path,
    sample_sources,
)
from adapters.cryptohftdata import CryptoHFTData, LocalStore, ParquetObject, S3Store, Store
from adapters.cryptohftdata.decode import SPECS
from adapters.store import compile_store, cryptohftdata_inputs, read_manifest, store_sources
from strategies import MarketMaker
from streamsim.errors import ConfigError, StreamsimError
from streamsim.feed.batches import Batch
from streamsim.feed.sources import Source, Stream
from streamsim.orders import OrderHandle
from streamsim.results.artifacts import write_artifacts

#: Exit codes.
OK, PROBLEMS, USAGE = 0, 1, 2

ADAPTERS = ("cryptohftdata", "sample", "store")
MODES = ("backtest", "paper-replay")
DEFAULT_KINDS = ("depth", "trades", "mark_price", "open_interest")

#: Allowed config sections and keys, with the Python types each accepts.
SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "data": {
        "adapter": (str,),
        "root": (str,),
        "exchange": (str,),
        "symbols": (list,),
        "kinds": (list,),
        "start": (str,),
        "end": (str,),
    },
    "strategy": {"class": (str,), "params": (dict,)},
    "broker": {
        "maker_fee": (float, int),
        "taker_fee": (float, int),
        "initial_balance": (float, int),
        "leverage": (int,),
        "latency_ms": (float, int),
    },
    "run": {"mode": (str,), "speed": (float, int), "seed": (int,)},
}
_TYPE_NAMES = {str: "string", list: "array", dict: "table", float: "float", int: "integer"}


class CliError(Exception):
    """A usage or configuration error: printed, exit code 2."""


# --------------------------------------------------------------------------- config


def parse_time(value: str, key: str) -> int:
    """An ISO-8601 time (``Z`` or an offset; naive means UTC) as int ns UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise CliError(f"{key}: not an ISO-8601 time: {value!r}") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * 1_000_000_000 + parsed.microsecond * 1_000


def format_time(ns: int) -> str:
    """Int ns UTC as ISO-8601 with milliseconds."""
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ns % 1_000_000_000 // 1_000_000:03d}Z"


def _type_name(value: Any) -> str:
    return (
        "boolean" if isinstance(value, bool) else _TYPE_NAMES.get(type(value), type(value).__name__)
    )


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` -> (path, value); the value is a TOML scalar, else a string."""
    key, sep, raw = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise CliError(f"--set expects section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as paper-replay
    return path, value


def apply_overrides(config: dict[str, Any], overrides: Sequence[str]) -> None:
    """Apply ``--set`` overrides in place (nested tables are created as needed)."""
    for text in overrides:
        path, value = parse_override(text)
        node = config
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise CliError(f"--set {text}: {part} is not a table")
            node = child
        node[path[-1]] = value


def validate_config(config: Mapping[str, Any]) -> None:
    """Strict check of sections, keys and types; raises :class:`CliError`."""
    for section, body in config.items():
        if section not in SCHEMA:
            raise CliError(f"unknown section [{section}]; allowed sections: {', '.join(SCHEMA)}")
        if not isinstance(body, dict):
            raise CliError(f"[{section}] must be a table, got {_type_name(body)}")
        allowed = SCHEMA[section]
        for key, value in body.items():
            if key not in allowed:
                raise CliError(
                    f"unknown key {section}.{key}; allowed keys in [{section}]: "
                    f"{', '.join(allowed)}"
                )
            kinds = allowed[key]
            if isinstance(value, bool) or not isinstance(value, kinds):
                expected = " or ".join(_TYPE_NAMES[k] for k in kinds)
                raise CliError(
                    f"{section}.{key}: expected {expected}, got {_type_name(value)} ({value!r})"
                )
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                raise CliError(f"{section}.{key}: expected an array of strings, got {value!r}")
    data = config.get("data", {})
    if data.get("adapter", "sample") not in ADAPTERS:
        raise CliError(
            f"data.adapter: expected one of {', '.join(ADAPTERS)}, got {data['adapter']!r}"
        )
    mode = config.get("run", {}).get("mode", "backtest")
    if mode not in MODES:
        raise CliError(f"run.mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if config.get("run", {}).get("speed", 1.0) <= 0:
        raise CliError("run.speed: expected a number > 0")
    if "class" not in config.get("strategy", {}):
        raise CliError('[strategy] needs class = "module:Class" or "path/to/file.py:Class"')


def load_config(path: Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read, override and validate a run config."""
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CliError(f"config file not found: {path}") from error
    except tomllib.TOMLDecodeError as error:
        raise CliError(f"{path}: invalid TOML: {error}") from error
    apply_overrides(config, overrides)
    validate_config(config)
    return config


def _resolve(path: str, base: Path) -> Path:
    """``path`` relative to ``base`` (the config's directory) when it exists there."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute() and (base / candidate).exists():
        return base / candidate
    return candidate


def load_strategy_class(spec: str, base: Path = Path()) -> type[ss.Strategy]:
    """``module:Class`` or ``path/to/file.py:Class`` -> the strategy class."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise CliError(
            f'strategy.class: expected "module:Class" or "path/to/file.py:Class", got {spec!r}'
        )
    if target.endswith(".py") or "/" in target:
        file = _resolve(target, base)
        if not file.is_file():
            raise CliError(f"strategy file not found: {file}")
        module_spec = importlib.util.spec_from_file_location(f"_streamsim_user_{file.stem}", file)
        if module_spec is None or module_spec.loader is None:
            raise CliError(f"cannot import strategy file {file}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as error:
            raise CliError(f"strategy module not found: {target} ({error})") from error
    cls = getattr(module, name, None)
    if cls is None:
        raise CliError(f"strategy class not found: {name} in {target}")
    if not (isinstance(cls, type) and issubclass(cls, ss.Strategy)):
        raise CliError(f"{spec} is not a streamsim.Strategy subclass")
    return cls


def build_strategy(
    cls: type[ss.Strategy], params: Mapping[str, Any], symbol: str | None, seed: int | None
) -> ss.Strategy:
    """``cls(**params)``; ``symbol`` and ``seed`` are filled in when the constructor takes
    them and ``params`` does not set them."""
    kwargs = dict(params)
    try:
        accepted = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        accepted = {}  # type: ignore[assignment]
    if symbol is not None and "symbol" in accepted and "symbol" not in kwargs:
        kwargs["symbol"] = symbol
    if seed is not None and "seed" in accepted and "seed" not in kwargs:
        kwargs["seed"] = seed
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise CliError(f"strategy.params do not fit {cls.__name__}: {error}") from error


# --------------------------------------------------------------------------- data


@dataclass
class DataPlan:
    """Sources of a run with the instruments, input files and symbols behind them."""

    sources: list[Source]
    instruments: list[ss.Instrument]
    inputs: list[Path] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    #: The last simulated time the data can reach (ns), when known: for the progress ETA.
    until: int | None = None


def plan_data(data: Mapping[str, Any], base: Path = Path()) -> DataPlan:
    """Sources for a ``[data]`` section."""
    adapter = data.get("adapter", "sample")
    kinds = list(data.get("kinds", DEFAULT_KINDS))
    start = parse_time(data["start"], "data.start") if "start" in data else None
    end = parse_time(data["end"], "data.end") if "end" in data else None
    if adapter == "sample":
        symbols = list(data.get("symbols", [SAMPLE_SYMBOL]))
        if symbols != [SAMPLE_SYMBOL]:
            raise CliError(f"data.symbols: the sample holds only {SAMPLE_SYMBOL}")
        sources: list[Source] = list(sample_sources(kinds))
        if start is not None or end is not None:
            dataset = CryptoHFTData(
                LocalStore(sample_path()),
                exchange=SAMPLE_EXCHANGE,
                instruments={SAMPLE_SYMBOL: SAMPLE_INSTRUMENT},
            )
            sources = dataset.sources(symbols, kinds, start or SAMPLE_START, end or SAMPLE_END - 1)
        dataset = CryptoHFTData(LocalStore(sample_path()), exchange=SAMPLE_EXCHANGE)
        inputs = cryptohftdata_inputs(dataset, sources)
        return DataPlan(sources, [SAMPLE_INSTRUMENT], inputs, symbols, end or SAMPLE_END)
    if "root" not in data:
        raise CliError(f"data.root is required for adapter {adapter!r}")
    root = _resolve(data["root"], base)
    if not root.is_dir():
        raise CliError(f"data.root: not a directory: {root}")
    if adapter == "store":
        manifest = read_manifest(root)
        symbols = list(data.get("symbols", sorted({s.symbol for s in manifest.streams})))
        store_kinds = list(data["kinds"]) if "kinds" in data else None
        sources = store_sources(root, symbols, store_kinds, start, end)
        return DataPlan(
            sources,
            [manifest.instrument(s) for s in symbols],
            [root / "manifest.json"],
            symbols,
            end,
        )
    if "symbols" not in data or start is None or end is None:
        raise CliError("adapter 'cryptohftdata' needs data.symbols, data.start and data.end")
    symbols = list(data["symbols"])
    dataset = CryptoHFTData(LocalStore(root), exchange=data.get("exchange", "binance_futures"))
    sources = dataset.sources(symbols, kinds, start, end)
    return DataPlan(
        sources,
        [dataset.instrument(s) for s in symbols],
        cryptohftdata_inputs(dataset, sources),
        symbols,
        end,
    )


# --------------------------------------------------------------------------- run helpers


class _RecordingBroker:
    """``ctx.broker`` that also keeps every handle it returns (for ``orders.csv``)."""

    def __init__(self, inner: Any, sink: list[OrderHandle]) -> None:
        self._inner = inner
        self._sink = sink

    def submit(self, order: ss.Order) -> OrderHandle:
        handle: OrderHandle = self._inner.submit(order)
        self._sink.append(handle)
        return handle

    def cancel(self, handle: OrderHandle) -> None:
        self._inner.cancel(handle)

    def amend(
        self, handle: OrderHandle, price: int | None = None, qty: int | None = None
    ) -> OrderHandle:
        new: OrderHandle = self._inner.amend(handle, price=price, qty=qty)
        self._sink.append(new)
        return new


def record_orders(strategy: ss.Strategy) -> list[OrderHandle]:
    """Wrap ``strategy.on_start`` so its ``ctx.broker`` records the handles it returns."""
    handles: list[OrderHandle] = []
    original = strategy.on_start

    async def on_start(ctx: ss.Context) -> None:
        ctx.broker = _RecordingBroker(ctx.broker, handles)  # type: ignore[assignment]
        await original(ctx)

    strategy.on_start = on_start  # type: ignore[method-assign]
    return handles


class _Progress:
    """Rows read and the first and latest ``ts_exchange`` seen, shared by the sources."""

    def __init__(self) -> None:
        self.rows = 0
        self.first = 0
        self.now = 0


class _CountingSource:
    """A source that counts what it yields into a :class:`_Progress` (other attributes of
    the wrapped source, such as ``quarantine`` and ``notes``, pass through)."""

    def __init__(self, inner: Source, progress: _Progress) -> None:
        self._inner = inner
        self._progress = progress

    @property
    def stream(self) -> Stream:
        return self._inner.stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aiter__(self) -> AsyncIterator[Batch]:
        progress = self._progress
        async for batch in self._inner:
            if len(batch):
                progress.rows += len(batch)
                first = int(batch.ts_exchange[0])
                progress.first = min(progress.first, first) if progress.first else first
                progress.now = max(progress.now, int(batch.ts_exchange[-1]))
            yield batch


def run_with_progress(
    console: Console,
    sources: Sequence[Source],
    strategy: ss.Strategy,
    until: int | None = None,
    **options: Any,
) -> ss.RunResult:
    """``run_backtest`` with a live progress line when ``console`` is a terminal.

    Progress counts rows as the merge reads them (slightly ahead of delivery): events/s,
    simulated time and, when ``until`` (the data's last time) is known, an ETA from the
    simulated-time rate so far. The engine is untouched.
    """
    if not console.is_terminal:
        return ss.run_backtest(sources, strategy, **options)
    progress = _Progress()
    wrapped: list[Source] = [_CountingSource(s, progress) for s in sources]
    began = time.perf_counter()

    def line() -> str:
        wall = max(time.perf_counter() - began, 1e-9)
        sim = format_time(progress.now) if progress.now else "-"
        text = (
            f"[cyan]{progress.rows:,} events read, {progress.rows / wall:,.0f} events/s, sim {sim}"
        )
        covered = progress.now - progress.first
        if until is not None and covered > 0:
            eta = max(until - progress.now, 0) / (covered / wall)
            text += f", ETA {eta:,.0f} s"
        return text

    class _Line:
        def __rich__(self) -> str:
            return line()

    with Live(_Line(), console=console, refresh_per_second=4, transient=True):
        return ss.run_backtest(wrapped, strategy, **options)


def summary_table(result: ss.RunResult, title: str) -> Table:
    """The run summary: events, fills, equity, return, drawdown, maker share, notes."""
    venue = result.exchange
    stats: Mapping[str, Any] = venue.get("metrics") or {}
    table = Table(title=title, show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    span = (result.end_time - result.start_time) / 1e9
    table.add_row("events", f"{result.total_events:,} over {span:,.1f} s simulated")
    table.add_row("wall", f"{result.wall_seconds:.2f} s ({result.events_per_second:,.0f} events/s)")
    table.add_row("orders", f"{result.orders_submitted:,}")
    if "fills" in venue:
        table.add_row("fills", f"{venue['fills']:,} ({venue.get('maker_fills', 0):,} maker)")
    if "equity" in venue:
        table.add_row("equity", f"{venue['equity']:,.2f}")

    def pct(key: str) -> str:
        value = stats.get(key)
        return "-" if value is None else f"{value:.4%}"

    table.add_row("total return", pct("total_return"))
    table.add_row("max drawdown", pct("max_drawdown"))
    table.add_row("maker share", pct("maker_share"))
    notes = list(result.quality.notes)
    for stream, reasons in sorted(result.quality.quarantined.items()):
        notes.append(f"{stream}: quarantined {sum(reasons.values()):,} rows")
    table.add_row("data quality", "\n".join(notes) if notes else "no notes")
    return table


def _write_outputs(
    console: Console,
    result: ss.RunResult,
    exchange: ss.SimExchange,
    out: Path,
    orders: Sequence[OrderHandle],
    config: Mapping[str, Any],
    seed: int | None,
    inputs: Sequence[Path],
) -> None:
    """Artifacts, plus the HTML report when ``streamsim.results.report.write_report`` exists."""
    write_artifacts(result, exchange, out, orders=orders, config=config, seed=seed, inputs=inputs)
    try:
        report = importlib.import_module("streamsim.results.report")
    except ImportError:
        report = None
    write_report = getattr(report, "write_report", None)
    if write_report is not None:
        try:
            write_report(out)
        except Exception as error:  # the report is optional; the artifacts are written
            console.print(f"[yellow]report not written: {escape(str(error))}")
    console.print(f"artifacts written to [bold]{out}")


# --------------------------------------------------------------------------- commands


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    """The bundled sample through the reference market maker and SimExchange."""
    plan = plan_data({"adapter": "sample"})
    exchange = ss.SimExchange(plan.instruments, initial_balance=10_000.0)
    strategy = MarketMaker(plan.symbols[0])
    orders = record_orders(strategy)
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
    _write_outputs(console, result, exchange, Path(args.out), orders, config, None, plan.inputs)
    return OK


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
    orders = record_orders(strategy)
    result = run_with_progress(console, plan.sources, strategy, plan.until, **options)
    console.print(summary_table(result, f"streamsim run: {path.name}"))
    out = Path(args.out) if args.out else Path("runs") / path.stem
    _write_outputs(console, result, exchange, out, orders, config, seed, plan.inputs)
    return OK


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
    validate_config({"data": data, "strategy": {"class": "x:Y"}})
    if data.get("adapter") == "store":
        raise CliError("compile reads raw data; data.adapter 'store' is already compiled")
    plan = plan_data(data, base)
    manifest = compile_store(plan.sources, args.out, inputs=plan.inputs, overwrite=args.overwrite)
    table = Table(title=f"compiled store {args.out}")
    for column in ("stream", "rows"):
        table.add_column(column)
    for stream in manifest.streams:
        table.add_row(stream.name, f"{stream.rows:,}")
    console.print(table)
    return OK


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


@dataclass
class FileCheck:
    """What ``validate`` found in one file."""

    key: str
    exists: bool
    rows: int = 0
    first: int | None = None
    last: int | None = None
    messages: int | None = None
    gaps: list[str] = field(default_factory=list)
    note: str = ""


def _time_range(meta: pq.FileMetaData, column: str) -> tuple[int | None, int | None]:
    """Min and max of ``column`` from row-group statistics (ms -> ns), if recorded."""
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if column not in names:
        return None, None
    index = names.index(column)
    lows, highs = [], []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(index).statistics
        if stats is None or not stats.has_min_max:
            return None, None
        lows.append(stats.min)
        highs.append(stats.max)
    if not lows:
        return None, None
    return int(min(lows)) * 1_000_000, int(max(highs)) * 1_000_000


async def _id_columns(obj: ParquetObject) -> pa.Table:
    """The update-id columns (and ``event_type`` when present) of a depth object."""
    columns = ["final_update_id", "prev_final_update_id"]
    if "event_type" in obj.schema.names:
        columns.append("event_type")
    parts = [obj.decode(await obj.fetch(i, columns), columns) for i in range(obj.num_row_groups)]
    return pa.concat_tables(parts) if parts else obj.schema.empty_table().select(columns)


def _update_ids(table: pa.Table, check: FileCheck, last_final: int | None) -> int | None:
    """Count depth messages and gaps between a message's ``prev_final_update_id`` and the
    previous message's ``final_update_id``; returns the last ``final_update_id``."""
    has_type = "event_type" in table.column_names
    final = table.column("final_update_id").to_numpy()
    prev = table.column("prev_final_update_id").to_numpy()
    if not len(final):
        check.messages = 0
        return last_final
    starts = np.flatnonzero(np.concatenate(([True], final[1:] != final[:-1])))
    finals, prevs = final[starts], prev[starts]
    check.messages = len(starts)
    snapshot = np.zeros(len(starts), dtype=bool)
    if has_type:
        kinds = table.column("event_type").to_numpy(zero_copy_only=False)[starts]
        snapshot = kinds == "snapshot"
    before = np.concatenate(([-1 if last_final is None else last_final], finals[:-1]))
    after_snapshot = np.concatenate(([False], snapshot[:-1]))
    bad = (prevs != before) & ~snapshot & ~after_snapshot
    if last_final is None:
        bad[0] = False
    for i in np.flatnonzero(bad)[:5]:
        check.gaps.append(
            f"message {i}: prev_final_update_id {int(prevs[i])} != previous "
            f"final_update_id {int(before[i])}"
        )
    if bad.sum() > 5:
        check.gaps.append(f"... {int(bad.sum()) - 5} more gaps")
    backwards = int((np.diff(finals) < 0).sum())
    if backwards:
        check.gaps.append(f"{backwards} messages with final_update_id going backwards")
    return int(finals[-1])


def _validate_store(root: str, endpoint_url: str | None) -> Store:
    """A local tree, or ``s3://bucket/prefix`` (credentials from the standard chain)."""
    if root.startswith("s3://"):
        bucket, _, prefix = root[len("s3://") :].partition("/")
        if not bucket:
            raise CliError(f"no bucket in {root!r}")
        return S3Store(bucket, prefix, endpoint_url=endpoint_url)
    if not Path(root).is_dir():
        raise CliError(f"not a directory: {root}")
    return LocalStore(root)


async def _check_file(
    store: Store, key: str, fallback: str | None, kind: str, last_final: int | None
) -> tuple[FileCheck, int | None]:
    """Existence, rows, time range and (depth) update-id continuity of one object."""
    check = FileCheck(key, False)
    try:
        obj = await ParquetObject.open(store, key)
        if obj is None and fallback:
            obj = await ParquetObject.open(store, fallback)
            if obj is not None:
                check.key, check.note = fallback, "fallback"
        if obj is None:
            check.gaps.append("missing")
            return check, None
        check.exists = True
        check.rows = obj.num_rows
        check.first, check.last = _time_range(obj.metadata, SPECS[kind].time)
        if kind == "depth":
            last_final = _update_ids(await _id_columns(obj), check, last_final)
    except Exception as error:  # unreadable object: report it, keep going
        check.exists = check.exists or isinstance(error, ss.DataError)  # there, but corrupt
        check.gaps.append(f"unreadable: {error}")
    return check, last_final


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    """Check a CryptoHFTData tree (local or ``s3://``) for a symbol and window."""
    store = _validate_store(args.root, args.endpoint_url)
    start = parse_time(args.start, "--start")
    end = parse_time(args.end, "--end")
    if start > end:
        raise CliError(f"--start {args.start} is after --end {args.end}")
    kinds = args.kinds.split(",") if args.kinds else list(DEFAULT_KINDS)
    unknown = [k for k in kinds if k not in SPECS]
    if unknown:
        raise CliError(f"unknown kinds {', '.join(unknown)}; allowed: {', '.join(SPECS)}")
    dataset = CryptoHFTData(store, exchange=args.exchange)

    async def check_all() -> list[tuple[str, FileCheck]]:
        checks: list[tuple[str, FileCheck]] = []
        for kind in kinds:
            last_final: int | None = None
            for ref in dataset.files(args.symbol, kind, start, end):
                check, last_final = await _check_file(
                    store, ref.key, ref.fallback, kind, last_final
                )
                checks.append((kind, check))
        return checks

    problems: list[str] = []
    table = Table(title=f"{args.root} {args.symbol} {format_time(start)} .. {format_time(end)}")
    for column in ("kind", "file", "rows", "first", "last", "messages", "issues"):
        table.add_column(column)
    for kind, check in anyio.run(check_all):
        issues = [g for g in check.gaps if g]
        problems.extend(f"{kind} {check.key}: {issue}" for issue in issues)
        table.add_row(
            kind,
            escape(check.key + (f" ({check.note})" if check.note else "")),
            f"{check.rows:,}" if check.exists else "-",
            format_time(check.first) if check.first is not None else "-",
            format_time(check.last) if check.last is not None else "-",
            f"{check.messages:,}" if check.messages is not None else "-",
            "[red]" + escape("; ".join(issues)) if issues else "[green]ok",
        )
    console.print(table)
    if problems:
        for problem in problems:
            console.print(f"[red]problem:[/red] {escape(problem)}", soft_wrap=True)
        console.print(f"[red]{len(problems)} problem(s) found")
        return PROBLEMS
    console.print("[green]no problems found")
    return OK


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """Rebuild ``report.html`` from a run's artifacts directory."""
    from streamsim.results.report import write_report  # noqa: PLC0415 (only this command needs it)

    artifacts = Path(args.artifacts)
    if not artifacts.is_dir():
        raise CliError(f"not an artifacts directory: {artifacts}")
    written = write_report(artifacts, args.out)
    console.print(f"report written to {escape(str(written))}", highlight=False)
    return OK


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``streamsim``."""
    parser = argparse.ArgumentParser(prog="streamsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the bundled sample with the market maker")
    demo.add_argument("--out", default="runs/demo", help="artifacts directory")
    demo.set_defaults(handler=cmd_demo)

    run = sub.add_parser("run", help="run a TOML config")
    run.add_argument("config", help="CONFIG.toml")
    run.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override, e.g. broker.taker_fee=0.0004"
    )
    run.add_argument("--mode", choices=MODES, help="override run.mode")
    run.add_argument("--speed", type=float, help="override run.speed (paper-replay)")
    run.add_argument("--out", help="artifacts directory (default runs/<config name>)")
    run.set_defaults(handler=cmd_run)

    comp = sub.add_parser("compile", help="compile data into an event store")
    comp.add_argument(
        "--data", required=True, help="'sample', a CryptoHFTData root, or a config .toml"
    )
    comp.add_argument("--out", required=True, help="store directory")
    comp.add_argument("--symbol", help="symbols, comma-separated")
    comp.add_argument("--kinds", help="kinds, comma-separated")
    comp.add_argument("--start", help="ISO-8601 UTC, inclusive")
    comp.add_argument("--end", help="ISO-8601 UTC, inclusive")
    comp.add_argument("--exchange", default="binance_futures")
    comp.add_argument("--overwrite", action="store_true", help="replace an existing store")
    comp.set_defaults(handler=cmd_compile)

    val = sub.add_parser("validate", help="check a CryptoHFTData tree (local or s3://)")
    val.add_argument("root", help="a local directory or s3://bucket/prefix")
    val.add_argument("--endpoint-url", help="S3-compatible endpoint (default: AWS)")
    val.add_argument("--symbol", required=True)
    val.add_argument("--start", required=True, help="ISO-8601 UTC, inclusive")
    val.add_argument("--end", required=True, help="ISO-8601 UTC, inclusive")
    val.add_argument("--kinds", help=f"comma-separated (default {','.join(DEFAULT_KINDS)})")
    val.add_argument("--exchange", default="binance_futures")
    val.set_defaults(handler=cmd_validate)

    rep = sub.add_parser("report", help="rebuild report.html from a run's artifacts")
    rep.add_argument("artifacts", help="artifacts directory (from run or demo)")
    rep.add_argument("--out", help="HTML file (default <artifacts>/report.html)")
    rep.set_defaults(handler=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``streamsim`` command line; returns the exit code."""
    # Not a terminal (CI, pipes, tests): wide enough that table cells do not wrap.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exit_:
        return int(exit_.code) if isinstance(exit_.code, int) else USAGE
    try:
        code: int = args.handler(args, console)
    except (CliError, ConfigError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        return USAGE
    except (StreamsimError, FileNotFoundError) as error:
        console.print(
            f"[red]error:[/red] {type(error).__name__}: {escape(str(error))}", highlight=False
        )
        return PROBLEMS
    return code


if __name__ == "__main__":
    raise SystemExit(main())
