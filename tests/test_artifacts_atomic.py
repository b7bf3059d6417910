"""Artifacts are atomic and verifiable: written whole or not at all, never mixed with an
earlier run, checked against the manifest, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import Flipper, flipper_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamsim as ss
from streamsim.errors import ArtifactError
from streamsim.feed import synthetic
from streamsim.results import artifacts as artifacts_module
from streamsim.results import atomic
from streamsim.results.artifacts import check_out_dir, write_artifacts
from streamsim.results.spreadsheet import TRIGGERS, neutralise, restore
from streamsim.results.verify import verify_artifacts

TESTS = Path(__file__).resolve().parent
SEED = 7


@pytest.fixture(scope="module")
def result() -> ss.RunResult:
    run, _, _ = flipper_run(SEED)
    return run


def digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if atomic.STAGING_TAG in p.name)


# --------------------------------------------------------------------------- writing


def test_the_manifest_lists_report_html_with_its_hash(result: ss.RunResult, tmp_path: Path) -> None:
    out = tmp_path / "run"
    written = write_artifacts(result, out, seed=SEED)
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    entry = manifest["outputs"]["report.html"]
    report = (out / "report.html").read_bytes()
    assert entry == {"bytes": len(report), "sha256": hashlib.sha256(report).hexdigest()}
    assert set(manifest["outputs"]) == {p.name for p in out.iterdir()} - {"manifest.json"}
    assert set(written) == {p.name for p in out.iterdir()}
    assert verify_artifacts(out).files["report.html"] == entry["sha256"]


def test_without_a_report_none_is_written_or_listed(result: ss.RunResult, tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_artifacts(result, out, report=False)
    assert not (out / "report.html").exists()
    assert "report.html" not in orjson.loads((out / "manifest.json").read_bytes())["outputs"]
    verify_artifacts(out)


def test_a_non_empty_directory_is_refused_without_force(
    result: ss.RunResult, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    write_artifacts(result, out)
    before = digests(out)
    with pytest.raises(ArtifactError, match=r"run: is not empty; pass --force") as caught:
        write_artifacts(result, out)
    assert caught.value.path == str(out)
    assert digests(out) == before
    assert leftovers(tmp_path) == []


def test_an_empty_existing_directory_is_written_without_force(
    result: ss.RunResult, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    write_artifacts(result, out)
    verify_artifacts(out)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_force_replaces_the_directory_wholly_so_no_stale_file_stays(
    result: ss.RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    out = tmp_path / "run"
    write_artifacts(result, out)  # with report.html
    (out / "notes_from_an_old_run.csv").write_text("stale\n")
    (out / "old_subdir").mkdir()
    write_artifacts(result, out, force=True, report=False)
    names = {p.name for p in out.iterdir()}
    assert "notes_from_an_old_run.csv" not in names and "old_subdir" not in names
    assert "report.html" not in names  # the earlier run's report is gone too
    verify_artifacts(out)
    assert leftovers(tmp_path) == []


def test_force_only_replaces_a_previous_output(result: ss.RunResult, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work\n")
    with pytest.raises(ArtifactError, match=r"holds no manifest\.json"):
        write_artifacts(result, mine, force=True)
    assert (mine / "thesis.tex").read_text() == "years of work\n"


def test_force_never_replaces_the_current_directory_or_one_holding_the_inputs(
    result: ss.RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    write_artifacts(result, out)
    data = out / "data.parquet"
    data.write_bytes(b"input")
    with pytest.raises(ArtifactError, match="holds the run's input"):
        write_artifacts(result, out, force=True, inputs=[data])
    monkeypatch.chdir(out)
    with pytest.raises(ArtifactError, match="current directory"):
        write_artifacts(result, ".", force=True)
    assert data.read_bytes() == b"input"


def test_an_out_path_that_is_a_file_is_refused_before_anything_is_written(
    result: ss.RunResult, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine\n")
    for target in (taken, taken / "run"):
        with pytest.raises(ArtifactError, match="is a file") as caught:
            check_out_dir(target)
        assert str(taken) in str(caught.value)
        with pytest.raises(ArtifactError, match="is a file"):
            write_artifacts(result, target)
    assert taken.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


class _Cut(RuntimeError):
    pass


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.ENOSPC, "No space left on device", "fills.parquet"), _Cut("bug")],
    ids=["disk-full", "exception"],
)
@pytest.mark.parametrize("previous", [True, False], ids=["over-a-run", "fresh"])
def test_a_failure_mid_write_leaves_the_previous_directory_or_nothing(
    result: ss.RunResult,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    previous: bool,
) -> None:
    out = tmp_path / "run"
    if previous:
        write_artifacts(result, out, seed=1)
    before = digests(out) if previous else None
    real = artifacts_module._write_parquet
    calls = []

    def cut(table: object, path: Path) -> None:
        calls.append(path.name)
        if len(calls) == 3:  # some files are already written
            raise failure
        real(table, path)  # type: ignore[arg-type]

    monkeypatch.setattr(artifacts_module, "_write_parquet", cut)
    expected = ArtifactError if isinstance(failure, OSError) else _Cut
    with pytest.raises(expected) as caught:
        write_artifacts(result, out, seed=2, force=True)
    if isinstance(failure, OSError):
        message = str(caught.value)
        assert message.startswith(f"{out}: cannot be written: No space left on device")
        kept = "the previous output there is unchanged" if previous else "nothing was written"
        assert message.endswith(kept)
    if previous:
        assert digests(out) == before
        assert orjson.loads((out / "manifest.json").read_bytes())["seed"] == 1
        verify_artifacts(out)
    else:
        assert not out.exists()
    assert leftovers(tmp_path) == []


def test_a_killed_write_leaves_the_previous_run_and_a_named_partial_the_next_write_removes(
    result: ss.RunResult, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    write_artifacts(result, out, seed=1)
    before = digests(out)
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(TESTS)!r})
        from helpers import flipper_run
        from streamsim.results import artifacts
        real = artifacts._write_parquet
        def killed(table, path):
            real(table, path)
            os.kill(os.getpid(), signal.SIGKILL)
        artifacts._write_parquet = killed
        result, _, _ = flipper_run({SEED})
        artifacts.write_artifacts(result, {str(out)!r}, seed=2, force=True)
        """
    )
    process = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, timeout=120
    )
    assert process.returncode == -signal.SIGKILL, process.stderr
    assert digests(out) == before  # the previous run, complete and unmixed
    partial = leftovers(tmp_path)
    assert len(partial) == 1 and partial[0].startswith(".run.streamsim-partial-")
    write_artifacts(result, out, seed=3, force=True)  # its writer is gone: removed
    assert leftovers(tmp_path) == []
    assert orjson.loads((out / "manifest.json").read_bytes())["seed"] == 3


