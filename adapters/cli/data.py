"""The sources, instruments and inputs of a ``[data]`` section: :class:`DataPlan`."""

from __future__ import annotations

from collections.abc import Mapping
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
from adapters.cli.config import DEFAULT_KINDS, CliError, _resolve, parse_time
from adapters.cryptohftdata import CryptoHFTData, LocalStore
from adapters.store import cryptohftdata_inputs, read_manifest, store_sources
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
