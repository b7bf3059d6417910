"""Every adapter from a TOML config through ``streamsim run`` (in-process ``main``): Tardis
CSV, raw Binance captures, CryptoHFTData over S3, and a recorded latency series from a file."""

from __future__ import annotations

import csv
import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamsim as ss
from adapters.binance import read_capture
from adapters.binance.convert import write_cryptohftdata
from adapters.binance.sample import sample_path
from adapters.cli import main, plan_data
from adapters.cli.data_plan import DataPlan
from adapters.cryptohftdata import CryptoHFTData, LocalStore
from streamsim.config import RunConfig
from streamsim.errors import ConfigError, DataError
from streamsim.sim.latency_file import read_latency_file
from tests.s3_server import create_bucket, loopback_s3, upload_tree

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SYNTH = SHARED / "cryptohftdata-synth"
CAPTURE = SHARED / "binance-usdm-capture" / "btcusdt_20240808.gz"
STRATEGY = '[strategy]\nclass = "strategies.market_maker:MarketMaker"\nparams = {qty = 1}\n'
#: 2024-01-01T00:00:00Z in microseconds (Tardis's unit).
T0 = 1_704_067_200_000_000
EX, SYM = "binance-futures", "BTCUSDT"


def run(folder: Path, text: str) -> tuple[int, Path]:
    """``streamsim run`` of the config ``text`` written to ``folder``: the exit code and
    the artifacts directory."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "run.toml"
    config.write_text(text, encoding="utf-8")
    out = folder / "out"
    return main(["run", str(config), "--out", str(out)]), out


def summary(out: Path) -> dict[str, Any]:
    """What a run delivered, from its artifacts: events (all streams), fills, final
    equity, the manifest's config and the run's notes."""
    manifest = json.loads((out / "manifest.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "events": sum(manifest["run"]["events"].values()),
        "streams": manifest["run"]["events"],
        "fills": metrics["fills"],
        "equity": metrics["equity_end"],
        "config": manifest["config"],
        "notes": manifest["run"]["quality"]["notes"],
    }


def plan_batches(plan: DataPlan) -> list[Any]:
    """Every batch of a plan's sources (capture sources hold theirs in memory)."""
    return [batch for source in plan.sources for batch in source.batches]


def write_tardis_day(root: Path, seconds: int = 120) -> None:
    """A synthetic Tardis day: a book of 5 levels a side moving in a random walk every
    100 ms (as diffs) and a trade at the touch every 200 ms."""
    rng = random.Random(7)
    l2 = ["exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"]
    trades = ["exchange,symbol,timestamp,local_timestamp,id,side,price,amount"]
    mid, levels = 420_000, {"bid": set[int](), "ask": set[int]()}
    for step in range(seconds * 10):
        t = T0 + step * 100_000
        mid += rng.choice((-2, -1, 0, 1, 2))
        snapshot = "true" if step == 0 else "false"
        new = {"bid": {mid - 1 - i for i in range(5)}, "ask": {mid + 1 + i for i in range(5)}}
        for side in ("bid", "ask"):
            for tick in sorted(levels[side] - new[side]):
                l2.append(f"{EX},{SYM},{t},{t + 5_000},{snapshot},{side},{tick / 10:.1f},0")
            for tick in sorted(new[side]):
                size = f"{rng.randint(1, 9) / 1000:.3f}"
                l2.append(f"{EX},{SYM},{t},{t + 5_000},{snapshot},{side},{tick / 10:.1f},{size}")
            levels[side] = new[side]
        if step % 2:
            side = rng.choice(("buy", "sell"))
            tick = mid + 1 if side == "buy" else mid - 1
            trades.append(f"{EX},{SYM},{t + 1},{t + 5_001},{step},{side},{tick / 10:.1f},0.050")
    for data_type, lines in (("incremental_book_L2", l2), ("trades", trades)):
        path = root / EX / data_type / "2024-01-01" / f"{SYM}.csv.gz"
        path.parent.mkdir(parents=True)
        path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