# --------------------------------------------------------------------------- verifying


@pytest.fixture
def good(result: ss.RunResult, tmp_path: Path) -> Path:
    out = tmp_path / "good"
    write_artifacts(result, out)
    return out


def test_a_complete_directory_verifies(good: Path) -> None:
    verified = verify_artifacts(good)
    assert set(verified.files) == {p.name for p in good.iterdir()} - {"manifest.json"}
    manifest = (good / "manifest.json").read_bytes()
    assert verified.manifest_sha256 == hashlib.sha256(manifest).hexdigest()


def _flip_one_digit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = next(i for i in range(len(data) - 1, 0, -1) if chr(data[i]).isdigit())
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["fills.csv", "report.html", "equity.parquet"])
def test_an_edited_file_is_refused_by_name(good: Path, name: str) -> None:
    _flip_one_digit(good / name)  # same size, other bytes
    with pytest.raises(ArtifactError) as caught:
        verify_artifacts(good)
    assert caught.value.problems == (
        f"{name}: content differs from the manifest (edited or from another run)",
    )
    assert name in str(caught.value)


def test_a_cut_file_a_missing_file_and_a_foreign_file_are_each_named(good: Path) -> None:
    (good / "ledger.csv").write_bytes((good / "ledger.csv").read_bytes()[:-10])
    (good / "orders.parquet").unlink()
    (good / "evil.csv").write_text("=cmd\n")
    with pytest.raises(ArtifactError) as caught:
        verify_artifacts(good)
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("ledger.csv: ") and "the manifest says" in problems[0]
    assert problems[1] == "orders.parquet: missing"
    assert problems[2] == "evil.csv: a file not in the manifest (foreign or stale)"


