"""``streamsim validate`` over S3 never hangs: ``--timeout`` bounds every request, and files
are checked concurrently (bounded by ``--jobs``). A moto server and a fault proxy, both
on 127.0.0.1, stand in for S3."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3_server import (
    FaultProxy,
    create_bucket,
    fault_proxy,
    moto_server,
    upload_tree,
    use_dummy_aws_env,
)

from adapters.cli import main

SYNTH = Path(__file__).resolve().parents[2] / "shared" / "data" / "cryptohftdata-synth"
WINDOW = ["--symbol", "BTCUSDT", "--start", "2025-07-01T12:00:00Z", "--end", "2025-07-01T12:59:59Z"]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 holding the synthetic tree under ``s3://tree/synth``."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_dummy_aws_env(monkeypatch, tmp_path_factory.mktemp("aws"))
        with moto_server() as url:
            create_bucket(url, "tree")
            upload_tree(url, "tree", SYNTH, prefix="synth")
            yield url


@pytest.fixture
def proxy(endpoint: str) -> Iterator[FaultProxy]:
    with fault_proxy(endpoint) as running:
        yield running


def validate(url: str, *extra: str) -> list[str]:
    return ["validate", "s3://tree/synth", "--endpoint-url", url, *WINDOW, *extra]


def test_validate_checks_files_concurrently_within_jobs(
    proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.slow_gets(0.1)
    assert main(validate(proxy.url, "--jobs", "3")) == 0
    assert "no problems found" in capsys.readouterr().out
    assert 2 <= proxy.max_in_flight <= 3


def test_validate_with_one_job_reads_one_file_at_a_time(
    proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(validate(proxy.url, "--jobs", "1")) == 0
    assert proxy.max_in_flight == 1


def test_validate_timeout_reports_a_black_hole_server_per_file(
    proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.hang_gets(1000)
    assert main(validate(proxy.url, "--timeout", "0.5")) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("problem:")]
    assert problems and all("did not complete within" in line for line in problems)
    assert "s3://tree/synth/trades/binance_futures/BTCUSDT/2025/07/01/trades.parquet" in out


def test_validate_timeout_reports_a_trickling_server(
    proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy.trickle_gets(1000, every=0.05)
    assert main(validate(proxy.url, "--timeout", "0.5", "--kinds", "trades")) == 1
    assert "did not complete within" in capsys.readouterr().out


@pytest.mark.parametrize("flag", [["--timeout", "0"], ["--timeout", "nan"], ["--jobs", "0"]])
def test_bad_validate_limits_are_usage_errors(
    proxy: FaultProxy, flag: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(validate(proxy.url, *flag)) == 2
    assert f"error: {flag[0]}" in capsys.readouterr().out


def test_the_installed_command_ends_against_a_black_hole(proxy: FaultProxy) -> None:
    proxy.hang_gets(1000)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "adapters.cli", *validate(proxy.url, "--timeout", "0.5")]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "did not complete within" in done.stdout
    assert "Traceback" not in done.stderr
