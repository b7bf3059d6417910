"""Compiled event store: the synthetic hour compiled and replayed event for event, determinism,
inputs changed mid-compile, tampered outputs, windows, every kind, and the manifest."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

import streamsim as ss
from adapters.cryptohftdata import CryptoHFTData, LocalStore
from adapters.store import (
    FORMAT_VERSION,
    Manifest,
    compile_store,
    cryptohftdata_inputs,
    read_manifest,
    store_sources,
)
from adapters.store.layout import BATCH_CLASSES, FIELDS

SYNTH = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
START = 1_751_371_200 * ss.SECOND  # 2025-07-01 12:00 UTC: the synthetic hour
END = START + ss.HOUR - 1
HOUR_EVENTS = {
    "BTCUSDT.depth": 36_000,
    "BTCUSDT.trades": 86_713,
    "BTCUSDT.mark_price": 3_600,
    "BTCUSDT.open_interest": 12,
}


class Digest(ss.Strategy):
    """SHA-256 per stream of every event's fields (depth: level arrays and the book's top)."""

    def __init__(self) -> None:
        self.hashes: dict[str, Any] = {}

    def _add(self, event: Any, *extra: Any) -> None:
        fields = (
            event.ts_exchange,
            event.ts_recv,
            event.ts_local,
            *(getattr(event, name) for name in event.__slots__[4:]),
            *extra,
        )
        key = f"{event.symbol}.{type(event).__name__}"
        digest = self.hashes.get(key)
        if digest is None:
            digest = self.hashes[key] = hashlib.sha256()
        digest.update(repr(fields).encode())

    async def on_depth(self, update: ss.DepthUpdate, book: Any) -> None:
        key = f"{update.symbol}.depth"
        digest = self.hashes.get(key)
        if digest is None:
            digest = self.hashes[key] = hashlib.sha256()
        head = (
            update.ts_exchange,
            update.ts_recv,
            update.ts_local,
            update.first,
            update.final,
            update.prev_final,
            update.is_snapshot,
            book.best_bid,
            book.best_ask,
        )
        digest.update(repr(head).encode())
        for array in (update.bid_prices, update.bid_qtys, update.ask_prices, update.ask_qtys):
            digest.update(array.tobytes())
            digest.update(b"|")

    async def on_trade(self, trade: ss.Trade) -> None:
        self._add(trade)

    async def on_mark_price(self, mark: ss.MarkPrice) -> None:
        self._add(mark)

    async def on_open_interest(self, oi: ss.OpenInterest) -> None:
        self._add(oi)

    async def on_ticker(self, ticker: ss.Ticker) -> None:
        self._add(ticker)

    async def on_liquidation(self, liquidation: ss.Liquidation) -> None:
        self._add(liquidation)

    async def on_bar(self, bar: ss.Bar) -> None:
        self._add(bar)

    def digests(self) -> dict[str, str]:
        return {key: digest.hexdigest() for key, digest in sorted(self.hashes.items())}


def digest_run(sources: Sequence[ss.Source]) -> tuple[ss.RunResult, dict[str, str]]:
    strategy = Digest()
    # kinds_batches draws random levels (crossed books): replay the raw book.
    result = ss.run_backtest(sources, strategy, book_policy=ss.BookPolicy(crossed="keep"))
    return result, strategy.digests()


def hour_sources(root: Path = SYNTH, start: int = START, end: int = END) -> tuple[Any, list[Any]]:
    data = CryptoHFTData(LocalStore(root))
    return data, data.sources(["BTCUSDT"], start=start, end=end)


def compile_hour(out: Path, root: Path = SYNTH) -> Manifest:
    data, sources = hour_sources(root)
    return compile_store(sources, out, inputs=cryptohftdata_inputs(data, sources))


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("store") / "hour"
    return out, compile_hour(out)


@pytest.fixture(scope="module")
def direct() -> tuple[ss.RunResult, dict[str, str]]:
    return digest_run(hour_sources()[1])


# --- the synthetic hour -------------------------------------------------------------------


def test_replay_from_store_equals_parquet(
    store: tuple[Path, Manifest], direct: tuple[ss.RunResult, dict[str, str]]
) -> None:
    out, _ = store
    expected, expected_digests = direct
    result, digests = digest_run(store_sources(out))
    assert expected.events == HOUR_EVENTS
    assert result.events == expected.events
    assert set(digests) == {
        "BTCUSDT.depth",
        "BTCUSDT.Trade",
        "BTCUSDT.MarkPrice",
        "BTCUSDT.OpenInterest",
    }
    assert digests == expected_digests
    assert result.quality.to_dict() == expected.quality.to_dict()
    assert (result.start_time, result.end_time) == (expected.start_time, expected.end_time)


def test_window_cut_equals_parquet_window(store: tuple[Path, Manifest]) -> None:
    out, _ = store
    # Cuts inside depth row groups and inside the single trades row group.
    start, end = START + 10 * ss.MINUTE + 500 * ss.MS, START + 37 * ss.MINUTE + 13 * ss.MS
    expected, expected_digests = digest_run(hour_sources(start=start, end=end)[1])
    result, digests = digest_run(store_sources(out, start=start, end=end))
    assert result.events == expected.events
    assert 0 < result.events["BTCUSDT.depth"] < 36_000
    assert digests == expected_digests


def test_compiling_twice_is_byte_identical(store: tuple[Path, Manifest], tmp_path: Path) -> None:
    out, manifest = store
    again = compile_hour(tmp_path / "again")
    assert again == manifest
    assert tree_bytes(tmp_path / "again") == tree_bytes(out)
    assert [p.name for p in tmp_path.iterdir()] == ["again"]  # no temporary directory left


def test_manifest_fields(
    store: tuple[Path, Manifest], direct: tuple[ss.RunResult, dict[str, str]]
) -> None:
    out, manifest = store
    assert read_manifest(out) == manifest
    raw = (out / "manifest.json").read_bytes()
    data = orjson.loads(raw)
    assert raw == orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    assert data["format"] == "streamsim-store" and data["format_version"] == FORMAT_VERSION
    assert data["streamsim_version"] == ss.__version__
    assert data["instruments"]["BTCUSDT"]["tick_size"] == "0.1"
    assert data["instruments"]["BTCUSDT"]["lot_size"] == "0.001"
    assert manifest.instrument("BTCUSDT") == ss.Instrument(
        "BTCUSDT", Decimal("0.1"), Decimal("0.001")
    )
    # Inputs: every file read, with its size and hash.
    inputs = {Path(i["path"]): i for i in data["inputs"]}
    assert sorted(inputs) == sorted(SYNTH.rglob("*.parquet"))
    for path, info in inputs.items():
        assert info["size"] == path.stat().st_size
        assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # Outputs: hash, rows and time range of each file.
    outputs = {o["path"]: o for o in data["outputs"]}
    assert sorted(outputs) == sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    assert outputs["BTCUSDT/depth.levels.parquet"]["rows"] == 2_520_000
    quality = direct[0].quality.streams
    for path, info in outputs.items():
        assert info["sha256"] == hashlib.sha256((out / path).read_bytes()).hexdigest()
        stream = info["stream"]
        if not path.endswith(".levels.parquet"):
            assert info["rows"] == HOUR_EVENTS[stream]
        assert info["first_ts_exchange"] == quality[stream].first_ts_exchange
        assert info["last_ts_exchange"] == quality[stream].last_ts_exchange
    streams = [s["symbol"] + "." + s["kind"] for s in data["streams"]]
    assert streams == list(HOUR_EVENTS)  # the order the sources were given in
    assert all(s["quarantined"] == {} and s["notes"] == [] for s in data["streams"])
    assert manifest.rows == 2_520_000 + 86_713 + 3_600 + 12
    assert b"wall" not in raw and b"created" not in raw


def test_filters_keep_compile_order(store: tuple[Path, Manifest]) -> None:
    out, _ = store
    picked = store_sources(out, kinds=["open_interest", "trades"])
    assert [str(s.stream) for s in picked] == ["BTCUSDT.trades", "BTCUSDT.open_interest"]
    with pytest.raises(ss.ConfigError, match="no symbol ETHUSDT"):
        store_sources(out, symbols=["ETHUSDT"])
    with pytest.raises(ss.ConfigError, match="no kind ticker"):
        store_sources(out, kinds=["ticker"])
    with pytest.raises(ss.ConfigError, match="not empty"):
        compile_hour(out)


# --- failures -----------------------------------------------------------------------------


class ChangesInput:
    """Wraps a source; after its first batch it rewrites an input file."""

    def __init__(self, inner: Any, victim: Path) -> None:
        self.inner = inner
        self.victim = victim

    @property
    def stream(self) -> ss.Stream:
        return self.inner.stream  # type: ignore[no-any-return]

    async def __aiter__(self) -> AsyncIterator[ss.Batch]:
        first = True
        async for batch in self.inner:
            yield batch
            if first:
                first = False
                with self.victim.open("ab") as handle:
                    handle.write(b"appended")


def test_input_changed_during_compile_fails(tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(SYNTH / "mark_price", root / "mark_price")
    shutil.copytree(SYNTH / "open_interest", root / "open_interest")
    data = CryptoHFTData(LocalStore(root))
    sources = data.sources(["BTCUSDT"], ["mark_price", "open_interest"], START, END)
    inputs = cryptohftdata_inputs(data, sources)
    victim = next(p for p in inputs if p.name == "mark_price.parquet")
    wrapped = [ChangesInput(sources[0], victim), sources[1]]
    out = tmp_path / "out" / "store"
    with pytest.raises(ss.DataError, match=r"input file .*mark_price\.parquet changed"):
        compile_store(wrapped, out, inputs=inputs)
    assert not out.exists()
    assert list((tmp_path / "out").iterdir()) == []  # the partial store was removed


def test_tampered_output_fails_replay(store: tuple[Path, Manifest], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(store[0], copy)
    store_sources(copy)  # intact
    levels = copy / "BTCUSDT" / "depth.levels.parquet"
    raw = bytearray(levels.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    levels.write_bytes(bytes(raw))
    with pytest.raises(ss.DataError, match=r"depth\.levels\.parquet: SHA-256 .* does not match"):
        store_sources(copy)
    store_sources(copy, kinds=["trades"])  # only the selected streams are verified
    (copy / "BTCUSDT" / "trades.parquet").unlink()
    with pytest.raises(ss.DataError, match="missing"):
        store_sources(copy, kinds=["trades"])


def test_foreign_format_version_fails(store: tuple[Path, Manifest], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(store[0], copy)
    data = orjson.loads((copy / "manifest.json").read_bytes())
    data["format_version"] = FORMAT_VERSION + 1
    (copy / "manifest.json").write_bytes(orjson.dumps(data))
    with pytest.raises(ss.DataError, match=r"format version .* recompile"):
        store_sources(copy)
    with pytest.raises(ss.DataError, match="not a compiled store"):
        store_sources(tmp_path / "nowhere")


# --- every kind, batching independence, quarantine and notes ------------------------------


class Reporting(ss.MemorySource):
    """A memory source that quarantines one record per iteration and leaves a note."""

    def __init__(self, batches: list[ss.Batch], quarantine: ss.Quarantine) -> None:
        super().__init__(batches)
        self.quarantine = quarantine
        self.notes: list[str] = []

    async def __aiter__(self) -> AsyncIterator[ss.Batch]:
        self.notes = [f"{self.stream}: memory"]
        self.quarantine.write(str(self.stream), "mem", 0, None, "bad row", {})
        async for batch in super().__aiter__():
            yield batch


def kinds_batches(cut: int) -> dict[str, list[ss.Batch]]:
    """Batches of every kind over the same rows, split every ``cut`` rows."""
    rng = np.random.default_rng(7)
    n = 50
    ex = np.cumsum(rng.integers(0, 3, n)).astype(np.int64) * ss.MS + START
    recv = ex + 5 * ss.MS
    floats = [rng.normal(size=n) for _ in range(6)]
    ints = [rng.integers(-5, 1000, n).astype(np.int64) for _ in range(3)]
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    sizes = rng.integers(0, 6, n)
    bids = np.minimum(rng.integers(0, 4, n), sizes)
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    price = rng.integers(1000, 1100, int(offsets[-1])).astype(np.int64)
    qty = rng.integers(0, 50, int(offsets[-1])).astype(np.int64)
    out: dict[str, list[ss.Batch]] = {k: [] for k in FIELDS}
    for lo in range(0, n, cut):
        hi = min(n, lo + cut)
        s = slice(lo, hi)
        e, r = ex[s], recv[s]
        f = [x[s] for x in floats]
        out["trades"].append(
            ss.TradeBatch("ETHUSDT", ex[s], None, ints[0][s], ints[1][s], side[s], ints[2][s])
        )
        out["mark_price"].append(
            ss.MarkPriceBatch("ETHUSDT", e, r, f[0], f[1], f[2], f[3], ints[0][s])
        )
        out["open_interest"].append(ss.OpenInterestBatch("ETHUSDT", e, r, *f[:2]))
        out["ticker"].append(ss.TickerBatch("ETHUSDT", e, r, *f))
        out["liquidations"].append(ss.LiquidationBatch("ETHUSDT", e, r, side[s], *f[:3]))
        out["bars"].append(ss.BarBatch("ETHUSDT", e, r, f[0], f[1], f[2], f[3], f[4], ints[1][s]))
        a, b = int(offsets[lo]), int(offsets[hi])
        out["depth"].append(
            ss.DepthBatch(
                "ETHUSDT",
                e,
                r,
                ints[0][s],
                ints[1][s],
                ints[2][s],
                side[s] > 0,
                offsets[lo : hi + 1] - a,
                bids[s],
                price[a:b],
                qty[a:b],
            )
        )
    return out


def test_schema_matches_batch_fields() -> None:
    from dataclasses import fields

    for kind, cls in BATCH_CLASSES.items():
        names = [f.name for f in fields(cls)[3:]]
        if kind == "depth":
            names = [*names[:4], "bid_count", "level_count"]
        assert [name for name, _ in FIELDS[kind]] == names


async def collect(sources: Sequence[ss.Source]) -> dict[str, list[ss.Batch]]:
    return {str(s.stream): [b async for b in s] for s in sources}


def test_every_kind_round_trips_regardless_of_batching(tmp_path: Path) -> None:
    import anyio

    quarantine = ss.Quarantine(tmp_path / "q.jsonl")
    stores = []
    for cut in (7, 50):
        batches = kinds_batches(cut)
        sources = [Reporting(batches[kind], quarantine) for kind in FIELDS]
        out = tmp_path / f"cut{cut}"
        compile_store(sources, out, rows_per_group=9)
        stores.append(out)
    quarantine.close()
    assert tree_bytes(stores[0]) == tree_bytes(stores[1])
    manifest = read_manifest(stores[1])
    depth = next(s for s in manifest.streams if s.kind == "depth")
    assert depth.notes == ("ETHUSDT.depth: memory",)
    assert depth.quarantined == {"bad row": 1}  # this compile's own count, not the first's
    assert next(s for s in manifest.streams if s.kind == "trades").has_ts_recv is False
    original = {f"ETHUSDT.{k}": v for k, v in kinds_batches(50).items()}  # one batch per stream
    replayed = anyio.run(collect, store_sources(stores[0]))
    for name, [whole] in original.items():
        parts = replayed[name]
        assert len(parts) > 1  # several row groups
        for field in (
            "ts_exchange",
            *(n for n, _ in FIELDS[whole.kind] if n not in ("bid_count", "level_count")),
        ):
            joined = np.concatenate([getattr(p, field) for p in parts])
            assert joined.tolist() == getattr(whole, field).tolist(), (name, field)
        if whole.kind == "depth":
            assert isinstance(whole, ss.DepthBatch)
            for part in parts:
                assert isinstance(part, ss.DepthBatch)
                part.validate()
                assert sum(part.level_offsets[1:] - part.level_offsets[:-1]) <= 9 or len(part) == 1
            for field in ("level_price", "level_qty", "bid_counts"):
                joined = np.concatenate([getattr(p, field) for p in parts])
                assert joined.tolist() == getattr(whole, field).tolist()
    # Replayed runs report what the compile's sources reported, and equal a direct run.
    direct_q = ss.Quarantine(tmp_path / "q2.jsonl")
    batches = kinds_batches(7)
    expected, expected_digests = digest_run([Reporting(batches[k], direct_q) for k in FIELDS])
    direct_q.close()
    result, digests = digest_run(store_sources(stores[1]))
    assert digests == expected_digests and result.events == expected.events
    assert result.quality.quarantined == expected.quality.quarantined
    assert sorted(result.quality.notes) == sorted(expected.quality.notes)
    # Windows cut inside row groups, also for depth levels.
    lo, hi = int(batches["trades"][1].ts_exchange[2]), int(batches["trades"][4].ts_exchange[3])
    window = anyio.run(collect, store_sources(stores[0], start=lo, end=hi))
    for name, [whole] in original.items():
        keep = (whole.ts_exchange >= lo) & (whole.ts_exchange <= hi)
        joined = np.concatenate([p.ts_exchange for p in window[name]])
        assert joined.tolist() == whole.ts_exchange[keep].tolist()
        if isinstance(whole, ss.DepthBatch):
            sizes = np.diff(whole.level_offsets)
            wanted = whole.level_price[np.repeat(keep, sizes)]
            got = np.concatenate([p.level_price for p in window[name]])  # type: ignore[attr-defined]
            assert got.tolist() == wanted.tolist()


def test_unordered_and_empty_streams(tmp_path: Path) -> None:
    import anyio

    [whole] = kinds_batches(50)["depth"]
    assert isinstance(whole, ss.DepthBatch)
    shuffled = np.random.default_rng(3).permutation(whole.ts_exchange)
    unordered = ss.DepthBatch(
        "ETHUSDT",
        shuffled,
        None,
        whole.first,
        whole.final,
        whole.prev_final,
        whole.is_snapshot,
        whole.level_offsets,
        whole.bid_counts,
        whole.level_price,
        whole.level_qty,
    )
    empty = ss.MemorySource([], ss.Stream("ETHUSDT", "ticker"))
    manifest = compile_store(
        [ss.MemorySource([unordered]), empty], tmp_path / "s", rows_per_group=20
    )
    depth, ticker = manifest.streams
    assert not depth.ordered and depth.has_ts_recv is False
    assert (ticker.rows, ticker.first_ts_exchange, ticker.last_ts_exchange) == (0, None, None)
    lo, hi = int(np.sort(shuffled)[10]), int(np.sort(shuffled)[35])
    got = anyio.run(collect, store_sources(tmp_path / "s", start=lo, end=hi))
    assert got["ETHUSDT.ticker"] == []
    keep = (shuffled >= lo) & (shuffled <= hi)
    parts = got["ETHUSDT.depth"]
    assert np.concatenate([p.ts_exchange for p in parts]).tolist() == shuffled[keep].tolist()
    sizes = np.diff(whole.level_offsets)
    levels = np.concatenate([p.level_qty for p in parts])  # type: ignore[attr-defined]
    assert levels.tolist() == whole.level_qty[np.repeat(keep, sizes)].tolist()
    for part in parts:
        part.validate()


def test_run_ending_early_closes_store_sources(store: tuple[Path, Manifest]) -> None:
    result = ss.run_backtest(store_sources(store[0]), Digest(), end=START + ss.MINUTE)
    assert 0 < result.events["BTCUSDT.depth"] <= 601