TARDIS = (
    STRATEGY
    + '[data]\nadapter = "tardis"\nroot = "tardis"\nexchange = "binance-futures"\n'
    + 'symbols = ["BTCUSDT"]\ndata_types = ["incremental_book_L2", "trades"]\n'
    + 'start = "2024-01-01T00:00:00Z"\nend = "2024-01-01T00:02:00Z"\n'
    + '[data.instruments.BTCUSDT]\ntick_size = "0.1"\nlot_size = "0.001"\n'
    + '[exchange]\nmark_fallback = "mid"\nsequencing = "none"\n'
    + '[run]\nsequencing = "none"\nseed = 1\n'
)


def test_a_tardis_tree_runs_from_a_config(tmp_path: Path) -> None:
    write_tardis_day(tmp_path / "tardis")
    code, out = run(tmp_path, TARDIS)
    assert code == 0
    result = summary(out)
    # Every depth message (one per 100 ms) and trade (one per 200 ms) is delivered.
    assert result["streams"] == {"BTCUSDT.depth": 1_200, "BTCUSDT.trades": 600}
    assert result["fills"] > 0
    assert result["config"]["data"]["adapter"] == "tardis"
    assert Path(result["config"]["data"]["root"]).is_absolute()


def test_tardis_files_given_directly_run_too(tmp_path: Path) -> None:
    write_tardis_day(tmp_path / "tardis", seconds=30)
    l2 = tmp_path / "tardis" / EX / "incremental_book_L2" / "2024-01-01" / f"{SYM}.csv.gz"
    text = TARDIS.replace('root = "tardis"', f'files = ["{l2}"]').replace(
        '["incremental_book_L2", "trades"]', '["incremental_book_L2"]'
    )
    code, out = run(tmp_path, text)
    assert code == 0
    assert summary(out)["streams"] == {"BTCUSDT.depth": 300}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('data_types = ["incremental_book_L2", "trades"]\n', ""), "data.data_types is required"),
        (('[data.instruments.BTCUSDT]\ntick_size = "0.1"\nlot_size = "0.001"\n', ""), None),
        (('start = "2024-01-01T00:00:00Z"\n', ""), "needs data.start and data.end"),
        (('lot_size = "0.001"', 'lot_size = "0"'), "data.instruments.BTCUSDT.lot_size"),
    ],
)
def test_a_tardis_config_missing_a_key_is_refused_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], message: str
) -> None:
    write_tardis_day(tmp_path / "tardis", seconds=2)
    code, _ = run(tmp_path, TARDIS.replace(*change))
    assert code == 2
    printed = " ".join(capsys.readouterr().out.split())
    assert (message or "data.instruments.BTCUSDT: required by adapter 'tardis'") in printed


CAPTURE_CONFIG = (
    STRATEGY
    + f'[data]\nadapter = "capture"\nfiles = ["{CAPTURE}"]\n'
    + '[exchange]\nmark_fallback = "mid"\n[run]\nseed = 1\n'
)


@pytest.mark.skipif(not CAPTURE.is_file(), reason="needs /work/shared/data")
def test_a_raw_capture_runs_from_a_config(tmp_path: Path) -> None:
    code, out = run(tmp_path, CAPTURE_CONFIG)
    assert code == 0
    result = summary(out)
    assert result["events"] > 20_000
    assert result["fills"] > 0
    assert [Path(f).name for f in result["config"]["data"]["files"]] == [CAPTURE.name]
    # The progress line's ETA aims at the recording's last venue time.
    plan = plan_data(RunConfig.from_toml(CAPTURE_CONFIG).data, tmp_path)
    assert plan.until is not None
    assert plan.until == max(int(batch.ts_exchange.max()) for batch in plan_batches(plan))
    # Without a mark price stream the run says how positions were marked.
    assert any("mark_fallback='mid'" in note for note in result["notes"])


@pytest.mark.skipif(not CAPTURE.is_file(), reason="needs /work/shared/data")
def test_a_store_compiled_from_a_capture_config_runs_like_the_capture(tmp_path: Path) -> None:
    config = tmp_path / "capture.toml"
    config.write_text(CAPTURE_CONFIG, encoding="utf-8")
    store = tmp_path / "store"
    assert main(["compile", "--data", str(config), "--out", str(store)]) == 0
    manifest = json.loads((store / "manifest.json").read_text())
    assert set(manifest["instruments"]) == {"BTCUSDT"}  # the capture's inferred grid
    direct = summary(run(tmp_path / "direct", CAPTURE_CONFIG)[1])
    data = f'[data]\nadapter = "store"\nroot = "{store}"\n'
    stored_config = STRATEGY + data + '[exchange]\nmark_fallback = "mid"\n[run]\nseed = 1\n'
    code, out = run(tmp_path / "stored", stored_config)
    assert code == 0
    stored = summary(out)
    assert (stored["streams"], stored["fills"]) == (direct["streams"], direct["fills"])


