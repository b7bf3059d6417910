"""``streamsim run``: a run from its config (a TOML file or a run's ``manifest.json``)."""

from __future__ import annotations

import argparse
from pathlib import Path

import msgspec
from rich.console import Console
from rich.markup import escape

import streamsim as ss
from adapters.cli.config import INTERRUPTED, OK, _resolve, format_time, stage
from adapters.cli.ctrl_c import first_ctrl_c_halts
from adapters.cli.data import plan_data
from adapters.cli.keys import space_pauses
from adapters.cli.outputs import _write_outputs, check_out
from adapters.cli.progress import run_with_progress, summary_table
from adapters.cli.strategy import build_strategy, load_strategy_class
from adapters.cli.window import window_overrides, with_days
from streamsim.config import RecordedLatencyModel, RunConfig, load_config


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """Run a config; from a manifest, the run that wrote it is repeated exactly."""
    path = Path(args.config)
    overrides = list(args.set or [])
    if args.mode is not None:
        overrides.append(f'run.mode="{args.mode}"')
    if args.speed is not None:
        overrides.append(f"run.speed={args.speed}")
    overrides += window_overrides(args.window, args.days, overrides)
    base = path.resolve().parent
    with stage(f"loading the config {path}"):
        config = with_days(load_config(path, overrides), args.days)
        config = with_absolute_paths(config, base)
    with stage(f"loading the strategy {config.strategy.cls}"):
        cls = load_strategy_class(config.strategy.cls, base)
    out = _out_dir(args.out, config, path)
    with stage("opening the data"):
        plan = plan_data(config.data, base, out)
    seed = config.run.seed
    with stage(f"building the strategy {cls.__name__}"):
        strategy = build_strategy(
            cls, config.strategy.params, plan.symbols[0] if plan.symbols else None, seed
        )
        options = config.run_options(plan.instruments)
        if options.get("end") is None and plan.end is not None:
            options["end"] = plan.end
    replay = path.suffix == ".json"
    label = "--out" if args.out else "output.dir" if config.output.dir and not replay else "output"
    check_out(out, args.force, plan.inputs, label)
    with stage(f"running ({config.run.mode}); nothing was written"):
        try:
            if config.run.mode == "paper-live":
                console.print(
                    f"paper live at {config.run.speed:g}x; Ctrl-C stops it with the results"
                )
                result = ss.run_paper_live(plan.sources, strategy, **options)
            else:
                halt = ss.Halt()
                with first_ctrl_c_halts(halt), space_pauses(options.get("clock")) as keys:
                    if keys:
                        console.print("paper replay: space pauses and resumes, Ctrl-C stops")
                    result = run_with_progress(
                        console, plan.sources, strategy, plan.until, halt=halt, **options
                    )
                if halt.requested:
                    console.print(
                        f"[yellow]stopped by Ctrl-C at {format_time(result.end_time)}; "
                        "writing the results so far (Ctrl-C again aborts)"
                    )
        finally:
            if plan.quarantine is not None:
                plan.quarantine.close()
    if plan.quarantine is not None and plan.quarantine.counts:
        skipped = sum(plan.quarantine.counts.values())
        console.print(
            f"[yellow]{skipped:,} bad rows quarantined to {escape(str(plan.quarantine.path))}"
        )
    console.print(summary_table(result, f"streamsim run: {path.name}"))
    with stage(f"writing the artifacts to {out}"):
        _write_outputs(
            console,
            result,
            out,
            config.to_dict(),
            None if seed is None else int(seed),
            plan.inputs,
            report=config.output.report,
            force=args.force,
            label=label,
        )
    return INTERRUPTED if result.interrupted else OK


def with_absolute_paths(config: RunConfig, base: Path) -> RunConfig:
    """``config`` with ``data.root``, ``data.files``, ``latency.file`` and a strategy file
    made absolute (as found from ``base``), so its manifest replays from any directory."""
    data = config.data
    if data.root is not None and not data.root.startswith("s3://"):
        root = str(_resolve(data.root, base).resolve())
        data = msgspec.structs.replace(data, root=root)
    if data.files is not None:
        files = [str(_resolve(f, base).resolve()) for f in data.files]
        data = msgspec.structs.replace(data, files=files)
    latency = config.latency
    if isinstance(latency, RecordedLatencyModel) and latency.file is not None:
        file = str(_resolve(latency.file, base).resolve())
        latency = msgspec.structs.replace(latency, file=file)
    strategy = config.strategy
    target, sep, name = strategy.cls.rpartition(":")
    if sep and (target.endswith(".py") or "/" in target):
        located = _resolve(target, base).resolve()
        strategy = msgspec.structs.replace(strategy, cls=f"{located}:{name}")
    return msgspec.structs.replace(config, data=data, latency=latency, strategy=strategy)


def _out_dir(flag: str | None, config: RunConfig, path: Path) -> Path:
    """``--out``, else ``output.dir``, else ``runs/<config name>``; a manifest's replay
    never writes over the run it repeats (``runs/<run>-replay``)."""
    if flag:
        return Path(flag)
    if path.suffix == ".json":
        return Path("runs") / f"{path.resolve().parent.name}-replay"
    if config.output.dir:
        return Path(config.output.dir)
    return Path("runs") / path.stem
