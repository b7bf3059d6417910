"""``streamsim venue``: starts the loopback venue over a data set, prints its URLs and
serves until the data ends; a bind address beyond loopback needs ``--allow-remote``."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from test_venue_sync import loopback_only  # noqa: F401

from adapters.cli import USAGE, main

pytestmark = pytest.mark.usefixtures("loopback_only")


def test_the_venue_command_prints_its_urls_and_ends_with_the_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["venue", "--data", "sample", "--speed", "max", "--start-on", "now"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "REST    http://127.0.0.1:" in out
    assert "/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker" in out
    assert "/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s" in out
    assert "the data ended:" in out and " rows replayed" in out


def test_the_venue_command_refuses_a_remote_bind_address_without_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["venue", "--data", "sample", "--host", "0.0.0.0"])
    out = capsys.readouterr().out
    assert code == USAGE
    assert "--allow-remote" in out


def test_the_venue_command_refuses_a_speed_that_is_not_a_number_or_max(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["venue", "--data", "sample", "--speed", "fast"]) == USAGE
    assert "'max'" in capsys.readouterr().out


def test_ctrl_c_stops_the_venue_command_with_exit_code_130() -> None:
    command = [sys.executable, "-m", "adapters.cli", "venue", "--data", "sample"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "market" in line:  # the URLs are printed: the venue is serving
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(lines) + rest
    assert "stopped by Ctrl-C" in rest