def test_a_mix_of_two_runs_is_refused(result: ss.RunResult, good: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    another, _, _ = flipper_run(SEED + 1)
    write_artifacts(another, other, seed=SEED + 1)
    for name in ("fills.csv", "fills.parquet"):  # half of one run over the other
        shutil.copy(other / name, good / name)
    with pytest.raises(ArtifactError) as caught:
        verify_artifacts(good)
    assert [p.split(":")[0] for p in caught.value.problems] == ["fills.csv", "fills.parquet"]
    shutil.copy(other / "manifest.json", good / "manifest.json")  # now the other way round
    with pytest.raises(ArtifactError) as caught:
        verify_artifacts(good)
    named = {p.split(":")[0] for p in caught.value.problems}
    assert "fills.csv" not in named and {"orders.csv", "report.html"} <= named


def test_an_empty_directory_and_one_without_a_manifest_are_refused(
    good: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArtifactError, match="is empty"):
        verify_artifacts(empty)
    (good / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=r"has no manifest\.json"):
        verify_artifacts(good)
    with pytest.raises(ArtifactError, match="is not a directory"):
        verify_artifacts(tmp_path / "missing")


@pytest.mark.parametrize(
    "manifest",
    [b"{not json", b"[]", b'{"outputs": 3}', b'{"outputs": {"../../etc/passwd": {}}}'],
)
def test_a_broken_or_hostile_manifest_is_refused(good: Path, manifest: bytes) -> None:
    (good / "manifest.json").write_bytes(manifest)
    with pytest.raises(ArtifactError, match=r"manifest|plain file name"):
        verify_artifacts(good)


# --------------------------------------------------------------------------- CSV cells


NUMBER_CHARS = set("0123456789+-.eE")


@given(st.text())
def test_no_neutralised_cell_starts_a_formula_and_every_one_restores(text: str) -> None:
    cell = neutralise(text)
    assert restore(cell) == text
    if cell and cell[0] in TRIGGERS and cell[0] != "'":
        assert set(cell) <= NUMBER_CHARS  # only a plain number may start with + or -
        float(cell)


@given(st.sampled_from(sorted(TRIGGERS)), st.text())
def test_text_starting_with_a_trigger_is_prefixed_unless_a_plain_number(
    first: str, rest: str
) -> None:
    text = first + rest
    if set(text) <= NUMBER_CHARS:
        assert neutralise(text) in (text, "'" + text)
    else:
        assert neutralise(text) == "'" + text


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers())
def test_numbers_as_text_stay_numbers(value: float) -> None:
    text = str(value)
    assert neutralise(text) == text


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.text(), st.integers(-(2**63), 2**63 - 1)), max_size=8))
def test_csv_files_hold_no_formula_and_restore_every_text_cell(
    tmp_path: Path, rows: list[tuple[str, int]]
) -> None:
    schema = pa.schema([("note", pa.string()), ("amount", pa.int64())])
    path = tmp_path / "t.csv"
    artifacts_module._write_csv(artifacts_module._Table(schema, list(rows)), path)
    with open(path, newline="", encoding="utf-8") as handle:
        read = list(csv.reader(handle))
    assert read[0] == ["note", "amount"]
    assert [(restore(note), int(amount)) for note, amount in read[1:]] == rows
    for note, _ in read[1:]:
        if note and note[0] in TRIGGERS and note[0] != "'":
            assert set(note) <= NUMBER_CHARS


IDS = ("=1+1", "+SUM(A1)", "@cmd", "\tTAB", "-2+3", "-5", "'quoted", "plain", "row\r=1+1")


class Hostile(Flipper):
    """Flipper whose name and client ids are spreadsheet formulas (then made unique)."""

    def __init__(self) -> None:
        super().__init__('=HYPERLINK("http://evil","x")')
        self.sent = 0

    async def on_trade(self, trade: ss.Trade) -> None:
        assert self.ctx is not None
        self.trades += 1
        if self.trades % 40 == 0:
            n, self.sent = self.sent, self.sent + 1
            client_id = IDS[n] if n < len(IDS) else f"{IDS[n % len(IDS)]}#{n}"
            order = ss.Order("BTCUSDT", ss.BUY, 1, price=trade.price - 50, client_id=client_id)
            self.handles.append(self.ctx.broker.submit(order))