def test_a_store_run_ends_at_the_stores_window_like_data_end(tmp_path: Path) -> None:
    window = '[data]\nadapter = "cryptohftdata"\nroot = "' + str(SYNTH) + '"\n'
    window += 'symbols = ["BTCUSDT"]\nstart = 2025-07-01T12:00:00Z\nend = 2025-07-01T12:09:59Z\n'
    config = tmp_path / "synth.toml"
    config.write_text(window, encoding="utf-8")
    store = tmp_path / "store"
    assert main(["compile", "--data", str(config), "--out", str(store)]) == 0
    direct = json.loads(
        (run(tmp_path / "direct", STRATEGY + window)[1] / "metrics.json").read_text()
    )
    stored_config = STRATEGY + f'[data]\nadapter = "store"\nroot = "{store}"\n'
    code, out = run(tmp_path / "stored", stored_config)
    assert code == 0
    stored = json.loads((out / "metrics.json").read_text())
    assert stored["duration_s"] == direct["duration_s"] < 600  # not on to the late rows


@pytest.mark.skipif(not CAPTURE.is_file(), reason="needs /work/shared/data")
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[data]\n", '[data]\nsymbols = ["ETHUSDT"]\n'), "ETHUSDT not in the capture"),
        (("[data]\n", '[data]\nkinds = ["open_interest"]\n'), "a capture has no open_interest"),
        ((f'files = ["{CAPTURE}"]', 'files = ["nowhere.gz"]'), "data.files[0]: no such file"),
        ((f'files = ["{CAPTURE}"]', 'root = "."'), "data.root: adapter 'capture' reads"),
    ],
)
def test_a_capture_config_mistake_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], message: str
) -> None:
    code, _ = run(tmp_path, CAPTURE_CONFIG.replace(*change))
    assert code == 2
    assert message in " ".join(capsys.readouterr().out.split())


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server with dummy credentials and loopback-only sockets."""
    with loopback_s3(tmp_path_factory.mktemp("aws")) as url:
        yield url


def test_cryptohftdata_over_s3_runs_like_the_local_tree(tmp_path: Path, s3_endpoint: str) -> None:
    create_bucket(s3_endpoint, "ticks")
    upload_tree(s3_endpoint, "ticks", sample_path(), prefix="cryptohftdata")
    window = (
        'symbols = ["BTCUSDT"]\nkinds = ["depth", "trades", "mark_price"]\n'
        'start = "2023-04-04T23:55:00Z"\nend = "2023-04-05T00:03:00Z"\n[run]\nseed = 2\n'
    )
    remote = (
        STRATEGY
        + '[data]\nadapter = "cryptohftdata"\nroot = "s3://ticks/cryptohftdata"\n'
        + f'endpoint_url = "{s3_endpoint}"\n'
        + window
    )
    local = STRATEGY + f'[data]\nadapter = "cryptohftdata"\nroot = "{sample_path()}"\n' + window
    code, out = run(tmp_path / "s3", remote)
    assert code == 0
    code_local, out_local = run(tmp_path / "local", local)
    assert code_local == 0
    got, want = summary(out), summary(out_local)
    assert got["events"] == want["events"] > 1_000
    assert got["fills"] == want["fills"]
    assert got["equity"] == want["equity"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["data"]["root"] == "s3://ticks/cryptohftdata"


def test_an_endpoint_url_without_an_s3_root_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        STRATEGY + f'[data]\nadapter = "cryptohftdata"\nroot = "{sample_path()}"\n'
        'endpoint_url = "http://127.0.0.1:1"\nsymbols = ["BTCUSDT"]\n'
        'start = "2023-04-04T23:55:00Z"\nend = "2023-04-05T00:03:00Z"\n'
    )
    assert run(tmp_path, text)[0] == 2
    assert "data.endpoint_url: only for an s3:// data.root" in capsys.readouterr().out


def write_latency_csv(path: Path, entry_ms: int) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "entry", "response"])
        writer.writerow(["2023-04-04T00:00:00Z", entry_ms * 1_000_000, 1_000_000])
        writer.writerow(["2023-04-06T00:00:00Z", entry_ms * 1_000_000, 1_000_000])
    return path


def test_a_recorded_latency_file_delays_orders_in_a_run(tmp_path: Path) -> None:
    sample = STRATEGY + '[data]\nadapter = "sample"\n[run]\nseed = 4\n'
    write_latency_csv(tmp_path / "fast.csv", 1)
    write_latency_csv(tmp_path / "slow.csv", 900)
    results = {}
    for name in ("fast", "slow"):
        text = sample + f'[latency]\nmodel = "recorded"\nfile = "{tmp_path / name}.csv"\n'
        code, out = run(tmp_path / name, text)
        assert code == 0
        results[name] = summary(out)
    # The same strategy and data; only the file's entry delay differs, and so the fills.
    assert results["fast"]["fills"] != results["slow"]["fills"] or (
        results["fast"]["equity"] != results["slow"]["equity"]
    )


def test_a_relative_latency_file_is_found_beside_the_config_and_recorded_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_latency_csv(tmp_path / "lat.csv", 5)
    monkeypatch.chdir(tmp_path.parent)
    latency = '[latency]\nmodel = "recorded"\nfile = "lat.csv"\n'
    text = STRATEGY + '[data]\nadapter = "sample"\n' + latency
    code, out = run(tmp_path, text)
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["latency"]["file"] == str((tmp_path / "lat.csv").resolve())


def test_a_latency_file_reads_csv_and_parquet_alike(tmp_path: Path) -> None:
    csv_model = read_latency_file(write_latency_csv(tmp_path / "lat.csv", 20))
    table = pa.table(
        {
            "time": pa.array([1_680_566_400_000_000_000, 1_680_739_200_000_000_000], pa.int64()),
            "entry": pa.array([20_000_000, 20_000_000], pa.duration("ns")),
            "response": pa.array([1_000_000, 1_000_000], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "lat.parquet")
    parquet_model = read_latency_file(tmp_path / "lat.parquet")
    for now in (1_680_600_000_000_000_000, 1_680_700_000_000_000_000):
        assert csv_model.entry(now) == parquet_model.entry(now) == 20_000_000
        assert csv_model.response(now) == parquet_model.response(now) == 1_000_000


def test_a_latency_file_without_response_uses_entry_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "lat.csv"
    path.write_text("time,entry\n0,5000000\n1000000000,7000000\n")
    model = read_latency_file(path)
    assert model.entry(500_000_000) == model.response(500_000_000) == 6_000_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("when,entry\n0,1\n", "no column 'time'"),
        ("time,entry\n0,1\n-5,1\n", "column 'time', row 2 (line 3): the time goes back"),
        ("time,entry\nyesterday,1\n", "column 'time', row 1 (line 2): not an ISO-8601 time"),
        ("time,entry\n2023-04-04T00:00:00,1\n", "a time without a time zone is ambiguous"),
        ("time,entry\n0,1\n1,\n", "column 'entry', row 2 (line 3): empty value"),
        ("time,entry\n0,5\n10,-7\n", "column 'entry', row 2 (line 3): -7 ns; latencies"),
        ("time,entry\n0,5\n10,5.5\n", "column 'entry', row 2 (line 3): 5.5 is not a whole"),
        ("time,entry,response\n0,5,-1\n", "column 'response', row 1 (line 2): -1 ns"),
        ("time,entry\n", "no rows"),
    ],
)
def test_a_bad_latency_file_is_a_data_error_naming_file_row_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "lat.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=r"latency\.file") as error:
        read_latency_file(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_a_missing_latency_file_and_file_with_inline_series_are_config_errors(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=r"latency\.file: no such file"):
        read_latency_file(tmp_path / "none.csv")
    with pytest.raises(ConfigError, match=r"latency\.file: expected a file or inline"):
        RunConfig.from_toml(
            STRATEGY + '[latency]\nmodel = "recorded"\nfile = "x.csv"\ntimes = [0]\nentry = [1]\n'
        )


def test_the_config_docs_adapter_examples_are_valid_run_configs() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```toml\n")[1:]]
    adapters = {}
    for block in blocks:
        if "[data]" in block and "adapter =" in block:
            config = RunConfig.from_toml(STRATEGY + block)
            adapters[config.data.adapter] = config
    assert set(adapters) >= {"tardis", "capture"}
    assert adapters["tardis"].data.instruments is not None
    assert adapters["capture"].exchange.mark_fallback == "mid"


def test_a_feed_model_chosen_for_one_stream_in_the_config_delays_that_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tardis_day(tmp_path / "tardis", seconds=60)
    text = TARDIS.replace('end = "2024-01-01T00:02:00Z"', 'end = "2024-01-01T00:01:00Z"')
    text = text.replace('root = "tardis"', f'root = "{tmp_path / "tardis"}"')
    results = {}
    for name, feed in (
        ("plain", ""),
        ("late", '[feed."BTCUSDT.depth"]\nmodel = "fixed"\ndelay = "3s"\n'),
    ):
        code, out = run(tmp_path / name, text + feed)
        assert code == 0
        results[name] = summary(out)
    assert results["late"]["config"]["feed"] == {
        "BTCUSDT.depth": {"model": "fixed", "delay": 3_000_000_000, "not_before_recv": False}
    }
    # A book seen 3 s late moves the market maker's quotes, and so its fills.
    assert (results["plain"]["fills"], results["plain"]["equity"]) != (
        results["late"]["fills"],
        results["late"]["equity"],
    )
    # A stream the data does not hold is refused, listing the run's streams.
    typo = text + '[feed."ETHUSDT.depth"]\nmodel = "fixed"\n'
    assert run(tmp_path / "typo", typo)[0] == 2
    printed = " ".join(capsys.readouterr().out.split())
    assert "ETHUSDT.depth" in printed and "BTCUSDT.depth" in printed


CRYPTOFEED = SHARED / "binance-futures-ws"


@pytest.mark.skipif(not CRYPTOFEED.is_dir(), reason="needs the shared data")
def test_the_cryptofeed_recording_runs_from_a_config_with_the_defaults(tmp_path: Path) -> None:
    files = ", ".join(
        f'"{CRYPTOFEED / n}"'
        for n in ("BINANCE_FUTURES.0", "BINANCE_FUTURES.http.0.0", "BINANCE_FUTURES.ws.1.0")
    )
    text = (
        '[strategy]\nclass = "strategies.market_maker:MarketMaker"\n'
        'params = {symbol = "SUSHIUSDT", qty = 1}\n'
        f'[data]\nadapter = "capture"\nfiles = [{files}]\n[exchange]\nmark_fallback = "mid"\n'
    )
    code, out = run(tmp_path, text)
    assert code == 0
    notes = " ".join(summary(out)["notes"])
    assert "levels off the" in notes and "ts_exchange moved to the nearest" in notes


@pytest.mark.skipif(not CRYPTOFEED.is_dir(), reason="needs the shared data")
def test_levels_dropped_when_a_capture_was_converted_are_still_noted_from_the_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ("BINANCE_FUTURES.0", "BINANCE_FUTURES.http.0.0", "BINANCE_FUTURES.ws.1.0")
    capture = read_capture([CRYPTOFEED / n for n in names])
    assert capture["CTKUSDT"].dropped_levels > 0  # off the grid of its exchangeInfo
    root = tmp_path / "tree"
    write_cryptohftdata(capture, root, compression_level=1)
    window = ("--start", "2021-07-22T22:25:00Z", "--end", "2021-07-22T22:26:59Z")
    grid = ("--tick-size", "0.00100", "--lot-size", "1", "--kinds", "depth")
    main(["validate", str(root), "--symbol", "CTKUSDT", *window, *grid])
    text = " ".join(capsys.readouterr().out.split())
    assert "CTKUSDT.depth: 131 levels off the 0.00100/1 grid dropped when reading" in text
    data = CryptoHFTData(LocalStore(root), instruments={"CTKUSDT": capture["CTKUSDT"].instrument})
    start_ns, end_ns = 1_626_992_700 * ss.SECOND, 1_626_992_819 * ss.SECOND
    [source] = data.sources(["CTKUSDT"], ["depth"], start_ns, end_ns)
    result = ss.run_backtest([source], ss.Strategy(), sequencing=None)
    assert any("grid dropped when reading" in n for n in result.quality.notes)


SPOT = SHARED / "binance-spot-capture" / "nexousdt_20240723.dat.gz"


@pytest.fixture
def spot_tree(tmp_path: Path) -> Path:
    root = tmp_path / "spot"
    write_cryptohftdata(read_capture([SPOT]), root, exchange="binance", compression_level=1)
    return root


@pytest.mark.skipif(not SPOT.is_file(), reason="needs the shared data")
def test_a_symbol_without_a_built_in_grid_runs_from_its_config_instruments(
    tmp_path: Path, spot_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (
        f'[data]\nadapter = "cryptohftdata"\nroot = "{spot_tree}"\nexchange = "binance"\n'
        'symbols = ["NEXOUSDT"]\nkinds = ["depth", "trades"]\n'
        'start = "2024-07-23T15:39:00Z"\nend = "2024-07-23T15:59:59Z"\n'
    )
    strategy = '[strategy]\nclass = "strategies.market_maker:MarketMaker"\n'
    strategy += 'params = {symbol = "NEXOUSDT", qty = 100}\n[exchange]\nmark_fallback = "mid"\n'
    code, _ = run(tmp_path / "bare", strategy + data)
    assert code == 2
    assert "data.instruments.NEXOUSDT: no instrument" in " ".join(capsys.readouterr().out.split())
    grid = '[data.instruments.NEXOUSDT]\ntick_size = "0.001"\nlot_size = "0.01"\n'
    code, out = run(tmp_path / "grid", strategy + data + grid)
    assert code == 0 and summary(out)["events"] > 1000
    assert any("spot rule" in note for note in summary(out)["notes"])  # no pu: spot data


@pytest.mark.skipif(not SPOT.is_file(), reason="needs the shared data")
def test_validate_passes_the_converters_spot_output(
    spot_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = ("--start", "2024-07-23T15:39:00Z", "--end", "2024-07-23T15:59:59Z")
    grid = ("--tick-size", "0.001", "--lot-size", "0.01")
    args = ["validate", str(spot_tree), "--exchange", "binance", "--symbol", "NEXOUSDT"]
    # The default kinds: the converter writes no mark price or open interest for spot data;
    # their absence is a note, not a problem.
    assert main([*args, *window, *grid]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "no problems found" in text
    assert "note: NEXOUSDT.open_interest: no open_interest files in the window" in text
    # Asked for by name, a kind with no files at all is a problem.
    assert main([*args, *window, *grid, "--kinds", "depth,open_interest"]) == 1
    assert "problem: open_interest" in " ".join(capsys.readouterr().out.split())


@pytest.mark.skipif(not CAPTURE.is_file(), reason="needs the shared data")
def test_a_start_the_file_adapters_cannot_cut_is_refused_not_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = CAPTURE_CONFIG.replace("[data]\n", '[data]\nstart = "2024-08-08T23:57:00Z"\n')
    assert run(tmp_path / "capture", capture)[0] == 2
    assert "data.start: adapter 'capture' replays the whole recording" in " ".join(
        capsys.readouterr().out.split()
    )
    write_tardis_day(tmp_path / "t" / "tardis", seconds=30)
    tardis = TARDIS.replace('start = "2024-01-01T00:00:00Z"', 'start = "2024-01-01T00:00:10Z"')
    assert tardis != TARDIS
    assert run(tmp_path / "t", tardis)[0] == 2
    assert "does not cut them" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("off_grid", '"drop"'),
        ("files", '["a.gz"]'),
        ("instruments", '{BTCUSDT = {tick_size = "1", lot_size = "1"}}'),
        ("root", '"somewhere"'),
    ],
)
def test_a_data_key_the_adapter_does_not_read_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: str
) -> None:
    text = f'{STRATEGY}[data]\nadapter = "sample"\n{key} = {value}\n'
    assert run(tmp_path, text)[0] == 2
    printed = " ".join(capsys.readouterr().out.split())
    assert f"data.{key}: adapter 'sample' does not read it" in printed
