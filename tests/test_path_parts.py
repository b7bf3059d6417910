"""Path parts from config, CLI or data (exchange, symbols, kinds, store names) cannot leave
the data root: `..`, absolute paths, separators and NUL are ConfigErrors naming the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamsim as ss
from adapters.binance.convert import write_partitioned
from adapters.cli import main
from adapters.cryptohftdata import CryptoHFTData, LocalStore, S3Store
from adapters.store import compile_store, read_manifest
from adapters.tardis.files import candidates
from streamsim.config import RunConfig
from streamsim.path_parts import check_path_part, check_relative_key, path_part_problem

SYNTH = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"

#: Parts that would leave (or name) the root, whatever surrounds them.
HOSTILE_SEEDS = ["..", ".", "/", "/etc", "../..", "a/../b", "..\\x", "x\0y", "C:\\Windows", ""]
hostile = st.one_of(
    st.sampled_from(HOSTILE_SEEDS),
    st.builds(
        lambda a, sep, b: a + sep + b,
        st.text(max_size=6),
        st.sampled_from(["/", "\\", "\0", "/../", "\n", "\x7f"]),
        st.text(max_size=6),
    ),
)


@given(hostile)
@settings(max_examples=150, deadline=None)
def test_hostile_parts_are_config_errors_everywhere(value: str) -> None:
    assert path_part_problem(value) is not None
    with pytest.raises(ss.ConfigError, match=r"data\.exchange"):
        RunConfig.from_dict({"strategy": {"class": "m:S"}, "data": {"exchange": value}})
    with pytest.raises(ss.ConfigError, match=r"data.symbols\[1\]"):
        RunConfig.from_dict({"strategy": {"class": "m:S"}, "data": {"symbols": ["BTCUSDT", value]}})
    with pytest.raises(ss.ConfigError, match="exchange"):
        CryptoHFTData(LocalStore("/nonexistent"), exchange=value)
    data = CryptoHFTData(LocalStore("/nonexistent"))
    with pytest.raises(ss.ConfigError, match="symbols"):
        data.sources([value], ["trades"], 0, ss.HOUR)
    with pytest.raises(ss.ConfigError, match="exchange"):
        candidates("/root", value, "trades", "2024-01-01", "BTCUSDT")
    if "/" not in value and ":" not in value:  # tardis maps '/' and ':' in symbols to '-'
        with pytest.raises(ss.ConfigError, match="symbol"):
            candidates("/root", "binance", "trades", "2024-01-01", value)
    with pytest.raises(ss.ConfigError, match="exchange"):
        write_partitioned(pa.table({"a": [1]}), [0], Path("/nonexistent"), "trades", value, "X")


@given(st.text(max_size=12))
@settings(max_examples=300, deadline=None)
def test_an_accepted_part_always_stays_one_level_under_the_root(value: str) -> None:
    root = Path("/data/root")
    if path_part_problem(value) is None:
        joined = root / check_path_part(value, "symbol")
        assert joined.parent == root and joined.name == value
        assert ".." not in joined.parts
    else:
        with pytest.raises(ss.ConfigError, match="symbol"):
            check_path_part(value, "symbol")


@pytest.mark.parametrize("key", ["../x.parquet", "/etc/passwd", "a/../../b", "a\0b", "a//b"])
def test_stores_refuse_keys_that_leave_the_root(tmp_path: Path, key: str) -> None:
    secret = tmp_path / "x.parquet"
    secret.write_bytes(b"PAR1 secret PAR1")
    store = LocalStore(tmp_path / "root")
    with pytest.raises(ss.ConfigError, match=r"data root|leave"):
        anyio.run(store.read_tail, key, 100)
    with pytest.raises(ss.ConfigError):
        anyio.run(store.read_range, key, 0, 4)
    with pytest.raises(ss.ConfigError):
        S3Store("bucket", "prefix").request_key(key)
    with pytest.raises(ss.ConfigError):
        check_relative_key(key)


def test_safe_names_pass() -> None:
    for name in ("BTCUSDT", "BTCUSDT_260626", "binance_futures", "1000PEPEUSDT", "a.b"):
        assert check_path_part(name, "symbol") == name
    assert check_relative_key("trades/binance_futures/BTCUSDT/2025/07/01/trades.parquet")
    assert candidates("/r", "binance", "trades", "2024-01-01", "BTC/USDT")  # nested, tried


def test_cli_validate_rejects_a_hostile_exchange(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["validate", str(SYNTH), "--symbol", "BTCUSDT", "--start", "2025-07-01T12:00:00Z"]
    args += ["--end", "2025-07-01T12:10:00Z"]
    assert main([*args, "--exchange", "../../etc"]) == 2
    assert "--exchange: '../../etc' cannot be part of a data path" in capsys.readouterr().out
    assert main([*args[:2], "--symbol", "../BTCUSDT", *args[4:]]) == 2
    assert "--symbol: '../BTCUSDT' cannot be part" in capsys.readouterr().out


def _trades(symbol: str) -> ss.MemorySource:
    ints = np.array([1, 2], dtype=np.int64)
    batch = ss.TradeBatch(symbol, ints, None, ints + 10, ints, np.array([1, -1], np.int8), ints)
    return ss.MemorySource([batch], ss.Stream(symbol, "trades"))


def test_a_manifest_naming_files_outside_the_store_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "store"
    source = _trades("BTCUSDT")
    compile_store([source], store, instruments={"BTCUSDT": ss.Instrument("BTCUSDT", "0.1", "1")})
    raw = orjson.loads((store / "manifest.json").read_bytes())
    for field, value in (("files", ["../../secret.parquet"]), ("symbol", "../x")):
        bad = tmp_path / f"bad-{field}"
        shutil.copytree(store, bad)
        edited = {**raw, "streams": [{**raw["streams"][0], field: value}]}
        (bad / "manifest.json").write_bytes(orjson.dumps(edited))
        with pytest.raises(ss.DataError, match="malformed manifest"):
            read_manifest(bad)
    bad = tmp_path / "bad-output"
    shutil.copytree(store, bad)
    edited = {**raw, "outputs": [{**raw["outputs"][0], "path": "/etc/passwd"}]}
    (bad / "manifest.json").write_bytes(orjson.dumps(edited))
    with pytest.raises(ss.DataError, match="malformed manifest"):
        read_manifest(bad)


def test_compile_refuses_a_symbol_that_leaves_the_store(tmp_path: Path) -> None:
    with pytest.raises(ss.ConfigError, match="store directory"):
        compile_store([_trades("../x")], tmp_path / "s")
    assert not (tmp_path / "x").exists()
