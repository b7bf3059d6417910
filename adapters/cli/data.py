"""The sources, instruments and inputs of a ``[data]`` section: :class:`DataPlan`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.binance.sample import (
    SAMPLE_END,
    SAMPLE_EXCHANGE,
    SAMPLE_INSTRUMENT,
    SAMPLE_START,
    SAMPLE_SYMBOL,
    sample_path,
    sample_sources,
)
from adapters.cli.config import DEFAULT_KINDS, CliError, _resolve, format_time
from adapters.cli.data_plan import DataPlan
from adapters.cli.file_data import plan_capture, plan_tardis
from adapters.cryptohftdata import CryptoHFTData, LocalStore, S3Store
from adapters.cryptohftdata.dataset import known_instrument
from adapters.store import cryptohftdata_inputs, read_manifest, store_sources
from streamsim.config import DataConfig
from streamsim.feed.quarantine import Quarantine
from streamsim.feed.sources import Source


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


#: The ``[data]`` keys only some adapters read, with their defaults: set to anything else
#: for another adapter, they are a mistake.
ADAPTER_KEYS: dict[str, tuple[object, tuple[str, ...]]] = {
    "root": (None, ("cryptohftdata", "store", "tardis", "capture")),  # capture: use files
    "endpoint_url": (None, ("cryptohftdata",)),
    "files": (None, ("tardis", "capture")),
    "data_types": (None, ("tardis",)),
    "off_grid": (None, ("capture",)),
    "instruments": (None, ("cryptohftdata", "tardis", "capture")),
    "missing": ("fail", ("cryptohftdata",)),
}


def plan_data(data: DataConfig, base: Path = Path(), out: Path | None = None) -> DataPlan:
    """Sources for a ``[data]`` section (relative paths are tried against ``base``; ``out``,
    the run's artifacts directory, places the default quarantine file)."""
    for key, (default, adapters) in ADAPTER_KEYS.items():
        if getattr(data, key) != default and data.adapter not in adapters:
            raise CliError(
                f"data.{key}: adapter {data.adapter!r} does not read it "
                f"(read by {', '.join(repr(a) for a in adapters)})"
            )
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
        if window[0] > SAMPLE_END or window[1] < SAMPLE_START or window[0] > window[1]:
            raise CliError(
                f"data.start / data.end: the sample spans {format_time(SAMPLE_START)} to "
                f"{format_time(SAMPLE_END)}; the window {format_time(window[0])} to "
                f"{format_time(window[1])} holds none of it"
            )
        sources: list[Source] = list(sample_sources(kinds, *window, **options))
        dataset = CryptoHFTData(LocalStore(sample_path()), exchange=SAMPLE_EXCHANGE)
        inputs = cryptohftdata_inputs(dataset, sources)
        return DataPlan(sources, [SAMPLE_INSTRUMENT], inputs, symbols, end or SAMPLE_END)
    if adapter == "tardis":
        return plan_tardis(data, base, options)
    if adapter == "capture":
        return plan_capture(data, base, options)
    if data.root is None:
        raise CliError(f"data.root is required for adapter {adapter!r}")
    if data.endpoint_url is not None and not data.root.startswith("s3://"):
        raise CliError("data.endpoint_url: only for an s3:// data.root")
    if data.root.startswith("s3://"):
        if adapter != "cryptohftdata":
            raise CliError(
                f"data.root: an s3:// root is for adapter 'cryptohftdata', not {adapter!r}"
            )
        return _plan_cryptohftdata(data, _s3_store(data.root, data.endpoint_url), options)
    root = _resolve(data.root, base)
    if not root.is_dir():
        raise CliError(f"data.root: not a directory: {root}")
    if adapter == "store":
        manifest = read_manifest(root)
        symbols = list(data.symbols or sorted({s.symbol for s in manifest.streams}))
        store_kinds = list(data.kinds) if data.kinds else None
        sources = store_sources(root, symbols, store_kinds, start, end)
        window_end = end if end is not None else manifest.end_ns
        return DataPlan(
            sources,
            [manifest.instrument(s) for s in symbols],
            [root / "manifest.json"],
            symbols,
            window_end,
            end=window_end,
        )
    return _plan_cryptohftdata(data, LocalStore(root), options)


def _s3_store(root: str, endpoint_url: str | None) -> S3Store:
    """The :class:`S3Store` of ``s3://bucket/prefix`` (credentials: the standard chain)."""
    bucket, _, prefix = root[len("s3://") :].partition("/")
    if not bucket:
        raise CliError(f"data.root: no bucket in {root!r}")
    return S3Store(bucket, prefix, endpoint_url=endpoint_url)


def _plan_cryptohftdata(
    data: DataConfig, store: LocalStore | S3Store, options: dict[str, Any]
) -> DataPlan:
    """A CryptoHFTData tree, local or on S3 (whose files are not listed as inputs)."""
    if not data.symbols or data.start is None or data.end is None:
        raise CliError("adapter 'cryptohftdata' needs data.symbols, data.start and data.end")
    symbols = list(data.symbols)
    given = {s: table.build(s) for s, table in (data.instruments or {}).items()}
    dataset = CryptoHFTData(
        store,
        exchange=data.exchange,
        instruments=given or None,
        missing=data.missing,
        **options,
    )
    for symbol in symbols:
        if symbol not in given and known_instrument(symbol) is None:
            raise CliError(
                f"data.instruments.{symbol}: no instrument for {symbol}: add "
                f'[data.instruments.{symbol}] with tick_size = "..." and lot_size = "..." '
                "(PRICE_FILTER.tickSize and LOT_SIZE.stepSize of the venue's exchangeInfo)"
            )
    kinds: list[str] = list(data.kinds or DEFAULT_KINDS)
    sources = dataset.sources(symbols, kinds, int(data.start), int(data.end))
    inputs = cryptohftdata_inputs(dataset, sources) if isinstance(store, LocalStore) else []
    return DataPlan(
        sources, [dataset.instrument(s) for s in symbols], inputs, symbols, int(data.end)
    )