def test_strategy_strings_are_neutralised_in_every_csv_and_kept_in_parquet(
    tmp_path: Path,
) -> None:
    from helpers import BTC_TEST, FUNDING_START

    result = ss.run_backtest(
        synthetic.market("BTCUSDT", FUNDING_START, n_depth=1_500, n_trades=400, seed=SEED),
        Hostile(),
        exchange=ss.SimExchange([BTC_TEST], mark_fallback="mid"),
    )
    out = tmp_path / "run"
    write_artifacts(result, out)
    raw = pq.read_table(out / "orders.parquet").to_pylist()
    with open(out / "orders.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(raw) >= len(IDS)
    assert [row["client_id"] for row in rows[: len(IDS)]] == [
        "'=1+1",
        "'+SUM(A1)",
        "'@cmd",
        "'\tTAB",
        "'-2+3",
        "-5",
        "''quoted",
        "plain",
        "row\r=1+1",  # one cell: a bare CR is quoted, so it cannot start a row
    ]
    for row, original in zip(rows, raw, strict=True):
        assert restore(row["client_id"]) == original["client_id"]
        assert row["strategy"] == "'" + original["strategy"]
        assert original["strategy"].startswith("=HYPERLINK")
    for csv_file in out.glob("*.csv"):  # no cell of any CSV starts a formula
        with open(csv_file, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    if cell and cell[0] in "=+-@\t\r":
                        float(cell)  # a number (negative prices, amounts), never a formula


def test_negative_numbers_stay_numbers_in_the_csv(result: ss.RunResult, tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_artifacts(result, out)
    with open(out / "ledger.csv", newline="") as handle:
        amounts = [row["amount"] for row in csv.DictReader(handle)]
    negatives = [a for a in amounts if a.startswith("-")]
    assert negatives and all(float(a) < 0 for a in negatives)
    assert [float(a) for a in amounts] == pq.read_table(out / "ledger.parquet")[
        "amount"
    ].to_pylist()


def test_the_staged_write_is_byte_identical_whatever_the_directory_name(
    result: ss.RunResult, tmp_path: Path
) -> None:
    first, second = tmp_path / "a", tmp_path / "b b"
    write_artifacts(result, first, seed=SEED)
    write_artifacts(result, second, seed=SEED)
    assert digests(first) == digests(second)


# --------------------------------------------------------------------------- the CLI

ROOT = TESTS.parent
STREAMSIM = shutil.which("streamsim") or str(Path(sys.executable).with_name("streamsim"))


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``streamsim`` command."""
    return subprocess.run(
        [STREAMSIM, *args],
        cwd=cwd,
        env=_env(),
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def patched_cli(patch: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``streamsim`` (its ``main``) in a fresh interpreter with a fault injected first."""
    script = (
        "import errno, os, signal, sys\n"
        + textwrap.dedent(patch)
        + ("\nfrom adapters.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=_env(),
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line_error(process: subprocess.CompletedProcess[str], path: Path, code: int = 2) -> str:
    """The single ``error:`` line of a run that failed cleanly (no traceback)."""
    text = process.stdout + process.stderr
    assert process.returncode == code, text
    assert "Traceback" not in text
    errors = [line for line in process.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    assert str(path) in errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``streamsim demo`` output, copied by each test that changes it."""
    base = tmp_path_factory.mktemp("demo")
    process = cli("demo", "--out", "run", cwd=base)
    assert process.returncode == 0, process.stdout + process.stderr
    return base / "run"


@pytest.fixture
def copy(demo: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(demo, out)
    return out


def test_the_cli_refuses_a_previous_run_before_running_and_replaces_it_with_force(
    copy: Path,
) -> None:
    (copy / "stale.csv").write_text("from an older run\n")
    before = digests(copy)
    refused = cli("demo", "--out", str(copy), cwd=copy.parent)
    assert "--force" in one_line_error(refused, copy)
    assert "events" not in refused.stdout  # refused before the run, not after it
    assert digests(copy) == before
    replaced = cli("demo", "--out", str(copy), "--force", cwd=copy.parent)
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert not (copy / "stale.csv").exists()
    checked = cli("report", str(copy), "--check", cwd=copy.parent)
    assert checked.returncode == 0 and "15 files match" not in checked.stdout
    assert f"{len(before) - 2} files match" in checked.stdout  # all but stale.csv, manifest
    assert leftovers(copy.parent) == []


def test_the_cli_with_out_a_file_exits_2_naming_it(tmp_path: Path) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n")
    error = one_line_error(cli("demo", "--out", str(taken), cwd=tmp_path), taken)
    assert "is a file" in error
    assert taken.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def _namespace_reason() -> str | None:
    """Why a private tmpfs cannot be mounted here (None when it can)."""
    if shutil.which("unshare") is None:
        return "no unshare command to mount a private tmpfs"
    with tempfile.TemporaryDirectory() as probe_dir:
        probe = subprocess.run(
            ["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe_dir],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a user namespace: {probe.stderr.strip()}"
    return None


NAMESPACE = _namespace_reason()
needs_tmpfs = pytest.mark.skipif(NAMESPACE is not None, reason=str(NAMESPACE))


def in_tmpfs(mount: Path, options: str, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """``streamsim ARGS`` with a private tmpfs at ``mount``; also what the tmpfs holds after."""
    script = (
        f'mount -t tmpfs -o {options} tmpfs "$1" || exit 99; shift; '
        '"$@"; code=$?; echo "left: $(ls -A "$0")"; exit $code'
    )
    process = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, str(mount), str(mount), STREAMSIM, *args],
        cwd=mount.parent,
        env=_env(),
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode != 99, process.stderr
    left = process.stdout.rsplit("left:", 1)[1].strip()
    process.stdout = process.stdout.rsplit("left:", 1)[0]
    return process, left


@needs_tmpfs
def test_the_cli_on_a_full_disk_exits_2_and_leaves_nothing(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "run"
    process, left = in_tmpfs(disk, "size=64k", "demo", "--out", str(out))
    assert "No space left on device" in one_line_error(process, out)
    assert left == ""  # neither the output nor its staging directory


@pytest.mark.skipif(
    os.geteuid() == 0 and NAMESPACE is not None,
    reason=f"root ignores file modes and {NAMESPACE}",
)
def test_the_cli_on_a_read_only_directory_exits_2_naming_it(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    out = locked / "run"
    if os.geteuid() == 0:  # root ignores modes: a read-only mount
        process, left = in_tmpfs(locked, "ro,size=64k", "demo", "--out", str(out))
        assert left == ""
    else:
        locked.chmod(0o555)
        try:
            process = cli("demo", "--out", str(out), cwd=tmp_path)
        finally:
            locked.chmod(0o755)
        assert list(locked.iterdir()) == []
    assert "read-only or not writable" in one_line_error(process, out)
    assert "events" not in process.stdout  # found before the run


def test_the_cli_on_a_disk_that_fills_mid_write_keeps_the_previous_run(copy: Path) -> None:
    before = digests(copy)
    patch = """
        from streamsim.results import artifacts
        real, calls = artifacts._write_csv, []
        def full(table, path):
            calls.append(path)
            if len(calls) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            real(table, path)
        artifacts._write_csv = full
    """
    process = patched_cli(patch, "demo", "--out", str(copy), "--force", cwd=copy.parent)
    error = one_line_error(process, copy)
    assert "No space left on device (writing round_trips.csv)" in error
    assert error.endswith("the previous output there is unchanged")
    assert digests(copy) == before
    assert leftovers(copy.parent) == []


def test_sigterm_while_the_cli_writes_keeps_the_previous_run_and_exits_143(copy: Path) -> None:
    before = digests(copy)
    patch = """
        from streamsim.results import artifacts
        real = artifacts._write_parquet
        def terminated(table, path):
            real(table, path)
            os.kill(os.getpid(), signal.SIGTERM)
        artifacts._write_parquet = terminated
    """
    process = patched_cli(patch, "demo", "--out", str(copy), "--force", cwd=copy.parent)
    assert process.returncode == 143, process.stdout + process.stderr
    assert "terminated while writing" in process.stdout and "Traceback" not in process.stderr
    assert digests(copy) == before
    assert leftovers(copy.parent) == []


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("edit", "problem: fills.csv: content differs from the manifest"),
        ("remove", "problem: orders.parquet: missing"),
        ("foreign", "problem: evil.csv: a file not in the manifest"),
    ],
)
def test_streamsim_report_refuses_a_damaged_directory_naming_the_file(
    copy: Path, damage: str, problem: str
) -> None:
    if damage == "edit":
        _flip_one_digit(copy / "fills.csv")
    elif damage == "remove":
        (copy / "orders.parquet").unlink()
    else:
        (copy / "evil.csv").write_text('=HYPERLINK("http://evil")\n')
    report = (copy / "report.html").read_bytes()
    for extra in ((), ("--check",)):
        process = cli("report", str(copy), *extra, cwd=copy.parent)
        assert "does not match its manifest.json" in one_line_error(process, copy, code=1)
        assert problem in process.stdout.splitlines()[1]
    assert (copy / "report.html").read_bytes() == report  # nothing rebuilt from bad files


def test_streamsim_report_refuses_an_empty_directory_and_rebuilds_a_deleted_report(
    copy: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "is empty" in one_line_error(cli("report", str(empty), cwd=tmp_path), empty, code=1)
    first = (copy / "report.html").read_bytes()
    (copy / "report.html").unlink()
    assert cli("report", str(copy), "--check", cwd=tmp_path).returncode == 1  # incomplete
    rebuilt = cli("report", str(copy), cwd=tmp_path)
    assert rebuilt.returncode == 0 and "differs" not in rebuilt.stdout
    assert (copy / "report.html").read_bytes() == first
    assert cli("report", str(copy), "--check", cwd=tmp_path).returncode == 0
