"""The sources, instruments and inputs of a ``[data]`` section: :class:`DataPlan`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from adapters.cli.config import DEFAULT_KINDS, CliError, _resolve
from adapters.cryptohftdata import CryptoHFTData, LocalStore
from adapters.store import cryptohftdata_inputs, read_manifest, store_sources
from streamsim.config import DataConfig
from streamsim.feed.quarantine import Quarantine
from streamsim.feed.sources import Source


@dataclass
class DataPlan:
    """Sources of a run with the instruments, input files and symbols behind them."""

    sources: list[Source]
    instruments: list[ss.Instrument]
    inputs: list[Path] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    #: The last simulated time the data can reach (ns), when known: for the progress ETA.
    until: int | None = None
    #: Where skipped rows go under ``data.policy = "quarantine"`` (closed after the run).
    quarantine: Quarantine | None = None


def _quarantine(data: DataConfig, base: Path, out: Path | None) -> Quarantine | None:
    """The JSONL file of ``data.policy = "quarantine"``: ``data.quarantine``, else
    ``<artifacts dir>.quarantine.jsonl`` (outside the directory, which is written whole
    at the end), else ``quarantine.jsonl`` in the current directory."""
    if data.policy != "quarantine":
        return None
    if data.quarantine is not None:
        path = _resolve(data.quarantine, base)
    elif out is not None:
        path = out.with_name(out.name + ".quarantine.jsonl")
    else:
        path = Path("quarantine.jsonl")
    if path.is_dir():
        raise CliError(f"data.quarantine: is a directory: {path}")
    return Quarantine(path)


def plan_data(data: DataConfig, base: Path = Path(), out: Path | None = None) -> DataPlan:
    """Sources for a ``[data]`` section (relative paths are tried against ``base``; ``out``,
    the run's artifacts directory, places the default quarantine file)."""
    quarantine = _quarantine(data, base, out)
    options = {
        "policy": data.policy,
        "quarantine": quarantine,
        "plausibility": data.plausibility.limits(),
    }
    plan = _plan(data, base, options)
    plan.quarantine = quarantine
    return plan


def _plan(data: DataConfig, base: Path, options: dict[str, Any]) -> DataPlan:
    adapter = data.adapter
    kinds: list[str] = list(data.kinds or DEFAULT_KINDS)
    start = None if data.start is None else int(data.start)
    end = None if data.end is None else int(data.end)
    if adapter == "sample":
        symbols = list(data.symbols or [SAMPLE_SYMBOL])
        if symbols != [SAMPLE_SYMBOL]:
            raise CliError(f"data.symbols: the sample holds only {SAMPLE_SYMBOL}")
        window = (start or SAMPLE_START, end or SAMPLE_END)
        sources: list[Source] = list(sample_sources(kinds, *window, **options))
        dataset = CryptoHFTData(LocalStore(sample_path()), exchange=SAMPLE_EXCHANGE)
        inputs = cryptohftdata_inputs(dataset, sources)
        return DataPlan(sources, [SAMPLE_INSTRUMENT], inputs, symbols, end or SAMPLE_END)
    if data.root is None:
        raise CliError(f"data.root is required for adapter {adapter!r}")
    root = _resolve(data.root, base)
    if not root.is_dir():
        raise CliError(f"data.root: not a directory: {root}")
    if adapter == "store":
        manifest = read_manifest(root)
        symbols = list(data.symbols or sorted({s.symbol for s in manifest.streams}))
        store_kinds = list(data.kinds) if data.kinds else None
        sources = store_sources(root, symbols, store_kinds, start, end)
        return DataPlan(
            sources,
            [manifest.instrument(s) for s in symbols],
            [root / "manifest.json"],
            symbols,
            end,
        )
    if not data.symbols or start is None or end is None:
        raise CliError("adapter 'cryptohftdata' needs data.symbols, data.start and data.end")
    symbols = list(data.symbols)
    dataset = CryptoHFTData(LocalStore(root), exchange=data.exchange, **options)
    sources = dataset.sources(symbols, kinds, start, end)
    return DataPlan(
        sources,
        [dataset.instrument(s) for s in symbols],
        cryptohftdata_inputs(dataset, sources),
        symbols,
        end,
    )
